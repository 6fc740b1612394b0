"""compose.yaml and the Dockerfile, checked without a Docker engine (none runs here): they
parse, they wire the documented variables together, the radio image carries no TensorFlow,
and the Icecast stage's config runs on the real icecast2."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SERVICES = {"radio", "worker", "mongodb", "minio", "createbucket", "icecast"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def stages() -> dict[str, list[str]]:
    """Dockerfile stage name -> its instructions (continuation lines joined)."""
    text = re.sub(r"\\\n\s*", " ", (REPO / "Dockerfile").read_text())
    found: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if m := re.match(r"FROM\s+(\S+)\s+AS\s+(\S+)$", line, re.I):
            current = m.group(2)
            found[current] = [line]
        elif current is not None:
            found[current].append(line)
    return found


@pytest.fixture(scope="module")
def extras() -> dict[str, list[str]]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]


def instructions(stage: list[str], keyword: str) -> list[str]:
    return [line for line in stage if line.upper().startswith(keyword + " ")]


def test_the_radio_image_is_the_default_and_carries_no_tensorflow(stages, extras):
    assert list(stages)[-1] == "radio"  # `docker build .` builds the station
    radio = " ".join(stages["radio"] + stages["base"])
    assert "tensorflow" not in radio.lower() and "train" not in re.findall(r'"\.\[([^\]]*)\]"', radio)[0]
    assert re.findall(r'"\.\[([^\]]*)\]"', radio) == ["scale"]
    assert instructions(stages["radio"], "CMD") == ['CMD ["continuo", "serve"]']
    assert instructions(stages["radio"], "HEALTHCHECK") and "USER continuo" in stages["radio"]
    assert set(extras["scale"]) >= {e for e in extras["scale"] if e.startswith(("pymongo", "boto3"))}
    assert not any(e.startswith("motor") for group in extras.values() for e in group)  # PyMongo's own async API


def test_the_worker_image_has_the_train_extra(stages, extras):
    worker = " ".join(stages["worker"])
    assert stages["worker"][0].split()[1] == "base"
    assert instructions(stages["worker"], "CMD") == ['CMD ["continuo", "worker"]']
    tf_default = re.search(r'ARG TENSORFLOW="([^"]+)"', worker).group(1)
    train = {re.split(r"[<>=;\[ ]", e)[0]: e.split(";")[0].strip() for e in extras["train"]}
    # The worker installs the 'train' extra by hand (so a GPU build can swap the TensorFlow
    # package): its pins must be the extra's own.
    assert tf_default == train["tensorflow-cpu"].replace(" ", "")
    assert f'"{train["matplotlib"]}"' in worker
    assert '".[scale]"' in worker and '"${TENSORFLOW}"' in worker


def test_every_copied_path_exists(stages):
    for name, stage in stages.items():
        for line in instructions(stage, "COPY"):
            sources = line.split()[1:-1]
            for source in sources:
                assert (REPO / source).exists(), f"{name}: COPY {source} is not in the repository"
    assert os.access(REPO / "deploy/icecast/entrypoint.sh", os.X_OK)
    ignored = (REPO / ".dockerignore").read_text().split()
    assert ".env" in ignored and ".venv" in ignored  # secrets and the venv stay out of the build context


def test_compose_wires_every_service(compose, stages):
    services = compose["services"]
    assert set(services) == SERVICES
    for name in ("radio", "worker", "icecast"):
        assert services[name]["build"]["target"] in stages and services[name]["build"]["target"] == name
    for name, service in services.items():
        for needed, how in (service.get("depends_on") or {}).items():
            assert needed in services, f"{name} depends on a service that does not exist: {needed}"
            if how["condition"] == "service_healthy":
                assert services[needed].get("healthcheck"), f"{name} waits for {needed} to be healthy, it has no check"
    assert services["radio"]["depends_on"]["createbucket"]["condition"] == "service_completed_successfully"
    assert services["worker"]["depends_on"]["mongodb"]["condition"] == "service_healthy"


def test_radio_and_worker_share_the_catalog_and_the_store(compose):
    radio, worker = compose["services"]["radio"]["environment"], compose["services"]["worker"]["environment"]
    shared = {k: v for k, v in radio.items() if k.startswith(("CONTINUO_MONGODB", "CONTINUO_S3", "AWS_"))}
    assert shared == {k: v for k, v in worker.items() if k.startswith(("CONTINUO_MONGODB", "CONTINUO_S3", "AWS_"))}
    assert radio["CONTINUO_TRAIN_ON"] == "workers"
    assert re.match(r"mongodb://continuo:\$\{MONGO_PASSWORD:\?[^}]+\}@mongodb:27017/continuo\?authSource=admin$",
                    radio["CONTINUO_MONGODB_URI"])
    assert radio["CONTINUO_S3_ENDPOINT_URL"] == "http://minio:9000"
    minio = compose["services"]["minio"]["environment"]
    assert radio["AWS_ACCESS_KEY_ID"] == minio["MINIO_ROOT_USER"]
    assert radio["AWS_SECRET_ACCESS_KEY"] == minio["MINIO_ROOT_PASSWORD"]
    mongo = compose["services"]["mongodb"]["environment"]
    assert "${MONGO_PASSWORD:?" in mongo["MONGO_INITDB_ROOT_PASSWORD"] and mongo["MONGO_INITDB_ROOT_USERNAME"] == "continuo"
    bucket = compose["services"]["createbucket"]
    assert bucket["environment"]["CONTINUO_S3_BUCKET"] == radio["CONTINUO_S3_BUCKET"]
    assert "mc mb --ignore-existing" in bucket["command"][0]
    icecast = compose["services"]["icecast"]["environment"]
    source = re.search(r"\$\{ICECAST_SOURCE_PASSWORD[^}]*\}", radio["CONTINUO_ICECAST_URL"]).group(0)
    assert icecast["ICECAST_SOURCE_PASSWORD"] == source
    assert radio["CONTINUO_ICECAST_URL"].startswith("icecast://source:") and radio["CONTINUO_ICECAST_URL"].endswith("@icecast:8000")


def test_every_variable_is_read_by_the_code_and_every_secret_is_documented(compose):
    text = (REPO / "compose.yaml").read_text()
    code = "\n".join(p.read_text() for p in (REPO / "radio").rglob("*.py"))
    for name in set(re.findall(r"\b(CONTINUO_[A-Z0-9_]+)\b", text)):
        assert f'"{name}"' in code, f"compose.yaml sets {name}, which no code reads"
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", text))
    documented = {line.split("=")[0] for line in (REPO / ".env.example").read_text().splitlines()
                  if line and not line.startswith("#")}
    assert required and required <= documented, required - documented
    readme = (REPO / "README.md").read_text()
    for name in ("CONTINUO_MONGODB_URI", "CONTINUO_S3_BUCKET", "CONTINUO_S3_ENDPOINT_URL", "CONTINUO_S3_PREFIX",
                 "CONTINUO_TRAIN_ON", "CONTINUO_TEST_MONGODB_URI"):
        assert name in readme, f"the README does not mention {name}"


@pytest.mark.skipif(shutil.which("icecast2") is None or shutil.which("envsubst") is None,
                    reason="icecast2 and envsubst (gettext-base) are needed: make system-deps")
def test_the_icecast_stage_config_runs_on_the_real_icecast(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    work = Path(tempfile.mkdtemp(prefix="continuo-icecast-deploy-"))  # icecast runs as nobody here
    os.chmod(work, 0o777)
    env = {**os.environ, "ICECAST_SOURCE_PASSWORD": "src-pw", "ICECAST_ADMIN_PASSWORD": "admin-pw",
           "ICECAST_PORT": str(port), "ICECAST_BIND_ADDRESS": "127.0.0.1", "ICECAST_CONFIG": str(work / "icecast.xml")}
    cmd = ["sh", str(REPO / "deploy/icecast/entrypoint.sh")]
    if os.geteuid() == 0:  # as in the image: never as root
        cmd = ["runuser", "-u", "nobody", "--", *cmd]
    missing = subprocess.run(cmd, env={k: v for k, v in env.items() if k != "ICECAST_SOURCE_PASSWORD"},
                             capture_output=True, text=True, timeout=10)
    assert missing.returncode != 0 and "ICECAST_SOURCE_PASSWORD" in missing.stderr
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{port}/admin/stats")
                request.add_header("Authorization", "Basic YWRtaW46YWRtaW4tcHc=")  # admin:admin-pw
                with urllib.request.urlopen(request, timeout=1) as r:
                    assert r.status == 200 and b"icestats" in r.read()
                break
            except OSError:
                assert time.monotonic() < deadline, "icecast2 did not start with the rendered config"
                time.sleep(0.1)
        rendered = (work / "icecast.xml").read_text()
        assert "${" not in rendered and "<source-password>src-pw</source-password>" in rendered
        assert int(re.search(r"<sources>(\d+)</sources>", rendered).group(1)) >= 5  # one mount per style
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)
