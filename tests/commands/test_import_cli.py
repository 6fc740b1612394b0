"""``continuo import`` and ``continuo library`` through the real CLI entry point."""

from __future__ import annotations

import json
import os
import random
import sqlite3

import pytest

from radio.cli import main


def stats(home, capsys) -> dict:
    capsys.readouterr()
    assert main(["library", "stats", "--json", "--home", str(home)]) == 0
    return json.loads(capsys.readouterr().out)


def summary(capsys) -> str:
    out = capsys.readouterr().out.strip().splitlines()
    return out[-1]


def test_import_twice_adds_nothing_the_second_time(small_corpus, tmp_path, capsys):
    home = tmp_path / "home"
    assert main(["import", str(small_corpus), "--home", str(home), "--no-progress"]) == 0
    assert summary(capsys).endswith("added 5, duplicates 0, rejected 0")
    first = stats(home, capsys)
    assert main(["import", str(small_corpus), "--home", str(home), "--no-progress"]) == 0
    assert summary(capsys).endswith("added 0, duplicates 5, rejected 0")
    assert stats(home, capsys) == first
    assert {s: v["pieces"] for s, v in first["styles"].items()} == {"baroque": 2, "folk": 3}
    assert len(list((home / "blobs").rglob("*.mid"))) == 5


def test_style_folders_take_metadata_from_the_manifest(small_corpus, tmp_path, capsys):
    home = tmp_path / "home"
    main(["import", str(small_corpus), "--home", str(home), "--no-progress"])
    capsys.readouterr()
    assert main(["library", "list", "--style", "baroque", "--json", "--home", str(home)]) == 0
    pieces = json.loads(capsys.readouterr().out)
    assert len(pieces) == 2
    for p in pieces:
        assert p["composer"] == "Johann Sebastian Bach"
        assert p["title"].startswith("Chorale BWV")
        assert p["licence"] == "music21-corpus-permission"
        assert p["source"] == "music21:bach"
        assert p["beats"] > 0 and p["original_key"]


def test_one_style_folder_with_style_and_limit(corpus_dir, tmp_path, capsys):
    home = tmp_path / "home"
    code = main(["import", str(corpus_dir / "folk"), "--style", "irish", "--limit", "3", "--home", str(home),
                 "--no-progress"])
    assert code == 0
    s = stats(home, capsys)
    assert list(s["styles"]) == ["irish"] and s["styles"]["irish"]["pieces"] == 3
    assert s["styles"]["irish"]["composers"] >= 1  # from the corpus MANIFEST one folder up


def test_corrupt_files_are_reported_by_name_and_the_rest_imported(corpus_dir, tmp_path, capsys):
    folder = tmp_path / "mixed"
    (folder / "sub").mkdir(parents=True)
    real = sorted((corpus_dir / "folk").glob("*.mid"))[:2]
    good = [(folder / "good1.mid"), (folder / "sub" / "GOOD2.MIDI")]
    for src, dst in zip(real, good):
        dst.write_bytes(src.read_bytes())
    data = real[0].read_bytes()
    bad = {
        "truncated.mid": data[: len(data) // 2],
        "random.mid": random.Random(1).randbytes(3000),
        "empty.mid": b"",
        "notes.mid": b"These are my notes, not a MIDI file.\n",
    }
    for name, content in bad.items():
        (folder / name).write_bytes(content)
    (folder / "readme.txt").write_text("ignored: not a .mid file")
    home = tmp_path / "home"

    assert main(["import", str(folder), "--style", "folk", "--home", str(home), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip().splitlines()[-1].endswith("added 2, duplicates 0, rejected 4")
    rejected_lines = [line for line in captured.err.splitlines() if line.startswith("rejected ")]
    assert len(rejected_lines) == 4
    for name in bad:
        line = next(line for line in rejected_lines if os.path.join(str(folder), name) + ":" in line)
        assert len(line.split(": ", 1)[1]) > 3  # a reason follows the name
    db = sqlite3.connect(home / "catalog.sqlite3")
    assert db.execute("SELECT COUNT(*) FROM pieces").fetchone()[0] == 2
    assert len([p for p in (home / "blobs").rglob("*") if p.is_file()]) == 2


def test_only_bad_files_exits_1(tmp_path, capsys):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "x.mid").write_bytes(b"junk")
    assert main(["import", str(folder), "--style", "folk", "--home", str(tmp_path / "h"), "--no-progress"]) == 1
    assert "rejected 1" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["{tmp}/nowhere", "--style", "folk"], "does not exist"),
        (["{tmp}/empty", "--style", "folk"], "no MIDI files"),
        (["{tmp}/loose"], "--style"),
        (["{tmp}/loose", "--style", "Not A Style"], "style name"),
        (["music21:bach"], "--style"),
    ],
)
def test_bad_arguments_are_clear_errors(tmp_path, capsys, args, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "loose").mkdir()
    (tmp_path / "loose" / "a.mid").write_bytes(b"x")
    argv = ["import", *[a.format(tmp=tmp_path) for a in args], "--home", str(tmp_path / "h"), "--no-progress"]
    assert main(argv) == 1
    assert message in capsys.readouterr().err


def test_stats_json_shape_and_text(tmp_path, capsys, midi_bytes):
    from radio.library import open_library
    from radio.library.base import SourceRecord
    from radio.library.ingest import ingest_midi

    home = tmp_path / "home"
    lib = open_library(home)
    ingest_midi(lib, midi_bytes(60, 64, 67), style="folk", composer="A")
    ingest_midi(lib, midi_bytes(62, 65, 69), style="folk", composer="B")
    lib.catalog.add_record(SourceRecord(url="https://example.org/x.mid", status="licence_not_allowed"))
    lib.close()
    s = stats(home, capsys)
    assert set(s) == {"styles", "records"}
    assert set(s["styles"]["folk"]) == {"pieces", "beats", "keys", "composers"}
    assert s["styles"]["folk"]["pieces"] == 2 and s["styles"]["folk"]["beats"] == 24
    assert sum(s["styles"]["folk"]["keys"].values()) == 2
    assert s["records"] == {"licence_not_allowed": 1}
    assert main(["library", "stats", "--home", str(home)]) == 0
    text = capsys.readouterr().out
    assert "folk" in text and "24" in text and "licence_not_allowed 1" in text


def test_import_from_the_music21_corpus(tmp_path, capsys):
    pytest.importorskip("music21")
    home = tmp_path / "home"
    argv = ["import", "music21:bach", "--style", "baroque", "--limit", "2", "--home", str(home), "--no-progress"]
    assert main(argv) == 0
    assert summary(capsys).endswith("added 2, duplicates 0, rejected 0")
    assert main(["library", "list", "--json", "--home", str(home)]) == 0
    pieces = json.loads(capsys.readouterr().out)
    assert len(pieces) == 2
    for p in pieces:
        assert (p["style"], p["source"], p["licence"]) == ("baroque", "music21:bach", "music21-corpus-permission")
        assert p["composer"] and p["title"] and p["beats"] > 0
    assert main(argv) == 0
    assert summary(capsys).endswith("added 0, duplicates 2, rejected 0")


@pytest.mark.parametrize("ref, message", [("music21:palestrina", "derivative"), ("music21:nosuchthing", "no collection"),
                                          ("music21:", "names no collection")])
def test_music21_refusals(tmp_path, capsys, ref, message):
    pytest.importorskip("music21")
    assert main(["import", ref, "--style", "x", "--home", str(tmp_path / "h"), "--no-progress"]) == 1
    assert message in capsys.readouterr().err


def test_missing_music21_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    import sys

    for name in [m for m in sys.modules if m == "music21" or m.startswith("music21.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "music21", None)  # makes `import music21` raise ImportError
    assert main(["import", "music21:bach", "--style", "baroque", "--home", str(tmp_path / "h"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "'corpus' extra" in err and "make install-dev" in err and ".[corpus]" in err
