"""The sound, measured: each style's room, instrument, dynamics, stage, loudness and cost.

    python -m bench.bench_sound            # every figure; 10 minutes of every channel
    CONTINUO_SOUND_MINUTES=1 python -m bench.bench_sound

- **RT60** of each style's room, from a single rendered note: Schroeder backward
  integration of the tail after the note's release, fitted from -5 to -25 dB (T20).
- **Brightness** over a held middle C, dry: the spectral centroid in the first 50 ms after
  the attack and one second later (a plucked string darkens; a bowed note brightens first).
- **Dynamics from rendered audio:** the level of a note on the downbeat over one on a plain
  16th, and of a chord's top note over an inner one, each against the same score rendered
  with the dynamics switched off (so the voices' own timbres cancel out).
- **Stage:** the correlation between left and right over a minute of each channel, and of
  the room alone (wet only).
- **Cost:** CPU real-time factor of each stage of the chain (compose, synth with its room
  and master, encode) and of the whole, so channels per core; the limiter's share of it.
- **Loudness:** integrated loudness of the first minute and of the whole, and the true peak
  of the PCM and of the decoded MP3, per channel.
- **Limiter THD:** a sustained A major triad peaking at +3 dBFS through the old tanh
  waveshaper and through the look-ahead limiter.
- **Spectrograms:** 20 s of each style, written to ``docs/sound/<style>-after.png``.
"""

from __future__ import annotations

import dataclasses
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import time
from pathlib import Path

import numpy as np

from bench.run_all import machine
from radio.audio import loudness as L
from radio.station.calibration import channel_master, render_channel_audio
from radio.audio.master import Master, MasterSettings
from radio.audio.mp3 import Mp3Encoder
from radio.audio.room import Reverb
from radio.audio.synth import Synth
from radio.model import load_model
from radio.station.channel import DEFAULT_QUALITY
from radio.station.composer import Composer
from radio.styles import Dynamics, Room, Style, discover_styles

SR = 44100
MINUTES = float(os.environ.get("CONTINUO_SOUND_MINUTES", "10"))
PICTURES = Path(__file__).resolve().parent.parent / "docs" / "sound"


def rt60(tail: np.ndarray) -> float:
    """T20 of a (n, 2) or (n,) tail, in seconds."""
    power = tail**2 if tail.ndim == 1 else (tail**2).sum(axis=1)
    energy = np.cumsum(power[::-1])[::-1]
    curve = 10 * np.log10(energy / energy[0] + 1e-30)
    t = np.arange(len(curve)) / SR
    fit = (curve < -5) & (curve > -25)
    return float(-60.0 / np.polyfit(t[fit], curve[fit], 1)[0])


def room_rt60(style: Style) -> float:
    """A single short note in the style's sound; the decay of what follows its release."""
    synth = Synth(style.sound, bpm=style.tempo_bpm)
    beat = SR * 60 / (style.tempo_bpm * 4)
    x = synth.render([[(60, "b")], [(60, "s")]] + [[]] * int(8 * SR / beat))
    release = max(t.release for t in style.sound.voices)
    start = round(2 * beat + release * SR) + 200
    return rt60(x[start:])


def centroid(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    return float((spectrum * freqs).sum() / spectrum.sum())


def brightness(style: Style) -> tuple[float, float, float]:
    """Centroid (Hz) of a dry held C4: during the attack, 50 ms after it, and 1 s later."""
    sound = dataclasses.replace(style.sound, room=Room())
    synth = Synth(sound, bpm=60, channels=1)
    x = synth.render([[(60, "b")]] + [[(60, "s")]] * 11)
    attack = max(1, round(max(t.attack for t in sound.voices) * SR))
    early = attack + round(0.05 * SR)
    window = 2048
    return centroid(x[: max(window, attack)]), centroid(x[early : early + window]), centroid(x[early + SR : early + SR + window])


def _flat(style: Style):
    return dataclasses.replace(style.sound, room=Room(), dynamics=Dynamics(beats_per_bar=style.dynamics.beats_per_bar))


def accent_db(style: Style) -> float:
    """dB of a note on the downbeat over one on a plain 16th (the same note, repeated)."""
    notes = [[(64, "b")]] * 64
    beat = round(SR * 60 / (style.tempo_bpm * 4))

    def levels(sound) -> tuple[float, float]:
        x = Synth(sound, bpm=style.tempo_bpm, channels=1).render(notes)
        rms = lambda i: float(np.sqrt(np.mean(x[i * beat + 100 : (i + 1) * beat - 100] ** 2)))  # noqa: E731
        return rms(48), rms(49)  # the last bar's downbeat and the 16th after it

    on, off = levels(dataclasses.replace(style.sound, room=Room()))
    flat_on, flat_off = levels(_flat(style))
    return 20 * np.log10((on / off) / (flat_on / flat_off))


def _amplitude(x: np.ndarray, freq: float) -> float:
    w = np.hanning(len(x))
    t = np.arange(len(x)) / SR
    return float(2 * np.abs(np.sum(x * w * np.exp(-2j * np.pi * freq * t))) / w.sum())


def melody_db(style: Style) -> float:
    """dB of a chord's top note over an inner one (G4 over E4 in C3 E4 G4 ... with C5 on top)."""
    chord = (72, 67, 64, 48)
    notes = [[(p, "b") for p in chord]] + [[(p, "s") for p in chord]] * 15
    freq = {p: 440 * 2 ** ((p - 69) / 12) for p in chord}

    def ratio(sound) -> float:
        x = Synth(sound, bpm=style.tempo_bpm, channels=1).render(notes)[SR // 5 :]
        return _amplitude(x, freq[72]) / _amplitude(x, freq[67])

    return 20 * np.log10(ratio(dataclasses.replace(style.sound, room=Room())) / ratio(_flat(style)))


def correlation(x: np.ndarray) -> float:
    return float(np.corrcoef(x[:, 0], x[:, 1])[0, 1])


def wet_correlation(style: Style) -> float:
    rng = np.random.default_rng(0)
    wet = Reverb(style.room).process(rng.standard_normal(SR * 6).astype(np.float32))
    return float(np.corrcoef(wet[0, SR:], wet[1, SR:])[0, 1])


@dataclasses.dataclass
class Cost:
    compose: float
    synth: float
    encode: float
    limiter: float  # seconds of CPU per second of audio
    seconds: float

    def rtf(self, part: float) -> float:
        return 1.0 / part if part else float("inf")

    @property
    def chain(self) -> float:
        return self.compose + self.synth + self.encode


def chain_cost(style: Style, seconds: float = 60.0, *, channels: int = 2, quality: int = DEFAULT_QUALITY,
               runs: int = 3) -> Cost:
    """CPU seconds per audio second of each stage of one channel's chain: the best of
    ``runs`` (what one core can do when the box is busy with other work, as bench_audio)."""
    costs = [_chain_cost(style, seconds, channels, quality) for _ in range(runs)]
    return min(costs, key=lambda c: c.chain)


def _chain_cost(style: Style, seconds: float, channels: int, quality: int) -> Cost:
    composer = Composer(style, load_model(style.model_path), seed=3)
    synth = Synth(style.sound, bpm=style.tempo_bpm, master=channel_master(style), channels=channels)
    encoder = Mp3Encoder(channels=channels, quality=quality)
    tc = ts = te = 0.0
    n = 0
    while n < seconds * SR:
        t0 = time.process_time()
        beats = composer.next_chunk().beats
        t1 = time.process_time()
        pcm = synth.render(beats)
        t2 = time.process_time()
        encoder.encode(pcm)
        t3 = time.process_time()
        tc, ts, te, n = tc + t1 - t0, ts + t2 - t1, te + t3 - t2, n + len(pcm)
    audio = n / SR
    # The limiter alone, on what the synth's master stage feeds it, in the same chunks.
    limiter_time = limiter_cost(style, audio)
    return Cost(tc / audio, ts / audio, te / audio, limiter_time / audio, audio)


def limiter_cost(style: Style, seconds: float) -> float:
    x = render_channel_audio(style, load_model(style.model_path), seconds, seed=3,
                             master=dataclasses.replace(channel_master(style), limit=False))
    master = Master(MasterSettings(follow=False))
    limiter = master.limiter(2)
    chunk = round(SR * 60 / (style.tempo_bpm * 4)) * 4
    parts = [np.ascontiguousarray(x[i : i + chunk].T) for i in range(0, len(x), chunk)]
    t0 = time.process_time()
    for p in parts:
        limiter.process(p)
    return time.process_time() - t0


def old_waveshaper(x: np.ndarray, knee_db: float = -6.0, ceiling_db: float = -1.6) -> np.ndarray:
    """The master stage's limiter before this change: a tanh bend above a -6 dBFS knee."""
    knee, ceiling = 10 ** (knee_db / 20), 10 ** (ceiling_db / 20)
    y = x.copy()
    over = np.abs(y) > knee
    y[over] = np.sign(y[over]) * (knee + (ceiling - knee) * np.tanh((np.abs(y[over]) - knee) / (ceiling - knee)))
    return y


def limiter_thd() -> tuple[float, float, float]:
    """THD+N (dB) of a sustained A major triad peaking at +3 dBFS: waveshaper, limiter; and
    the limiter's output true peak."""
    freqs = (220.0, 277.18, 329.63)
    t = np.arange(SR * 6) / SR
    x = sum(np.sin(2 * np.pi * f * t) for f in freqs)
    x = (x / np.abs(x).max() * 10 ** (3 / 20)).astype(np.float32)
    master = Master(MasterSettings(follow=False))
    y = np.concatenate([master.process(x[i : i + 4096]) for i in range(0, len(x), 4096)])
    return L.thd_db(old_waveshaper(x), freqs), L.thd_db(y[master.delay :], freqs), L.to_db(L.true_peak(y[: -SR // 10], SR))


def decoded_true_peak(pcm: np.ndarray) -> float | None:
    try:
        import miniaudio
    except ImportError:
        return None
    encoder = Mp3Encoder(channels=2, quality=DEFAULT_QUALITY)
    data = encoder.encode(pcm) + encoder.flush()
    decoded = miniaudio.decode(data, output_format=miniaudio.SampleFormat.FLOAT32, nchannels=2, sample_rate=SR)
    return L.to_db(L.true_peak(np.frombuffer(decoded.samples, dtype=np.float32).reshape(-1, 2), SR))


def spectrogram(x: np.ndarray, title: str, path: Path) -> None:
    """A small PNG of 20 s: a log-frequency spectrogram of the mid (L+R) signal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mid = x if x.ndim == 1 else x.mean(axis=1)
    fig, ax = plt.subplots(figsize=(8, 2.6), dpi=80)
    ax.specgram(mid, NFFT=2048, Fs=SR, noverlap=1024, cmap="magma", vmin=-130, vmax=-20)
    ax.set_yscale("symlog", linthresh=200)
    ax.set_ylim(50, 12000)
    ax.set_xlabel("s")
    ax.set_ylabel("Hz")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    print(f"machine: {machine(f'numpy {np.__version__}')}")
    styles = discover_styles()
    print("\ninstruments:")
    for name, style in styles.items():
        voices = ", ".join(f"{getattr(v, 'pan', 0):+.2f}" for v in style.sound.voices)
        print(f"  {name:12s} {style.instrument or '-':18s} {len(style.sound.voices)} voice(s), pans {voices}; "
              f"room RT60 {style.room.rt60:.1f} s wet {style.room.wet:.2f}")

    print("\nroom, brightness, dynamics, stage (from rendered audio):")
    print(f"  {'style':12s} {'RT60 s':>7s} {'(asked)':>8s} {'centroid Hz: attack':>20s} {'+50ms':>7s} {'+1s':>7s} "
          f"{'change':>7s} {'accent dB':>9s} {'melody dB':>9s} {'wet L/R r':>9s}")
    for name, style in styles.items():
        a, b, c = brightness(style)
        print(f"  {name:12s} {room_rt60(style):7.2f} {style.room.rt60:8.1f} {a:20.0f} {b:7.0f} {c:7.0f} "
              f"{100 * (c - b) / b:+6.0f}% {accent_db(style):9.2f} {melody_db(style):9.2f} {wet_correlation(style):9.2f}")

    before, after, peak = limiter_thd()
    print(f"\nlimiter, A major triad peaking at +3 dBFS: THD+N {before:.1f} dB with the old tanh waveshaper, "
          f"{after:.1f} dB with the look-ahead limiter ({before - after:.1f} dB lower); true peak {peak:.2f} dBTP")

    print(f"\ncost per channel (CPU, one core; stereo LAME q{DEFAULT_QUALITY}):")
    for name, style in styles.items():
        cost = chain_cost(style)
        mono = chain_cost(style, 30.0, channels=1, quality=2)
        q2 = chain_cost(style, 30.0, channels=2, quality=2)
        print(f"  {name:12s} compose {cost.rtf(cost.compose):5.0f}x  synth+room+master {cost.rtf(cost.synth):5.0f}x  "
              f"encode {cost.rtf(cost.encode):5.0f}x  chain {cost.rtf(cost.chain):5.1f}x = {cost.rtf(cost.chain):.0f} "
              f"channels/core; limiter {100 * cost.limiter / cost.chain:.1f}% of the chain | mono q2 chain "
              f"{mono.rtf(mono.chain):.1f}x, stereo q2 chain {q2.rtf(q2.chain):.1f}x")

    print(f"\nloudness, {MINUTES:g} minutes of every channel (target -16 LUFS, true peak <= -1 dBTP):")
    for name, style in styles.items():
        audio = render_channel_audio(style, load_model(style.model_path), MINUTES * 60, seed=2024,
                                     master=channel_master(style))
        first = L.integrated_loudness(audio[: SR * 60], SR)
        report = L.measure(audio, SR)
        mp3_peak = decoded_true_peak(audio)
        mp3 = f"{mp3_peak:6.2f}" if mp3_peak is not None else "   n/a"
        print(f"  {name:12s} first minute {first:6.2f} LUFS  whole {report.integrated_lufs:6.2f} LUFS  "
              f"LRA {report.loudness_range_lu:4.1f} LU  true peak {report.true_peak_dbtp:6.2f} dBTP (PCM) {mp3} dBTP (MP3)  "
              f"L/R r {correlation(audio):.2f}")
        spectrogram(audio[SR * 20 : SR * 40], f"{style.display_name} ({style.instrument}), 20 s, after",
                    PICTURES / f"{name}-after.png")
    print(f"\nspectrograms: {PICTURES}/<style>-after.png (and -before.png, made from the code before the change)")


if __name__ == "__main__":
    main()
