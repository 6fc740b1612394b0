"""``continuo render FILE.mid --style S --out x.wav|x.mp3``: any MIDI file in a style's sound.

The file's notes are read on the 16th-note grid the models use (:func:`radio.music.midi_io.read_midi`)
and played by the channel's own synth: the style's instrument, dynamics and room, its calibrated
gain, loudness follower and limiter, at the file's own tempo (``--bpm`` to override). An admin
hears an upload as the channel would play it; tests and benchmarks measure a timbre on a known
score.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from radio.errors import ContinuoError

SUFFIXES = (".wav", ".mp3")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("midi", type=Path, metavar="FILE.mid", help="the MIDI file to play")
    parser.add_argument("--style", required=True, help="whose instrument and room (styles/<name>/style.toml)")
    parser.add_argument("--out", type=Path, required=True, help="output file: .wav or .mp3")
    parser.add_argument("--bpm", type=float, default=None, help="tempo in quarter notes per minute (default: the file's)")
    parser.add_argument("--mono", action="store_true", help="mono instead of stereo")
    parser.add_argument("--bitrate", type=int, default=128, help="MP3 bitrate in kbps (default 128)")


def render_midi(midi: Path, style_name: str, *, bpm: float | None = None, channels: int = 2):
    """(samples, sample rate) of ``midi`` played in ``style_name``'s sound."""
    from radio.audio.master import MasterSettings
    from radio.audio.synth import render_notes
    from radio.music.midi_io import MidiError, read_midi
    from radio.styles import get_style

    style = get_style(style_name)
    try:
        parsed = read_midi(midi)
    except MidiError as exc:
        raise ContinuoError(f"{exc} (give a standard MIDI file, .mid)") from None
    if not any(parsed.notes):
        raise ContinuoError(f"{midi}: the file has no notes to play")
    tempo = bpm if bpm is not None else parsed.tempo_bpm
    try:
        samples = render_notes(
            parsed.notes, style.sound, tempo, master=MasterSettings(gain_db=style.loudness_gain_db), channels=channels
        )
    except ValueError as exc:  # a tempo the synth cannot play
        raise ContinuoError(f"{midi}: {exc}") from None
    return samples, 44100


def run(args: argparse.Namespace) -> int:
    from radio.audio.mp3 import encode_mp3
    from radio.audio.wav import write_wav
    from radio.commands.generate import _write

    suffix = args.out.suffix.lower()
    if suffix not in SUFFIXES:
        raise ContinuoError(f"--out {args.out}: the file name must end in .wav or .mp3")
    if not args.midi.is_file():
        raise ContinuoError(f"{args.midi}: no such file")
    samples, rate = render_midi(args.midi, args.style, bpm=args.bpm, channels=1 if args.mono else 2)
    if suffix == ".mp3":
        _write(args.out, encode_mp3(samples, rate, bitrate_kbps=args.bitrate))
    else:
        write_wav(args.out, samples, rate)
    print(f"{args.out}: {len(samples) / rate:.1f} s of {args.midi.name} in the {args.style} style")
    return 0
