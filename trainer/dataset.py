"""A style's pieces as training data: encoded, split by piece, cut into 128-beat windows.

Every piece becomes one uint8 matrix (``encode_piece``: an empty lead-in beat, then its
beats). Train and validation are split by piece, never by window, with a seeded hash of
each piece id (the lowest-ranked tenth goes to validation), so the same pieces and seed always
give the same split, whatever order the library lists them in. Windows hold ``window + 1`` rows: the model reads rows 0..window-1 and predicts rows
1..window. Pieces shorter than a window are padded with all-zero rows, which carry no count
bit and so are masked out of the loss.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

import numpy as np

from radio.errors import ContinuoError, LibraryError, MidiError, StyleError
from radio.model.lineage import seen_key
from radio.music.encoding import Encoding, encode_piece
from radio.music.notes import ListOfNotes

if TYPE_CHECKING:
    import tensorflow as tf

    from radio.library import Library
    from radio.library.base import PieceRecord

log = logging.getLogger(__name__)


class TrainingDataError(ContinuoError):
    """The library does not hold enough usable music for a style to train on."""


@dataclass
class Piece:
    id: str
    sha256: str
    composer: str
    title: str
    licence: str
    notes: ListOfNotes  # C major / A minor
    source: str = ""
    file: str = ""
    style: str = ""  # the library style it was listed under

    @property
    def beats(self) -> int:
        return len(self.notes)


@dataclass
class StyleData:
    style: str
    train: list[Piece]
    val: list[Piece]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (piece id, reason)

    @property
    def train_beats(self) -> int:
        return sum(p.beats for p in self.train)

    @property
    def val_beats(self) -> int:
        return sum(p.beats for p in self.val)


def load_pieces(library: "Library", styles: Iterable[str]) -> tuple[list[Piece], list[tuple[str, str]]]:
    """Every piece of the given library styles, prepared (C/Am); unreadable blobs are skipped."""
    from radio.library.ingest import load_notes

    pieces: list[Piece] = []
    skipped: list[tuple[str, str]] = []
    for style in styles:
        for record in library.catalog.list_pieces(style=style):
            try:
                prepared = load_notes(library, record)
            except (MidiError, KeyError, LibraryError, OSError) as exc:
                log.warning("skipping piece %s (%s): %s", record.id, record.title, exc)
                skipped.append((record.id, str(exc) or type(exc).__name__))
                continue
            pieces.append(piece_from_record(record, prepared.notes))
    pieces.sort(key=lambda p: p.id)
    return pieces, skipped


def piece_from_record(record: "PieceRecord", notes: ListOfNotes) -> Piece:
    return Piece(
        record.id, record.sha256, record.composer, record.title, record.licence, notes, record.source,
        str(record.extra.get("file", "")), record.style,
    )


def split_by_piece(
    pieces: list[Piece], val_fraction: float, seed: int, seen: frozenset[str] = frozenset()
) -> tuple[list[Piece], list[Piece]]:
    """Deterministic split: the pieces whose seeded hash ranks lowest go to validation, passing
    over those in ``seen`` (pieces a starting model learnt; see :func:`seen_key`)."""
    if len(pieces) < 2:
        raise TrainingDataError(f"{len(pieces)} piece(s): at least 2 are needed (one to train on, one to validate)")
    rank = sorted(pieces, key=lambda p: hashlib.sha256(f"{seed}:{p.id}".encode()).hexdigest())
    n_val = min(len(pieces) - 1, max(1, round(len(pieces) * val_fraction)))
    held = {p.id for p in [p for p in rank if seen_key(p.sha256) not in seen][:n_val]}
    val = sorted((p for p in pieces if p.id in held), key=lambda p: p.id)
    train = sorted((p for p in pieces if p.id not in held), key=lambda p: p.id)
    return train, val


def split_within_styles(
    pieces: list[Piece], styles: dict[str, str], val_fraction: float, seed: int, seen: frozenset[str] = frozenset()
) -> tuple[list[Piece], list[Piece]]:
    """Split each library style's pieces on its own (``styles``: piece id -> library style).

    A style's split then never depends on which other styles share the run, so the base model
    (every style) and a style fine-tuned from it hold out exactly the same pieces of that style:
    the fine-tune's held-out figures are honest. Pieces the starting model already trained on
    (``seen``: sha256 prefixes, see :func:`seen_key`) are never held out: the next unseen ones
    in the hash order take their place.
    """
    train: list[Piece] = []
    val: list[Piece] = []
    for style in sorted(set(styles.values())):
        group = [p for p in pieces if styles[p.id] == style]
        if len(group) < 2:
            train += group
            continue
        t, v = split_by_piece(group, val_fraction, seed, seen)
        train += t
        val += v
    if not val:
        train, val = split_by_piece(pieces, val_fraction, seed, seen)
    if not val:
        raise TrainingDataError(
            f"every piece that could be held out ({len(pieces)} in all) was in the starting model's training "
            "data, so its held-out figures would flatter it: add pieces it has not seen, or train from scratch"
        )
    return sorted(train, key=lambda p: p.id), sorted(val, key=lambda p: p.id)


def build_style_data(
    library: "Library",
    style: str,
    corpus_styles: Iterable[str],
    *,
    window: int,
    val_fraction: float,
    seed: int,
    seen: frozenset[str] = frozenset(),
) -> StyleData:
    corpus_styles = list(corpus_styles)
    pieces, skipped = load_pieces(library, corpus_styles)
    if not pieces:
        raise StyleError(
            f"the library at {library.home} has no pieces of style {style!r} "
            f"(library styles searched: {', '.join(corpus_styles)}); import some with `continuo import`"
        )
    total = sum(p.beats for p in pieces)
    if len(pieces) < 2 or total < window + 1:
        raise TrainingDataError(
            f"style {style!r} has {len(pieces)} piece(s) and {total} beats in the library; training needs at "
            f"least 2 pieces and more beats than one {window}-beat window: import more music"
        )
    train, val = split_within_styles(pieces, {p.id: p.style for p in pieces}, val_fraction, seed, seen)
    return StyleData(style, train, val, skipped)


def window_starts(length: int, window: int, stride: int) -> list[int]:
    """Starts of windows over a matrix of ``length`` rows that cover every target row."""
    last = max(0, length - 1 - window)
    starts = list(range(0, last + 1, stride))
    if starts[-1] != last:
        starts.append(last)
    return starts


@dataclass
class WindowedCorpus:
    rows: np.ndarray  # (N, input_size) uint8: every piece, each followed by its padding
    starts: np.ndarray  # (M,) int64: first row of each window

    @property
    def windows(self) -> int:
        return len(self.starts)

    def target_beats(self, window: int) -> int:
        return int(self.starts.size * window)


def build_windows(pieces: list[Piece], encoding: Encoding, window: int, stride: int) -> WindowedCorpus:
    blocks: list[np.ndarray] = []
    starts: list[int] = []
    offset = 0
    for piece in pieces:
        matrix = encode_piece(encoding, piece.notes)
        padding = max(0, window + 1 - len(matrix))
        if padding:
            matrix = np.concatenate([matrix, np.zeros((padding, encoding.input_size), np.uint8)])
        starts.extend(offset + s for s in window_starts(len(matrix), window, stride))
        blocks.append(matrix)
        offset += len(matrix)
    return WindowedCorpus(np.concatenate(blocks), np.asarray(starts, np.int64))


def make_dataset(
    corpus: WindowedCorpus,
    encoding: Encoding,
    *,
    window: int,
    batch: int,
    shuffle: bool,
    seed: int,
    augment: int = 0,
) -> "tf.data.Dataset":
    """Batches of (inputs, targets): inputs (B, window, I) float32; targets (B, window, O + P) where
    the extra P columns are the previous beat's sounding bits (for the struck mask).

    ``augment`` > 0 transposes each batch by a random -augment..+augment semitones (notes pushed
    out of the encoded range are dropped).
    """
    import tensorflow as tf

    rows = tf.constant(corpus.rows)
    offsets = tf.range(window + 1, dtype=tf.int64)
    outputs = encoding.output_size
    pitches = encoding.pitches
    blocks = 2 if encoding.has_struck else 1
    index = tf.range(pitches)

    def transpose(x: tf.Tensor) -> tf.Tensor:
        shift = tf.random.uniform([], -augment, augment + 1, dtype=tf.int32, seed=seed)
        keep = tf.cast((index - shift >= 0) & (index - shift < pitches), tf.float32)
        parts = [tf.roll(x[..., b * pitches : (b + 1) * pitches], shift, axis=-1) * keep for b in range(blocks)]
        return tf.concat([*parts, x[..., blocks * pitches :]], axis=-1)

    def gather(starts: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        x = tf.cast(tf.gather(rows, starts[:, None] + offsets[None, :]), tf.float32)
        if augment:
            x = transpose(x)
        inputs = x[:, :-1]
        targets = tf.concat([x[:, 1:, :outputs], x[:, :-1, :pitches]], axis=-1)
        return inputs, targets

    ds = tf.data.Dataset.from_tensor_slices(corpus.starts)
    if shuffle:
        ds = ds.shuffle(len(corpus.starts), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch).map(gather, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
