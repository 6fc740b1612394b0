"""The embedded blob store: one file per blob under a folder, written atomically."""

from __future__ import annotations

import hashlib
import io
import os
import re
from pathlib import Path
from typing import BinaryIO, Iterator

from radio.errors import LibraryError
from radio.files import atomic_writer

# A key is a relative POSIX path of plain segments. Segments may not start with '.',
# which rules out '..' and keeps our own temp files (radio.files: ".<name>.<random>.partial") out of every listing.
_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
MAX_KEY_LENGTH = 512
CHUNK_BYTES = 1 << 20  # streaming reads and writes go in pieces of this size


def check_key(key: str) -> str:
    """Return ``key`` if it is a safe blob key; raise :class:`LibraryError` naming the problem."""
    if not isinstance(key, str) or not key:
        raise LibraryError(f"blob key {key!r} is empty or not a string")
    if len(key) > MAX_KEY_LENGTH:
        raise LibraryError(f"blob key is {len(key)} characters long, more than {MAX_KEY_LENGTH}")
    if key.startswith("/") or "\\" in key:
        raise LibraryError(f"blob key {key!r} must be a relative path with '/' separators")
    for segment in key.split("/"):
        if segment == "..":
            raise LibraryError(f"blob key {key!r} contains '..'")
        if not _SEGMENT.match(segment):
            raise LibraryError(
                f"blob key {key!r} has the segment {segment!r}: use letters, digits, '.', '_' and '-', "
                "not starting with '.'"
            )
    return key


class DiskBlobStore:
    """Blobs as files under ``root``; a reader sees a whole blob or none of it."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def put(self, key: str, data: bytes) -> None:
        self.put_stream(key, io.BytesIO(bytes(data)))

    def put_stream(self, key: str, stream: BinaryIO) -> None:
        write_atomically(self._path(key), stream)

    def put_file(self, key: str, path: Path) -> None:
        with open(path, "rb") as fh:
            self.put_stream(key, fh)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            raise KeyError(key) from None

    def get_to(self, key: str, path: Path) -> None:
        try:
            with self._path(key).open("rb") as fh:
                write_atomically(Path(path), fh)
        except (FileNotFoundError, IsADirectoryError):
            raise KeyError(key) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def keys(self, prefix: str = "") -> Iterator[str]:
        found = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            rel = Path(dirpath).relative_to(self.root)
            for name in filenames:
                if name.startswith("."):
                    continue
                key = (rel / name).as_posix()
                if key.startswith(prefix):
                    found.append(key)
        return iter(sorted(found))


def write_atomically(path: Path, stream: BinaryIO, chunk_bytes: int = CHUNK_BYTES) -> str:
    """Copy ``stream`` to ``path`` through a temp file beside it; return the sha256 of what was
    written. A reader sees the whole file or none: a failure halfway leaves nothing behind."""
    digest = hashlib.sha256()
    with atomic_writer(path, sync_dir=True) as fh:
        while chunk := stream.read(chunk_bytes):
            digest.update(chunk)
            fh.write(chunk)
    return digest.hexdigest()
