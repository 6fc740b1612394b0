"""Bad input: every failure is a MidiError naming the reason; mutated real files never crash."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import mido
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from radio import errors
from radio.music.midi_io import MidiError, ParsedMidi, read_midi



def test_midi_error_is_the_project_error():
    assert issubclass(MidiError, errors.MidiError) and issubclass(MidiError, errors.ContinuoError)


def test_zero_length_file(tmp_path):
    empty = tmp_path / "empty.mid"
    empty.write_bytes(b"")
    with pytest.raises(MidiError, match="empty"):
        read_midi(empty)
    with pytest.raises(MidiError, match="empty"):
        read_midi(b"")


@pytest.mark.parametrize("seed", range(20))
def test_random_bytes(seed):
    rng = random.Random(seed)
    data = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4000)))
    with pytest.raises(MidiError, match="not a MIDI file"):
        read_midi(data)


@pytest.mark.parametrize("seed", range(10))
def test_random_bytes_after_a_valid_header(seed):
    rng = random.Random(seed)
    header = b"MThd" + struct.pack(">IHHH", 6, 1, 2, 480)
    data = header + bytes(rng.randrange(256) for _ in range(rng.randint(0, 2000)))
    with pytest.raises(MidiError):
        read_midi(data)


def test_truncated_files(kit):
    data = kit.build([[(i * 120, m) for i in range(50) for m in (kit.on(60 + i % 12), kit.off(60 + i % 12))]])
    for cut in [4, 10, 14, 22, len(data) // 2, len(data) - 5, len(data) - 1]:
        with pytest.raises(MidiError) as info:
            read_midi(data[:cut])
        assert "truncated" in str(info.value) or "corrupt" in str(info.value), str(info.value)


def test_truncated_corpus_file(corpus_dir):
    data = (corpus_dir / "baroque" / "bach_bwv102_7.mid").read_bytes()
    for cut in range(14, len(data) - 1, max(1, len(data) // 37)):
        with pytest.raises(MidiError):
            read_midi(data[:cut])


def test_huge_delta_time_is_too_long(kit):
    # the largest delta a MIDI variable-length quantity can hold: 0x0FFFFFFF ticks
    events = [(0, kit.on(60)), (480, kit.off(60)), (480 + 0x0FFFFFFF, kit.on(62)), (481 + 0x0FFFFFFF, kit.off(62))]
    with pytest.raises(MidiError, match="too long"):
        read_midi(kit.build([events]))


def test_huge_delta_on_a_meta_event_is_too_long(kit):
    events = [(0, kit.on(60)), (480, kit.off(60)), (0x0FFFFFFF, mido.MetaMessage("marker", text="x"))]
    with pytest.raises(MidiError, match="too long"):
        read_midi(kit.build([events]))


def test_file_with_no_notes(kit):
    events = [(0, mido.MetaMessage("set_tempo", tempo=500000)), (0, mido.Message("program_change", program=3))]
    with pytest.raises(MidiError, match="no notes"):
        read_midi(kit.build([events]))


def test_header_only():
    with pytest.raises(MidiError, match="no notes"):
        read_midi(b"MThd" + struct.pack(">IHHH", 6, 0, 0, 480))


def test_zero_ticks_per_beat(kit):
    data = bytearray(kit.build([[(0, kit.on(60)), (0, kit.off(60))]]))
    data[12:14] = b"\x00\x00"
    with pytest.raises(MidiError, match="ticks_per_beat"):
        read_midi(bytes(data))


def test_smpte_division_is_refused(kit):
    data = bytearray(kit.build([[(0, kit.on(60)), (10, kit.off(60))]]))
    data[12:14] = b"\xe7\x28"  # -25 fps, 40 ticks per frame
    with pytest.raises(MidiError, match="SMPTE"):
        read_midi(bytes(data))


def test_zero_tempo_is_ignored_not_a_crash(kit):
    events = [(0, mido.MetaMessage("set_tempo", tempo=0)), (0, kit.on(60)), (480, kit.off(60))]
    assert read_midi(kit.build([events])).tempo_bpm == 120.0


def _seed_files(corpus_dir: Path) -> list[bytes]:
    folk = min((corpus_dir / "folk").glob("*.mid"), key=lambda p: p.stat().st_size)
    return [(corpus_dir / "baroque" / "bach_bwv102_7.mid").read_bytes(), folk.read_bytes()]


mutation = st.one_of(
    st.tuples(st.just("set"), st.integers(0, 10**6), st.integers(0, 255)),
    # a 7-bit value inside the track data keeps mido's byte checks happy, so these
    # mutations mostly parse and exercise the note pairing on damaged streams
    st.tuples(st.just("set"), st.integers(22, 10**6), st.integers(0, 127)),
    st.tuples(st.just("set"), st.integers(22, 10**6), st.integers(0, 127)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.integers(0, 255)),
    st.tuples(st.just("delete"), st.integers(0, 10**6), st.integers(1, 64)),
    st.tuples(st.just("truncate"), st.integers(0, 10**6), st.just(0)),
)


def _mutate(data: bytes, ops: list[tuple[str, int, int]]) -> bytes:
    buf = bytearray(data)
    for op, where, value in ops:
        where = where % max(1, len(buf)) if where < 22 else 22 + where % max(1, len(buf) - 22)
        if op == "set" and where < len(buf):
            buf[where] = value
        elif op == "insert":
            buf.insert(where, value)
        elif op == "delete":
            del buf[where:where + value]
        elif op == "truncate":
            del buf[where:]
    return bytes(buf)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.integers(0, 1), ops=st.lists(mutation, min_size=1, max_size=6))
def test_mutated_corpus_files_parse_or_raise_midi_error(corpus_dir, which, ops):
    data = _mutate(_seed_files(corpus_dir)[which], ops)
    try:
        parsed = read_midi(data)
    except MidiError as exc:
        assert str(exc)
    else:
        assert isinstance(parsed, ParsedMidi) and parsed.notes


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(mutation, min_size=1, max_size=6))
def test_mutated_built_files_parse_or_raise_midi_error(kit, ops):
    """The same property without the corpus (a fresh clone): a two-track file with tempo and key."""
    conductor = [(0, mido.MetaMessage("set_tempo", tempo=400000)), (0, mido.MetaMessage("key_signature", key="F#m")),
                 (960, mido.MetaMessage("set_tempo", tempo=600000))]
    voice = [(t, m) for i in range(24) for t, m in ((i * 120, kit.on(50 + i % 7)), (i * 120 + 200, kit.off(50 + i % 7)))]
    data = _mutate(kit.build([conductor, voice], ticks_per_beat=96), ops)
    try:
        parsed = read_midi(data)
    except MidiError as exc:
        assert str(exc)
    else:
        assert isinstance(parsed, ParsedMidi) and parsed.notes
