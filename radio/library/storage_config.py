"""Which catalog and which blob store this process uses, as the environment chooses them.

With neither ``CONTINUO_MONGODB_URI`` nor ``CONTINUO_S3_BUCKET`` set, everything is embedded:
SQLite and a folder under the data dir, and neither pymongo nor boto3 is imported. Each
variable switches one part to its shared backend, so a deployment can share the catalog
(MongoDB), the blobs and model files (S3), or both:

| variable | what it selects |
| --- | --- |
| ``CONTINUO_MONGODB_URI`` | pieces, scrape records, jobs and model versions in MongoDB |
| ``CONTINUO_MONGODB_TIMEOUT_MS`` | per-operation timeout, sent to the server as ``maxTimeMS`` (default 10000) |
| ``CONTINUO_S3_BUCKET`` | MIDI blobs and model files in this S3 bucket |
| ``CONTINUO_S3_ENDPOINT_URL`` | an S3-compatible server (MinIO, moto); default: AWS |
| ``CONTINUO_S3_PREFIX`` | a key prefix inside the bucket, e.g. ``station-a/`` |
| ``CONTINUO_S3_REGION`` | the bucket's region (else ``AWS_DEFAULT_REGION``, else us-east-1) |

S3 credentials come from boto3's usual chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
a profile, an instance role).

This module only reads the settings: it imports no backend, so every backend (and
:mod:`radio.library.backends`, which opens them) can import it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlsplit, urlunsplit

from radio.errors import LibraryError

DEFAULT_MONGODB_TIMEOUT_MS = 10_000
CATALOG_FILE = "catalog.sqlite3"  # the embedded catalog, in the data dir
BLOBS_DIR = "blobs"  # the embedded blob store, in the data dir


@dataclass(frozen=True)
class StorageConfig:
    mongodb_uri: str | None = None
    mongodb_timeout_ms: int = DEFAULT_MONGODB_TIMEOUT_MS
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_prefix: str = ""
    s3_region: str | None = None

    @classmethod
    def from_env(cls) -> "StorageConfig":
        def env(name: str) -> str | None:
            return os.environ.get(name, "").strip() or None

        timeout = env("CONTINUO_MONGODB_TIMEOUT_MS")
        try:
            timeout_ms = int(timeout) if timeout else DEFAULT_MONGODB_TIMEOUT_MS
        except ValueError:
            raise LibraryError(f"CONTINUO_MONGODB_TIMEOUT_MS={timeout!r} is not a whole number of milliseconds") from None
        if timeout_ms <= 0:
            raise LibraryError(f"CONTINUO_MONGODB_TIMEOUT_MS must be above 0, not {timeout_ms}")
        uri = env("CONTINUO_MONGODB_URI")
        if uri is not None and not uri.startswith(("mongodb://", "mongodb+srv://")):
            raise LibraryError(
                f"CONTINUO_MONGODB_URI={redact_uri(uri)!r} is not a MongoDB URI: it must start with "
                "mongodb:// or mongodb+srv://"
            )
        prefix = env("CONTINUO_S3_PREFIX") or ""
        if prefix and not prefix.endswith("/"):
            prefix += "/"  # a prefix is a folder: "station-a" and "station-a/" mean the same
        return cls(
            mongodb_uri=uri,
            mongodb_timeout_ms=timeout_ms,
            s3_bucket=env("CONTINUO_S3_BUCKET"),
            s3_endpoint_url=env("CONTINUO_S3_ENDPOINT_URL"),
            s3_prefix=prefix,
            s3_region=env("CONTINUO_S3_REGION") or env("AWS_DEFAULT_REGION"),
        )

    @property
    def shared(self) -> bool:
        """True when any part of the library lives outside this machine."""
        return bool(self.mongodb_uri or self.s3_bucket)

    def describe(self) -> str:
        """One line for the logs; never shows a password."""
        catalog = f"MongoDB {redact_uri(self.mongodb_uri)}" if self.mongodb_uri else "SQLite"
        if self.s3_bucket:
            where = f" at {self.s3_endpoint_url}" if self.s3_endpoint_url else ""
            blobs = f"S3 s3://{self.s3_bucket}/{self.s3_prefix}{where}"
        else:
            blobs = "disk"
        return f"catalog: {catalog}; blobs and models: {blobs}"


STORAGE_ENV_PREFIXES = ("CONTINUO_MONGODB_", "CONTINUO_S3_", "AWS_")


def storage_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables that choose and reach the shared catalog and store (credentials included).
    A trainer child gets them explicitly: it reads the library wherever its parent does."""
    environ = os.environ if environ is None else environ
    return {k: v for k, v in environ.items() if k.startswith(STORAGE_ENV_PREFIXES)}


def redact_uri(uri: str | None) -> str:
    """The URI with its password replaced by ``***``, fit for logs and error messages."""
    if not uri:
        return ""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "<an unparsable URI>"
    if parts.password is None:
        return uri
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{hostinfo}"))
