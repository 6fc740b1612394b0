"""``continuo generate`` to .mid/.wav/.mp3 in a process where TensorFlow cannot be imported."""

from __future__ import annotations

import subprocess
import sys
import wave

import pytest

from radio.station.composer import Composer
from radio.model import load_model
from radio.music.midi_io import read_midi
from radio.styles import get_style

BLOCK_TF = "import sys; sys.modules['tensorflow'] = None; sys.modules['keras'] = None\n"


def generate_without_tensorflow(*argv: str) -> subprocess.CompletedProcess:
    code = BLOCK_TF + "from radio.cli import main\n" + f"sys.exit(main({list(argv)!r}))\n"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_generate_mid_wav_mp3_without_tensorflow(continuo_model_file, tmp_path):
    for name in ("out.mid", "out.wav", "out.mp3"):
        done = generate_without_tensorflow(
            "generate", "--style", "folk", "--minutes", "0.25", "--seed", "4",
            "--model", str(continuo_model_file), "--out", str(tmp_path / name),
        )
        assert done.returncode == 0, done.stderr
        assert f"wrote {tmp_path / name}" in done.stdout
    style = get_style("folk")
    beats = 4 * 112 // 4  # a quarter of a minute at 112 bpm

    # The .mid holds exactly what a channel seeded with 4 plays: its keys, its notes.
    composer = Composer(style, load_model(continuo_model_file), seed=4)
    expected = []
    while len(expected) < beats:
        expected += composer.next_chunk().beats
    expected = expected[:beats]
    parsed = read_midi(tmp_path / "out.mid")
    assert parsed.tempo_bpm == pytest.approx(112)
    last = max(i for i, b in enumerate(expected) if b) + 1
    assert parsed.notes[:last] == expected[:last]

    with wave.open(str(tmp_path / "out.wav")) as w:
        assert w.getframerate() == 44100 and w.getsampwidth() == 2
        assert 15.0 <= w.getnframes() / 44100 <= 17.5  # 15 s plus the release tail
    mp3 = (tmp_path / "out.mp3").read_bytes()
    assert len(mp3) > 15 * 128_000 / 8 * 0.8 and (mp3[:3] == b"ID3" or mp3[0] == 0xFF)


def test_generate_refuses_bad_requests(continuo_model_file, tmp_path):
    done = generate_without_tensorflow("generate", "--style", "folk", "--minutes", "1", "--out", str(tmp_path / "x.ogg"),
                                       "--model", str(continuo_model_file))
    assert done.returncode == 1 and "must end in .mid, .wav, .mp3" in done.stderr
    done = generate_without_tensorflow("generate", "--style", "nope", "--minutes", "1", "--out", str(tmp_path / "x.mid"))
    assert done.returncode == 1 and "unknown style 'nope'" in done.stderr
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"garbage")
    done = generate_without_tensorflow("generate", "--style", "folk", "--minutes", "1", "--out", str(tmp_path / "x.mid"),
                                       "--model", str(broken))
    assert done.returncode == 1 and "corrupt" in done.stderr
    assert not (tmp_path / "x.mid").exists() and not (tmp_path / "x.ogg").exists()


def test_generate_a_mix_plays_what_the_blend_channel_would(tmp_path):
    from radio.station.blends import BlendSpec, blend_style
    from radio.model.blend import blend_models
    from radio.styles import discover_styles

    # Baroque and folk when their models share a kind, else the first two bundled styles that do.
    styles = discover_styles()
    models = {name: load_model(style.model_path) for name, style in styles.items()}
    names = list(styles)
    a, b = next(
        (a, b) for a, b in [("baroque", "folk")] + [(x, y) for i, x in enumerate(names) for y in names[i + 1:]]
        if a in models and b in models and models[a].encoding == models[b].encoding
    )
    out = tmp_path / "mix.mid"
    done = generate_without_tensorflow("generate", "--mix", f"{b}=1, {a}=2.4", "--minutes", "0.1", "--seed", "5",
                                       "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert f"{styles[a].display_name} 70% · {styles[b].display_name} 30%" in done.stdout and "blend(" in done.stdout
    spec = BlendSpec(((a, 7), (b, 3)))
    style = blend_style(spec, styles)
    composer = Composer(style, blend_models([models[a], models[b]], spec.weights), seed=5)
    beats = round(0.1 * style.tempo_bpm * 4)
    expected = []
    while len(expected) < beats:
        expected += composer.next_chunk().beats
    parsed = read_midi(out)
    assert parsed.tempo_bpm == pytest.approx(style.tempo_bpm, abs=0.01)
    last = max(i for i, beat in enumerate(expected[:beats]) if beat) + 1
    assert parsed.notes[:last] == expected[:last]


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--mix", "baroque=0.5,folk=0.5", "--model", "x.npz"], "--model names one style's model"),
        (["--mix", "baroque0.5,folk=0.5"], "STYLE=WEIGHT"),
        (["--mix", "baroque=0.5,jazz=0.5"], "no style named 'jazz'"),
        (["--mix", "baroque=0.5,folk=lots"], "must be a number"),
        (["--mix", "baroque=0.5,baroque=0.5"], "named twice"),
    ],
)
def test_generate_refuses_bad_mixes(argv, words, tmp_path):
    done = generate_without_tensorflow("generate", *argv, "--minutes", "0.1", "--out", str(tmp_path / "x.mid"))
    assert done.returncode == 1 and words in done.stderr, done.stderr
    assert not (tmp_path / "x.mid").exists()
