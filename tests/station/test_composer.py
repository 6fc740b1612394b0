"""The composer alone: pieces, keys, titles, held-note continuity, restarts and swaps."""

from __future__ import annotations

import pytest

from radio.station.composer import Composer, ComposerSettings
from radio.music.notes import validate
from radio.station.titles import piece_title

SETTINGS = ComposerSettings(chunk_beats=4, breath_beats=2, lookahead_beats=8, silence_limit_seconds=1.0)


def run(composer: Composer, chunks: int) -> list:
    return [composer.next_chunk() for _ in range(chunks)]


def test_pieces_get_new_keys_titles_and_a_breath(helpers):
    style = helpers.make_style(piece_seconds=2.0)  # 16 beats at 120 bpm
    composer = Composer(style, helpers.DroneModel(), seed=7, settings=SETTINGS)
    chunks = run(composer, 40)
    pieces = []
    for c in chunks:
        if not pieces or pieces[-1] is not c.piece:
            pieces.append(c.piece)
    assert len(pieces) >= 5
    assert all(a.key != b.key for a, b in zip(pieces, pieces[1:])), "consecutive pieces share a key"
    assert len({p.title for p in pieces}) == len(pieces)
    for p in pieces[:-1]:
        assert len(p.beats) == 16 + 2
        assert p.beats[-2:] == [[], []], "a piece ends with a breath of rest"
        assert p.title.endswith(f" in {p.key}")
    # one stream of beats, valid across every chunk and piece boundary
    all_beats = [beat for c in chunks for beat in c.beats]
    validate(all_beats)
    assert [c.start_beat for c in chunks] == [sum(len(x.beats) for x in chunks[:i]) for i in range(len(chunks))]
    assert all(21 <= p <= 108 for beat in all_beats for p, _ in beat)


def test_transposition_moves_the_c_minor_output_to_the_named_key(helpers):
    style = helpers.make_style(piece_seconds=2.0)
    composer = Composer(style, helpers.DroneModel(pitch=57), seed=3, settings=SETTINGS)  # A + E: A minor
    for chunk in run(composer, 12):
        if chunk.beats and chunk.beats[0]:
            low = chunk.beats[0][0][0]
            assert low == 57 + chunk.piece.transpose


def test_titles_are_deterministic_from_seed_and_counter():
    assert piece_title("baroque", 5, 11, "D minor") == piece_title("baroque", 5, 11, "D minor")
    a, b = piece_title("baroque", 5, 11, "D minor"), piece_title("baroque", 5, 12, "D minor")
    assert a != b
    number_a = int(a.split("No. ")[1].split()[0])
    number_b = int(b.split("No. ")[1].split()[0])
    assert number_b == number_a + 1
    assert a.endswith(" in D minor")


def test_a_raising_model_restarts_the_piece_after_a_rest(helpers):
    reasons = []
    model = helpers.FlakyModel(fail_every=3)
    composer = Composer(helpers.make_style(), model, seed=1, settings=SETTINGS, on_restart=reasons.append)
    chunks = run(composer, 30)
    assert composer.restarts >= 5 and set(reasons) == {"exception"}
    assert all(len(c.beats) in (4, 2) for c in chunks), "every chunk is music or a short rest"
    assert sum(1 for c in chunks if any(c.beats)) >= 10, "it keeps playing between failures"
    validate([b for c in chunks for b in c.beats])


def test_silence_longer_than_the_limit_restarts(helpers):
    reasons = []
    composer = Composer(helpers.make_style(), helpers.SilentModel(), seed=1, settings=SETTINGS, on_restart=reasons.append)
    chunks = run(composer, 20)
    assert len(reasons) >= 2 and set(reasons) == {"silence"}
    assert len({c.piece.piece_id for c in chunks}) >= 2, "each restart starts a fresh piece"


def test_garbage_output_restarts(helpers):
    class Garbage:
        version = "garbage"

        def sampler(self, **_):
            class S:
                def next_beats(self, n):
                    return [[(float("nan"), "b")]] * n

            return S()

    reasons = []
    composer = Composer(helpers.make_style(), Garbage(), seed=1, settings=SETTINGS, on_restart=reasons.append)
    chunks = run(composer, 5)
    assert reasons and set(reasons) == {"garbage"}
    assert all(not any(c.beats) for c in chunks)


def test_swap_waits_for_the_piece_boundary(helpers):
    style = helpers.make_style(piece_seconds=2.0)
    composer = Composer(style, helpers.DroneModel(version="old"), seed=2, settings=SETTINGS)
    run(composer, 2)
    composer.swap_model(helpers.DroneModel(version="new", pitch=60))
    chunks = run(composer, 12)
    versions = [c.piece.model_version for c in chunks]
    first_new = versions.index("new")
    assert set(versions[:first_new]) == {"old"} and set(versions[first_new:]) == {"new"}
    assert chunks[first_new].new_piece and chunks[first_new - 1].beats == [[], []]
    assert chunks[first_new].start_beat == 16 + 2


def test_swap_within_a_deadline_cuts_the_piece_short(helpers):
    style = helpers.make_style(piece_seconds=60.0)
    composer = Composer(style, helpers.DroneModel(version="old"), seed=2, settings=SETTINGS)
    run(composer, 2)
    composer.swap_model(helpers.DroneModel(version="new"), at_beat=20)
    chunks = run(composer, 8)
    first_new = next(c for c in chunks if c.piece.model_version == "new")
    assert first_new.new_piece and 20 <= first_new.start_beat <= 20 + 4 + 2


def test_settings_are_checked():
    with pytest.raises(ValueError, match="chunk_beats"):
        ComposerSettings(chunk_beats=0)


def test_a_real_model_gone_nan_restarts_instead_of_stopping(helpers):
    import numpy as np

    from radio.model import load_model
    from radio.styles import get_style

    style = get_style("baroque")
    if not style.model_path.is_file():
        pytest.skip("the bundled baroque model is missing")
    model = load_model(style.model_path)
    for layer in model.network.layers:
        layer.kernel[...] = np.nan
    reasons = []
    composer = Composer(style, model, seed=1, settings=SETTINGS, on_restart=reasons.append)
    chunks = run(composer, 4)
    assert reasons == ["exception"] * 4
    assert all(c.beats == [[], []] for c in chunks), "each failure is a short rest"


async def test_a_style_with_unplayable_settings_is_skipped_not_fatal(helpers, caplog):
    import dataclasses

    from radio.station.station import Station
    from radio.styles import Timbre

    good = helpers.make_style("good")
    bad_tempo = dataclasses.replace(helpers.make_style("slow"), tempo_bpm=0.0)
    bad_timbre = dataclasses.replace(helpers.make_style("mute"), timbre=Timbre(partials=()))
    station = Station(helpers.fast_settings(), model_loader=lambda path: helpers.DroneModel())
    skipped = await station.add_styles([bad_tempo, good, bad_timbre])
    assert skipped == ["slow", "mute"] and list(station.channels) == ["good"]
    assert "tempo_bpm" in station.skipped["slow"] and "partials" in station.skipped["mute"]
    await station.start()
    try:
        assert station.channels["good"].running
    finally:
        await station.stop()
