"""Audio: the additive synth, the MP3 encoder and frame splitter, and WAV files."""

from radio.audio.mp3 import FrameHeader, FrameSplitter, Mp3Encoder, Mp3Error, encode_mp3, frame_duration, parse_header
from radio.audio.synth import Synth, render_notes
from radio.audio.wav import read_wav, write_wav

__all__ = [
    "FrameHeader",
    "FrameSplitter",
    "Mp3Encoder",
    "Mp3Error",
    "Synth",
    "encode_mp3",
    "frame_duration",
    "parse_header",
    "read_wav",
    "render_notes",
    "write_wav",
]
