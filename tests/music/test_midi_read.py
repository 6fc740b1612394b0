"""MIDI → list_of_notes: quantization on the absolute timeline and the awkward cases."""

from __future__ import annotations

import random

import mido
import pytest

from radio.music.midi_io import MidiError, read_midi
from radio.music.notes import Span, to_spans


def spans_of(data: bytes) -> list[Span]:
    return to_spans(read_midi(data).notes)


@pytest.mark.parametrize("tpb", [96, 100, 120, 384, 480, 960, 1000])
def test_long_run_of_jittered_notes_does_not_drift(kit, tpb):
    """2000 notes with odd tick values: every onset and length lands on its own 16th."""
    rng = random.Random(tpb)
    q = tpb / 4  # ticks per 16th (not always an integer multiple of anything nice)
    slack = int(q * 0.45)  # less than half a 16th: still rounds to the intended 16th
    events, expected, beat, pitch = [], [], 0, 0
    for i in range(2000):
        length = rng.randint(1, 6)
        # a new pitch each time: with jitter a repeated pitch could be struck before its release
        pitch = rng.choice([p for p in range(40, 91) if p != pitch])
        start = round(beat * q) + rng.randint(-slack, slack) if beat else 0
        end = round((beat + length) * q) + rng.randint(-slack, slack)
        events += [(start, kit.on(pitch)), (end, kit.off(pitch))]
        expected.append(Span(pitch, beat, length))
        beat += length
    got = spans_of(kit.build([events], ticks_per_beat=tpb))
    assert got == sorted(expected, key=lambda s: (s.start, s.pitch))


def test_odd_ticks_per_beat_rounds_half_up_on_absolute_ticks(kit):
    # tpb 7: a 16th is 1.75 ticks, so ticks 0, 2, 4, 5, 9, 14, 21 are 16ths 0, 1.14, 2.29, 2.86, 5.14, 8, 12
    events = [(0, kit.on(60)), (2, kit.off(60)), (2, kit.on(62)), (4, kit.off(62)),
              (5, kit.on(64)), (9, kit.off(64)), (14, kit.on(65)), (21, kit.off(65))]
    notes = read_midi(kit.build([events], ticks_per_beat=7)).notes
    assert to_spans(notes) == [Span(60, 0, 1), Span(62, 1, 1), Span(64, 3, 2), Span(65, 8, 4)]
    # tpb 8: a 16th is 2 ticks; ticks 1 and 5 sit exactly halfway and round up to 16ths 1 and 3
    halves = read_midi(kit.build([[(1, kit.on(60)), (5, kit.off(60))]], ticks_per_beat=8)).notes
    assert to_spans(halves) == [Span(60, 1, 2)]


def test_short_note_lasts_at_least_one_16th(kit):
    events = [(0, kit.on(60)), (10, kit.off(60)), (480, kit.on(62)), (480, kit.off(62))]
    notes = read_midi(kit.build([events])).notes
    assert notes[0] == [(60, "b")] and notes[4] == [(62, "b")] and len(notes) == 5


def test_velocity_zero_note_on_is_note_off(kit):
    events = [(0, kit.on(60)), (480, kit.on(60, velocity=0)), (480, kit.on(64)), (960, kit.on(64, velocity=0))]
    spans = spans_of(kit.build([events]))
    assert spans == [Span(60, 0, 4), Span(64, 4, 4)]


def test_overlapping_restrike_gives_two_notes(kit):
    # second note_on of 60 before the first note_off: two strikes; the first release ends both
    events = [(0, kit.on(60)), (480, kit.on(60)), (960, kit.off(60)), (1440, kit.off(60))]
    notes = read_midi(kit.build([events])).notes
    assert notes == [[(60, "b")], [(60, "s")], [(60, "s")], [(60, "s")],
                     [(60, "b")], [(60, "s")], [(60, "s")], [(60, "s")], [], [], [], []]
    assert to_spans(notes) == [Span(60, 0, 4), Span(60, 4, 4)]


def test_unbalanced_note_on_does_not_shift_later_pairs(kit):
    # an extra note_on of 60 with no note_off: later notes of 60 keep their own lengths
    events = [(0, kit.on(60)), (240, kit.on(60)), (480, kit.off(60))]
    for i in range(1, 6):
        events += [(i * 960, kit.on(60)), (i * 960 + 240, kit.off(60))]
    # in beats, the re-strike at 16th 2 ends the first note there
    assert spans_of(kit.build([events])) == [Span(60, 0, 2), Span(60, 2, 2)] + [Span(60, 8 * i, 2) for i in range(1, 6)]


def test_restrike_in_same_tick_as_release_keeps_both_notes(kit):
    events = [(0, kit.on(60)), (240, kit.on(60)), (240, kit.off(60)), (480, kit.off(60))]
    assert spans_of(kit.build([events])) == [Span(60, 0, 2), Span(60, 2, 2)]


def test_never_released_notes_close_at_end_of_file(kit):
    events = [(0, kit.on(60)), (480, kit.on(64)), (960, kit.off(64)),
              (1920, mido.MetaMessage("marker", text="end"))]
    spans = spans_of(kit.build([events]))
    assert spans == [Span(60, 0, 16), Span(64, 4, 4)]


def test_grace_note_written_off_before_on_does_not_drone(kit):
    # a zero-length note exported as note_off then note_on at one tick (seen in the Bach chorales)
    events = [(0, kit.on(60)), (480, kit.off(60)), (480, kit.off(74)), (480, kit.on(74)),
              (480, kit.on(72)), (960, kit.off(72)), (3840, kit.on(60)), (4320, kit.off(60))]
    assert spans_of(kit.build([events])) == [Span(60, 0, 4), Span(72, 4, 4), Span(74, 4, 1), Span(60, 32, 4)]


def test_note_off_without_note_on_is_ignored(kit):
    events = [(0, kit.off(61)), (0, kit.on(60)), (480, kit.off(60)), (600, kit.off(60))]
    assert spans_of(kit.build([events])) == [Span(60, 0, 4)]


def test_drum_channel_is_dropped(kit):
    events = [(0, kit.on(36, channel=9)), (0, kit.on(60)), (480, kit.off(60)), (960, kit.off(36, channel=9))]
    parsed = read_midi(kit.build([events]))
    assert to_spans(parsed.notes) == [Span(60, 0, 4)]
    # the end of file still counts: the drum note-off at 16th 8 is where the file ends
    assert len(parsed.notes) == 8


def test_file_with_only_drums_has_no_notes(kit):
    events = [(0, kit.on(36, channel=9)), (480, kit.off(36, channel=9))]
    with pytest.raises(MidiError, match="no notes"):
        read_midi(kit.build([events]))


def test_tempo_changes_are_recorded_and_do_not_move_notes(kit):
    conductor = [(0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(100))),
                 (1920, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(140))),
                 (1920, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(150))),
                 (2880, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(150))),
                 (3840, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(90)))]
    notes = [(t, m) for i in range(10) for t, m in ((i * 480, kit.on(60 + i)), (i * 480 + 480, kit.off(60 + i)))]
    parsed = read_midi(kit.build([conductor, notes]))
    assert parsed.tempo_bpm == 100.0
    assert parsed.tempo_changes == [(16, 150.0), (32, 90.0)]
    assert [s.start for s in to_spans(parsed.notes)] == [4 * i for i in range(10)]


def test_no_tempo_means_midi_default_120(kit):
    parsed = read_midi(kit.build([[(0, kit.on(60)), (480, kit.off(60))]]))
    assert parsed.tempo_bpm == 120.0 and parsed.tempo_changes == []


def test_type0_and_type1_merge_to_the_same_notes(kit):
    melody = [(0, kit.on(72)), (480, kit.off(72)), (480, kit.on(74)), (960, kit.off(74))]
    bass = [(0, kit.on(48, channel=1)), (960, kit.off(48, channel=1))]
    tempo = [(0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(90))),
             (0, mido.MetaMessage("key_signature", key="Dm"))]
    type1 = read_midi(kit.build([tempo, melody, bass], midi_type=1))
    type0 = read_midi(kit.build([tempo + melody + bass], midi_type=0))
    assert type1.notes == type0.notes == [[(48, "b"), (72, "b")]] + [[(48, "s"), (72, "s")]] * 3 + \
        [[(48, "s"), (74, "b")]] + [[(48, "s"), (74, "s")]] * 3
    assert (type1.tracks, type0.tracks) == (3, 1)
    assert type1.tempo_bpm == type0.tempo_bpm == 90.0
    assert type1.key_signature == type0.key_signature == "Dm"


def test_same_pitch_in_two_tracks_is_paired_per_track(kit):
    upper = [(0, kit.on(60)), (960, kit.off(60))]
    lower = [(480, kit.on(60)), (1440, kit.off(60))]
    assert spans_of(kit.build([upper, lower])) == [Span(60, 0, 4), Span(60, 4, 8)]


def test_earliest_key_signature_wins(kit):
    late = [(960, mido.MetaMessage("key_signature", key="G")), (0, kit.on(60)), (1920, kit.off(60))]
    early = [(0, mido.MetaMessage("key_signature", key="Ebm"))]
    assert read_midi(kit.build([late, early])).key_signature == "Ebm"


def test_type2_is_rejected(kit):
    data = kit.build([[(0, kit.on(60)), (480, kit.off(60))]] * 2, midi_type=2)
    with pytest.raises(MidiError, match="type 2"):
        read_midi(data)


def test_reads_paths_and_reports_missing_files(kit, tmp_path):
    path = tmp_path / "a.mid"
    path.write_bytes(kit.build([[(0, kit.on(60)), (480, kit.off(60))]]))
    assert read_midi(path).notes == read_midi(str(path)).notes == [[(60, "b")], [(60, "s")], [(60, "s")], [(60, "s")]]
    with pytest.raises(MidiError, match="missing.mid: cannot read"):
        read_midi(tmp_path / "missing.mid")
    with pytest.raises(MidiError, match="cannot read"):
        read_midi(tmp_path)


def test_errors_for_a_path_name_the_file(tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"MThd\x00\x00")
    with pytest.raises(MidiError, match=r"bad\.mid: truncated"):
        read_midi(bad)


def test_riff_wrapped_midi_is_read(kit):
    smf = kit.build([[(0, kit.on(60)), (480, kit.off(60))]])
    info = b"LIST" + (4).to_bytes(4, "little") + b"INFO"
    body = b"RMID" + info + b"data" + len(smf).to_bytes(4, "little") + smf + b"\x00" * (len(smf) & 1)
    rmi = b"RIFF" + len(body).to_bytes(4, "little") + body
    assert read_midi(rmi).notes == read_midi(smf).notes
    with pytest.raises(MidiError, match="'data' chunk"):
        read_midi(b"RIFF" + (8).to_bytes(4, "little") + b"RMID" + info)
