"""Writing a file so that a reader sees the whole of it or none of it.

Every file the station, the admin and the trainer replace (blobs, model files, ``style.toml``,
rendered pieces, the corpus list) is written here, one way: into a temp file beside the target
(same folder, so the rename stays on one filesystem), flushed and fsynced, then renamed over
the target with ``os.replace``. A failure at any point, a full disk or a cancelled task,
removes the temp file and leaves the old target as it was.

The temp file has one naming rule: ``.<target name>.<random>.partial``. It starts with a dot,
so listings that skip hidden files never see it, and :data:`PARTIAL_PATTERNS` names it, so the
admin can sweep what a crash left behind at the next start.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator

PARTIAL_SUFFIX = ".partial"
# Globs for the temp files an interrupted write can leave: this module's, and ".tmp-*", which
# the blob stores used before this module existed (a data dir may still hold one).
PARTIAL_PATTERNS = (f".*{PARTIAL_SUFFIX}", ".tmp-*")
FILE_MODE = 0o644  # mkstemp makes a private file; what we write is meant to be read by others


@contextlib.contextmanager
def atomic_path(path: str | Path, *, sync_dir: bool = False) -> Iterator[Path]:
    """Yield a temp path beside ``path`` for a writer that needs a path of its own
    (``shutil.copyfile``, a download); on a clean exit it is fsynced and renamed onto ``path``.

    The temp file already exists (empty) when yielded. Give numpy an open file rather than
    this path: ``np.savez`` appends ``.npz`` to a name that does not end with it.
    ``sync_dir`` also fsyncs the folder, so that the rename itself survives a power cut."""
    path = Path(path)
    fd, tmp = _temp_file(path)
    os.close(fd)
    try:
        yield tmp
        _fsync_file(tmp)
        _put_in_place(tmp, path, sync_dir)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_writer(path: str | Path, *, sync_dir: bool = False) -> Iterator[BinaryIO]:
    """Yield a binary file to write ``path``'s new content into (a stream, a download)."""
    path = Path(path)
    fd, tmp = _temp_file(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        _put_in_place(tmp, path, sync_dir)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes, *, sync_dir: bool = False) -> None:
    with atomic_writer(path, sync_dir=sync_dir) as fh:
        fh.write(data)


def atomic_write_text(path: str | Path, text: str, *, sync_dir: bool = False) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), sync_dir=sync_dir)


def _temp_file(path: Path) -> tuple[int, Path]:
    """The one naming rule: ``.<name>.<random>.partial`` in the target's folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=PARTIAL_SUFFIX, dir=path.parent)
    return fd, Path(name)


def _put_in_place(tmp: Path, path: Path, sync_dir: bool) -> None:
    os.chmod(tmp, FILE_MODE)
    os.replace(tmp, path)
    if sync_dir:
        fsync_dir(path.parent)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable; some platforms cannot open a folder, which is fine."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
