"""A DuckLake catalog on a real PostgreSQL server (started here on 127.0.0.1; skipped without initdb)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tasks.config import load_settings
from tasks.ingest import ingest_insitu
from tasks.query import run_query


def _pg_bin(name: str) -> str | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    return shutil.which(name)


@pytest.fixture(scope="module")
def postgres(tcp_port):
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL server binaries not installed (Debian package postgresql)")
    base = Path(tempfile.mkdtemp(prefix="oceanlake-pg-"))  # under /tmp: reachable by the postgres user
    data = base / "data"
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL")
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(base, "postgres")
    subprocess.run([*as_user, initdb, "-D", str(data), "-A", "trust", "-U", "oceanlake"], check=True,
                   capture_output=True)
    port = tcp_port
    subprocess.run([*as_user, pg_ctl, "-D", str(data), "-l", str(base / "log"), "-w", "-o",
                    f"-p {port} -k {base} -c listen_addresses=127.0.0.1", "start"], check=True, capture_output=True)
    try:
        for _ in range(50):
            ready = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "oceanlake", "-d", "postgres",
                                    "-c", "CREATE DATABASE lake"], capture_output=True)
            if ready.returncode == 0:
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"PostgreSQL did not start: {ready.stderr.decode()}")
        yield f"postgres:dbname=lake host=127.0.0.1 port={port} user=oceanlake"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def test_ingest_and_query_with_postgres_catalog(realdata, postgres, tmp_path, monkeypatch):
    monkeypatch.setenv("OCEANLAKE_CACHE", str(tmp_path / "cache"))
    settings = load_settings(lake=str(tmp_path / "lake"), catalog=postgres)
    summary = ingest_insitu("argo", [str(realdata / "argo" / "SR6903247_001.nc"),
                                     str(realdata / "argo" / "SR6903247_002.nc")], settings)
    assert summary.files_ingested == 2
    assert not (tmp_path / "lake" / "catalog.sqlite").exists()  # the catalog is in PostgreSQL
    rows = run_query(settings, "SELECT cycle_number FROM argo_profiles ORDER BY 1").column("cycle_number")
    assert rows.to_pylist() == [1, 2]
    # a second machine with the same catalog and data path sees the same lake, and skips known files
    other = load_settings(lake=str(tmp_path / "lake"), catalog=postgres)
    again = ingest_insitu("argo", [str(realdata / "argo" / "SR6903247_001.nc")], other)
    assert again.files_skipped == 1
