"""Shared fixtures: real-data folder, isolated lake settings, Prefect test harness."""

from __future__ import annotations

import os
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
