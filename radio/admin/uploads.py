"""Checking uploaded MIDI files before they reach the library.

Every file in a multipart upload is judged on its own: a bad one is reported with the
reason and the rest still go in. What is checked, in order: the file name (no paths,
no traversal, a .mid/.midi name), the declared content type, the size, the count, and
finally the content itself through :func:`radio.library.ingest.ingest_midi`, which parses
and prepares the piece and stores nothing if that fails.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from radio.admin.errors import BadRequest, UnsupportedMediaType
from radio.admin.jobs import hide_paths
from radio.config import env_int
from radio.errors import ContinuoError, MidiError, NotesError
from radio.library.store_threads import in_store_thread

log = logging.getLogger("radio.admin")

MIDI_TYPES = frozenset({
    "audio/midi", "audio/mid", "audio/x-midi", "audio/x-mid", "application/x-midi", "audio/sp-midi",
    # browsers that know no type for .mid send this one
    "application/octet-stream",
})
MIDI_SUFFIXES = (".mid", ".midi", ".smf", ".kar")
MAX_NAME_CHARS = 200
CHUNK = 64 * 1024
MAX_FIELDS = 32


@dataclass(frozen=True)
class UploadLimits:
    max_file_bytes: int = 1024 * 1024  # the largest corpus file is 170 KB
    max_files: int = 50
    max_field_bytes: int = 4096

    @classmethod
    def from_env(cls) -> "UploadLimits":
        return cls(
            max_file_bytes=env_int("CONTINUO_ADMIN_MAX_UPLOAD_BYTES", cls.max_file_bytes),
            max_files=env_int("CONTINUO_ADMIN_MAX_UPLOAD_FILES", cls.max_files),
        )


@dataclass
class UploadedFile:
    filename: str
    data: bytes


@dataclass
class Upload:
    """A parsed multipart request: form fields, files that passed the cheap checks, rejections."""

    fields: dict[str, str] = field(default_factory=dict)
    files: list[UploadedFile] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)


def check_filename(name: str | None) -> str:
    """The file's name if it is a plain MIDI file name; raise ValueError with the reason."""
    if not name:
        raise ValueError("the part has no file name")
    if any(c in name for c in "/\\\x00") or name in (".", "..") or ".." in name or name.startswith("."):
        raise ValueError("path traversal or a path in the file name: send a plain name like 'piece.mid'")
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise ValueError("control characters in the file name")
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(f"file name longer than {MAX_NAME_CHARS} characters")
    if not name.lower().endswith(MIDI_SUFFIXES):
        raise ValueError(f"not a MIDI file name (expected one of {', '.join(MIDI_SUFFIXES)})")
    return name


def check_content_type(content_type: str | None) -> None:
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind not in MIDI_TYPES:
        raise ValueError(f"wrong content type {kind or '(none)'!r}: expected audio/midi")


async def read_upload(request: web.Request, limits: UploadLimits) -> Upload:
    """Read a multipart body part by part, never holding an oversize file in memory. A body
    that is not well-formed multipart (garbled part headers, a cut-off stream) is a 400."""
    if not request.content_type.startswith("multipart/"):
        raise UnsupportedMediaType(f"expected a multipart/form-data upload, not {request.content_type!r}")
    try:
        return await _read_parts(request, limits)
    except (HttpProcessingError, ValueError, AssertionError, UnicodeError) as exc:
        raise BadRequest(f"the multipart body cannot be read: {exc}".strip()) from exc


async def _read_parts(request: web.Request, limits: UploadLimits) -> Upload:
    reader = await request.multipart()
    upload = Upload()
    seen_files = 0
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, BodyPartReader):
            raise BadRequest("nested multipart bodies are not supported")
        if part.filename is None:
            if len(upload.fields) >= MAX_FIELDS:
                raise BadRequest(f"more than {MAX_FIELDS} form fields")
            upload.fields[part.name or ""] = await read_field(part, limits.max_field_bytes)
            continue
        seen_files += 1
        raw_name = part.filename
        try:
            check_filename(raw_name)
            check_content_type(part.headers.get("Content-Type"))
            if seen_files > limits.max_files:
                raise ValueError(f"too many files: at most {limits.max_files} per upload")
            data = await read_limited(part, limits.max_file_bytes)
        except ValueError as exc:
            await part.release()
            upload.rejected.append({"filename": raw_name, "reason": str(exc)})
            continue
        upload.files.append(UploadedFile(raw_name, data))
    return upload


async def read_field(part: BodyPartReader, limit: int) -> str:
    data = bytearray()
    while chunk := await part.read_chunk(CHUNK):
        data += chunk
        if len(data) > limit:
            raise BadRequest(f"form field {part.name!r} is longer than {limit} bytes")
    return data.decode("utf-8", "replace").strip()


async def read_limited(part: BodyPartReader, limit: int) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk(CHUNK):
        data += chunk
        if len(data) > limit:
            raise ValueError(f"oversize: larger than the limit of {limit} bytes")
    if not data:
        raise ValueError("empty file")
    return bytes(data)


async def ingest_files(
    library: Any, style: str, files: list[UploadedFile], *, composer: str = ""
) -> tuple[list, list, list]:
    """Ingest each file into ``style``; return (accepted, duplicates, rejected) report rows.

    A duplicate is a file the library already holds (the same bytes), under any style: it is
    not added again, and its row names the piece it matches."""
    from radio.library.ingest import ingest_midi

    accepted, duplicates, rejected = [], [], []
    for f in files:
        title = re.sub(r"[_]+", " ", f.filename.rsplit(".", 1)[0]).strip()
        try:
            result = await in_store_thread(
                ingest_midi, library, f.data, style=style, composer=composer, title=title, source=f"upload:{f.filename}",
            )
        except (MidiError, NotesError) as exc:
            rejected.append({"filename": f.filename, "reason": f"corrupt or unusable MIDI: {exc}"})
            continue
        except sqlite3.OperationalError:
            raise  # the catalog is locked by another writer: the whole request answers 503 (try again)
        except ContinuoError as exc:
            rejected.append({"filename": f.filename, "reason": f"could not be stored: {hide_paths(str(exc))}"})
            continue
        except OSError as exc:  # a full disk: nothing of this file was kept
            rejected.append({"filename": f.filename, "reason": f"could not be stored: {exc.strerror or exc}"})
            continue
        except Exception as exc:  # noqa: BLE001 - a parser bug on one file must not lose the report of the others
            log.exception("admin: unexpected error ingesting %s", f.filename)
            rejected.append({"filename": f.filename, "reason": f"unexpected {type(exc).__name__}: {hide_paths(str(exc))}"})
            continue
        piece = result.piece
        if result.status == "duplicate":
            duplicates.append({
                "filename": f.filename, "status": "duplicate", "piece": piece_json(piece),
                "reason": f"already in the library as {piece.title or piece.id!r} (style {piece.style!r}); not added again",
            })
            continue
        accepted.append({"filename": f.filename, "status": result.status, "piece": piece_json(piece)})
    return accepted, duplicates, rejected


def piece_json(piece: Any) -> dict[str, Any]:
    data = piece.to_dict()
    data.pop("blob_key", None)
    return data


def mark_duplicates(duplicates: list[dict[str, Any]], corpus_styles: list[str] | tuple[str, ...]) -> list[dict[str, Any]]:
    """Say of each duplicate whether the style trains on it anyway (it is filed under one of
    the library styles the style learns from) or not."""
    for d in duplicates:
        d["counts_here"] = d["piece"]["style"] in corpus_styles
    return duplicates
