"""Scale-out: a channel pushed to a real icecast2 on loopback, heard through Icecast."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import miniaudio
import pytest

from radio.station.channel import ChannelSettings
from radio.broadcast.icecast import IcecastError, IcecastPusher, IcecastTarget
from radio.model import load_model
from radio.station.station import Station
from radio.styles import get_style
from tests.support.stations import read_for

ICECAST = shutil.which("icecast2")
pytestmark = pytest.mark.skipif(ICECAST is None, reason="icecast2 is not installed (make test installs it)")
PASSWORD = "s3cret-source"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def icecast():
    """A throwaway icecast2 on 127.0.0.1; yields its port."""
    port = free_port()
    # Not pytest's tmp_path: its parents are private to root, and icecast drops to nobody.
    tmp_path = Path(tempfile.mkdtemp(prefix="continuo-icecast-"))
    logdir = tmp_path / "log"
    logdir.mkdir()
    security = ""
    if os.geteuid() == 0:  # icecast refuses to run as root unless told whom to become
        os.chmod(tmp_path, 0o777)
        os.chmod(logdir, 0o777)
        security = "<security><chroot>0</chroot><changeowner><user>nobody</user><group>nogroup</group></changeowner></security>"
    config = tmp_path / "icecast.xml"
    config.write_text(f"""<icecast>
  <limits><clients>50</clients><sources>5</sources><burst-size>65536</burst-size><source-timeout>10</source-timeout></limits>
  <authentication><source-password>{PASSWORD}</source-password><admin-user>admin</admin-user><admin-password>{PASSWORD}-admin</admin-password></authentication>
  <hostname>127.0.0.1</hostname>
  <listen-socket><port>{port}</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <paths><logdir>{logdir}</logdir><webroot>/usr/share/icecast2/web</webroot><adminroot>/usr/share/icecast2/admin</adminroot></paths>
  <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>3</loglevel></logging>
  {security}
</icecast>""")
    proc = subprocess.Popen([ICECAST, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("icecast2 did not start listening")
    yield port
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
    shutil.rmtree(tmp_path, ignore_errors=True)


async def fetch(port: int, path: str, seconds: float, headers: str = "") -> tuple[bytes, bytes]:
    """(response head, body bytes received within ``seconds``) of a GET against Icecast."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode())
    try:
        data = await read_for(reader, seconds)
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


def test_target_parsing():
    t = IcecastTarget.parse("icecast://source:pw%40x@example.org:8010/radio")
    assert (t.host, t.port, t.user, t.password, t.mount("folk")) == ("example.org", 8010, "source", "pw@x", "/radio/folk.mp3")
    assert "pw" not in str(t)
    for bad in ("ftp://a:b@h:1/", "icecast://h:1/", "icecast://source@h:1/"):
        with pytest.raises(IcecastError):
            IcecastTarget.parse(bad)


async def test_channel_pushed_to_icecast_plays_there(icecast):
    style = get_style("folk")
    station = Station(ChannelSettings(ahead_seconds=2.0, seed=7))
    await station.add_style(style, load_model(style.model_path))
    await station.start()
    pusher = IcecastPusher(station.channels["folk"], IcecastTarget.parse(f"icecast://source:{PASSWORD}@127.0.0.1:{icecast}"))
    pusher.start()
    try:
        await asyncio.wait_for(pusher.connected.wait(), 15)
        # Icecast has the mount once its first audio arrived, and the title once updinfo did.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            _, status = await fetch(icecast, "/status-json.xsl", 2.0)
            if b"/folk.mp3" in status and b'"title"' in status:
                break
            await asyncio.sleep(0.1)
        head, body = await fetch(icecast, "/folk.mp3", 6.0)
        assert b" 200 " in head.split(b"\r\n")[0], head
        assert b"audio/mpeg" in head
        decoded = miniaudio.decode(body, output_format=miniaudio.SampleFormat.FLOAT32, nchannels=1, sample_rate=44100)
        seconds = decoded.num_frames / 44100
        assert seconds > 4.0, f"only {seconds:.1f} s of audio came through Icecast"
        _, status = await fetch(icecast, "/status-json.xsl", 2.0)
        titles = {p.title for p in station.channels["folk"].recent_pieces()}
        assert b"/folk.mp3" in status
        assert any(t.encode() in status for t in titles), (titles, status[-300:])  # the piece title reached Icecast
    finally:
        await pusher.stop()
        await station.stop()


async def test_wrong_password_is_reported_and_retried(icecast):
    style = get_style("folk")
    station = Station(ChannelSettings(ahead_seconds=1.0, seed=1))
    await station.add_style(style, load_model(style.model_path))
    await station.start()
    pusher = IcecastPusher(
        station.channels["folk"], IcecastTarget.parse(f"icecast://source:wrong@127.0.0.1:{icecast}"), retry_min=0.2
    )
    pusher.start()
    try:
        deadline = time.monotonic() + 10
        while "401" not in pusher.last_error and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert "401" in pusher.last_error
        assert not pusher.connected.is_set()
        assert station.channels["folk"].running  # the channel is untouched by Icecast's refusal
    finally:
        await pusher.stop()
        await station.stop()


async def test_continuo_serve_icecast_flag(icecast, tmp_path):
    """The operator's path: `continuo serve --icecast URL` puts every chosen channel on Icecast."""
    import sys

    env = dict(os.environ, CONTINUO_HOME=str(tmp_path / "home"), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "radio.cli", "serve", "--port", "0", "--styles", "folk,baroque",
         "--icecast", f"icecast://source:{PASSWORD}@127.0.0.1:{icecast}/live"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        mounts: set[bytes] = set()
        while time.monotonic() < deadline and len(mounts) < 2:
            await asyncio.sleep(0.5)
            _, status = await fetch(icecast, "/status-json.xsl", 2.0)
            mounts = {m for m in (b"/live/folk.mp3", b"/live/baroque.mp3") if m in status}
        assert mounts == {b"/live/folk.mp3", b"/live/baroque.mp3"}
        head, body = await fetch(icecast, "/live/baroque.mp3", 3.0)
        assert b" 200 " in head.split(b"\r\n")[0]
        decoded = miniaudio.decode(body, output_format=miniaudio.SampleFormat.FLOAT32, nchannels=1, sample_rate=44100)
        assert decoded.num_frames / 44100 > 2.0
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert b"icecast: pushing folk" in err


def test_serve_rejects_a_malformed_icecast_url(tmp_path):
    import sys

    env = dict(os.environ, CONTINUO_HOME=str(tmp_path / "home"))
    result = subprocess.run(
        [sys.executable, "-m", "radio.cli", "serve", "--port", "0", "--icecast", "icecast://nopassword@host:1/"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert "no source password" in result.stderr


async def test_a_garbled_answer_is_retried_not_fatal():
    """A server answering with one endless line (no icecast2 needed) must not end the pusher."""
    attempts = []

    async def garble(reader, writer):
        attempts.append(1)
        writer.write(b"X" * 100_000)  # longer than a StreamReader line may be
        try:  # the pusher gives up reading mid-line: never wait on it forever
            await asyncio.wait_for(writer.drain(), 2)
        except (asyncio.TimeoutError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(garble, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    style = get_style("folk")
    station = Station(ChannelSettings(ahead_seconds=1.0, seed=1))
    await station.add_style(style, load_model(style.model_path))
    await station.start()
    pusher = IcecastPusher(station.channels["folk"], IcecastTarget.parse(f"icecast://source:pw@127.0.0.1:{port}"),
                           retry_min=0.1, retry_max=0.1)
    pusher.start()
    try:
        deadline = time.monotonic() + 10
        while len(attempts) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert len(attempts) >= 2, pusher.last_error
        assert pusher.last_error
    finally:
        await asyncio.wait_for(pusher.stop(), 15)
        await asyncio.wait_for(station.stop(), 15)
        server.close()


async def test_a_channel_added_after_start_is_pushed_too(icecast):
    from radio.broadcast.icecast import start_pusher

    target = IcecastTarget.parse(f"icecast://source:{PASSWORD}@127.0.0.1:{icecast}")
    station = Station(ChannelSettings(ahead_seconds=1.0, seed=3))
    pushers: list[IcecastPusher] = []
    station.on_channel_started.append(lambda channel: pushers.append(start_pusher(channel, target)))
    await station.start()
    style = get_style("medieval")
    try:
        await station.add_style(style, load_model(style.model_path))  # as the admin does for a new style
        assert len(pushers) == 1
        await asyncio.wait_for(pushers[0].connected.wait(), 15)
        deadline = time.monotonic() + 10
        status = b""
        while b"/medieval.mp3" not in status and time.monotonic() < deadline:
            await asyncio.sleep(0.3)  # Icecast lists a mount once its first audio arrived
            _, status = await fetch(icecast, "/status-json.xsl", 2.0)
        assert b"/medieval.mp3" in status
    finally:
        for pusher in pushers:
            await pusher.stop()
        await station.stop()
