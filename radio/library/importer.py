"""Importing many MIDI files: find them, attach metadata, ingest each, report.

One bad file never stops an import: it is rejected with its name and reason and the
others go on. Metadata comes from a ``MANIFEST.csv`` beside the files when there is one
(columns file, composer, title, license/licence, source_collection), else from the file.
"""

from __future__ import annotations

import csv
import io
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from radio.errors import ContinuoError, LibraryError, MidiError
from radio.library import Library
from radio.styles import check_style_name

log = logging.getLogger(__name__)

MIDI_SUFFIXES = {".mid", ".midi"}
MANIFEST = "MANIFEST.csv"
# Track names that say nothing about the piece, so the file name is a better title.
_GENERIC_NAMES = {"", "untitled", "track", "track 1", "track 0", "tempo track", "conductor"}


@dataclass
class ImportItem:
    """One piece to ingest: where its bytes come from and what we know about it."""

    name: str  # how reports name it: a path or a "music21:..." reference
    style: str
    read: Callable[[], bytes]
    composer: str = ""
    title: str = ""
    source: str = ""
    licence: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImportReport:
    added: int = 0
    duplicates: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)
    beats_added: dict[str, int] = field(default_factory=dict)  # style -> beats of the new pieces

    @property
    def ok(self) -> bool:
        """Something usable is in the library: pieces were added or were there already."""
        return self.added + self.duplicates > 0

    def summary(self) -> str:
        return f"added {self.added}, duplicates {self.duplicates}, rejected {len(self.rejected)}"


def is_midi_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in MIDI_SUFFIXES and not path.name.startswith(".")


def midi_files(folder: Path) -> list[Path]:
    """Every MIDI file under ``folder``, recursively, in a stable order."""
    return sorted(p for p in folder.rglob("*") if is_midi_file(p))


def plan_import(
    path: Path, style: str | None = None, *, composer: str = "", licence: str = ""
) -> list[ImportItem]:
    """The items for a file, a folder of MIDI files (``style`` given) or a folder of style
    folders (``style`` omitted: each subfolder's name is its style)."""
    path = Path(path)
    if not path.exists():
        raise ContinuoError(f"{path} does not exist")
    if style is not None:
        check_style_name(style)
        files = [path] if path.is_file() else midi_files(path)
        groups = [(style, files)]
        roots = [path.parent] if path.is_file() else [path]
    else:
        if path.is_file():
            raise ContinuoError(f"{path} is a file: give its style with --style NAME")
        loose = [p for p in path.iterdir() if is_midi_file(p)]
        if loose:
            raise ContinuoError(
                f"{path} has MIDI files directly inside (e.g. {loose[0].name}): give their style with "
                "--style NAME, or put them in style folders"
            )
        groups = []
        for folder in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
            files = midi_files(folder)
            if files:
                groups.append((check_style_name(folder.name), files))
        roots = [path]
    if not any(files for _, files in groups):
        raise ContinuoError(f"no MIDI files (*.mid, *.midi) under {path}")
    manifest = read_manifests({roots[0].parent, *roots, *(f.parent for _, fs in groups for f in fs)})
    items = []
    for group_style, files in groups:
        for f in files:
            row = manifest.get(f.resolve(), {})
            items.append(
                ImportItem(
                    name=str(f),
                    style=group_style,
                    read=f.read_bytes,
                    composer=composer or row.get("composer", ""),
                    title=row.get("title", ""),
                    source=row.get("source_collection") or str(f),
                    licence=licence or row.get("license") or row.get("licence", ""),
                    extra={"file": f.name} | ({"source_collection": row["source_collection"]} if row.get("source_collection") else {}),
                )
            )
    return items


def read_manifests(folders: Iterable[Path]) -> dict[Path, dict[str, str]]:
    """Rows of every ``MANIFEST.csv`` in ``folders``, keyed by the resolved file path."""
    rows: dict[Path, dict[str, str]] = {}
    for folder in sorted({Path(f).resolve() for f in folders}):
        manifest = folder / MANIFEST
        if not manifest.is_file():
            continue
        try:
            with manifest.open(newline="", encoding="utf-8") as fh:
                for row in csv.DictReader(fh):
                    if row.get("file"):
                        clean = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
                        rows[(folder / clean["file"]).resolve()] = clean
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise ContinuoError(f"cannot read {manifest}: {exc}") from exc
    return rows


def title_from_midi(data: bytes, fallback: str) -> str:
    """The conductor track's name when it names the piece, else ``fallback``."""
    import mido

    try:
        midi = mido.MidiFile(file=io.BytesIO(data))
    except Exception:  # an unreadable file is rejected by ingest, with the parser's reason
        return fallback
    if len(midi.tracks) > 1 or midi.type == 0:
        for msg in midi.tracks[0]:
            if msg.type == "track_name" and msg.name.strip().lower() not in _GENERIC_NAMES:
                return msg.name.strip()
    return fallback


def pretty_stem(name: str) -> str:
    return Path(name).stem.replace("_", " ").strip()


def run_import(
    library: Library, items: Iterable[ImportItem], *, total: int | None = None, progress: bool = True
) -> ImportReport:
    """Ingest every item; bad files are rejected by name with the reason, the rest go in."""
    from tqdm import tqdm

    from radio.library.ingest import ingest_midi

    report = ImportReport()
    bar = tqdm(items, total=total, desc="import", unit="piece", file=sys.stderr, disable=not progress)
    for item in bar:
        try:
            data = item.read()
            title = item.title or title_from_midi(data, pretty_stem(item.name))
            result = ingest_midi(
                library, data, style=item.style, composer=item.composer, title=title,
                source=item.source, licence=item.licence, extra=item.extra,
            )
        except (MidiError, OSError) as exc:
            reason = str(exc) or type(exc).__name__
        except LibraryError:
            raise  # the catalog or blob store itself failed: nothing more can go in
        except ContinuoError as exc:
            reason = str(exc)
        except Exception as exc:  # a parser bug must not cost the user the rest of the import
            log.debug("unexpected error importing %s", item.name, exc_info=True)
            reason = f"unexpected {type(exc).__name__}: {exc}"
        else:
            if result.status == "added":
                report.added += 1
                report.beats_added[item.style] = report.beats_added.get(item.style, 0) + result.piece.beats
            else:
                report.duplicates += 1
            continue
        report.rejected.append((item.name, reason))
        bar.write(f"rejected {item.name}: {reason}", file=sys.stderr)
    bar.close()
    return report
