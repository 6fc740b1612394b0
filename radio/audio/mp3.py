"""MP3: one continuously fed LAME encoder per stream, and a splitter into whole frames.

Feeding one encoder chunk after chunk gives byte-identical output to one big call, so a
channel keeps a single :class:`Mp3Encoder` for its whole life; re-creating it per chunk
would insert the encoder delay (silence) at every chunk boundary. LAME's first call
usually returns no bytes (it holds back its look-ahead), and ``flush`` pads the last
frame, so it belongs only at the very end of a stream.

:class:`FrameSplitter` turns the encoder's byte stream (cut anywhere) back into whole
frames, which the broadcaster needs to start a listener's burst on a frame boundary and
to pace by frame duration.
"""

from __future__ import annotations

from dataclasses import dataclass

import lameenc
import numpy as np

from radio.errors import ContinuoError

BITRATES_KBPS = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
SAMPLE_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)


class Mp3Error(ContinuoError, ValueError):
    """Bad encoder settings, bad input samples, or bytes that are not an MPEG audio frame."""


def to_int16(samples: np.ndarray) -> np.ndarray:
    """float [-1, 1] -> int16, clipping anything outside and rounding to the nearest step."""
    scaled = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0) * np.float32(32767.0)
    return np.rint(scaled).astype(np.int16)


class Mp3Encoder:
    """One LAME encoder fed for the whole life of a stream (CBR)."""

    def __init__(self, *, bitrate_kbps: int = 128, sample_rate: int = 44100, channels: int = 1, quality: int = 2):
        if bitrate_kbps not in BITRATES_KBPS:
            raise Mp3Error(f"bitrate {bitrate_kbps!r} kbps is not an MP3 bitrate; use one of {BITRATES_KBPS}")
        if sample_rate not in SAMPLE_RATES:
            raise Mp3Error(f"sample rate {sample_rate!r} Hz is not an MP3 rate; use one of {SAMPLE_RATES}")
        if channels not in (1, 2):
            raise Mp3Error(f"channels must be 1 or 2, not {channels!r}")
        if not (isinstance(quality, int) and 0 <= quality <= 9):
            raise Mp3Error(f"quality {quality!r} must be an int from 0 (best, slowest) to 9 (fastest)")
        self.bitrate_kbps = bitrate_kbps
        self.sample_rate = sample_rate
        self.channels = channels
        self.quality = quality
        self._lame = lameenc.Encoder()
        self._lame.set_bit_rate(bitrate_kbps)
        self._lame.set_in_sample_rate(sample_rate)
        self._lame.set_out_sample_rate(sample_rate)
        self._lame.set_channels(channels)
        self._lame.set_quality(quality)
        self.samples_in = 0  # per channel
        self.bytes_out = 0
        self._flushed = False

    def encode(self, pcm: np.ndarray) -> bytes:
        """Encode float32 samples in [-1, 1]: shape (n,) mono, or (n, 2) for a stereo encoder.

        Returns whatever whole frames LAME has ready (possibly none yet).
        """
        if self._flushed:
            raise Mp3Error("this encoder was flushed: a stream's encoder cannot be fed after its end")
        pcm = np.asarray(pcm)
        mono_ok = self.channels == 1 and pcm.ndim == 1
        stereo_ok = self.channels == 2 and pcm.ndim == 2 and pcm.shape[1] == 2
        if not (mono_ok or stereo_ok):
            shape = "(n,)" if self.channels == 1 else "(n, 2)"
            raise Mp3Error(f"samples of shape {pcm.shape} given to a {self.channels}-channel encoder; expected {shape}")
        if not np.issubdtype(pcm.dtype, np.floating):
            raise Mp3Error(f"samples must be floats in [-1, 1], not {pcm.dtype}")
        if len(pcm) == 0:
            return b""
        data = bytes(self._lame.encode(to_int16(pcm).tobytes()))
        self.samples_in += len(pcm)
        self.bytes_out += len(data)
        return data

    def flush(self) -> bytes:
        """The last frames, padded; call once at the end of the stream."""
        if self._flushed:
            return b""
        self._flushed = True
        data = bytes(self._lame.flush())
        self.bytes_out += len(data)
        return data


def encode_mp3(samples: np.ndarray, sample_rate: int = 44100, bitrate_kbps: int = 128, quality: int = 2) -> bytes:
    """Encode a whole signal, (n,) mono or (n, 2) joint stereo, into a complete MP3 file's bytes."""
    channels = 1 if np.ndim(samples) == 1 else 2
    encoder = Mp3Encoder(bitrate_kbps=bitrate_kbps, sample_rate=sample_rate, channels=channels, quality=quality)
    return encoder.encode(samples) + encoder.flush()


# Bitrates (kbps) by [MPEG-1?][layer 1..3][index 1..14].
_BITRATES = {
    (True, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
# Sample rates by version bits (0 = MPEG-2.5, 2 = MPEG-2, 3 = MPEG-1) and index 0..2.
_RATES = {0: (11025, 12000, 8000), 2: (22050, 24000, 16000), 3: (44100, 48000, 32000)}


@dataclass(frozen=True)
class FrameHeader:
    version: str  # '1', '2' or '2.5'
    layer: int  # 1, 2 or 3
    bitrate_kbps: int
    sample_rate: int
    padding: bool
    channels: int
    length: int  # bytes, header included
    samples: int  # per channel

    @property
    def duration(self) -> float:
        return self.samples / self.sample_rate

    def same_stream(self, other: FrameHeader) -> bool:
        return (self.version, self.layer, self.sample_rate) == (other.version, other.layer, other.sample_rate)


def parse_header(data: bytes | bytearray | memoryview, offset: int = 0) -> FrameHeader | None:
    """The MPEG audio frame header at ``offset``, or None if those 4 bytes are not one.

    Free-format (bitrate index 0) frames are rejected: their length is not in the header.
    """
    if len(data) - offset < 4:
        return None
    b0, b1, b2, b3 = data[offset], data[offset + 1], data[offset + 2], data[offset + 3]
    if b0 != 0xFF or (b1 & 0xE0) != 0xE0:
        return None
    version_bits = (b1 >> 3) & 3
    layer_bits = (b1 >> 1) & 3
    bitrate_index = b2 >> 4
    rate_index = (b2 >> 2) & 3
    if version_bits == 1 or layer_bits == 0 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    mpeg1 = version_bits == 3
    layer = 4 - layer_bits
    bitrate = _BITRATES[(mpeg1, layer)][bitrate_index - 1]
    rate = _RATES[version_bits][rate_index]
    padding = bool((b2 >> 1) & 1)
    if layer == 1:
        samples = 384
        length = (12 * bitrate * 1000 // rate + padding) * 4
    else:
        samples = 1152 if (mpeg1 or layer == 2) else 576
        length = (samples // 8) * bitrate * 1000 // rate + padding
    return FrameHeader(
        version={3: "1", 2: "2", 0: "2.5"}[version_bits],
        layer=layer,
        bitrate_kbps=bitrate,
        sample_rate=rate,
        padding=padding,
        channels=1 if (b3 >> 6) == 3 else 2,
        length=length,
        samples=samples,
    )


def frame_duration(frame: bytes) -> float:
    """Seconds of audio in one frame (1152 / sample rate for MPEG-1 layer III)."""
    header = parse_header(frame)
    if header is None:
        raise Mp3Error(f"bytes starting {bytes(frame[:4]).hex()} are not an MPEG audio frame header")
    return header.duration


class FrameSplitter:
    """Cuts an MP3 byte stream, fed in pieces cut anywhere, into whole frames.

    Bytes before the first frame (or between frames, after damage) are skipped. A sync
    found after skipped bytes is trusted only once the frame after it also starts with a
    matching header, so a stray 0xFFE in garbage does not produce a false frame; frames
    that follow a trusted frame directly are returned as soon as they are complete.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._locked: FrameHeader | None = None
        self.skipped = 0  # bytes discarded as not part of any frame
        self.frames = 0

    @property
    def pending(self) -> int:
        """Bytes held back: an incomplete frame, or a sync not yet confirmed."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        frames: list[bytes] = []
        pos = 0
        buf = self._buf
        while True:
            header = parse_header(buf, pos)
            if header is not None and self._locked is not None and not header.same_stream(self._locked):
                header = None
            if header is None:
                if len(buf) - pos < 4 and self._could_start_sync(buf, pos):
                    break
                self._locked = None
                nxt = buf.find(b"\xff", pos + 1)
                skip_to = len(buf) if nxt < 0 else nxt
                self.skipped += skip_to - pos
                pos = skip_to
                continue
            end = pos + header.length
            if self._locked is None:
                following = parse_header(buf, end)
                if following is None:
                    if len(buf) - end < 4:
                        break  # wait for the next header to confirm this sync
                    self.skipped += 1
                    pos += 1
                    continue
                if not following.same_stream(header):
                    self.skipped += 1
                    pos += 1
                    continue
            elif end > len(buf):
                break
            frames.append(bytes(buf[pos:end]))
            self._locked = header
            pos = end
        del self._buf[:pos]
        self.frames += len(frames)
        return frames

    @staticmethod
    def _could_start_sync(buf: bytearray, pos: int) -> bool:
        """Whether the few bytes left could be the start of a header once more arrive."""
        tail = buf[pos:]
        return not tail or (tail[0] == 0xFF and (len(tail) < 2 or tail[1] & 0xE0 == 0xE0))
