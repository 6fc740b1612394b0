"""Pieces from the corpus shipped inside the ``music21`` package (the ``corpus`` extra).

A fresh clone has no ``../shared/corpus``; ``continuo import music21:bach --style baroque``
builds a training library from what pip installed. Each score is parsed with music21,
written to MIDI and ingested like any other file. See ``../shared/corpus/README.md`` for
the licences: most encodings are distributed "with the permission of the encoders".
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Iterator

from radio.errors import ContinuoError, MidiError
from radio.library.importer import ImportItem

PREFIX = "music21:"
DEFAULT_LICENCE = "music21-corpus-permission"
# Encodings with their own open licence (see ../shared/corpus/README.md).
LICENCES = {
    "josquin": "GPL-2.0-or-later",
    "ciconia": "CC-BY-SA-3.0",
    "luca": "CC-BY-SA-3.0",
    "corelli": "CC-BY",
    "lusitano": "CC0",
}
# Composer of a single-composer collection, for scores whose metadata names none.
COMPOSERS = {
    "bach": "Johann Sebastian Bach",
    "beethoven": "Ludwig van Beethoven",
    "mozart": "Wolfgang Amadeus Mozart",
    "haydn": "Joseph Haydn",
    "handel": "George Frideric Handel",
    "corelli": "Arcangelo Corelli",
    "monteverdi": "Claudio Monteverdi",
    "josquin": "Josquin des Prez",
    "ciconia": "Johannes Ciconia",
    "lusitano": "Vicente Lusitano",
}
# Collections whose stated terms do not allow us to derive training files from them.
REFUSED = {
    "palestrina": "its Humdrum files reserve the rights to all derivative electronic formats",
    "essenfolksong": "its permission covers non-commercial use within music21 only",
}
# Humdrum (.krn) encodings carry the same CCARH reservation wherever they appear.
SCORE_SUFFIXES = {".mxl", ".xml", ".musicxml", ".abc", ".mei"}


def is_music21_ref(text: str) -> bool:
    return text.startswith(PREFIX)


def _music21():
    try:
        from music21 import converter, corpus, stream  # heavy: only when a music21 import runs
    except ImportError as exc:
        raise ContinuoError(
            f"importing from the music21 corpus needs the music21 package ({exc}), which comes with the 'corpus' extra: "
            "run `make install-dev` (or `.venv/bin/pip install -e '.[corpus]'`)"
        ) from exc
    return converter, corpus, stream


def collection_paths(collection: str) -> list[Path]:
    """The score files of one music21 corpus collection (a top-level corpus folder)."""
    if collection.lower() in REFUSED:
        raise ContinuoError(f"music21 collection {collection!r} is not imported: {REFUSED[collection.lower()]}")
    _, corpus, _ = _music21()
    paths = sorted(Path(p) for p in corpus.getComposer(collection) if Path(p).suffix.lower() in SCORE_SUFFIXES)
    if not paths:
        raise ContinuoError(
            f"music21 corpus has no collection {collection!r} with score files: try e.g. "
            "music21:bach, music21:oneills1850, music21:ryansMammoth, music21:monteverdi"
        )
    return paths


def music21_items(ref: str, style: str, *, limit: int | None = None, composer: str = "",
                  licence: str = "") -> Iterator[ImportItem]:
    """One item per score of ``music21:<collection>``, converted lazily (parsing is slow).

    A multi-tune file (ABC) yields one item per tune; a file music21 cannot parse yields
    one item that is rejected with music21's reason."""
    collection = ref[len(PREFIX):].strip("/")
    if not collection:
        raise ContinuoError(f"{ref!r} names no collection: use music21:<collection>, e.g. music21:bach")
    converter, _, stream = _music21()
    licence = licence or LICENCES.get(collection.lower(), DEFAULT_LICENCE)
    produced = 0
    for path in collection_paths(collection):
        name = f"{PREFIX}{collection}/{path.name}"
        try:
            parsed = converter.parse(path)
        except Exception as exc:  # music21 raises many kinds; each is this file's problem
            yield ImportItem(name=name, style=style, read=_fail(f"music21 cannot parse it: {exc}"))
            produced += 1
        else:
            scores = list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]
            for index, score in enumerate(scores):
                if limit is not None and produced >= limit:
                    return
                label = f"{name}#{index + 1}" if len(scores) > 1 else name
                md = score.metadata
                title = (md.title or md.movementName or "") if md is not None else ""
                if title in ("", path.name, path.stem):  # music21 falls back to the file name
                    title = f"{collection} {path.stem}" + (f" #{index + 1}" if len(scores) > 1 else "")
                yield ImportItem(
                    name=label,
                    style=style,
                    read=_midi_bytes(score, label),
                    composer=composer
                    or (md.composer if md is not None and md.composer else COMPOSERS.get(collection.lower(), "")),
                    title=title,
                    source=f"{PREFIX}{collection}",
                    licence=licence,
                    extra={"file": path.name} | ({"tune": index + 1} if len(scores) > 1 else {}),
                )
                produced += 1
        if limit is not None and produced >= limit:
            return


def _fail(reason: str):
    def read() -> bytes:
        raise MidiError(reason)

    return read


def _midi_bytes(score, label: str):
    def read() -> bytes:
        with tempfile.TemporaryDirectory(prefix="continuo-m21-") as tmp:
            out = Path(tmp) / "piece.mid"
            try:
                score.write("midi", fp=out)
            except Exception as exc:  # music21 raises many kinds when a score has no MIDI form
                raise MidiError(f"music21 cannot write {label} as MIDI: {exc}") from exc
            return out.read_bytes()

    return read
