"""What the synth can play: a style's instrument checked field by field, with errors that name the field."""

from __future__ import annotations

import math

from radio.errors import StyleError
from radio.styles import Sound, Timbre


def check_timbre(timbre: Timbre) -> None:
    """Raise :class:`StyleError` naming the first timbre field the synth cannot use."""
    if not timbre.partials:
        raise StyleError("timbre.partials is empty: give at least the fundamental's amplitude")
    for i, amp in enumerate(timbre.partials):
        if not (math.isfinite(amp) and amp >= 0):
            raise StyleError(f"timbre.partials[{i}] = {amp!r} must be a finite amplitude >= 0")
    if not any(timbre.partials):
        raise StyleError("timbre.partials are all zero: the voice would be silent")
    for name in ("attack", "decay", "release", "inharmonicity", "detune_cents", "partial_decay", "pitch_decay",
                 "vibrato_hz", "vibrato_cents", "vibrato_delay"):
        value = getattr(timbre, name)
        if not (math.isfinite(value) and value >= 0):
            raise StyleError(f"timbre.{name} = {value!r} must be a finite number >= 0")
    if not 0 <= timbre.sustain <= 1:
        raise StyleError(f"timbre.sustain = {timbre.sustain!r} must be between 0 and 1")
    if not 0 < timbre.level <= 1:
        raise StyleError(f"timbre.level = {timbre.level!r} must be in (0, 1]")
    if not (math.isfinite(timbre.swell) and -0.9 <= timbre.swell <= 10):
        raise StyleError(f"timbre.swell = {timbre.swell!r} must be between -0.9 and 10")
    if not -1 <= timbre.pan <= 1:
        raise StyleError(f"timbre.pan = {timbre.pan!r} must be between -1 (left) and 1 (right)")
    if timbre.vibrato_hz > 20 or timbre.vibrato_cents > 100:
        raise StyleError("timbre.vibrato_hz must be at most 20 and timbre.vibrato_cents at most 100")


def check_sound(sound: Sound) -> None:
    """Raise :class:`StyleError` naming the first voice field the synth cannot use."""
    if not sound.voices:
        raise StyleError("the instrument has no voices")
    for i, timbre in enumerate(sound.voices):
        try:
            check_timbre(timbre)
        except StyleError as exc:
            raise StyleError(f"voice {i + 1}: {exc}" if len(sound.voices) > 1 else str(exc)) from None
