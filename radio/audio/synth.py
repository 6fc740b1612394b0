"""The additive oscillator synth: a ``list_of_notes`` stream in, float32 samples out.

A style's :class:`radio.styles.Sound` is an instrument of one or more voices (a string
quartet's four, a harpsichord's one), how loud each note is played, and a room. The
synth deals a chord's notes to the voices from the top down, places each voice on a
stereo stage (constant-power pan), sums them, sends the sum to the room's reverb
(:mod:`radio.audio.room`) and hands dry plus wet to the master stage. ``channels=1``
renders the same music folded to mono (``continuo serve --mono``). A bare ``Timbre``
plays as a one-voice instrument in mono with no room, as the synth did before it had
instruments.

The work is split by job: :mod:`radio.audio.timbres` checks an instrument,
:mod:`radio.audio.tones` turns a voice's timbre into what plays one pitch,
:mod:`radio.audio.players` runs the oscillators and envelopes, and
:mod:`radio.audio.accents` decides how loud each note is struck (the metric position, the
voice, a phrase swell that follows the melody). This module schedules the beats.

Chunk invariance is the design constraint. Every sample is a pure function of its
absolute stream position, never of where a chunk was cut:

- beat ``k`` starts at ``origin + round((k - origin_beat) * samples_per_beat)`` where the
  origin is the sample at which the current tempo began, so fractional beat lengths
  never drift and a tempo change moves the origin to a beat boundary;
- the oscillators read phases and envelopes at ``t`` samples since the note-on
  (:mod:`radio.audio.players`), and a note's level, voice and pan are decided at its beat
  from state that advances beat by beat, never sample by sample;
- voices are summed in the order they were struck; the reverb's feedback loops are
  processed a block at a time, each block shorter than its shortest delay line, with
  element-wise arithmetic only, so any cut gives the same samples;
- a channel's synth ends in a :class:`radio.audio.master.Master` (style gain, a slow
  loudness follower, then a look-ahead limiter), whose state advances on blocks aligned
  to absolute sample 0: the same invariance, kept block by block. Without a master the
  voices go through a plain soft clipper (tests and benchmarks only).
"""

from __future__ import annotations

import math

import numpy as np

from radio.audio.accents import PLAIN_ACCENT_DB, Accents
from radio.audio.master import Master, MasterSettings
from radio.audio.players import BLOCK, Players, Voice
from radio.audio.room import Reverb
from radio.audio.timbres import check_sound, check_timbre
from radio.audio.tones import Tone
from radio.errors import NotesError
from radio.music.notes import BEATS_PER_QUARTER, HELD, STRUCK, ListOfNotes
from radio.styles import Dynamics, Sound, Timbre

__all__ = ["LIMITER_KNEE", "MAX_BPM", "MIN_BPM", "Synth", "check_sound", "render_notes", "soft_limit"]

# A voice's peak is at most level * accent * VOICE_GAIN, so a single note peaks near
# -12 dBFS and four-part music peaks near -3 dBFS, below the limiter's knee.
VOICE_GAIN = 0.28
# The limiter is linear up to the knee and bends smoothly (continuous slope) towards 1.0.
LIMITER_KNEE = 0.7
MIN_BPM, MAX_BPM = 10.0, 600.0


def soft_limit(x: np.ndarray) -> np.ndarray:
    """Limit in place: identity below the knee, then a tanh bend that never reaches 1.0."""
    over = np.abs(x) > LIMITER_KNEE
    if over.any():
        v = x[over]
        span = np.float32(1.0 - LIMITER_KNEE)
        bent = LIMITER_KNEE + span * np.tanh((np.abs(v) - LIMITER_KNEE) / span)
        x[over] = np.copysign(bent, v).astype(np.float32)
    return x


def _check_bpm(bpm: float) -> float:
    bpm = float(bpm)
    if not (math.isfinite(bpm) and MIN_BPM <= bpm <= MAX_BPM):
        raise ValueError(f"tempo {bpm!r} bpm is outside {MIN_BPM:g}..{MAX_BPM:g}")
    return bpm


def _parse_beat(index: int, beat) -> dict[int, str]:
    """One beat's events as {pitch: tie}; raise :class:`NotesError` naming a bad event."""
    ties: dict[int, str] = {}
    for event in beat:
        try:
            pitch, tie = event
        except (TypeError, ValueError):
            raise NotesError(f"beat {index} of the chunk: {event!r} is not a (pitch, tie) pair") from None
        if isinstance(pitch, bool) or not isinstance(pitch, (int, np.integer)) or not 0 <= pitch <= 127:
            raise NotesError(f"beat {index} of the chunk: pitch {pitch!r} is not an int in 0..127")
        if tie not in (STRUCK, HELD):
            raise NotesError(f"beat {index} of the chunk: tie {tie!r} must be 'b' or 's'")
        ties[int(pitch)] = tie
    return ties




class Synth:
    """Renders a stream of beats, one chunk after another, as if in one go.

    ``render`` takes whole 16th-note beats; notes struck ('b') start a voice, held ('s')
    notes keep theirs sounding, and a voice is released at the beat where its pitch stops
    or is struck again (the old voice's release overlaps the new attack).
    """

    def __init__(
        self,
        sound: Sound | Timbre,
        *,
        bpm: float,
        sample_rate: int = 44100,
        master: MasterSettings | None = None,
        channels: int | None = None,
    ):
        if isinstance(sound, Timbre):
            check_timbre(sound)
            sound = Sound((sound,), Dynamics(accent_db=PLAIN_ACCENT_DB))
            channels = channels or 1
        check_sound(sound)
        channels = channels or 2
        if channels not in (1, 2):
            raise ValueError(f"channels must be 1 (mono) or 2 (stereo), not {channels!r}")
        if not (isinstance(sample_rate, int) and 8000 <= sample_rate <= 192000):
            raise ValueError(f"sample_rate {sample_rate!r} must be an int in 8000..192000 Hz")
        self.sound = sound
        self.timbre = sound.voices[0]
        self.channels = channels
        self.sample_rate = sample_rate
        self._bpm = _check_bpm(bpm)
        self._pending_bpm: float | None = None
        self._origin = 0  # sample where the current tempo began
        self._origin_beat = 0  # beat index at that sample
        self._beat = 0  # beats rendered so far
        self._pos = 0  # samples rendered so far
        self._voices: list[Voice] = []
        self._sounding: dict[int, Voice] = {}  # pitch -> voice not yet released
        self.players = Players(sound, sample_rate)
        self._pans = [self._pan_gains(t.pan) for t in sound.voices]
        self._accents = Accents(sound.dynamics)  # advanced beat by beat
        self.reverb = Reverb(sound.room, sample_rate) if sound.room.active else None
        # Without a master stage the voices go through the plain soft limiter (knee 0.7).
        self.master = Master(master, sample_rate=sample_rate) if master is not None else None

    def _pan_gains(self, pan: float) -> tuple[float, ...]:
        angle = (pan + 1.0) * math.pi / 4.0  # constant power: the centre is -3 dB in each channel
        left, right = math.cos(angle), math.sin(angle)
        return (left, right) if self.channels == 2 else ((left + right) / math.sqrt(2.0),)

    @property
    def bpm(self) -> float:
        """The tempo of the next beat to be rendered."""
        return self._pending_bpm if self._pending_bpm is not None else self._bpm

    def set_tempo(self, bpm: float) -> None:
        """Change the tempo from the next beat rendered on; beats already rendered keep theirs."""
        self._pending_bpm = _check_bpm(bpm)

    def samples_rendered(self) -> int:
        """Samples produced so far: the stream position of the next sample."""
        return self._pos

    def beats_rendered(self) -> int:
        return self._beat

    def active_voices(self) -> int:
        """Voices still sounding, release tails included."""
        return len(self._voices)

    def samples_per_beat(self) -> float:
        """Exact (fractional) length of a 16th at the tempo of the next beat."""
        return self.sample_rate * 60.0 / (self.bpm * BEATS_PER_QUARTER)

    def render(self, beats: ListOfNotes) -> np.ndarray:
        """Render the next beats: float32 in [-1, 1], shape (n,) for mono or (n, 2) for
        stereo. An empty beat is a rest."""
        parsed = [_parse_beat(i, beat) for i, beat in enumerate(beats)]  # all checked before any state changes
        if self._pending_bpm is not None:
            self._origin, self._origin_beat = self._pos, self._beat
            self._bpm, self._pending_bpm = self._pending_bpm, None
        spb = self.sample_rate * 60.0 / (self._bpm * BEATS_PER_QUARTER)
        start = self._pos
        for ties in parsed:
            at = self._origin + round((self._beat - self._origin_beat) * spb)
            self._apply_beat(ties, at)
            self._beat += 1
        end = self._origin + round((self._beat - self._origin_beat) * spb)
        out = np.zeros((self.channels, end - start), dtype=np.float32)
        for a in range(start, end, BLOCK):
            b = min(a + BLOCK, end)
            seg = out[:, a - start : b - start]
            for voice in self._voices:
                self.players.add(voice, a, b, seg)
        self._voices = [v for v in self._voices if not self.players.finished(v, end)]
        self._pos = end
        if self.reverb is not None:
            send = out[0] if self.channels == 1 else out[0] + out[1]
            wet = self.reverb.process(send)
            if self.channels == 2:
                out += wet
            else:
                out[0] += (wet[0] + wet[1]) * np.float32(math.sqrt(0.5))
        if self.master is not None:
            pcm = self.master.process(out[0] if self.channels == 1 else out.T)
        else:
            pcm = soft_limit(out[0] if self.channels == 1 else np.ascontiguousarray(out.T))
        return pcm

    def _apply_beat(self, ties: dict[int, str], at: int) -> None:
        for pitch in [p for p, v in self._sounding.items() if ties.get(p) != HELD]:
            self.players.release(self._sounding.pop(pitch), at)
        # A held pitch that was not sounding (a chunk cut from a longer stream) is struck.
        struck = [p for p in ties if p not in self._sounding]
        self._accents.follow_metre(self._beat, len(struck))
        if not ties:
            return
        dyn = self.sound.dynamics
        order = sorted(ties, reverse=True)  # top voice first
        common_db = self._accents.beat_db(self._beat, order[0])
        parts = len(self.players.parts)
        for pitch in sorted(struck):
            rank, count = order.index(pitch), len(order)
            part = 0 if count == 1 else round(rank * (parts - 1) / (count - 1))
            role_db = dyn.melody_db if rank == 0 else dyn.bass_db if rank == count - 1 else 0.0
            timbre = self.players.parts[part]
            gain = timbre.timbre.level * VOICE_GAIN * timbre.norm * 10.0 ** ((common_db + role_db) / 20.0)
            voice = Voice(pitch, at, gain, part, self._pans[part])
            self._voices.append(voice)
            self._sounding[pitch] = voice

    def tone(self, part: int, pitch: int) -> Tone:
        """What voice ``part`` plays at ``pitch`` (its partials, envelopes and when it settles)."""
        return self.players.tone(part, pitch)


def render_notes(
    notes: ListOfNotes,
    timbre: Timbre | Sound,
    bpm: float,
    sample_rate: int = 44100,
    tail_seconds: float = 1.0,
    master: MasterSettings | None = None,
    channels: int | None = None,
) -> np.ndarray:
    """Render a whole piece in one go, followed by the release of its last notes.

    The tail is at least the longest release (and the room's ring-out, when there is a
    room), so the last notes never end in a click. With ``master`` (a style's loudness
    settings) it sounds as loud as the channel would.
    """
    synth = Synth(timbre, bpm=bpm, sample_rate=sample_rate, master=master, channels=channels)
    body = synth.render(notes)
    ring = synth.sound.room.rt60 if synth.reverb is not None else 0.0
    longest = max(t.release for t in synth.sound.voices)
    tail = max(0, round(max(float(tail_seconds), longest, ring) * sample_rate))
    rest_beats = math.ceil(tail / synth.samples_per_beat()) + 1
    return np.concatenate([body, synth.render([[] for _ in range(rest_beats)])[:tail]])
