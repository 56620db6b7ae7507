"""Read-only SQL over the lake: the tables and views of ``lake_schema``, nothing writable."""

from __future__ import annotations

import time

import duckdb
import pyarrow as pa

from tasks.config import Settings
from tasks.duck import attach_lake, new_connection
from tasks.lake import backoff_s, is_transient


def connect_readonly(settings: Settings, retries: int = 8) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the lake attached READ_ONLY and file access limited to the lake.

    Users' SQL can read every table and view but cannot write to the lake, read or write other
    local files, or change the configuration. Attaching is retried ``retries`` times with backoff
    while the catalog is busy (a SQLite catalog is locked while another process or thread commits).
    """
    for attempt in range(retries + 1):
        con = new_connection(settings)
        try:
            attach_lake(con, settings, read_only=True)
            break
        except duckdb.Error as exc:
            con.close()
            if attempt == retries or not is_transient(exc):
                raise
            time.sleep(backoff_s(attempt))
    data_path = settings.lake_path("tables") + "/"
    con.execute("SET allowed_directories = [?]", [data_path])
    if not settings.is_s3:
        con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def run_query(settings: Settings, sql: str, params: dict[str, object] | None = None) -> pa.Table:
    """Run one query on a read-only connection; ``params`` bind ``$name`` placeholders (never formatted in)."""
    con = connect_readonly(settings)
    try:
        result = con.execute(sql, params or None)
        if result.description is None:
            return pa.table({})
        return result.arrow().read_all()
    finally:
        con.close()
