"""A real S3 API server for the tests: moto in server mode, in its own process, on loopback.

It speaks HTTP like AWS or MinIO, so the S3 backend is tested through boto3, botocore and a
socket, not through a patched client. Stopping the process is a real outage."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

# moto accepts any credentials; boto3 must find some (and no real ones must leak in).
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "continuo-test",
    "AWS_SECRET_ACCESS_KEY": "continuo-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}
START_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MotoServer:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "MotoServer":
        env = {**os.environ, **CREDENTIALS}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the moto server exited with code {self.proc.returncode}")
            try:
                urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the moto server did not answer on {self.endpoint} within {START_SECONDS:g} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def create_bucket(self, name: str | None = None) -> str:
        import boto3

        name = name or f"continuo-{uuid.uuid4().hex[:12]}"
        client = boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                              aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                              aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
        client.create_bucket(Bucket=name)
        return name

    def env(self, bucket: str, prefix: str = "") -> dict[str, str]:
        """The environment that points a continuo process at this server's ``bucket``."""
        env = {**CREDENTIALS, "CONTINUO_S3_BUCKET": bucket, "CONTINUO_S3_ENDPOINT_URL": self.endpoint}
        if prefix:
            env["CONTINUO_S3_PREFIX"] = prefix
        return env
