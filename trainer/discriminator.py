"""How easily a plain classifier tells generated music from real music: a classifier two-sample test.

Pieces are cut into non-overlapping 2-bar windows (32 sixteenths), each window becomes a row of
key-free features, and an L2-regularised logistic regression is cross-validated on generated
against real windows. Its accuracy means little alone (real pieces differ too), so beside it
stands the same classifier telling two halves of the real pieces apart, at the same number of
windows a side. The gap between the two is the figure to drive down; the goal is ≤ 0.03.

Folds are grouped: the windows of one piece (or of one block of ``BLOCK`` consecutive windows
of a longer piece or of a generated stream) stay on one side of every train/test cut, so the
classifier cannot win by recognising a piece it has half seen.

Features of a window (all invariant to transposition, so the test is about style, not key):

- harmonic: interval class (0..6) between every pair of notes sounding together, per beat
- top voice / bass: melodic interval of the highest / lowest sounding pitch each time it is
  struck, in 11 signed bins (0, ±1-2, ±3-4, ±5-7, ±8-11, ±12 and beyond)
- note length: 1, 2, 3, 4, 5-7, 8, 9-15, ≥16 sixteenths (notes cut at the window's edges)
- onsets: mean number of notes struck at each of the 16 positions of the bar
- polyphony: share of beats with 0..5 and ≥6 notes sounding (bin 0 is the share of silence)
- span: highest minus lowest pitch, in octaves; distinct pitch classes / 12
- diatonic fit: share of struck notes in the best-fitting transposition of the major scale
- density: notes struck per beat

Numpy only (no TensorFlow, no scikit-learn), so it runs wherever ``continuo evaluate`` does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from radio.music.notes import STRUCK, ListOfNotes, to_spans

WINDOW = 32  # 2 bars of 4/4 in sixteenths
BLOCK = 16  # windows per fold group when a piece or stream is long
FOLDS = 5
SPLITS = 3  # real-vs-real splits averaged: one split's accuracy is too noisy for a 0.03 goal
MIN_WINDOWS = 20  # a side; below this the cross-validated accuracy is mostly noise
GOAL_GAP = 0.03
L2 = 1.0  # on standardised features, with the summed (not mean) log-loss: scikit-learn's C = 1
INTERVAL_EDGES = np.array([-12, -8, -5, -3, -1, 0, 2, 4, 7, 11])  # inclusive right edges; above 11 is the last bin
LENGTH_EDGES = np.array([1, 2, 3, 4, 5, 8, 9, 16])  # left edges of the note-length bins
MAJOR = np.array([1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1], float)


@dataclass(frozen=True)
class Windows:
    """Feature rows of 2-bar windows and, per row, the group (piece or block) it came from."""

    features: np.ndarray  # (n, d)
    groups: np.ndarray  # (n,) ints; rows of one group never straddle a fold cut

    def __len__(self) -> int:
        return len(self.groups)

    def take(self, rows: np.ndarray) -> Windows:
        return Windows(self.features[rows], self.groups[rows])


def _hist(values: list[int] | np.ndarray, bins: int) -> np.ndarray:
    counts = np.bincount(np.asarray(values, np.int64), minlength=bins)[:bins].astype(float)
    return counts / counts.sum() if counts.sum() else counts


def _melodic(pitches: list[int]) -> np.ndarray:
    return _hist(np.searchsorted(INTERVAL_EDGES, np.diff(np.array(pitches, np.int64)), side="left"), 11)


def window_features(window: ListOfNotes) -> np.ndarray:
    """The key-free feature row of one window (see the module's docstring for the groups)."""
    harmonic, tops, basses, polyphony = [], [], [], []
    onsets = np.zeros(16)
    struck_pcs = np.zeros(12)
    for t, beat in enumerate(window):
        pitches = sorted(p for p, _ in beat)
        struck = {p for p, tie in beat if tie == STRUCK}
        polyphony.append(min(len(pitches), 6))
        onsets[t % 16] += len(struck)
        for p in struck:
            struck_pcs[p % 12] += 1
        for i, low in enumerate(pitches):
            harmonic += [min((high - low) % 12, 12 - (high - low) % 12) for high in pitches[i + 1:]]
        if pitches and pitches[-1] in struck:
            tops.append(pitches[-1])
        if pitches and pitches[0] in struck:
            basses.append(pitches[0])
    sounding = [p for beat in window for p, _ in beat]
    span = (max(sounding) - min(sounding)) / 12 if sounding else 0.0
    total = struck_pcs.sum()
    diatonic = max(struck_pcs @ np.roll(MAJOR, k) for k in range(12)) / total if total else 0.0
    lengths = np.searchsorted(LENGTH_EDGES, [s.length for s in to_spans(window)], side="right") - 1
    return np.concatenate([
        _hist(harmonic, 7), _melodic(tops), _melodic(basses), _hist(lengths, len(LENGTH_EDGES)),
        onsets / (len(window) / 16), _hist(polyphony, 7),
        [span, np.count_nonzero(struck_pcs) / 12, diatonic, total / len(window)],
    ])


def windows_of(pieces: list[ListOfNotes], first_group: int = 0) -> Windows:
    """Every whole 2-bar window of every piece; a piece's tail shorter than a window is dropped."""
    rows, groups = [], []
    group = first_group
    for notes in pieces:
        count = len(notes) // WINDOW
        for w in range(count):
            rows.append(window_features(notes[w * WINDOW:(w + 1) * WINDOW]))
            groups.append(group + w // BLOCK)
        group += -(-count // BLOCK)
    features = np.array(rows) if rows else np.zeros((0, len(window_features([[]] * WINDOW))))
    return Windows(features, np.array(groups, np.int64))


def _fit(x: np.ndarray, y: np.ndarray, steps: int = 30) -> np.ndarray:
    """Newton's method on the L2-penalised log-loss; the intercept (last column) goes unpenalised."""
    w = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], L2)
    penalty[-1] = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -30, 30)))
        gradient = x.T @ (p - y) + penalty * w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-6:
            break
    return w


def _folds(groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A fold per row: whole groups dealt, largest first, to the fold holding fewest rows so far."""
    ids, sizes = np.unique(groups, return_counts=True)
    order = rng.permutation(len(ids))
    order = order[np.argsort(-sizes[order], kind="stable")]
    load, fold_of = np.zeros(FOLDS), {}
    for i in order:
        fold_of[ids[i]] = int(np.argmin(load))
        load[fold_of[ids[i]]] += sizes[i]
    return np.array([fold_of[g] for g in groups], np.int64)


def _regroup(groups: np.ndarray) -> np.ndarray:
    """Halve the largest groups (by row order) until there are enough to fill every fold."""
    groups = groups.copy()
    while len(np.unique(groups)) < FOLDS:
        ids, sizes = np.unique(groups, return_counts=True)
        if sizes.max() < 2:
            break
        rows = np.flatnonzero(groups == ids[np.argmax(sizes)])
        groups[rows[len(rows) // 2:]] = groups.max() + 1
    return groups


def two_sample_accuracy(a: Windows, b: Windows, seed: int = 0) -> float:
    """Cross-validated (5 grouped folds) accuracy of a logistic regression telling ``a`` from ``b``.

    The larger side is subsampled (seeded) to the smaller's size, so 0.5 is chance.
    """
    rng = np.random.default_rng(seed)
    n = min(len(a), len(b))
    if n < FOLDS:
        raise ValueError(f"{n} windows a side is too few for {FOLDS}-fold cross-validation")
    a, b = (s.take(np.sort(rng.choice(len(s), n, replace=False))) for s in (a, b))
    x = np.vstack([a.features, b.features])
    y = np.r_[np.zeros(n), np.ones(n)]
    # Folds are dealt per side, so each fold tests about as many windows of either side.
    folds = np.r_[_folds(_regroup(a.groups), rng), _folds(_regroup(b.groups), rng)]
    correct = 0
    for k in range(FOLDS):
        test = folds == k
        mean, std = x[~test].mean(0), x[~test].std(0)
        std[std == 0] = 1.0
        design = np.c_[(x - mean) / std, np.ones(len(x))]
        w = _fit(design[~test], y[~test])
        correct += int(np.sum((design[test] @ w > 0) == (y[test] == 1)))
    return correct / len(y)


def _halves(pieces: list[ListOfNotes], rng: np.random.Generator) -> tuple[list[ListOfNotes], list[ListOfNotes]]:
    """Whole pieces dealt in a random order to whichever half is shorter; one piece is cut in two."""
    if len(pieces) == 1:
        cut = len(pieces[0]) // (2 * WINDOW) * WINDOW
        return [pieces[0][:cut]], [pieces[0][cut:]]
    halves: tuple[list, list] = ([], [])
    for i in rng.permutation(len(pieces)):
        min(halves, key=lambda h: sum(map(len, h))).append(pieces[i])
    return halves


def discriminator_report(generated: list[ListOfNotes], real: list[ListOfNotes], seed: int = 0) -> dict:
    """Generated-vs-real and real-vs-real accuracy at equal windows a side, and their gap.

    Over ``SPLITS`` seeded splits of ``real`` into halves by piece: real-vs-real is half against
    half, generated-vs-real is the generated windows against each half; all at ``n`` windows a
    side, the fewest that the generated music or any half holds. Too little music gives ``None``
    figures and a ``reason``; it never raises.
    """
    report: dict = {"generated_vs_real": None, "real_vs_real": None, "gap": None, "windows": 0, "goal_gap": GOAL_GAP,
                    "window_beats": WINDOW, "splits": SPLITS, "folds": FOLDS}
    rng = np.random.default_rng(seed)
    real = [p for p in real if len(p) >= WINDOW]
    gen = windows_of([p for p in generated if len(p) >= WINDOW])
    splits = []
    for _ in range(SPLITS if len(real) > 1 else 1):  # one piece has only one way to be cut in two
        first, second = _halves(real, rng)
        a = windows_of(first)
        splits.append((a, windows_of(second, first_group=int(a.groups.max(initial=-1)) + 1)))
    n = min([len(gen)] + [min(len(a), len(b)) for a, b in splits]) if splits else 0
    report["windows"] = n
    if n < MIN_WINDOWS:
        report["reason"] = (f"too little music: {n} 2-bar windows a side (generated {len(gen)}, each half of the real "
                            f"pieces at least {min((min(len(a), len(b)) for a, b in splits), default=0)}); "
                            f"needs {MIN_WINDOWS}")
        return report

    def shrink(side: Windows) -> Windows:
        return side.take(np.sort(rng.choice(len(side), n, replace=False)))

    real_vs_real, generated_vs_real = [], []
    for a, b in splits:
        a, b = shrink(a), shrink(b)
        real_vs_real.append(two_sample_accuracy(a, b, seed=int(rng.integers(2**31))))
        for half in (a, b):
            generated_vs_real.append(two_sample_accuracy(shrink(gen), half, seed=int(rng.integers(2**31))))
    report["generated_vs_real"] = float(np.mean(generated_vs_real))
    report["real_vs_real"] = float(np.mean(real_vs_real))
    report["gap"] = report["generated_vs_real"] - report["real_vs_real"]
    report["splits"] = len(splits)
    return report


def format_discriminator_line(report: dict | None) -> str:
    if not report:
        return ""
    if report.get("generated_vs_real") is None:
        return f"discriminator: not measured ({report.get('reason', report.get('error', 'no figures'))})"
    return (f"discriminator (2-bar windows, logistic regression): generated vs real {report['generated_vs_real']:.2f}, "
            f"real vs real {report['real_vs_real']:.2f}, gap {report['gap']:+.2f} (goal ≤ {report['goal_gap']:.2f}), "
            f"{report['windows']} windows a side")
