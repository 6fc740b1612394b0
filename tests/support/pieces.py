"""MIDI fixtures shared by the library and command tests: small valid MIDI files, and a small
copy of the real corpus. Registered in tests/conftest.py's ``pytest_plugins``."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Callable

import pytest

from radio.music.midi_io import write_midi


def melody(*pitches: int, length: int = 4) -> list:
    """A list_of_notes: each pitch struck then held for ``length`` beats."""
    notes = []
    for p in pitches:
        notes.append([(p, "b")])
        notes.extend([(p, "s")] for _ in range(length - 1))
    return notes


@pytest.fixture
def midi_bytes() -> Callable[..., bytes]:
    """Valid MIDI files that differ by their pitches (so their sha256 differ)."""

    def make(*pitches: int, bpm: float = 100.0) -> bytes:
        return write_midi(melody(*(pitches or (60, 62, 64, 65, 67))), bpm)

    return make


@pytest.fixture
def small_corpus(tmp_path, corpus_dir) -> Path:
    """A folder of style folders with a MANIFEST.csv: 3 folk tunes and 2 chorales from the real corpus."""
    root = tmp_path / "corpus"
    with (corpus_dir / "MANIFEST.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    chosen = [r for r in rows if r["style"] == "folk"][:3] + [r for r in rows if r["style"] == "baroque"][:2]
    for r in chosen:
        (root / r["file"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(corpus_dir / r["file"], root / r["file"])
    with (root / "MANIFEST.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(chosen)
    return root
