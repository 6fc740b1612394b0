"""Record what you heard: the last minutes of a channel as an MP3 cut on frame boundaries.

Each channel keeps its released MP3 frames for ``HISTORY_SECONDS`` (10 minutes is about
9.6 MB at 128 kbps), numbered from the start of the stream, so frame ``k`` is the audio
of stream time ``[k, k + 1) * frame_seconds``. A recording of ``seconds`` ending at the
stream time a listener hears is then a run of whole frames: no re-encoding, and the
file's length is the asked length rounded to a frame (26 ms).

LAME's bit reservoir lets a frame keep part of its data in the frames before it, so the
first frame or two of a cut may point at bytes that are not in the file; decoders then
drop those frames, and the file plays shorter than it says. :func:`self_contained`
rewrites the side information of exactly those frames so that they decode as 26 ms of
silence each, while their data bytes stay in place for the frames after them.

A cut is a span of frame numbers, not a copy: the web layer sends it a batch of frames at a
time, read from the history as it goes (:meth:`FrameHistory.frames`), so a recording costs the
server one batch, however long it is and however slowly it is read.

The title, artist and album go in an ID3v2.4 tag (mutagen); the MIDI of the same span
comes from the pieces' notes (:func:`window_beats`).
"""

from __future__ import annotations

import io
import math
import time
from collections import deque
from dataclasses import dataclass

from radio.audio.mp3 import parse_header
from radio.station.composer import PieceInfo
from radio.music.notes import HELD, STRUCK, ListOfNotes

MIN_SECONDS = 1.0  # shorter than this is not a recording (under a frame, nothing at all)
MAX_SECONDS = 600.0  # "the last N minutes", N up to 10
HISTORY_SECONDS = MAX_SECONDS + 10.0  # a little more, for a listener a few seconds behind live


class RecordingError(ValueError):
    """A recording that cannot be cut: the reason, for a 400/409 answer."""


class FramesGone(RecordingError):
    """Frames of a cut left the history before they were sent (a reader slower than the stream)."""


@dataclass(frozen=True)
class Cut:
    """Frames ``first_frame`` up to ``end`` of a channel's history, by absolute frame number."""

    first_frame: int
    count: int
    frame_seconds: float

    @property
    def end(self) -> int:
        return self.first_frame + self.count

    @property
    def start(self) -> float:
        """Stream time of the first sample."""
        return self.first_frame * self.frame_seconds

    @property
    def seconds(self) -> float:
        return self.count * self.frame_seconds


class FrameHistory:
    """The last ``HISTORY_SECONDS`` of a channel's MP3 frames, by absolute frame index."""

    def __init__(self, frame_seconds: float, seconds: float = HISTORY_SECONDS) -> None:
        self.frame_seconds = frame_seconds
        self._frames: deque[bytes] = deque(maxlen=math.ceil(seconds / frame_seconds))
        self.total = 0  # frames ever added: the index of the next one

    def add(self, frames: list[bytes]) -> None:
        self._frames.extend(frames)
        self.total += len(frames)

    @property
    def first(self) -> int:
        """Index of the oldest frame still kept."""
        return self.total - len(self._frames)

    def cut(self, seconds: float, end_time: float) -> Cut:
        """Whole frames covering ``seconds`` of audio up to stream time ``end_time``
        (as much of it as the history still holds)."""
        if not (math.isfinite(seconds) and MIN_SECONDS <= seconds <= MAX_SECONDS):
            raise RecordingError(
                f"a recording is {MIN_SECONDS:g} s to {MAX_SECONDS / 60:g} minutes long, not {seconds!r} s"
            )
        if not math.isfinite(end_time) or end_time < 0:
            raise RecordingError(f"the end of a recording must be a stream time ≥ 0, not {end_time!r}")
        end = min(self.total, round(end_time / self.frame_seconds))
        start = max(self.first, end - round(seconds / self.frame_seconds))
        if end <= start:
            raise RecordingError("nothing has played yet on this channel to record")
        return Cut(start, end - start, self.frame_seconds)

    def frames(self, start: int, end: int) -> list[bytes]:
        """Frames ``start`` up to ``end`` (the history's own bytes objects, not copies).
        Raises :class:`FramesGone` if some have already been dropped from the history."""
        first = self.first
        if start < first or end > self.total:
            raise FramesGone(f"frames {start}..{end} are no longer all kept (the history holds {first}..{self.total})")
        return [self._frames[k - first] for k in range(start, end)]

    def nbytes(self, cut: Cut) -> int:
        """The size of ``cut``'s frames, for a Content-Length (no frame is copied)."""
        first = self.first
        if cut.first_frame < first or cut.end > self.total:
            raise FramesGone(f"the cut's frames {cut.first_frame}..{cut.end} are no longer all kept")
        return sum(len(self._frames[k - first]) for k in range(cut.first_frame, cut.end))


def self_contained(frames: list[bytes]) -> list[bytes]:
    """The frames with the leading ones whose bit reservoir lies before the cut silenced
    (MPEG-1 layer III; frames with a CRC, or of other layers, are left as they are)."""
    out = list(frames)
    available = 0  # main-data bytes of the frames already in the cut
    for i, frame in enumerate(frames):
        header = parse_header(frame)
        if header is None or header.layer != 3 or header.version != "1" or not frame[1] & 1:
            break  # not MPEG-1 layer III, or a CRC we would break: leave the rest alone
        side = 17 if header.channels == 1 else 32
        begin = (frame[4] << 1) | (frame[5] >> 7)  # main_data_begin: 9 bits, bytes back into the reservoir
        if begin > available:
            out[i] = frame[:4] + _silent_side_info(header.channels, min(available, 511)) + frame[4 + side :]
        available += len(frame) - 4 - side
        if available >= 511:  # the most main_data_begin can ask for: every later frame decodes
            break
    return out


def _silent_side_info(channels: int, begin: int) -> bytes:
    """Side info with no Huffman bits and no scale factors: a silent frame.

    ``main_data_begin`` still points back over the main data the cut already holds
    (``begin`` bytes), because a decoder's reservoir keeps only the bytes from there on:
    with 0, each silenced frame would leave a reservoir of one frame, too little for a
    following frame that leans on 400-odd bytes. Not all zeros either: some decoders take
    a first frame with all-zero side info for a Xing/Info tag and skip it; a global gain
    of 1 changes nothing (there are no values).
    """
    side = 17 if channels == 1 else 32
    first = 18 if channels == 1 else 20  # after main_data_begin, private bits and scfsi
    bits = [0] * (side * 8)
    bits[:9] = [int(b) for b in format(begin, "09b")]
    for granule in range(2 * channels):
        gain_at = first + 59 * granule + 12 + 9  # after part2_3_length and big_values
        bits[gain_at + 7] = 1
    return bytes(int("".join(map(str, bits[k : k + 8])), 2) for k in range(0, len(bits), 8))


def window_beats(pieces: list[PieceInfo], start_time: float, end_time: float, beat_seconds: float) -> ListOfNotes:
    """The channel's beats from ``start_time`` to ``end_time`` (stream seconds), rests
    included, with the first beat's held notes struck so the MIDI starts cleanly."""
    first = math.floor(start_time / beat_seconds + 1e-9)
    last = math.ceil(end_time / beat_seconds - 1e-9)
    beats: ListOfNotes = [[] for _ in range(max(0, last - first))]
    for piece in pieces:
        for i, beat in enumerate(piece.beats):
            k = piece.start_beat + i - first
            if 0 <= k < len(beats):
                beats[k] = list(beat)
    previous: set[int] = set()
    for k, beat in enumerate(beats):  # a held note needs its note sounding on the beat before
        beats[k] = [(p, HELD if tie == HELD and p in previous else STRUCK) for p, tie in beat]
        previous = {p for p, _ in beat}
    return beats


def tag_mp3(frames: list[bytes], *, title: str, album: str, comment: str) -> bytes:
    """The frames as an MP3 file with an ID3v2.4 tag: title, artist "Continuo", album, date."""
    return id3_tag(title=title, album=album, comment=comment) + b"".join(self_contained(frames))


def id3_tag(*, title: str, album: str, comment: str) -> bytes:
    """The ID3v2.4 tag a recording starts with: title, artist "Continuo", album, date."""
    from mutagen.id3 import COMM, ID3, TALB, TDRC, TIT2, TPE1

    tags = ID3()
    tags.add(TIT2(encoding=3, text=title))
    tags.add(TPE1(encoding=3, text="Continuo"))
    tags.add(TALB(encoding=3, text=album))
    tags.add(TDRC(encoding=3, text=time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())))
    tags.add(COMM(encoding=3, lang="eng", desc="", text=comment))
    out = io.BytesIO()
    tags.save(out, v2_version=4, padding=lambda info: 0)
    return out.getvalue()
