"""PNG plots (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from radio.music.notes import ListOfNotes, to_spans


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def loss_curve(history: dict[str, Sequence[float]], path: Path, title: str) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for key, label in (("loss", "train"), ("val_loss", "validation")):
        values = history.get(key) or []
        if values:
            ax.plot(range(1, len(values) + 1), values, marker="o", ms=3, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (nats per beat)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _draw_roll(ax, notes: ListOfNotes, bpm: float) -> tuple[int, int] | None:
    """Each note as a bar from its strike to its release; x in seconds. Returns the pitch range drawn."""
    spans = to_spans(notes)
    beat_s = 60.0 / (bpm * 4)
    ax.set_xlim(0, max(1, len(notes)) * beat_s)
    ax.set_ylabel("MIDI pitch")
    ax.grid(axis="x", alpha=0.2)
    if not spans:
        return None
    starts = np.array([s.start for s in spans]) * beat_s
    widths = np.array([s.length for s in spans]) * beat_s
    pitches = np.array([s.pitch for s in spans])
    ax.barh(pitches, widths, left=starts, height=0.8, color="#3b6ea8", edgecolor="#1d3d63", linewidth=0.3)
    return int(pitches.min()), int(pitches.max())


def piano_roll(notes: ListOfNotes, path: Path, title: str, bpm: float,
               marks: Sequence[tuple[int, str, bool]] = ()) -> Path:
    """Each note as a bar from its strike to its release; x in seconds, y in MIDI pitch.
    ``marks`` are (beat, label, strong) lines drawn across the roll: a form's sections, with
    the pieces' starts as strong lines."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(14, 5), dpi=100)
    drawn = _draw_roll(ax, notes, bpm)
    if drawn:
        ax.set_ylim(drawn[0] - 2, drawn[1] + 2)
    seconds_per_beat = 60.0 / (bpm * 4)
    for beat, label, strong in marks:
        x = beat * seconds_per_beat
        ax.axvline(x, color="#c0392b" if strong else "#7f8c8d", lw=1.6 if strong else 0.8, ls="-" if strong else "--")
        ax.text(x + 0.3, 1.0, label, transform=ax.get_xaxis_transform(), va="bottom", fontsize=9,
                color="#c0392b" if strong else "#34495e")
    ax.set_xlabel("seconds")
    ax.set_title(title, pad=16 if marks else 6)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def piano_roll_pair(generated: ListOfNotes, real: ListOfNotes, path: Path, titles: tuple[str, str], bpm: float) -> Path:
    """A generated excerpt above a real one, on the same time and pitch axes, to compare by eye."""
    plt = _pyplot()
    fig, axes = plt.subplots(2, 1, figsize=(14, 8), dpi=100, sharex=True, sharey=True)
    ranges = [r for r in (_draw_roll(axes[0], generated, bpm), _draw_roll(axes[1], real, bpm)) if r]
    axes[0].set_xlim(0, max(1, len(generated), len(real)) * 60.0 / (bpm * 4))
    if ranges:
        axes[0].set_ylim(min(r[0] for r in ranges) - 2, max(r[1] for r in ranges) + 2)
    for ax, title in zip(axes, titles):
        ax.set_title(title)
    axes[1].set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def realism_histograms(report: dict, path: Path, title: str) -> Path:
    """One bar chart per realism feature: generated against real, with the overlap and its ceiling."""
    plt = _pyplot()
    features = report["features"]
    cols = 4
    rows = -(-len(features) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), dpi=100, squeeze=False)
    for ax, (name, v) in zip(axes.flat, features.items()):
        x = np.arange(len(v["bins"]))
        ax.bar(x - 0.2, v["real"], width=0.4, color="#8c8c8c", label="real")
        ax.bar(x + 0.2, v["generated"], width=0.4, color="#3b6ea8", label="generated")
        step = max(1, len(x) // 10)
        ax.set_xticks(x[::step])
        ax.set_xticklabels(v["bins"][::step], rotation=45 if name == "outer_motion" else 0, ha="right" if name == "outer_motion" else "center", fontsize=7)
        ax.set_title(f"{name}: {v['overlap']:.2f} (ceiling {v['ceiling_overlap']:.2f})", fontsize=9)
        ax.tick_params(axis="y", labelsize=7)
    for ax in list(axes.flat)[len(features):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"{title}: mean overlap {report['mean_overlap']:.3f}, ceiling {report['mean_ceiling']:.3f}")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
