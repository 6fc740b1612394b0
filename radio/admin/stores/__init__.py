"""Where the admin's records persist, one module per backend side by side: SQLite
(:mod:`.sqlite`, in the catalog's file under the data dir) and MongoDB (:mod:`.mongo`, when
``CONTINUO_MONGODB_URI`` is set). The domain modules name only the protocols they need
(:class:`radio.admin.jobs.JobStore`, :class:`radio.admin.versions.VersionTable`,
:class:`radio.style_file.StyleStore`); these functions pick the backend. A new catalog
(PostgreSQL, say) is one more module here.
"""

from __future__ import annotations

from pathlib import Path

from radio.admin.stores.mongo import MongoJobStore, MongoStyleStore, MongoVersionTable
from radio.admin.stores.sqlite import SqliteJobStore, SqliteStyleStore, SqliteVersionTable
from radio.library.storage_config import StorageConfig

__all__ = ["MongoJobStore", "MongoStyleStore", "MongoVersionTable", "SqliteJobStore", "SqliteStyleStore",
           "SqliteVersionTable", "open_job_store", "open_style_store", "open_version_table"]


def open_job_store(home: Path) -> SqliteJobStore | MongoJobStore:
    """The jobs of this deployment: MongoDB when CONTINUO_MONGODB_URI is set, else SQLite in ``home``."""
    config = StorageConfig.from_env()
    if config.mongodb_uri:
        return MongoJobStore(config.mongodb_uri, timeout_ms=config.mongodb_timeout_ms)
    return SqliteJobStore(home)


def open_version_table(home: Path) -> SqliteVersionTable | MongoVersionTable:
    """MongoDB when CONTINUO_MONGODB_URI is set, else the catalog's SQLite file."""
    config = StorageConfig.from_env()
    if config.mongodb_uri:
        return MongoVersionTable(config.mongodb_uri, timeout_ms=config.mongodb_timeout_ms)
    return SqliteVersionTable(home)


def open_style_store(home: Path) -> SqliteStyleStore | MongoStyleStore:
    """The styles created from the admin, shared by every node: MongoDB when
    CONTINUO_MONGODB_URI is set, else the catalog's SQLite file."""
    config = StorageConfig.from_env()
    if config.mongodb_uri:
        return MongoStyleStore(config.mongodb_uri, timeout_ms=config.mongodb_timeout_ms)
    return SqliteStyleStore(home)
