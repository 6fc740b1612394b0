"""Shared fixtures. Area-specific fixtures live in each tests/<area>/conftest.py; fixtures that
more than one area uses live in tests/support/ and are registered here, once, as plugins
(pytest reads ``pytest_plugins`` only from the root conftest)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.s3_server import MotoServer
from tests.support.shared_data import require_corpus

pytest_plugins = [
    "tests.support.stations",  # an in-process station and its helpers (station, web, commands)
    "tests.support.model_files",  # small random model files (model, commands)
    "tests.support.pieces",  # MIDI bytes and a small corpus copy (library, commands)
]

REPO = Path(__file__).resolve().parents[1]
# CI lays ../shared beside the clone; a user's fresh clone may not have it.
CORPUS = Path(os.environ.get("CONTINUO_CORPUS", REPO.parent / "shared" / "corpus"))
ARTIFACTS = REPO / "test-artifacts"

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The shared corpus; a test that needs it skips without it, or fails under CI=true."""
    return require_corpus(CORPUS, os.environ)


@pytest.fixture
def continuo_home(tmp_path, monkeypatch) -> Path:
    """A fresh, empty data dir for one test."""
    home = tmp_path / "home"
    monkeypatch.setenv("CONTINUO_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


# --- scale-out backends: a real S3 API server (moto) and, when given, a real MongoDB ----------
MONGODB_SKIP_REASON = (
    "no MongoDB server: set CONTINUO_TEST_MONGODB_URI (e.g. mongodb://127.0.0.1:27017) to run the MongoDB "
    "contract. None runs here: Debian packages no MongoDB server, and the pip/npm packages that provide one "
    "download the server binary at run time, which fails without internet. mongomock is no substitute."
)


@pytest.fixture(scope="session")
def s3_server():
    """One moto S3 server on loopback for the session; each test makes its own bucket.
    No skip when moto is missing: `make test` must run the S3 suite for real (make install-dev)."""
    server = MotoServer().start()
    yield server
    server.stop()


@pytest.fixture
def s3_env(s3_server, monkeypatch) -> dict[str, str]:
    """A fresh bucket on the session's S3 server, set as this process's CONTINUO_S3_* settings."""
    env = s3_server.env(s3_server.create_bucket())
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def mongodb_uri() -> str:
    uri = os.environ.get("CONTINUO_TEST_MONGODB_URI", "").strip()
    if not uri:
        pytest.skip(MONGODB_SKIP_REASON)
    return uri


@pytest.fixture
def mongodb_db_uri(mongodb_uri) -> str:
    """The test server's URI naming a fresh database, dropped after the test."""
    from urllib.parse import urlsplit, urlunsplit
    import uuid

    parts = urlsplit(mongodb_uri)
    name = f"continuo_test_{uuid.uuid4().hex[:12]}"
    uri = urlunsplit(parts._replace(path="/" + name))
    yield uri
    import pymongo

    client = pymongo.MongoClient(mongodb_uri, serverSelectionTimeoutMS=5000)
    client.drop_database(name)
    client.close()
