"""Read-only SQL: parameters are bound, writes and file access are refused."""

from __future__ import annotations

import pytest

from tasks.errors import ConfigError
from tasks.lake import Lake
from tasks.query import run_query


@pytest.fixture
def lake_with_quarantine(settings):
    with Lake(settings) as lake:
        lake.quarantine([{"object": "a.nc", "stage": "read", "reason": "a.nc: truncated", "source_checksum": None,
                          "source_kind": "argo", "run_id": "r"}])
    return settings


def test_query_binds_parameters(lake_with_quarantine):
    out = run_query(lake_with_quarantine, "SELECT reason FROM quarantine WHERE object = $obj", {"obj": "a.nc"})
    assert out.column("reason").to_pylist() == ["a.nc: truncated"]
    # an injection attempt is only a value that matches nothing
    out = run_query(lake_with_quarantine, "SELECT count(*) AS n FROM quarantine WHERE object = $obj",
                    {"obj": "x' OR '1'='1"})
    assert out.column("n").to_pylist() == [0]


@pytest.mark.parametrize("statement", [
    "INSERT INTO quarantine (object) VALUES ('x')",
    "DELETE FROM quarantine",
    "DROP TABLE quarantine",
    "CREATE TABLE t AS SELECT 1",
])
def test_writes_are_refused(lake_with_quarantine, statement):
    with pytest.raises(Exception, match="read-only|read only|READ_ONLY"):
        run_query(lake_with_quarantine, statement)
    assert run_query(lake_with_quarantine, "SELECT count(*) AS n FROM quarantine").column("n").to_pylist() == [1]


def test_local_files_outside_the_lake_are_refused(lake_with_quarantine, tmp_path):
    with pytest.raises(Exception, match="disabled by configuration|Permission"):
        run_query(lake_with_quarantine, "SELECT * FROM read_csv('/etc/passwd')")
    with pytest.raises(Exception, match="disabled by configuration|Permission|lock"):
        run_query(lake_with_quarantine, f"COPY quarantine TO '{tmp_path}/out.csv'")
    assert not (tmp_path / "out.csv").exists()


def test_missing_lake_is_a_clear_error(settings):
    with pytest.raises(ConfigError, match="ingest something first"):
        run_query(settings, "SELECT 1")
