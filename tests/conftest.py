"""Shared fixtures: real-data folder, isolated lake settings, Prefect test harness."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REALDATA = (REPO / ".." / "shared" / "realdata").resolve()

# Keep every run self-contained: no analytics, Prefect state in a temp home.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


@pytest.fixture(scope="session")
def realdata() -> Path:
    """The shared real-data folder; skips the test when it is absent (a user's fresh clone)."""
    if not REALDATA.is_dir():
        pytest.skip(f"real data folder {REALDATA} is absent (it sits beside the repo in CI and dev machines)")
    return REALDATA


@pytest.fixture
def settings(tmp_path, monkeypatch):
    """Settings of an empty local lake in a temp folder (cache in the temp folder too)."""
    from tasks.config import load_settings

    monkeypatch.setenv("OCEANLAKE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("OCEANLAKE_LAKE", raising=False)
    monkeypatch.delenv("OCEANLAKE_CATALOG", raising=False)
    return load_settings(lake=str(tmp_path / "lake"))


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory):
    """A session-wide ephemeral Prefect API (only for tests that run flows)."""
    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tcp_port() -> int:
    """A free TCP port on 127.0.0.1 for a server started by a test module."""
    return free_port()


@pytest.fixture(scope="session")
def s3_endpoint():
    """A real HTTP S3 endpoint: a moto server on 127.0.0.1 (random port)."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_settings(s3_endpoint, tmp_path, monkeypatch):
    """Settings of an empty lake in a fresh bucket of the moto server, plus an s3fs filesystem and the bucket."""
    import s3fs

    from tasks.config import load_settings

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret")
    monkeypatch.setenv("OCEANLAKE_S3_ENDPOINT", s3_endpoint)
    monkeypatch.setenv("OCEANLAKE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("OCEANLAKE_CATALOG", raising=False)
    fs = s3fs.S3FileSystem(key="testing", secret="testing-secret", client_kwargs={"endpoint_url": s3_endpoint})
    bucket = "lake-" + re.sub(r"[^a-z0-9-]", "-", tmp_path.name.lower())[-40:].strip("-")
    fs.mkdir(bucket)
    return load_settings(lake=f"s3://{bucket}/oceanlake"), fs, bucket
