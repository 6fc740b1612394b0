"""``continuo serve`` as a real process: bundled models, a broken style skipped, no
TensorFlow, and a clean exit on SIGTERM with a listener connected."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import sys
import time
from pathlib import Path

import aiohttp
import pytest

REPO = Path(__file__).resolve().parents[2]
BUNDLED = REPO / "styles" / "baroque"

# Any attempt to import TensorFlow in the server process leaves a marker file and fails.
BLOCK_TENSORFLOW = '''
import os, sys

class _NoTensorFlow:
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            with open(os.environ["CONTINUO_TF_MARKER"], "a") as f:
                f.write(name + "\\n")
            raise ImportError("continuo serve must not import TensorFlow")
        return None

sys.meta_path.insert(0, _NoTensorFlow())
'''


@pytest.fixture
def styles_dir(tmp_path) -> Path:
    if not (BUNDLED / "model.npz").is_file():
        pytest.skip("the bundled baroque model is missing")
    root = tmp_path / "styles"
    shutil.copytree(BUNDLED, root / "baroque")
    broken = root / "broken"
    broken.mkdir()
    shutil.copy(BUNDLED / "style.toml", broken / "style.toml")
    (broken / "model.npz").write_bytes(b"this is not a model file")
    return root


async def test_serve_plays_bundled_models_without_tensorflow_and_stops_cleanly(styles_dir, tmp_path, helpers):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCK_TENSORFLOW)
    marker = tmp_path / "tensorflow-imports.txt"
    env = dict(
        os.environ,
        PYTHONPATH=str(site),
        CONTINUO_TF_MARKER=str(marker),
        CONTINUO_STYLES=str(styles_dir),
        CONTINUO_HOME=str(tmp_path / "home"),
        CONTINUO_PORT="0",
    )
    t0 = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "radio.cli", "serve", "--host", "127.0.0.1",
        env=env, cwd=tmp_path, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    lines: list[str] = []
    try:
        m = await helpers.wait_for_line(proc.stderr, r"listening on http://127\.0\.0\.1:(\d+)/", 30, lines)
        url = f"http://127.0.0.1:{m.group(1)}"
        log = "".join(lines)
        assert re.search(r"style broken skipped: its model .*model\.npz cannot be used", log), log
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{url}/healthz") as resp:
                assert resp.status == 200
                health = await resp.json()
            assert list(health["channels"]) == ["baroque"] and list(health["skipped"]) == ["broken"]
            async with http.get(f"{url}/stream/baroque.mp3") as stream:
                first = await stream.content.readexactly(1)
                first_byte = time.perf_counter() - t0
                audio = first + await stream.content.readexactly(32 * 1024)
                assert audio[0] == 0xFF and audio[1] & 0xE0 == 0xE0, "starts on an MP3 frame sync"
                async with http.get(f"{url}/api/channels/baroque") as resp:
                    info = await resp.json()
                assert info["listeners"] == 1 and info["model_version"] and info["now_playing"]["title"]
                proc.send_signal(signal.SIGTERM)
                stopped = time.perf_counter()
                rc = await asyncio.wait_for(proc.wait(), 10)
                took = time.perf_counter() - stopped
                rest = await asyncio.wait_for(stream.content.read(), 5)  # the stream ends, not hangs
        assert rc == 0
        assert took < 5, f"shutdown took {took:.1f} s"
        assert rest is not None
        log = "".join(lines) + (await proc.stderr.read()).decode(errors="replace")
        assert "Traceback" not in log, log
        assert "stopped" in log
        assert not marker.exists(), f"TensorFlow was imported: {marker.read_text()}"
        print(f"process start to first audio byte: {first_byte:.2f} s")
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--styles", "baroque,nope"], "unknown style(s) nope"),
        (["--bitrate", "100"], "bitrate 100"),
        (["--write-interval", "0"], "write_interval"),
    ],
)
def test_serve_rejects_bad_options_with_a_clear_error(args, message, tmp_path):
    import subprocess

    env = dict(os.environ, CONTINUO_HOME=str(tmp_path / "home"))
    done = subprocess.run(
        [sys.executable, "-m", "radio.cli", "serve", "--port", "0", *args],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 1
    assert message in done.stderr and "Traceback" not in done.stderr
