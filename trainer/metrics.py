"""Held-out figures, computed in numpy on the exported model (what the radio will play).

The shared measure, which both encodings support, is the per-pitch Bernoulli NLL (nats) of
the notes sounding on the next beat, summed over the 88 pitches 21..108 (the continuo range;
the seed model's other 40 outputs are left out, and the fraction of held-out notes outside the
range is reported) and averaged over beats; plus frame accuracy TP / (TP + FP + FN) of the
notes predicted at p > 0.5. The continuo model's full NLL adds the NLL of 'struck' vs 'held'
for every note that continues a sounding pitch.

Every beat is scored with at least ``window/2`` beats of context (or all of it near a
piece's start): windows of ``window`` inputs overlap by half, and each scores its second half.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from radio.model import StyleModel
from radio.model.lstm import sigmoid
from radio.music.encoding import CONTINUO, encode_piece
from radio.music.notes import ListOfNotes, polyphony, to_spans

SCALE = {0, 2, 4, 5, 7, 9, 11}  # C major = A natural minor
RANGE = slice(CONTINUO.low, CONTINUO.high + 1)  # the shared pitch range, as MIDI numbers
EPS = 1e-7


@dataclass
class Targets:
    """The next-beat truth for every scored beat of a set of pieces, over MIDI 0..127."""

    sound: np.ndarray  # (beats, 128) bool
    struck: np.ndarray  # (beats, 128) bool
    prev: np.ndarray  # (beats, 128) bool: sounding on the beat before

    @property
    def beats(self) -> int:
        return len(self.sound)


def full_rolls(notes: ListOfNotes) -> tuple[np.ndarray, np.ndarray]:
    """(sounding, struck) bool matrices (beats, 128), with the empty lead-in beat first."""
    sound = np.zeros((len(notes) + 1, 128), bool)
    struck = np.zeros_like(sound)
    for t, beat in enumerate(notes, start=1):
        for pitch, tie in beat:
            sound[t, pitch] = True
            struck[t, pitch] = tie == "b"
    return sound, struck


def targets_for(pieces: Sequence[ListOfNotes]) -> Targets:
    sounds, strucks, prevs = [], [], []
    for notes in pieces:
        sound, struck = full_rolls(notes)
        sounds.append(sound[1:])
        strucks.append(struck[1:])
        prevs.append(sound[:-1])
    return Targets(np.concatenate(sounds), np.concatenate(strucks), np.concatenate(prevs))


def predict_logits(model: StyleModel, pieces: Sequence[ListOfNotes], window: int = 128, batch: int = 256) -> np.ndarray:
    """Logits for every next beat of every piece, concatenated in piece order (rows = Targets rows)."""
    enc = model.encoding
    half = window // 2
    jobs: list[tuple[np.ndarray, int, int, int]] = []  # (input rows, first scored, stop, output offset)
    offset = 0
    for notes in pieces:
        matrix = encode_piece(enc, notes)[:-1]  # inputs: lead-in .. second-to-last beat
        n = len(matrix)
        start = 0
        while True:
            first = 0 if start == 0 else half
            stop = min(window, n - start)
            jobs.append((matrix[start : start + window], first, stop, offset + start))
            if start + window >= n:
                break
            start += half
        offset += n
    out = np.zeros((offset, enc.output_size), np.float32)
    for b in range(0, len(jobs), batch):
        group = jobs[b : b + batch]
        x = np.zeros((len(group), window, enc.input_size), np.float32)
        for i, (rows, *_rest) in enumerate(group):
            x[i, : len(rows)] = rows
        logits = model.network.run(x)
        for i, (_rows, first, stop, at) in enumerate(group):
            out[at + first : at + stop] = logits[i, first:stop]
    return out


def _bernoulli_nll(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1 - EPS)
    return -(y * np.log(p) + (~y) * np.log1p(-p))


def _frame_accuracy(p: np.ndarray, y: np.ndarray) -> float:
    pred = p > 0.5
    tp = np.sum(pred & y)
    return float(tp / max(1, tp + np.sum(pred & ~y) + np.sum(~pred & y)))


def sound_probs(model: StyleModel, logits: np.ndarray) -> np.ndarray:
    """(beats, 128) P(sounding) over MIDI 0..127 (zero outside the model's range)."""
    enc = model.encoding
    probs = np.zeros((len(logits), 128), np.float64)
    probs[:, enc.low : enc.high + 1] = sigmoid(logits[:, enc.sound_slice].astype(np.float64))
    return probs


def struck_probs(model: StyleModel, logits: np.ndarray) -> np.ndarray | None:
    enc = model.encoding
    if not enc.has_struck:
        return None
    probs = np.full((len(logits), 128), 0.5)
    probs[:, enc.low : enc.high + 1] = sigmoid(logits[:, enc.struck_slice].astype(np.float64))
    return probs


def score(sound_p: np.ndarray, targets: Targets, struck_p: np.ndarray | None = None) -> dict[str, float]:
    """Shared-measure NLL and frame accuracy; the full NLL too when a struck head is given."""
    y = targets.sound[:, RANGE]
    sound_nll = _bernoulli_nll(sound_p[:, RANGE], y).sum(axis=1)
    result = {
        "nll_sounding": float(sound_nll.mean()),
        "frame_accuracy": _frame_accuracy(sound_p[:, RANGE], y),
    }
    if struck_p is not None:
        mask = (targets.sound & targets.prev)[:, RANGE]
        struck_nll = (_bernoulli_nll(struck_p[:, RANGE], targets.struck[:, RANGE]) * mask).sum(axis=1)
        result["nll_full"] = float((sound_nll + struck_nll).mean())
    return result


@dataclass
class Unigram:
    """Independent notes with frequencies from the training pieces."""

    sound: np.ndarray  # (128,) P(sounding)
    struck: np.ndarray  # (128,) P(struck | sounding now and before)

    @classmethod
    def fit(cls, pieces: Sequence[ListOfNotes]) -> "Unigram":
        t = targets_for(pieces)
        beats = max(1, t.beats)
        continuing = (t.sound & t.prev).sum(axis=0)
        # Add-one smoothing, so a pitch never seen in training still gets a finite NLL.
        sound = (t.sound.sum(axis=0) + 1.0) / (beats + 2.0)
        struck = ((t.struck & t.prev).sum(axis=0) + 1.0) / (continuing + 2.0)
        return cls(sound, struck)

    def to_dict(self) -> dict[str, list[float]]:
        return {"sound": [round(float(x), 8) for x in self.sound], "struck": [round(float(x), 8) for x in self.struck]}

    @classmethod
    def from_dict(cls, data: dict) -> "Unigram":
        return cls(np.asarray(data["sound"], np.float64), np.asarray(data["struck"], np.float64))

    def score(self, targets: Targets) -> dict[str, float]:
        n = targets.beats
        return score(np.broadcast_to(self.sound, (n, 128)), targets, np.broadcast_to(self.struck, (n, 128)))


def out_of_range_fraction(pieces: Sequence[ListOfNotes]) -> float:
    total = outside = 0
    for notes in pieces:
        for beat in notes:
            for pitch, _ in beat:
                total += 1
                outside += not (CONTINUO.low <= pitch <= CONTINUO.high)
    return outside / total if total else 0.0


LENGTH_BUCKETS = [(1, 1), (2, 2), (3, 4), (5, 8), (9, 16), (17, 32), (33, 10**9)]


def music_stats(notes: ListOfNotes) -> dict:
    """In-scale fraction, polyphony, note lengths, range and repetitiveness of a stretch of music."""
    spans = to_spans(notes)
    lengths = np.array([s.length for s in spans]) if spans else np.zeros(0, int)
    struck_pcs = [s.pitch % 12 for s in spans]
    bars = [tuple(tuple(b) for b in notes[i : i + 32]) for i in range(0, len(notes) - 31, 32)]
    pitches = [s.pitch for s in spans]
    buckets = {}
    for lo, hi in LENGTH_BUCKETS:
        label = str(lo) if lo == hi else (f"{lo}-{hi}" if hi < 10**9 else f">{lo - 1}")
        buckets[label] = float(np.mean((lengths >= lo) & (lengths <= hi))) if len(lengths) else 0.0
    return {
        "beats": len(notes),
        "notes": len(spans),
        "in_scale": sum(pc in SCALE for pc in struck_pcs) / len(struck_pcs) if struck_pcs else 0.0,
        "polyphony": polyphony(notes),
        "silent_fraction": sum(1 for b in notes if not b) / len(notes) if notes else 0.0,
        "note_length": {
            "mean": float(lengths.mean()) if len(lengths) else 0.0,
            "median": float(np.median(lengths)) if len(lengths) else 0.0,
            "max": int(lengths.max()) if len(lengths) else 0,
            "distribution": buckets,
        },
        "pitch_range": [min(pitches), max(pitches)] if pitches else None,
        "repetitiveness": {
            "two_bar_patterns": len(bars),
            "distinct_fraction": len(set(bars)) / len(bars) if bars else 1.0,
        },
        "pitch_classes": dict(sorted(Counter(struck_pcs).items())),
    }


def corpus_stats(pieces: Sequence[ListOfNotes]) -> dict:
    """The same figures over a corpus: pieces back to back, padded to whole 2-bar patterns."""
    joined: ListOfNotes = []
    for notes in pieces:
        pad = (-len(notes)) % 32
        joined.extend(list(notes) + [[] for _ in range(pad)])
    return music_stats(joined)


def token_logits(model: StyleModel, sequences: Sequence[np.ndarray], window: int, batch: int = 128) -> list[np.ndarray]:
    """Logits after every input token of every sequence (row i predicts token i + 1), each
    scored with at least ``window/2`` tokens of context: the token counterpart of
    :func:`predict_logits`."""
    half = window // 2
    jobs: list[tuple[int, np.ndarray, int, int, int]] = []  # (sequence, inputs, first scored, stop, at)
    outs = []
    for s, seq in enumerate(sequences):
        inputs = np.asarray(seq[:-1], np.int64)
        n = len(inputs)
        outs.append(np.zeros((n, model.network.output_size), np.float32))
        start = 0
        while True:
            jobs.append((s, inputs[start : start + window], 0 if start == 0 else half, min(window, n - start), start))
            if start + window >= n:
                break
            start += half
    for b in range(0, len(jobs), batch):
        group = jobs[b : b + batch]
        x = np.zeros((len(group), window), np.int64)  # PAD after a short window's end is never scored
        for i, job in enumerate(group):
            x[i, : len(job[1])] = job[1]
        logits = model.network.run(x)
        for i, (s, _inputs, first, stop, at) in enumerate(group):
            outs[s][at + first : at + stop] = logits[i, first:stop]
    return outs


def token_scores(model: StyleModel, pieces: Sequence[ListOfNotes], window: int = 384) -> dict[str, float]:
    """Exact held-out NLL of a token model: each token's probability renormalised over what
    the grammar allows there (as the sampler draws it), summed per beat (its notes and the
    position token that closes it) and averaged over beats."""
    from radio.music.tokens import Grammar, encode_tokens

    enc = model.encoding
    sequences = [encode_tokens(enc, notes) for notes in pieces]
    total, tokens, beats, violations = 0.0, 0, 0, 0
    for seq, logits in zip(sequences, token_logits(model, sequences, window)):
        targets = seq[1:].astype(np.int64)
        masks = np.zeros((len(targets), enc.vocab_size), bool)
        grammar = Grammar(enc, 0)
        for i, tok in enumerate(targets):
            masks[i] = grammar.allowed()
            if not masks[i, tok]:  # cannot happen for a valid list_of_notes; counted, never hidden
                violations += 1
                masks[i, tok] = True
            beats += grammar.feed(int(tok))
        z = np.where(masks, logits.astype(np.float64), -np.inf)
        top = z.max(axis=1, keepdims=True)
        lse = top[:, 0] + np.log(np.exp(z - top).sum(axis=1))
        total -= float((z[np.arange(len(targets)), targets] - lse).sum())
        tokens += len(targets)
    return {
        "nll_full": total / max(1, beats),
        "nll_per_token": total / max(1, tokens),
        "tokens_per_beat": tokens / max(1, beats),
        "grammar_violations": violations,
    }


def frame_scores(model: StyleModel, pieces: Sequence[ListOfNotes], targets: Targets) -> dict[str, float]:
    """Held-out scores of a frame model: its per-pitch figures, and the full NLL when it tells
    struck from held. (``trainer.kinds.score_model`` scores a model of any kind by its own measure.)"""
    logits = predict_logits(model, pieces)
    return score(sound_probs(model, logits), targets, struck_probs(model, logits))
