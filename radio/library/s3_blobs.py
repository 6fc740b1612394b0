"""The shared blob store: MIDI files and model files as objects in one S3 bucket (boto3).

Keys are the same as the disk store's (checked by the same rules) under an optional prefix.
Every object carries the sha256 of its bytes in its metadata (``x-amz-meta-sha256``), and every
read checks it: a blob that does not match is an error, never data. An S3 PUT (and a completed
multipart upload) is atomic, so readers see a whole object or none; a stream that fails
halfway never completes its upload, so nothing is stored.

Uploads of streams are spooled to a temp file while hashing (the sha256 must be known before
the upload starts, since it travels in the request's headers) and then sent in parts; downloads
are read in chunks. Neither holds a model file in memory.
"""

from __future__ import annotations

import hashlib
import io
import logging
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Iterator

from radio.errors import LibraryError
from radio.files import atomic_writer
from radio.library.disk_blobs import CHUNK_BYTES, check_key

log = logging.getLogger(__name__)

SHA_META = "sha256"
SPOOL_BYTES = 8 << 20  # streams up to this size are spooled in memory, larger ones on disk
CONNECT_TIMEOUT_S = 5
READ_TIMEOUT_S = 30
ATTEMPTS = 3  # botocore's own retries (standard mode: backoff, only for retryable errors)


class S3BlobStore:
    """:class:`radio.library.base.BlobStore` over one bucket (AWS, MinIO or any S3 API)."""

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        client: Any = None,
        check_bucket: bool = True,
    ) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix
        self.endpoint_url = endpoint_url
        where = f" at {endpoint_url}" if endpoint_url else ""
        self.where = f"s3://{bucket}/{prefix}{where}"
        self.client = client or boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region or "us-east-1",
            config=Config(
                connect_timeout=CONNECT_TIMEOUT_S,
                read_timeout=READ_TIMEOUT_S,
                retries={"max_attempts": ATTEMPTS, "mode": "standard"},
                # MinIO and moto on a plain host:port cannot serve bucket.host names.
                s3={"addressing_style": "path" if endpoint_url else "auto"},
            ),
        )
        self.transfer = TransferConfig(multipart_threshold=SPOOL_BYTES, multipart_chunksize=SPOOL_BYTES)
        if check_bucket:
            self.check()

    # --- the protocol ------------------------------------------------------------------
    def put(self, key: str, data: bytes) -> None:
        data = bytes(data)
        sha = hashlib.sha256(data).hexdigest()
        self._call("store", key, self.client.put_object, Bucket=self.bucket, Key=self._key(key), Body=data,
                   Metadata={SHA_META: sha})

    def put_stream(self, key: str, stream: BinaryIO) -> None:
        s3_key = self._key(key)
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            digest = hashlib.sha256()
            while chunk := stream.read(CHUNK_BYTES):  # a failing stream raises here: nothing was sent
                digest.update(chunk)
                spool.write(chunk)
            spool.seek(0)
            self._call("store", key, self.client.upload_fileobj, spool, self.bucket, s3_key,
                       ExtraArgs={"Metadata": {SHA_META: digest.hexdigest()}}, Config=self.transfer)

    def put_file(self, key: str, path: Path) -> None:
        s3_key = self._key(key)
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK_BYTES):
                digest.update(chunk)
        self._call("store", key, self.client.upload_file, str(path), self.bucket, s3_key,
                   ExtraArgs={"Metadata": {SHA_META: digest.hexdigest()}}, Config=self.transfer)

    def get(self, key: str) -> bytes:
        out = io.BytesIO()
        self._download(key, out)
        return out.getvalue()

    def get_to(self, key: str, path: Path) -> None:
        with atomic_writer(path) as fh:
            self._download(key, fh)

    def exists(self, key: str) -> bool:
        try:
            self._call("look up", key, self.client.head_object, Bucket=self.bucket, Key=self._key(key))
        except KeyError:
            return False
        return True

    def delete(self, key: str) -> None:
        self._call("delete", key, self.client.delete_object, Bucket=self.bucket, Key=self._key(key))

    def keys(self, prefix: str = "") -> Iterator[str]:
        found = []
        paginator = self.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix)
        try:
            for page in pages:
                found += [obj["Key"][len(self.prefix):] for obj in page.get("Contents", ())]
        except Exception as exc:
            raise self._error("list", prefix or "*", exc) from exc
        return iter(sorted(found))

    # --- the rest --------------------------------------------------------------------
    def check(self) -> None:
        """Fail now, clearly, if the bucket cannot be reached or does not exist."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception as exc:
            code = _code(exc)
            if code in ("404", "NoSuchBucket"):
                raise LibraryError(
                    f"the S3 bucket {self.bucket!r} does not exist{' at ' + self.endpoint_url if self.endpoint_url else ''}: "
                    "create it (compose.yaml's createbucket service does) or fix CONTINUO_S3_BUCKET"
                ) from None
            raise self._error("open", "the bucket", exc) from exc

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _download(self, key: str, out: BinaryIO) -> None:
        response = self._call("read", key, self.client.get_object, Bucket=self.bucket, Key=self._key(key))
        expected = (response.get("Metadata") or {}).get(SHA_META)
        digest = hashlib.sha256()
        try:
            for chunk in response["Body"].iter_chunks(CHUNK_BYTES):
                digest.update(chunk)
                out.write(chunk)
        except Exception as exc:  # the connection dropped mid-body
            raise self._error("read", key, exc) from exc
        finally:
            response["Body"].close()
        if expected is None:
            # Written by another tool: S3's own transfer checksums are all we have.
            log.warning("blob %s in %s has no sha256 metadata; it was read unchecked", key, self.where)
        elif digest.hexdigest() != expected:
            raise LibraryError(
                f"blob {key} in {self.where} is corrupt: its bytes hash to {digest.hexdigest()}, "
                f"its metadata says {expected}; delete it and store it again"
            )

    def _call(self, action: str, key: str, fn, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                raise KeyError(key) from None
            raise self._error(action, key, exc) from exc

    def _error(self, action: str, key: str, exc: Exception) -> LibraryError:
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(exc, LibraryError):
            return exc
        if isinstance(exc, ClientError):
            return LibraryError(f"S3 refused to {action} {key} in {self.where}: {exc}")
        if isinstance(exc, BotoCoreError):  # no connection, timeouts, no credentials
            return LibraryError(f"cannot {action} {key} in {self.where}: {exc} (is the S3 server reachable?)")
        return LibraryError(f"cannot {action} {key} in {self.where}: {type(exc).__name__}: {exc}")


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str((response.get("Error") or {}).get("Code", ""))
    return ""
