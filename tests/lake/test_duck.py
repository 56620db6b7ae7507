"""Lake sessions reuse DuckDB instances (extensions loaded once per process) without sharing a lake."""

from __future__ import annotations

import dataclasses

import pyarrow as pa
import pytest

import lake_schema
from tasks import duck
from tasks.config import load_settings
from tasks.lake import Lake


@pytest.fixture
def two_lakes(settings, tmp_path):
    return settings, load_settings(lake=str(tmp_path / "other"))


def _quarantine_row(name: str) -> dict:
    return {"object": name, "stage": "read", "reason": "test", "source_checksum": None, "source_kind": "test",
            "run_id": "r"}


def test_next_session_reuses_the_instance_with_only_its_own_lake(two_lakes):
    first, second = two_lakes
    with Lake(first) as lake:
        lake.quarantine([_quarantine_row("a.nc")])
        con = lake.con
    assert con.execute("SELECT database_name FROM duckdb_databases() WHERE NOT internal").fetchall() == [("memory",)]
    with Lake(second) as lake:
        assert lake.con is con  # extensions not loaded again
        assert lake.count("quarantine") == 0
        lake.quarantine([_quarantine_row("b.nc"), _quarantine_row("c.nc")])
    with Lake(first) as lake:
        assert lake.count("quarantine") == 1


def test_reopening_still_applies_schema_changes(settings):
    view = next(iter(lake_schema.views()))
    with Lake(settings) as lake:
        lake.transaction(lambda con: con.execute(f"DROP VIEW {view}"))
    with Lake(settings) as lake:  # a reused instance still checks the schema
        views = {r[0] for r in lake.con.execute(
            "SELECT view_name FROM duckdb_views() WHERE database_name = 'lake' AND NOT internal").fetchall()}
        assert view in views
        tables = {r[0] for r in lake.con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'lake'").fetchall()}
        assert tables == set(lake_schema.tables())


def test_session_left_in_a_transaction_is_not_reused(settings):
    lake = Lake(settings)
    con = lake.con
    con.execute("BEGIN TRANSACTION")
    lake.close()
    with Lake(settings) as again:
        assert again.con is not con
        assert again.count("quarantine") == 0


def test_sessions_with_cursors_or_different_settings_get_their_own_instance(settings):
    with Lake(settings) as lake:
        lake.cursor().close()
        con = lake.con
    with Lake(settings) as lake:
        assert lake.con is not con
        con = lake.con
    threaded = dataclasses.replace(settings, threads=1)
    with Lake(threaded) as lake:
        assert lake.con is not con
        assert lake.con.execute("SELECT current_setting('threads')").fetchone()[0] == 1


def test_pool_keeps_few_instances(settings):
    lakes = [Lake(settings) for _ in range(duck.MAX_IDLE + 2)]
    for lake in lakes:
        lake.close()
    assert len(duck._idle[duck._connection_kind(settings)]) <= duck.MAX_IDLE


def test_rows_written_through_a_reused_instance_are_in_the_right_lake(two_lakes):
    first, second = two_lakes
    rows = pa.Table.from_pylist([_quarantine_row("x.nc")])
    for target in (first, second, first):
        with Lake(target) as lake:
            lake.quarantine(rows.to_pylist())
    with Lake(first) as lake:
        assert lake.count("quarantine") == 1  # deduplicated: the same entry twice
    with Lake(second) as lake:
        assert lake.count("quarantine") == 1
