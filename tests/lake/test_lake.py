"""Lake I/O: schema creation, transactions (rollback leaves nothing), upsert by key, quarantine dedup."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

import lake_schema
from tasks.errors import TransientError
from tasks.lake import Lake, conform, is_transient, utc_now


def _profiles(cycles, value=1.0, checksum="c1"):
    n = len(cycles)
    return _fill("argo_profiles", {
        "platform_number": ["6903247"] * n, "cycle_number": cycles, "direction": ["A"] * n,
        "profile_index": [0] * n, "file_kind": ["bgc-s"] * n, "chla_surface": [value] * n,
        "source_checksum": [checksum] * n})


def _fill(table_name, columns):
    spec = lake_schema.table(table_name)
    n = len(next(iter(columns.values())))
    data = {c: columns.get(c, [None] * n) for c in spec.column_names}
    return pa.Table.from_pydict(data, schema=spec.arrow_schema())


def test_schema_created_with_all_tables_and_views(settings):
    with Lake(settings) as lake:
        tables = {r[0] for r in lake.con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name='lake'").fetchall()}
        views = {r[0] for r in lake.con.execute(
            "SELECT view_name FROM duckdb_views() WHERE database_name='lake' AND NOT internal").fetchall()}
        first = lake.snapshot_id()
    assert tables == set(lake_schema.tables())
    assert views == set(lake_schema.views())
    with Lake(settings) as lake:  # re-opening changes nothing (no new snapshot)
        assert lake.snapshot_id() == first


def test_rollback_leaves_no_partial_rows(settings):
    with Lake(settings) as lake:
        def body(con):
            lake.insert(con, "argo_profiles", _profiles([1, 2]))
            raise RuntimeError("crash in the middle of a write")

        with pytest.raises(RuntimeError):
            lake.transaction(body)
        assert lake.count("argo_profiles") == 0
        lake.transaction(lambda con: lake.insert(con, "argo_profiles", _profiles([1, 2])))
        assert lake.count("argo_profiles") == 2


def test_upsert_replaces_rows_with_same_key(settings):
    with Lake(settings) as lake:
        lake.transaction(lambda con: lake.upsert(con, {"argo_profiles": _profiles([1, 2], value=1.0)}))
        lake.transaction(lambda con: lake.upsert(con, {"argo_profiles": _profiles([2, 3], value=5.0, checksum="c2")}))
        rows = lake.con.execute("SELECT cycle_number, chla_surface, source_checksum FROM argo_profiles "
                                "ORDER BY 1").fetchall()
    assert rows == [(1, 1.0, "c1"), (2, 5.0, "c2"), (3, 5.0, "c2")]


def test_transient_errors_are_retried(settings):
    calls = []
    with Lake(settings, retries=3) as lake:
        def body(con):
            calls.append(1)
            if len(calls) < 3:
                raise TransientError("database is locked")
            return lake.insert(con, "argo_profiles", _profiles([7]))

        assert lake.transaction(body) == 1
        assert lake.count("argo_profiles") == 1
    assert len(calls) == 3


def test_is_transient_classification():
    assert is_transient(duckdb.IOException("database is locked"))
    assert is_transient(duckdb.TransactionException("Transaction conflict: cannot commit"))
    assert not is_transient(ValueError("bad latitude"))
    assert not is_transient(duckdb.ConstraintException("NOT NULL constraint failed"))
    assert is_transient(duckdb.IOException("HTTP GET error on 's3://b/x.parquet' (HTTP 503)"))
    assert not is_transient(duckdb.PermissionException("HTTP 403 on 's3://b/x.parquet': access denied"))


def test_quarantine_is_idempotent(settings):
    entry = {"object": "x.nc", "stage": "read", "reason": "x.nc: not NetCDF", "source_checksum": "abc",
             "source_kind": "argo", "run_id": "r1", "detected_at": utc_now()}
    with Lake(settings) as lake:
        assert lake.quarantine([entry]) == 1
        assert lake.quarantine([dict(entry, run_id="r2")]) == 0
        assert lake.quarantine([dict(entry, reason="other problem")]) == 1
        assert lake.count("quarantine") == 2


def test_conform_rejects_unknown_columns():
    with pytest.raises(ValueError, match="unexpected columns"):
        conform("quarantine", pa.table({"nonsense": [1]}))
    with pytest.raises(ValueError, match="missing"):
        conform("quarantine", pa.table({"object": ["x"]}))


def test_data_files_are_parquet_under_the_lake(settings):
    with Lake(settings) as lake:
        lake.transaction(lambda con: lake.insert(con, "argo_profiles", _profiles([1])))
    files = list(Path(settings.lake_path("tables")).rglob("*.parquet"))
    assert files, "DuckLake should write Parquet data files under <lake>/tables"
