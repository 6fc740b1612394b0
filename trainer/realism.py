"""How close generated music is to real music of a style: feature distributions and their ceiling.

The method is MGEval's (Yang & Lerch 2018, "On the evaluation of generative models in music"):
turn each set of pieces into distributions of musical features, pool them over the set, and
score a pair of distributions by their **overlapped area** (the sum over bins of the smaller of
the two probabilities: 1 for identical, 0 for disjoint, symmetric) and by **KL divergence**.
Every feature here is discrete (semitones, 16ths, note counts), so the distributions are exact
normalised histograms rather than kernel density estimates.

A figure means little without knowing how close real music comes to *other* real music of the
same style: pieces differ, and a finite stretch of music is a noisy sample of the style. So
beside every figure stands its **ceiling**: the same figure between two disjoint halves of the
real pieces, split by piece and trimmed to the same number of beats, averaged over a few random
splits. The generated music is scored against each of those same halves, so both figures use
references of the same size made of the same pieces. A model at its ceiling is as close to the
style as the style's own pieces are to each other.

The features, computed on ``list_of_notes`` (16th-note beats of ``(pitch, 'b'|'s')``):

- ``pitch_class``: the pitch class of every struck note, as ``pitch % 12``. Every piece the
  trainer or the radio handles is already in C major or A minor (``radio.music.prepare``) and
  the two share one scale, so ``pitch % 12`` *is* the pitch class relative to the key signature.
- ``top_interval``: the melodic interval, in semitones, between successive notes of the top voice
  (the highest sounding pitch, each time it is newly struck), clipped to ±13.
- ``note_length``: how long each note sounds, in 16ths.
- ``onset_interval``: beats between successive beats that strike anything (rhythm).
- ``polyphony``: notes sounding on each beat that sounds at all.
- ``chord_size``: notes struck together on each beat that strikes anything.
- ``nearest_move`` (voice leading): for each struck note, the distance in semitones to the
  nearest pitch of the chord sounding at the previous onset. Smooth voice leading keeps this
  at 0–2; a cloud of independent pitches does not.
- ``outer_motion`` (voice leading): how the outer voices (lowest and highest sounding pitch)
  move from one onset to the next: static, oblique, contrary, similar, parallel, or parallel
  fifths/octaves; ``one voice`` when fewer than two notes sound.

Numpy only and no TensorFlow, so the station's tooling and the tests can use it anywhere.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from radio.music.notes import STRUCK, ListOfNotes, to_spans

CEILING_SPLITS = 5
SPLIT_CANDIDATES = 64  # random greedy splits drawn; the most balanced distinct ones are kept
SMOOTHING = 0.5  # add-½ (Krichevsky–Trofimov) pseudo-count per bin before KL


@dataclass(frozen=True)
class Feature:
    name: str
    description: str
    labels: tuple[str, ...]  # one per histogram bin
    events: Callable[[ListOfNotes], np.ndarray]  # one bin index per event in a piece


def _clip_bins(values: np.ndarray, low: int, high: int) -> np.ndarray:
    """Bin index of each value on the integer bins low..high, the ends collecting what lies beyond."""
    return np.clip(values, low, high).astype(np.int64) - low


def _edge_bins(values: np.ndarray, edges: Sequence[int]) -> np.ndarray:
    """Bin index of each value for bins [edges[i], edges[i+1]); the last bin is open-ended."""
    return np.searchsorted(np.asarray(edges), values, side="right") - 1


def _range_labels(edges: Sequence[int]) -> tuple[str, ...]:
    labels = []
    for lo, hi in zip(edges, list(edges[1:]) + [None]):
        if hi is None:
            labels.append(f"≥{lo}")
        elif hi - lo == 1:
            labels.append(str(lo))
        else:
            labels.append(f"{lo}-{hi - 1}")
    return tuple(labels)


LENGTH_EDGES = list(range(1, 17)) + [17, 25, 33, 49, 65]
ONSET_EDGES = list(range(1, 17)) + [17, 33]
PITCH_CLASSES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")
INTERVAL_LIMIT = 13
MOTIONS = ("one voice", "static", "oblique", "contrary", "similar", "parallel", "parallel 5ths/8ves")


def _onset_beats(notes: ListOfNotes) -> list[int]:
    return [t for t, beat in enumerate(notes) if any(tie == STRUCK for _, tie in beat)]


def pitch_class_events(notes: ListOfNotes) -> np.ndarray:
    return np.array([p % 12 for beat in notes for p, tie in beat if tie == STRUCK], np.int64)


def struck_tops(notes: ListOfNotes) -> list[int]:
    """The top voice where it is struck: the highest pitch of each beat whose top note is new."""
    tops = []
    for beat in notes:
        if beat:
            pitch, tie = max(beat)
            if tie == STRUCK:
                tops.append(pitch)
    return tops


def top_interval_events(notes: ListOfNotes) -> np.ndarray:
    return _clip_bins(np.diff(np.array(struck_tops(notes), np.int64)), -INTERVAL_LIMIT, INTERVAL_LIMIT)


def note_length_events(notes: ListOfNotes) -> np.ndarray:
    return _edge_bins(np.array([s.length for s in to_spans(notes)], np.int64), LENGTH_EDGES)


def onset_interval_events(notes: ListOfNotes) -> np.ndarray:
    return _edge_bins(np.diff(np.array(_onset_beats(notes), np.int64)), ONSET_EDGES)


def polyphony_events(notes: ListOfNotes) -> np.ndarray:
    return _clip_bins(np.array([len(beat) for beat in notes if beat], np.int64), 1, 11)


def chord_size_events(notes: ListOfNotes) -> np.ndarray:
    counts = [sum(tie == STRUCK for _, tie in beat) for beat in notes]
    return _clip_bins(np.array([c for c in counts if c], np.int64), 1, 9)


def nearest_move_events(notes: ListOfNotes) -> np.ndarray:
    moves: list[int] = []
    previous: np.ndarray | None = None
    for t in _onset_beats(notes):
        beat = notes[t]
        if previous is not None:
            for pitch, tie in beat:
                if tie == STRUCK:
                    moves.append(int(np.abs(previous - pitch).min()))
        previous = np.array([p for p, _ in beat], np.int64)
    return _clip_bins(np.array(moves, np.int64), 0, 13)


def _motion(before: tuple[int, int] | None, after: tuple[int, int] | None) -> int:
    if before is None or after is None:
        return MOTIONS.index("one voice")
    low = after[0] - before[0]
    high = after[1] - before[1]
    if low == 0 and high == 0:
        return MOTIONS.index("static")
    if low == 0 or high == 0:
        return MOTIONS.index("oblique")
    if (low > 0) != (high > 0):
        return MOTIONS.index("contrary")
    if low != high:
        return MOTIONS.index("similar")
    if (after[1] - after[0]) % 12 in (0, 7):
        return MOTIONS.index("parallel 5ths/8ves")
    return MOTIONS.index("parallel")


def outer_motion_events(notes: ListOfNotes) -> np.ndarray:
    def outer(t: int) -> tuple[int, int] | None:
        pitches = [p for p, _ in notes[t]]
        return (min(pitches), max(pitches)) if len(pitches) >= 2 else None

    onsets = _onset_beats(notes)
    return np.array([_motion(outer(a), outer(b)) for a, b in zip(onsets, onsets[1:])], np.int64)


FEATURES: tuple[Feature, ...] = (
    Feature("pitch_class", "pitch class of struck notes (pitch % 12; pieces are in C major / A minor)", PITCH_CLASSES, pitch_class_events),
    Feature(
        "top_interval",
        "melodic interval of the top voice, semitones",
        tuple(f"≤{-INTERVAL_LIMIT}" if i == -INTERVAL_LIMIT else f"≥{INTERVAL_LIMIT}" if i == INTERVAL_LIMIT else f"{i:+d}" if i else "0"
              for i in range(-INTERVAL_LIMIT, INTERVAL_LIMIT + 1)),
        top_interval_events,
    ),
    Feature("note_length", "note length, 16ths", _range_labels(LENGTH_EDGES), note_length_events),
    Feature("onset_interval", "beats between successive onsets", _range_labels(ONSET_EDGES), onset_interval_events),
    Feature("polyphony", "notes sounding per non-silent beat", tuple(str(i) for i in range(1, 11)) + ("≥11",), polyphony_events),
    Feature("chord_size", "notes struck together", tuple(str(i) for i in range(1, 9)) + ("≥9",), chord_size_events),
    Feature("nearest_move", "semitones from a struck note to the nearest pitch of the previous chord",
            tuple(str(i) for i in range(13)) + ("≥13",), nearest_move_events),
    Feature("outer_motion", "motion of the outer voices between onsets", MOTIONS, outer_motion_events),
)
FEATURE_NAMES = tuple(f.name for f in FEATURES)


def feature_counts(notes: ListOfNotes) -> dict[str, np.ndarray]:
    """Histogram counts (not normalised) of every feature over one piece."""
    return {f.name: np.bincount(f.events(notes), minlength=len(f.labels)).astype(np.float64) for f in FEATURES}


def pooled_counts(pieces: Sequence[ListOfNotes], cache: dict[int, dict[str, np.ndarray]] | None = None) -> dict[str, np.ndarray]:
    """Counts pooled over pieces; events never cross from one piece into the next.

    ``cache`` (keyed by ``id(piece)``; the caller keeps the pieces alive) lets the ceiling's
    splits reuse each whole piece's counts instead of recomputing them for every half.
    """
    total = {f.name: np.zeros(len(f.labels)) for f in FEATURES}
    for notes in pieces:
        counts = cache.get(id(notes)) if cache is not None else None
        if counts is None:
            counts = feature_counts(notes)
            if cache is not None:
                cache[id(notes)] = counts
        for name, c in counts.items():
            total[name] += c
    return total


def normalise(counts: np.ndarray) -> np.ndarray:
    """Counts as probabilities; all zeros stays all zeros (no events: it overlaps nothing)."""
    total = counts.sum()
    return counts / total if total > 0 else np.zeros_like(counts, dtype=np.float64)


def overlap(p_counts: np.ndarray, q_counts: np.ndarray) -> float:
    """Overlapped area of two normalised histograms, in [0, 1]; 0 when either has no events."""
    return float(np.minimum(normalise(p_counts), normalise(q_counts)).sum())


def kl_divergence(p_counts: np.ndarray, q_counts: np.ndarray, smoothing: float = SMOOTHING) -> float:
    """KL(P ‖ Q) in nats, each histogram smoothed by ``smoothing`` pseudo-counts per bin.

    The smoothing keeps it finite when Q never shows an event P does, and makes an empty
    histogram read as uniform. Always ≥ 0, and 0 for identical counts.
    """
    p = (p_counts + smoothing) / (p_counts.sum() + smoothing * len(p_counts))
    q = (q_counts + smoothing) / (q_counts.sum() + smoothing * len(q_counts))
    return float(max(0.0, np.sum(p * np.log(p / q))))


@dataclass(frozen=True)
class Split:
    """Two disjoint halves of a set of pieces with the same number of beats."""

    first: list[ListOfNotes]
    second: list[ListOfNotes]
    basis: str  # 'pieces' or 'one piece cut in two'

    @property
    def beats(self) -> int:
        return sum(len(p) for p in self.first)


def _trim_to(pieces: list[ListOfNotes], beats: int) -> list[ListOfNotes]:
    """Cut beats off the end of the longest pieces until ``beats`` remain (dropping emptied ones)."""
    excess = sum(len(p) for p in pieces) - beats
    out = list(pieces)
    while excess > 0:
        i = max(range(len(out)), key=lambda k: len(out[k]))
        cut = min(excess, len(out[i]))
        out[i] = out[i][: len(out[i]) - cut]
        excess -= cut
    return [p for p in out if p]


def ceiling_splits(real: Sequence[ListOfNotes], n: int = CEILING_SPLITS, seed: int = 0) -> list[Split]:
    """Up to ``n`` distinct splits of ``real`` into two disjoint halves of equal length.

    Pieces stay whole on their side (so the halves share no piece), dealt in a random order to
    whichever half is shorter so far; of many such deals the ``n`` most balanced distinct ones
    are kept, and the longer half is trimmed at its longest pieces' ends to the shorter one's
    length. A single piece is cut in two at its middle instead. The result does not depend on
    the order of ``real``.
    """
    pieces = [p for p in real if len(p) > 0]  # never changed in place: trimming slices
    if not pieces:
        raise ValueError("the real pieces have no beats: a ceiling needs at least one non-empty piece")
    if len(pieces) == 1:
        half = len(pieces[0]) // 2
        if half == 0:
            raise ValueError("a single one-beat piece cannot be split into two halves")
        return [Split([pieces[0][:half]], [pieces[0][half : 2 * half]], "one piece cut in two")]
    # A canonical order first, so the same pieces give the same splits whatever order they come in.
    pieces.sort(key=lambda p: (len(p), hashlib.sha1(repr(p).encode()).hexdigest()))
    rng = np.random.default_rng(seed)
    lengths = np.array([len(p) for p in pieces])
    candidates: dict[tuple[int, ...], int] = {}
    for _ in range(SPLIT_CANDIDATES):
        side = np.zeros(len(pieces), np.int64)
        totals = [0, 0]
        for i in rng.permutation(len(pieces)):
            s = 0 if totals[0] <= totals[1] else 1
            side[i] = s
            totals[s] += lengths[i]
        key = tuple(int(s) for s in (side if side[0] == 0 else 1 - side))  # a split and its mirror are one split
        candidates[key] = abs(totals[0] - totals[1])
    best = sorted(candidates, key=lambda k: (candidates[k], k))[:n]
    splits = []
    for key in best:
        first = [p for p, s in zip(pieces, key) if s == 0]
        second = [p for p, s in zip(pieces, key) if s == 1]
        beats = min(sum(map(len, first)), sum(map(len, second)))
        splits.append(Split(_trim_to(first, beats), _trim_to(second, beats), "pieces"))
    return splits


def realism_report(generated: list[ListOfNotes], real: list[ListOfNotes], *, seed: int = 0) -> dict:
    """Score ``generated`` against ``real`` on every feature, with the real-vs-real ceiling.

    Returns ``{"features": {name: {"overlap", "kl", "ceiling_overlap", "ceiling_kl", ...}},
    "mean_overlap", "mean_ceiling", ...}``. ``overlap`` and ``kl`` average the generated music
    against each half of each ceiling split; KL is KL(real ‖ generated), so it grows when the
    generated music misses what real music does. ``seed`` picks the splits.
    """
    if not any(any(beat for beat in p) for p in real):
        raise ValueError("the real pieces have no notes: there is nothing to compare the generated music with")
    splits = ceiling_splits(real, seed=seed)
    gen = pooled_counts(generated)
    cache: dict[int, dict[str, np.ndarray]] = {}
    halves = [(pooled_counts(s.first, cache), pooled_counts(s.second, cache)) for s in splits]
    real_all = pooled_counts(real, cache)
    features: dict[str, dict] = {}
    for f in FEATURES:
        name = f.name
        model_ov, model_kl, ceil_ov, ceil_kl = [], [], [], []
        for a, b in halves:
            model_ov += [overlap(gen[name], a[name]), overlap(gen[name], b[name])]
            model_kl += [kl_divergence(a[name], gen[name]), kl_divergence(b[name], gen[name])]
            ceil_ov.append(overlap(a[name], b[name]))
            ceil_kl += [kl_divergence(a[name], b[name]), kl_divergence(b[name], a[name])]
        features[name] = {
            "overlap": float(np.mean(model_ov)),
            "kl": float(np.mean(model_kl)),
            "ceiling_overlap": float(np.mean(ceil_ov)),
            "ceiling_kl": float(np.mean(ceil_kl)),
            "events": {"generated": int(gen[name].sum()), "real": int(real_all[name].sum())},
            "description": f.description,
            "bins": list(f.labels),
            "generated": [round(float(x), 6) for x in normalise(gen[name])],
            "real": [round(float(x), 6) for x in normalise(real_all[name])],
        }
    mean_overlap = float(np.mean([v["overlap"] for v in features.values()]))
    mean_ceiling = float(np.mean([v["ceiling_overlap"] for v in features.values()]))
    return {
        "features": features,
        "mean_overlap": mean_overlap,
        "mean_ceiling": mean_ceiling,
        "mean_kl": float(np.mean([v["kl"] for v in features.values()])),
        "mean_ceiling_kl": float(np.mean([v["ceiling_kl"] for v in features.values()])),
        "of_ceiling": mean_overlap / mean_ceiling if mean_ceiling > 0 else 0.0,
        "generated_beats": sum(len(p) for p in generated),
        "real_beats": sum(len(p) for p in real),
        "ceiling": {
            "splits": len(splits),
            "beats_per_half": splits[0].beats,
            "basis": splits[0].basis,
            "seed": seed,
        },
        "method": (
            "overlapped area of pooled normalised histograms (MGEval, Yang & Lerch 2018) and KL(real ‖ generated) "
            f"with add-{SMOOTHING:g} smoothing; generated scored against each half of {len(splits)} balanced splits of "
            "the real pieces, ceiling = half against half"
        ),
    }


def format_realism_table(report: dict) -> str:
    """The report as a markdown table: each feature's overlap and KL beside their ceilings."""
    lines = [
        "| feature | overlap | ceiling | KL (nats) | ceiling KL |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, v in report["features"].items():
        lines.append(f"| {name} | {v['overlap']:.3f} | {v['ceiling_overlap']:.3f} | {v['kl']:.3f} | {v['ceiling_kl']:.3f} |")
    mean_kl = report.get("mean_kl")
    mean_ceiling_kl = report.get("mean_ceiling_kl")
    kl_cells = (f"{mean_kl:.3f} | {mean_ceiling_kl:.3f}" if mean_kl is not None and mean_ceiling_kl is not None else " | ")
    lines.append(f"| **mean** | **{report['mean_overlap']:.3f}** | **{report['mean_ceiling']:.3f}** | {kl_cells} |")
    return "\n".join(lines)
