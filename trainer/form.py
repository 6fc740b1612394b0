"""Musical form: does the music return, hold its register, close its phrases, keep its texture?

The realism and discriminator measures look at a bar or two at a time, and there the generated
music is already convincing. What it lacks is form, which only shows over a whole piece: bars
that come back, a register that stays put, phrases that close every few bars, a texture that does
not lurch. So every figure here is taken *within a span* as long as the style's typical real
piece (``span_bars_for``), then averaged over spans, generated beside real.

Per span (16th-note beats; a bar is 16 beats, all in 4/4):

- **Repetition**: the share of bars that repeat an earlier bar of the span, exactly (the same
  notes and ties at the same offsets from the bar's start) or transposed (the same after shifting
  every pitch by one constant; transposed includes exact); a silent bar never counts as a repeat.
  The same for 2-bar patterns, non-overlapping and aligned to even bars.
- **Register drift**: the standard deviation of the mean sounding pitch of consecutive 8-bar
  (and 4-bar) windows, and the signed move from the first 8-bar window to the last.
- **Phrase ends**: closures per 4 bars. A closure is a strong beat (beat 0 or 8 of a bar) where
  a note is struck or a rest begins, after which nothing is struck for ``LONG_BEATS`` beats: a long
  note or rest on a strong beat. In polyphonic music a closure whose bass was struck on it a fourth
  or fifth from the bass before is also a *cadence* (an authentic-cadence proxy). Where closures
  fall within 4-bar phrases (bar index in the span mod 4) is a distribution; real music puts most
  at the 4th bar.
- **Texture stability**: the coefficient of variation (std / mean), window to window, of the
  mean polyphony and of the notes struck per beat of 2-bar windows.

Numpy only (no TensorFlow), so ``continuo evaluate`` and the tests can run it anywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from radio.music.notes import STRUCK, ListOfNotes

BAR = 16  # beats (16ths) in a bar of 4/4
MIN_SPAN_BARS = 4  # a piece (or stream) shorter than this says nothing about form
SPAN_LIMITS = (8, 64)  # span_bars_for clamps the typical piece length to this
DEFAULT_SPAN_BARS = 16  # span_bars_for with no real pieces to go by
DRIFT_BARS = 8  # register-drift windows: the 8 bars, about a phrase pair...
SHORT_DRIFT_BARS = 4  # ...and 4 bars, the window the team first measured drift on
TEXTURE_BARS = 2  # texture window length
PHRASE_BARS = 4  # closures are counted per, and positioned within, phrases of this many bars
STRONG_BEATS = (0, 8)  # beats of a bar on which a phrase can close
# Nothing may be struck for this many beats from a strong beat for it to close. A quarter note is
# enough, so music moving in plain quarters "closes" on every strong beat: the count is a proxy,
# read beside the real figure, not a phrase analysis.
LONG_BEATS = 4
CADENCE_STEPS = (5, 7)  # bass moves (mod 12) of a fourth or fifth, up or down
POLYPHONIC_SHARE = 0.5  # a span is polyphonic (has cadences at all) when this share of its sounding beats has ≥ 2 notes
PERCENTILES = (10, 90)  # the real range reported beside each mean


# --- one span ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Repetition:
    """Shares (0..1) of bars and of 2-bar patterns repeating an earlier one of the span."""

    bars_exact: float | None
    bars_transposed: float | None  # includes the exact repeats
    pairs_exact: float | None
    pairs_transposed: float | None


@dataclass(frozen=True)
class RegisterDrift:
    """Spread (std, semitones) of window mean pitches, and the first-to-last window move."""

    drift_8: float | None  # None with fewer than two sounding 8-bar windows
    drift_4: float | None
    shift_8: float | None  # last 8-bar window's mean pitch minus the first's


@dataclass(frozen=True)
class PhraseEnds:
    """Closures and cadences of a span, and the bar-in-phrase position of each closure."""

    closures: int
    cadences: int | None  # None for music that is not polyphonic: it has no bass to move
    bars: int
    positions: tuple[int, int, int, int]  # closures on bar 1, 2, 3, 4 of a 4-bar phrase

    @property
    def per_phrase(self) -> float:
        return self.closures / (self.bars / PHRASE_BARS)

    @property
    def cadences_per_phrase(self) -> float | None:
        return None if self.cadences is None else self.cadences / (self.bars / PHRASE_BARS)

    def position_shares(self) -> tuple[float, ...] | None:
        return tuple(n / self.closures for n in self.positions) if self.closures else None


@dataclass(frozen=True)
class Texture:
    """Window-to-window coefficient of variation of 2-bar windows' polyphony and onset density."""

    polyphony_cv: float | None  # None with fewer than two windows, or none sounding
    onsets_cv: float | None


@dataclass(frozen=True)
class Measure:
    name: str
    description: str


# The report's measures, in table order. span_measures() gives each span's figure under these names.
MEASURES: tuple[Measure, ...] = (
    Measure("bar_repeat_exact", "share of bars repeating an earlier bar of the span exactly (notes and ties)"),
    Measure("bar_repeat_transposed", "share of bars repeating an earlier bar, exactly or transposed"),
    Measure("pair_repeat_exact", "share of 2-bar patterns (even-aligned) repeating an earlier one exactly"),
    Measure("pair_repeat_transposed", "share of 2-bar patterns repeating an earlier one, exactly or transposed"),
    Measure("register_drift_8", "std of the mean sounding pitch of 8-bar windows, semitones"),
    Measure("register_drift_4", "std of the mean sounding pitch of 4-bar windows, semitones"),
    Measure("register_shift_8", "last 8-bar window's mean pitch minus the first's, semitones (signed)"),
    Measure("register_shift_8_abs", "size of that first-to-last move, semitones"),
    Measure("closures_per_4_bars", f"strong beats starting a long note or rest (nothing struck for ≥{LONG_BEATS} beats), per 4 bars"),
    Measure("cadences_per_4_bars", "closures with a bass move of a 4th/5th onto them, per 4 bars (polyphonic spans)"),
    *(Measure(f"closure_share_bar_{k + 1}", f"share of closures on bar {k + 1} of a 4-bar phrase")
      for k in range(PHRASE_BARS)),
    Measure("texture_cv_polyphony", "coefficient of variation of 2-bar windows' mean polyphony"),
    Measure("texture_cv_onsets", "coefficient of variation of 2-bar windows' notes struck per beat"),
)
MEASURE_NAMES = tuple(m.name for m in MEASURES)


def _bar_keys(bar: Sequence[Sequence[tuple[int, str]]]) -> tuple[tuple | None, tuple | None]:
    """Exact and transposition-free keys of a stretch of beats; (None, None) when it is silent.

    The transposition-free key measures pitches from the stretch's lowest one, so two stretches
    share it exactly when one is the other shifted by a constant.
    """
    pitches = [p for beat in bar for p, _ in beat]
    if not pitches:
        return None, None
    low = min(pitches)
    exact = tuple(tuple(sorted(beat)) for beat in bar)
    relative = tuple(tuple(sorted((p - low, tie) for p, tie in beat)) for beat in bar)
    return exact, relative


def _repeat_shares(chunks: list[ListOfNotes]) -> tuple[float | None, float | None]:
    """Of ``chunks``, the share repeating an earlier chunk exactly, and exactly or transposed."""
    if not chunks:
        return None, None
    seen_exact: set[tuple] = set()
    seen_relative: set[tuple] = set()
    exact = transposed = 0
    for chunk in chunks:
        key, relative = _bar_keys(chunk)
        if key is None:
            continue  # silence returning is not form
        exact += key in seen_exact
        transposed += relative in seen_relative
        seen_exact.add(key)
        seen_relative.add(relative)
    return exact / len(chunks), transposed / len(chunks)


def repetition(span: ListOfNotes) -> Repetition:
    """Repeated bars and 2-bar patterns of ``span`` (its whole bars; a ragged tail is ignored)."""
    bars = [span[b * BAR:(b + 1) * BAR] for b in range(len(span) // BAR)]
    pairs = [span[b * BAR:(b + 2) * BAR] for b in range(0, len(bars) - 1, 2)]
    bars_exact, bars_transposed = _repeat_shares(bars)
    pairs_exact, pairs_transposed = _repeat_shares(pairs)
    return Repetition(bars_exact, bars_transposed, pairs_exact, pairs_transposed)


def _window_mean_pitches(span: ListOfNotes, bars: int) -> list[float]:
    """Mean sounding pitch (each note weighted by the beats it sounds) of each whole window that sounds."""
    means = []
    size = bars * BAR
    for start in range(0, len(span) - size + 1, size):
        pitches = [p for beat in span[start:start + size] for p, _ in beat]
        if pitches:
            means.append(float(np.mean(pitches)))
    return means


def register_drift(span: ListOfNotes) -> RegisterDrift:
    """How far the register wanders within ``span``: windows of 8 and of 4 bars, back to back."""
    means = _window_mean_pitches(span, DRIFT_BARS)
    short = _window_mean_pitches(span, SHORT_DRIFT_BARS)
    return RegisterDrift(
        drift_8=float(np.std(means)) if len(means) >= 2 else None,  # population std: 2 windows give half their gap
        drift_4=float(np.std(short)) if len(short) >= 2 else None,
        shift_8=means[-1] - means[0] if len(means) >= 2 else None,
    )


def _is_polyphonic(span: ListOfNotes) -> bool:
    sounding = [len(beat) for beat in span if beat]
    return bool(sounding) and sum(n >= 2 for n in sounding) / len(sounding) >= POLYPHONIC_SHARE


def phrase_ends(span: ListOfNotes) -> PhraseEnds:
    """Closures (and, in polyphonic music, cadences) on the strong beats of ``span``'s whole bars.

    A strong beat closes a phrase when nothing is struck on the ``LONG_BEATS - 1`` beats after it
    and on it either a note is struck (a long note, other voices held or silent) or a rest begins
    (the beat before sounded). A note merely held across the strong beat is a syncopation, and a
    rest that began earlier was counted where it began, so neither counts again.
    """
    bars = len(span) // BAR
    length = bars * BAR
    strikes = [[p for p, tie in beat if tie == STRUCK] for beat in span[:length]]
    polyphonic = _is_polyphonic(span[:length])
    closures = cadences = 0
    positions = [0] * PHRASE_BARS
    for bar in range(bars):
        for offset in STRONG_BEATS:
            t = bar * BAR + offset
            if t + LONG_BEATS > length or any(strikes[t + 1:t + LONG_BEATS]):
                continue
            rest_begins = not span[t] and t > 0 and bool(span[t - 1])
            if not (strikes[t] or rest_begins):
                continue
            closures += 1
            positions[bar % PHRASE_BARS] += 1
            if polyphonic and strikes[t] and len(span[t]) >= 2 and _bass_moves_by_fourth_or_fifth(span, t):
                cadences += 1
    return PhraseEnds(closures, cadences if polyphonic else None, bars, tuple(positions))


def _bass_moves_by_fourth_or_fifth(span: ListOfNotes, t: int) -> bool:
    """Whether the bass struck at ``t`` lies a 4th or 5th (any octave) from the last bass before it."""
    bass, tie = min(span[t])
    if tie != STRUCK:
        return False  # the bass was held into the closure: it did not move onto it
    before = next((span[s] for s in range(t - 1, -1, -1) if span[s]), None)
    if before is None:
        return False
    return abs(bass - min(before)[0]) % 12 in CADENCE_STEPS


def _cv(values: list[float]) -> float | None:
    """std / mean, or None with fewer than two values or a mean of 0 (a silent span has no texture)."""
    if len(values) < 2 or np.mean(values) <= 0:
        return None
    return float(np.std(values) / np.mean(values))


def texture_stability(span: ListOfNotes) -> Texture:
    """Window-to-window variation of the texture over back-to-back 2-bar windows of ``span``.

    A window's polyphony counts silent beats as 0 notes: thinning out to rests is a texture
    change too, and the measure must see an alternation of busy and empty windows.
    """
    size = TEXTURE_BARS * BAR
    polyphony, onsets = [], []
    for start in range(0, len(span) - size + 1, size):
        window = span[start:start + size]
        polyphony.append(sum(len(beat) for beat in window) / size)
        onsets.append(sum(tie == STRUCK for beat in window for _, tie in beat) / size)
    return Texture(polyphony_cv=_cv(polyphony), onsets_cv=_cv(onsets))


def span_measures(span: ListOfNotes) -> dict[str, float | None]:
    """Every measure of ``MEASURES`` for one span (None where the span is too short or has no case)."""
    rep, drift, ends, texture = repetition(span), register_drift(span), phrase_ends(span), texture_stability(span)
    shares = ends.position_shares() if ends.bars else None
    values: dict[str, float | None] = {
        "bar_repeat_exact": rep.bars_exact,
        "bar_repeat_transposed": rep.bars_transposed,
        "pair_repeat_exact": rep.pairs_exact,
        "pair_repeat_transposed": rep.pairs_transposed,
        "register_drift_8": drift.drift_8,
        "register_drift_4": drift.drift_4,
        "register_shift_8": drift.shift_8,
        "register_shift_8_abs": None if drift.shift_8 is None else abs(drift.shift_8),
        "closures_per_4_bars": ends.per_phrase if ends.bars else None,
        "cadences_per_4_bars": ends.cadences_per_phrase if ends.bars else None,
        "texture_cv_polyphony": texture.polyphony_cv,
        "texture_cv_onsets": texture.onsets_cv,
    }
    for k in range(PHRASE_BARS):
        values[f"closure_share_bar_{k + 1}"] = None if shares is None else shares[k]
    return {name: values[name] for name in MEASURE_NAMES}


# --- spans and the report ------------------------------------------------------------------


def spans_of(pieces: Iterable[ListOfNotes], span_bars: int) -> list[ListOfNotes]:
    """Consecutive whole spans of ``span_bars`` bars of each piece (or stream).

    A piece shorter than one span is one shorter span of its whole bars if it has at least
    ``MIN_SPAN_BARS``; the tail of a longer piece is dropped, so a span's figures (drift grows
    with length) compare like with like.
    """
    size = span_bars * BAR
    spans: list[ListOfNotes] = []
    for piece in pieces:
        if len(piece) >= size:
            spans += [piece[s:s + size] for s in range(0, len(piece) - size + 1, size)]
        elif len(piece) >= MIN_SPAN_BARS * BAR:
            spans.append(piece[:len(piece) // BAR * BAR])
    return spans


def span_bars_for(real: Sequence[ListOfNotes]) -> int:
    """The style's typical piece length in bars: the median real piece, to a multiple of 4, in 8..64."""
    if not real:
        return DEFAULT_SPAN_BARS
    median = float(np.median([len(p) / BAR for p in real]))
    rounded = 4 * math.floor(median / 4 + 0.5)  # half up, not to even: 18 bars is 20, not 16
    return int(min(max(rounded, SPAN_LIMITS[0]), SPAN_LIMITS[1]))


def _summary(values: list[float | None]) -> tuple[float | None, list[float] | None]:
    figures = [v for v in values if v is not None]
    if not figures:
        return None, None
    low, high = np.percentile(figures, PERCENTILES)
    return float(np.mean(figures)), [float(low), float(high)]


def form_report(generated: list[ListOfNotes], real: list[ListOfNotes], span_bars: int) -> dict:
    """Each form measure's mean over the spans of ``generated`` and of ``real`` (with the real
    spans' 10th–90th percentile range), side by side. Too little music gives ``None`` figures
    and a ``reason``; it never raises."""
    span_bars = max(int(span_bars), MIN_SPAN_BARS)
    sides = {"generated": spans_of(generated, span_bars), "real": spans_of(real, span_bars)}
    report: dict = {
        "span_bars": span_bars,
        "spans": {side: len(spans) for side, spans in sides.items()},
        "bars": {side: sum(len(s) for s in spans) // BAR for side, spans in sides.items()},
        "measures": {},
    }
    missing = [side for side, spans in sides.items() if not spans]
    if missing:
        report["reason"] = (f"too little music: no {' and no '.join(missing)} stretch of at least {MIN_SPAN_BARS} bars "
                            f"(spans of {span_bars} bars)")
    per_span = {side: [span_measures(s) for s in spans] for side, spans in sides.items()}
    for measure in MEASURES:
        generated_mean, _ = _summary([m[measure.name] for m in per_span["generated"]])
        real_mean, real_range = _summary([m[measure.name] for m in per_span["real"]])
        entry = {"generated": generated_mean, "real": real_mean, "real_range": real_range,
                 "description": measure.description}
        if not missing and (generated_mean is None or real_mean is None):
            entry["reason"] = _why_none(measure.name, span_bars)
        report["measures"][measure.name] = entry
    return report


def _why_none(name: str, span_bars: int) -> str:
    if name.startswith("register"):
        return f"needs two sounding {8 if '_8' in name else 4}-bar windows in a span (spans of {span_bars} bars)"
    if name.startswith("closure_share"):
        return "no closures to place"
    if name.startswith("cadences"):
        return "no polyphonic span"
    if name.startswith("texture"):
        return "needs two sounding 2-bar windows in a span"
    return "no span with a figure"


def format_form_lines(report: dict | None) -> list[str]:
    """The report as a markdown table, "measure | generated | real (10–90%)", and a blank line."""
    if not report:
        return []
    spans = report["spans"]
    head = (f"form: within spans of {report['span_bars']} bars (the typical held-out piece), mean over "
            f"{spans['generated']} generated and {spans['real']} real spans")
    if report.get("reason"):
        return [f"form: not measured ({report['reason']})", ""]

    def f(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.2f}"

    lines = [head, "| measure | generated | real (10–90%) |", "| --- | ---: | ---: |"]
    for name, m in report["measures"].items():
        spread = f" ({f(m['real_range'][0])}–{f(m['real_range'][1])})" if m.get("real_range") else ""
        lines.append(f"| {name} | {f(m['generated'])} | {f(m['real'])}{spread} |")
    return lines + [""]
