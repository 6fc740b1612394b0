"""A tiny library of synthetic pieces, and fast training settings for the trainer tests."""

from __future__ import annotations

import numpy as np
import pytest

from radio.music.notes import Span, from_spans

SCALE = [0, 2, 4, 5, 7, 9, 11]


def synthetic_piece(rng: np.random.Generator, beats: int) -> list:
    """A bass note per bar and a melody in C major, quarter and eighth notes."""
    spans = []
    for bar in range(0, beats, 16):
        spans.append(Span(36 + SCALE[int(rng.integers(0, 7))], bar, min(16, beats - bar)))
    t, degree = 0, 7
    while t < beats:
        length = int(rng.choice([2, 4, 4, 8]))
        degree = int(np.clip(degree + rng.integers(-2, 3), 0, 13))
        pitch = 60 + 12 * (degree // 7) + SCALE[degree % 7]
        spans.append(Span(pitch, t, min(length, beats - t)))
        t += length
    return from_spans(spans, beats)


def make_library(home, style: str, pieces: int, beats: int = 320, seed: int = 0):
    from radio.library import open_library
    from radio.library.ingest import ingest_midi
    from radio.music.midi_io import write_midi

    rng = np.random.default_rng(seed)
    library = open_library(home)
    try:
        for i in range(pieces):
            data = write_midi(synthetic_piece(rng, beats + 16 * int(rng.integers(0, 4))), 120.0)
            ingest_midi(library, data, style=style, composer=f"Composer {i % 3}", title=f"Piece {i}", licence="CC0")
    finally:
        library.close()
    return home


@pytest.fixture(scope="session")
def piece_factory():
    """``synthetic_piece(rng, beats)``: a C-major bass and melody, as the tiny library holds."""
    return synthetic_piece


@pytest.fixture(scope="session")
def library_factory():
    """``make_library(home, style, pieces, beats=320, seed=0)`` for tests that need their own."""
    return make_library


@pytest.fixture(scope="session")
def tiny_home(tmp_path_factory):
    """A library with 10 synthetic 'folk' pieces (a real style folder, so get_style works)."""
    return make_library(tmp_path_factory.mktemp("library"), "folk", 10)


@pytest.fixture(scope="session")
def tf():
    return pytest.importorskip("tensorflow")
