"""radio.files: a reader sees the whole new file or the whole old one, and a failed write
leaves no temp file behind (or one the admin's start-up sweep recognises)."""

import stat

import pytest

from radio.files import PARTIAL_PATTERNS, atomic_path, atomic_write_bytes, atomic_write_text, atomic_writer


def test_writes_replace_the_target_whole(tmp_path):
    target = tmp_path / "sub" / "a.txt"
    atomic_write_text(target, "first")
    atomic_write_bytes(target, b"second", sync_dir=True)
    assert target.read_bytes() == b"second"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["a.txt"]


@pytest.mark.parametrize("how", ["writer", "path"])
def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path, how):
    target = tmp_path / "model.npz"
    target.write_bytes(b"old")
    with pytest.raises(OSError, match="disk full"):
        if how == "writer":
            with atomic_writer(target) as fh:
                fh.write(b"half of the new")
                raise OSError("disk full")
        else:
            with atomic_path(target) as tmp:
                tmp.write_bytes(b"half of the new")
                raise OSError("disk full")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


def test_the_temp_file_is_hidden_beside_the_target_and_named_for_the_sweep(tmp_path):
    target = tmp_path / "style.toml"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".style.toml.")
        assert any(tmp.match(pattern) for pattern in PARTIAL_PATTERNS)
        assert not target.exists()
        tmp.write_text("name = 'x'\n")
    assert target.read_text() == "name = 'x'\n"
