"""A SQLite catalog shared by readers and concurrent writers never stays locked.

DuckDB's SQLite scanner (1.5.5) keeps a catalog connection whose COMMIT failed with "database is
locked" open with its lock until the process exits; in the default rollback-journal mode an open
reader makes a writer's COMMIT fail that way, and every later attach then failed or waited forever
(the concurrent backfill test hung on it). Lakes therefore keep SQLite catalogs in WAL mode.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from tasks import duck
from tasks.duck import attach_lake, new_connection
from tasks.lake import Lake
from tasks.query import connect_readonly

pytestmark = pytest.mark.timeout(300)


def _row(name: str) -> dict:
    return {"object": name, "stage": "read", "reason": "test", "source_checksum": None, "source_kind": "test",
            "run_id": "locking"}


def _catalog(settings) -> Path:
    kind, target = settings.catalog.split(":", 1)
    if kind != "sqlite":
        pytest.skip(f"this test is about SQLite catalogs; the settings use {kind}")
    return Path(target)


def _journal_mode(catalog: Path) -> str:
    """The catalog's journal mode, read with Python's sqlite3 (no DuckDB connection has the file open here)."""
    with contextlib.closing(sqlite3.connect(catalog)) as con:
        return con.execute("PRAGMA journal_mode").fetchone()[0]


def test_a_new_catalog_is_in_wal_mode(settings):
    with Lake(settings):
        pass
    assert _journal_mode(_catalog(settings)) == "wal"


def test_an_existing_rollback_journal_catalog_is_switched_to_wal(settings):
    with Lake(settings) as lake:
        lake.quarantine([_row("before.nc")])
    catalog = _catalog(settings)
    with contextlib.closing(sqlite3.connect(catalog)) as con:  # made by an older oceanlake or another client
        con.execute("PRAGMA journal_mode=DELETE")
    duck._wal_checked.clear()  # as in a new process (the check runs once per process and file)
    with Lake(settings) as lake:
        assert lake.count("quarantine") == 1
    assert _journal_mode(catalog) == "wal"


def test_a_catalog_deleted_in_a_running_process_is_created_again_in_wal_mode(settings):
    with Lake(settings) as lake:
        lake.quarantine([_row("old.nc")])
    catalog = _catalog(settings)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{catalog}{suffix}").unlink(missing_ok=True)  # the lake deleted while the worker runs
    with Lake(settings) as lake:
        assert lake.count("quarantine") == 0
    assert _journal_mode(catalog) == "wal"


def test_a_commit_during_an_open_read_leaves_the_lake_usable(settings):
    with Lake(settings) as lake:
        lake.quarantine([_row("first.nc")])
    reader = connect_readonly(settings)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 1  # holds the catalog open
    with Lake(settings, retries=2) as lake:
        lake.quarantine([_row("during-read.nc")])  # rollback-journal mode: "database is locked" at COMMIT
    reader.execute("COMMIT")
    reader.close()
    con = new_connection(settings)  # before WAL: this attach failed, the catalog locked for good
    try:
        attach_lake(con, settings)
        assert con.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 2
    finally:
        con.close()


def test_threads_writing_and_reading_at_once_all_succeed(settings):
    with Lake(settings):
        pass
    seconds, writers, readers = 8.0, 3, 2
    stop = time.monotonic() + seconds
    written: list[str] = []
    reads: list[int] = []
    errors: list[BaseException] = []

    def write(i: int) -> None:
        n = 0
        while time.monotonic() < stop:
            try:
                with Lake(settings) as lake:
                    lake.quarantine([_row(f"w{i}-{n}.nc")])
                written.append(f"w{i}-{n}.nc")
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)
            n += 1

    def read() -> None:
        while time.monotonic() < stop:
            try:
                con = connect_readonly(settings)
                reads.append(con.execute("SELECT count(*) FROM quarantine").fetchone()[0])
                con.close()
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,), daemon=True) for i in range(writers)]
    threads += [threading.Thread(target=read, daemon=True) for _ in range(readers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    assert not any(thread.is_alive() for thread in threads), "a lake session hung on a locked catalog"
    assert errors == []
    assert len(written) >= writers and reads
    with Lake(settings) as lake:
        objects = {r[0] for r in lake.con.execute("SELECT object FROM quarantine").fetchall()}
    assert objects == set(written)
