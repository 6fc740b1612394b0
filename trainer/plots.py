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


def piano_roll(notes: ListOfNotes, path: Path, title: str, bpm: float) -> Path:
    """Each note as a bar from its strike to its release; x in seconds, y in MIDI pitch."""
    plt = _pyplot()
    spans = to_spans(notes)
    beat_s = 60.0 / (bpm * 4)
    fig, ax = plt.subplots(figsize=(14, 5), dpi=100)
    if spans:
        starts = np.array([s.start for s in spans]) * beat_s
        widths = np.array([s.length for s in spans]) * beat_s
        pitches = np.array([s.pitch for s in spans])
        ax.barh(pitches, widths, left=starts, height=0.8, color="#3b6ea8", edgecolor="#1d3d63", linewidth=0.3)
        ax.set_ylim(pitches.min() - 2, pitches.max() + 2)
    ax.set_xlim(0, max(1, len(notes)) * beat_s)
    ax.set_xlabel("seconds")
    ax.set_ylabel("MIDI pitch")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
