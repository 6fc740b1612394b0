"""Fuzz the MIDI parser, the upload endpoint and the admin JSON routes: whatever arrives,
the answer is a clear error (MidiError; a 4xx in JSON), never a crash or a 500."""

from __future__ import annotations

import asyncio
import json
import sys

import aiohttp
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from radio.errors import MidiError, NotesError
from radio.music.midi_io import read_midi
from radio.music.prepare import prepare_piece

from tests.support.admin_helpers import AUTH, admin_client, tune

FUZZ = settings.get_profile("continuo-fuzz")
SEEDS = [tune(s, beats=32) for s in range(4)]
CASES: dict[str, int] = {}


def count(name: str) -> None:
    CASES[name] = CASES.get(name, 0) + 1


@st.composite
def mutated_midi(draw) -> bytes:
    """A valid file with bytes flipped, cut, repeated or inserted: deep into the parser."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "dup"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[at:at + draw(st.integers(1, 64))]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "dup":
            data[at:at] = data[at:at + draw(st.integers(1, 32))]
    return bytes(data)


@FUZZ
@given(st.one_of(st.binary(max_size=512), mutated_midi()))
def test_the_midi_parser_only_ever_raises_midi_errors(data):
    count("midi parser")
    for parse in (read_midi, prepare_piece):
        try:
            parse(data)
        except (MidiError, NotesError):
            pass


async def _run(coro_factory):
    """One admin app for a whole hypothesis run (starting one per example would dominate)."""
    return await coro_factory()


JSON_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False, allow_infinity=False),
                        st.text(max_size=20))
JSON = st.recursive(JSON_LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                    max_leaves=12)
FIELDS = ["name", "display_name", "description", "composer", "from_styles", "like", "tempo_bpm", "temperature",
          "piece_minutes", "within_seconds", "epochs", "minutes", "model", "hyperparameters", "force"]
ADMIN_BODY = st.one_of(
    JSON,
    st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=5),
    st.binary(max_size=64).map(lambda b: b"RAW" + b),  # not JSON at all
    st.sampled_from([b"NaN", b'{"within_seconds": -Infinity}', b"[" * 5000, b'{"a":' * 3000]).map(lambda b: b"RAW" + b),
)
ROUTES = ["/admin/styles", "/admin/styles/folk/retrain", "/admin/styles/folk/models/bundled/activate",
          "/admin/styles/nope/retrain", "/admin/styles/-x/models/v/activate"]


def test_the_admin_json_routes_never_answer_500(home):
    async def main():
        async with admin_client(home) as client:
            @FUZZ
            @given(st.sampled_from(ROUTES), ADMIN_BODY)
            def one(route, body):
                count("admin JSON")
                raw = body[3:] if isinstance(body, bytes) else json.dumps(body).encode()
                status, answer = loop.run_until_complete_threadsafe(route, raw)
                assert status < 500, (route, raw[:200], status, answer)  # the catalog is healthy: a 503 would be a crash
                assert json.loads(answer).get("error") or status < 400

            async def post(route, raw):
                r = await client.post(route, data=raw, headers={**AUTH, "Content-Type": "application/json"})
                text = await r.text()
                if r.status == 202:  # a queued retrain: cancel it so the next one is not a conflict
                    await client.delete(f"/admin/jobs/{json.loads(text)['id']}", headers=AUTH)
                if r.status == 201:  # a created style: remove it so names can repeat
                    import shutil

                    shutil.rmtree(home / "styles" / json.loads(text)["style"], ignore_errors=True)
                return r.status, text

            loop = Bridge(asyncio.get_running_loop(), post)
            await asyncio.to_thread(one)

    asyncio.run(main())


class Bridge:
    """Runs the async request on the test's loop from hypothesis's (synchronous) thread."""

    def __init__(self, loop, post) -> None:
        self.loop, self.post = loop, post

    def run_until_complete_threadsafe(self, route, raw):
        return asyncio.run_coroutine_threadsafe(self.post(route, raw), self.loop).result(60)


PART_NAMES = st.one_of(st.sampled_from(["a.mid", "b.MIDI", "../x.mid", ".h.mid", "x.txt", "", "ü.mid", "a\x00.mid"]),
                       st.text(max_size=30))
PART_TYPES = st.sampled_from(["audio/midi", "application/octet-stream", "image/png", "", "audio/midi; charset=x"])


def test_the_upload_endpoint_never_answers_500(home):
    async def main():
        async with admin_client(home) as client:
            @FUZZ
            @given(st.lists(st.tuples(PART_NAMES, st.one_of(st.binary(max_size=300), mutated_midi()), PART_TYPES),
                            min_size=0, max_size=4),
                   st.dictionaries(st.sampled_from(["composer", "x", ""]), st.text(max_size=40), max_size=2),
                   st.booleans())
            def one(files, fields, mangle):
                result = bridge.run_until_complete_threadsafe(files, (fields, mangle))
                assume(result is not None)  # aiohttp's client would not even send it
                count("upload")
                status, answer = result
                assert status in (200, 400, 413, 415, 422), (files, status, answer)
                assert json.loads(answer)

            async def post(files, extra):
                fields, mangle = extra
                try:
                    form = aiohttp.FormData(quote_fields=False, default_to_multipart=True)
                    for name, value in fields.items():
                        form.add_field(name, value)
                    for filename, content, ctype in files:
                        form.add_field("files", content, filename=filename or None, content_type=ctype or None)
                    body = form()
                    raw = await _collect(body)
                except ValueError:
                    return None
                headers = {**AUTH, "Content-Type": body.content_type}
                if mangle:  # a truncated or garbled multipart body
                    raw = raw[: len(raw) // 2] + b"--\r\n\x00garbage"
                r = await client.post("/admin/styles/folk/pieces", data=raw, headers=headers)
                text = await r.text()
                for accepted in (json.loads(text).get("accepted") or []) if r.status == 200 else []:
                    await client.delete(f"/admin/pieces/{accepted['piece']['id']}", headers=AUTH)
                return r.status, text

            bridge = Bridge(asyncio.get_running_loop(), post)
            await asyncio.to_thread(one)

    asyncio.run(main())


async def _collect(payload) -> bytes:
    chunks: list[bytes] = []

    class Sink:
        async def write(self, data):
            chunks.append(bytes(data))

    await payload.write(Sink())
    return b"".join(chunks)


def teardown_module() -> None:
    if CASES:
        print("fuzz cases run: " + ", ".join(f"{k} {v}" for k, v in sorted(CASES.items())), file=sys.stderr)
