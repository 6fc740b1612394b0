"""Piece titles: "Improvisation No. 412 in D minor", deterministic from a seed and a counter."""

from __future__ import annotations

import random

# The forms a channel's pieces are named after; a style picks from its own list when it has one.
FORMS: dict[str, tuple[str, ...]] = {
    "baroque": ("Invention", "Prelude", "Chorale Fantasia", "Sinfonia", "Partita", "Improvisation"),
    "classical": ("Sonatina", "Rondo", "Divertimento", "Bagatelle", "Improvisation"),
    "renaissance": ("Fantasia", "Ricercar", "Pavane", "Galliard", "Canzona"),
    "medieval": ("Estampie", "Lai", "Organum", "Conductus", "Ductia"),
    "folk": ("Air", "Reel", "Ballad", "Jig", "Song"),
}
DEFAULT_FORMS = ("Improvisation", "Fantasia", "Study", "Nocturne")
FIRST_NUMBER_RANGE = 900  # pieces of a fresh station start somewhere in No. 1..900


def piece_title(style: str, seed: int, counter: int, key_name: str) -> str:
    """The title of the ``counter``-th piece of a channel seeded with ``seed``.

    The same (style, seed, counter, key) always gives the same title; the number grows
    by one per piece so a listener can tell pieces apart.
    """
    forms = FORMS.get(style, DEFAULT_FORMS)
    rng = random.Random(f"{style}:{seed}:{counter}")
    number = 1 + random.Random(f"{style}:{seed}").randrange(FIRST_NUMBER_RANGE) + counter
    return f"{rng.choice(forms)} No. {number} in {key_name}"
