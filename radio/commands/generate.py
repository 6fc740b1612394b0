"""``continuo generate``: a stretch of a style's music to .mid, .wav or .mp3, without TensorFlow.

The notes come from the radio's own :class:`radio.station.composer.Composer`, so the file holds what
a channel seeded with ``--seed`` would play: pieces in their playback keys (a key per piece,
chosen from the seed), with the breath between pieces. ``--mix baroque=0.5,folk=0.5`` plays
the blend channel the station's mixer would (radio/station/blends.py), from the bundled models.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

from radio.errors import ContinuoError
from radio.files import atomic_write_bytes

SUFFIXES = (".mid", ".wav", ".mp3")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--style", help="style name (styles/<name>/style.toml)")
    what.add_argument("--mix", metavar="STYLE=W,STYLE=W",
                      help="a blend of two or three styles, e.g. baroque=0.5,folk=0.5 (weights normalised and rounded "
                           "to tenths, as /stream/mix.mp3 does)")
    parser.add_argument("--minutes", type=float, required=True, help="length of music to generate")
    parser.add_argument("--out", type=Path, required=True, help="output file: .mid, .wav or .mp3")
    parser.add_argument("--seed", type=int, default=0, help="seed: the same seed gives the same music (default 0)")
    parser.add_argument("--model", type=Path, default=None, help="model file (default: the style's bundled model)")
    parser.add_argument("--temperature", type=float, default=None, help="sampling temperature (default: the style's)")
    parser.add_argument("--top-p", type=float, default=None, help="nucleus sampling for token models, in (0, 1] (default: the style's, usually 1)")


def run(args: argparse.Namespace) -> int:
    from radio.station.composer import Composer
    from radio.model import load_model
    from radio.music.notes import beats_for_seconds, seconds
    from radio.styles import get_style

    suffix = args.out.suffix.lower()
    if suffix not in SUFFIXES:
        raise ContinuoError(f"--out {args.out}: the file name must end in {', '.join(SUFFIXES)}")
    if not 0 < args.minutes <= 24 * 60:
        raise ContinuoError(f"--minutes must be between 0 and 1440, got {args.minutes}")
    if args.temperature is not None and not args.temperature > 0:
        raise ContinuoError(f"--temperature must be > 0, got {args.temperature}")
    if args.top_p is not None and not 0 < args.top_p <= 1:
        raise ContinuoError(f"--top-p must be in (0, 1], got {args.top_p}")
    if args.mix is not None:
        if args.model is not None:
            raise ContinuoError("--model names one style's model; --mix blends each style's bundled model")
        style, model = _mix(args.mix)
    else:
        style = get_style(args.style)
        model = load_model(args.model or style.model_path)
    style = dataclasses.replace(
        style,
        temperature=style.temperature if args.temperature is None else args.temperature,
        top_p=style.top_p if args.top_p is None else args.top_p,
    )
    composer = Composer(style, model, seed=args.seed)
    wanted = max(1, beats_for_seconds(args.minutes * 60.0, style.tempo_bpm))
    notes = []
    keys: list[str] = []
    while len(notes) < wanted:
        chunk = composer.next_chunk()
        if chunk.new_piece and chunk.piece.key:
            keys.append(chunk.piece.key)
        notes.extend(chunk.beats)
    notes = notes[:wanted]
    _write(args.out, _encode(suffix, notes, style))
    print(
        f"wrote {args.out}: {seconds(len(notes), style.tempo_bpm):.1f} s of {style.display_name if args.mix else style.name} at {style.tempo_bpm:g} bpm, "
        f"model {model.version}, keys {', '.join(keys) or 'none'}"
    )
    return 0


def _mix(text: str):
    """The blend channel ``--mix`` asks for: its mixed style and its blended model."""
    from radio.station.blends import BlendError, blend_style, parse_blend
    from radio.model import load_model
    from radio.model.blend import blend_models
    from radio.styles import discover_styles

    query: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, weight = part.partition("=")
        if not sep or not name.strip():
            raise ContinuoError(f"--mix {text}: write each part as STYLE=WEIGHT, e.g. baroque=0.5,folk=0.5")
        if name.strip() in query:
            raise ContinuoError(f"--mix {text}: {name.strip()} is named twice")
        query[name.strip()] = weight.strip()
    styles = discover_styles()
    try:
        spec = parse_blend(query, list(styles))
    except BlendError as exc:
        raise ContinuoError(f"--mix {text}: {exc}") from None
    if isinstance(spec, str):  # rounds to one style: that style itself
        return styles[spec], load_model(styles[spec].model_path)
    models = [load_model(styles[name].model_path) for name in spec.styles]
    try:
        model = blend_models(models, spec.weights)
    except ValueError as exc:
        raise ContinuoError(f"--mix {text}: {exc}") from None
    return blend_style(spec, styles), model


def _encode(suffix: str, notes, style) -> bytes:
    if suffix == ".mid":
        from radio.music.midi_io import write_midi

        return write_midi(notes, style.tempo_bpm)
    from radio.audio.master import MasterSettings
    from radio.audio.synth import render_notes

    # As loud as the style's channel: its calibrated gain, follower and limiter.
    samples = render_notes(notes, style.sound, style.tempo_bpm, master=MasterSettings(gain_db=style.loudness_gain_db))
    if suffix == ".mp3":
        from radio.audio.mp3 import encode_mp3

        return encode_mp3(samples)
    from radio.audio.wav import write_wav

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.wav"
        write_wav(path, samples)
        return path.read_bytes()


def _write(path: Path, data: bytes) -> None:
    """Atomically: a cancelled run leaves no half-written file."""
    atomic_write_bytes(path, data)
