"""Lake I/O: DuckLake tables written in transactions, with retries on transient catalog errors.

A file's rows, its ``ingested_files`` row and the quarantine rows of its rejected objects are
committed together or not at all; a crash mid-write leaves nothing visible (DuckLake commits
are atomic snapshots).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import random
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TypeVar

import duckdb
import pyarrow as pa

import lake_schema
from tasks.config import Settings
from tasks.duck import attach_lake, lake_connection, release_connection
from tasks.errors import TransientError

log = logging.getLogger(__name__)
T = TypeVar("T")

# Lock contention, write conflicts and network/service hiccups; not "s3"/"http" in general, which
# would also retry permission and not-found errors.
_TRANSIENT_MARKERS = ("database is locked", "conflict", "busy", "could not commit", "connection", "could not connect",
                      "timeout", "timed out", "slow down", "service unavailable", "502", "503", "504")


#: Network failures of the object-store clients (s3fs/aiobotocore, Icechunk) when the endpoint is
#: unreachable or overloaded; matched in the text of their exceptions.
_NETWORK_MARKERS = ("could not connect to the endpoint", "connection refused", "connect timeout",
                    "connection reset", "dispatch failure", "io error", "timed out", "slow down",
                    "service unavailable", "serviceunavailable", "internalerror", "503", "502", "504")
#: Failures named in messages that are not about the input itself (see :func:`looks_transient`).
_MESSAGE_MARKERS = ("could not connect to the endpoint", "connection refused", "connection reset",
                    "connection error", "connect timeout", "timed out", "dispatch failure", "service unavailable",
                    "slow down", "database is locked", "http 503", "http 502", "http 504")
#: Modules whose exceptions are network/store errors worth classifying by text.
_IO_MODULES = ("botocore", "aiobotocore", "s3fs", "aiohttp", "icechunk", "urllib3", "requests", "fsspec")


def is_transient(exc: BaseException) -> bool:
    """True for errors worth retrying the whole transaction or task (lock, write conflict, network).

    DuckDB errors are classified by their text (lock, conflict, connection, timeouts); so are the
    errors of the object-store clients (endpoint unreachable, 5xx, throttling). Connection and
    timeout builtins are transient; an error caused by a transient one is too.
    """
    if isinstance(exc, TransientError | ConnectionError | TimeoutError):
        return True
    text = str(exc).lower()
    if isinstance(exc, duckdb.Error):
        return any(marker in text for marker in _TRANSIENT_MARKERS) and "constraint" not in text
    module = type(exc).__module__.split(".", 1)[0]
    if module in _IO_MODULES and any(marker in text for marker in _NETWORK_MARKERS):
        return True
    cause = exc.__cause__ or exc.__context__
    return cause is not None and cause is not exc and is_transient(cause)


def looks_transient(message: str) -> bool:
    """True when an error message (e.g. a quarantine reason) names a network or lock failure, not bad input."""
    text = message.lower()
    return any(marker in text for marker in _MESSAGE_MARKERS)


def utc_now() -> datetime:
    """Current UTC time as a naive datetime (the lake stores UTC TIMESTAMPs)."""
    return datetime.now(UTC).replace(tzinfo=None)


def conform(table_name: str, rows: pa.Table, **constants) -> pa.Table:
    """Cast ``rows`` to the lake schema of ``table_name``, filling missing columns from ``constants``.

    Raises:
        ValueError: when ``rows`` has a column the table does not define, or lacks one that no
            constant provides.
    """
    spec = lake_schema.table(table_name)
    extra = set(rows.column_names) - set(spec.column_names)
    if extra:
        raise ValueError(f"{table_name}: unexpected columns {sorted(extra)}")
    schema = spec.arrow_schema()
    arrays = []
    for fld in schema:
        if fld.name in rows.column_names:
            arrays.append(rows.column(fld.name).cast(fld.type))
        elif fld.name in constants:
            arrays.append(pa.repeat(pa.scalar(constants[fld.name], type=fld.type), rows.num_rows))
        else:
            raise ValueError(f"{table_name}: column {fld.name!r} missing")
    return pa.Table.from_arrays(arrays, schema=schema)


def backoff_s(attempt: int) -> float:
    """Seconds to wait before retry ``attempt + 1`` of a transient failure: 0.05 s doubling up to 5 s, ±50 %."""
    return min(5.0, 0.05 * 2**attempt) * (0.5 + random.random())


class Lake:
    """A read-write session on the lake (one DuckDB connection with the DuckLake attached)."""

    def __init__(self, settings: Settings, retries: int = 8):
        """Open the lake, creating the catalog, tables and views on first use.

        The DuckDB instance comes from :func:`tasks.duck.lake_connection`: a later session in the
        same process reuses it (extensions already loaded) once this one is closed.
        """
        self.settings = settings
        self.retries = retries
        self.con = lake_connection(settings)
        self._stale = False
        self._cursors = False  # cursors share the DuckDB instance: it is then closed, not reused
        try:
            self._with_retries(lambda: attach_lake(self.con, settings))
            self._with_retries(self.ensure_schema)
        except BaseException:
            self.con.close()
            raise

    def _reconnect(self) -> None:
        """Replace the connection before retrying a failed transaction.

        A commit that failed on a locked SQLite catalog can leave that connection's catalog
        transaction open, holding its lock: two writers then wait for each other until their
        retries run out. A fresh connection releases it.
        """
        with contextlib.suppress(duckdb.Error):
            self.con.close()
        self.con = lake_connection(self.settings)
        attach_lake(self.con, self.settings)
        self._stale = False

    # -- lifecycle ------------------------------------------------------------------------------
    def close(self) -> None:
        """End the session: detach the lake (the DuckDB instance is kept for the next session) or close."""
        if self._cursors or self._stale:  # shared, or possibly holding a catalog lock (see _reconnect)
            self.con.close()
        else:
            release_connection(self.con, self.settings)

    def __enter__(self) -> Lake:
        """Context manager entry."""
        return self

    def __exit__(self, *exc) -> None:
        """Close on exit."""
        self.close()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new cursor on the lake (for another thread), with the lake as default database."""
        self._cursors = True
        cur = self.con.cursor()
        cur.execute("USE lake")
        return cur

    # -- schema -----------------------------------------------------------------------------------
    def ensure_schema(self) -> None:
        """Create missing tables (partitioning, sort order) and create/refresh the SQL views, in one commit.

        Table options (Parquet row-group size) need a committed table: they go in a second commit.
        """
        found = self.con.execute(  # one catalog query: each costs a DuckLake snapshot look-up
            "SELECT 'table', table_name, NULL FROM duckdb_tables() WHERE database_name = 'lake' UNION ALL "
            "SELECT 'view', view_name, comment FROM duckdb_views() WHERE database_name = 'lake' AND NOT internal"
        ).fetchall()
        existing = {name for kind, name, _ in found if kind == "table"}
        view_tags = {name: tag for kind, name, tag in found if kind == "view"}
        todo, options = [], []
        for name, spec in lake_schema.tables().items():
            if name not in existing:
                todo.append(spec.create_sql(name))
                if spec.partition_by:
                    todo.append(f"ALTER TABLE {name} SET PARTITIONED BY ({', '.join(spec.partition_by)})")
                if spec.sorted_by:  # files sorted for pruning by min/max statistics on common filters
                    todo.append(f"ALTER TABLE {name} SET SORTED BY ({', '.join(spec.sorted_by)})")
                if spec.row_group_size:  # table options apply to committed tables: a second commit
                    options.append(f"CALL lake.set_option('parquet_row_group_size', {int(spec.row_group_size)}, "
                                   f"table_name => '{name}')")
        for name, sql in lake_schema.views().items():
            tag = "oceanlake:" + hashlib.sha256(sql.encode()).hexdigest()[:16]
            if view_tags.get(name) != tag:
                todo.append(f"CREATE OR REPLACE VIEW {name} AS\n{sql.strip().rstrip(';')}")
                todo.append(f"COMMENT ON VIEW {name} IS '{tag}'")
        if todo:
            self.transaction(lambda con: [con.execute(s) for s in todo])
        if options:
            self.transaction(lambda con: [con.execute(s) for s in options])

    # -- transactions ---------------------------------------------------------------------------
    def _with_retries(self, fn: Callable[[], T]) -> T:
        for attempt in range(self.retries + 1):
            try:
                return fn()
            except Exception as exc:  # noqa: BLE001 - classified below
                if attempt == self.retries or not is_transient(exc):
                    raise
                delay = backoff_s(attempt)
                log.warning("transient lake error (%s); retry %d/%d in %.2fs", exc, attempt + 1, self.retries, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")

    def transaction(self, body: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """Run ``body(con)`` in one transaction, retrying the whole transaction on transient errors."""

        def attempt() -> T:
            if self._stale:
                self._reconnect()
            self.con.execute("BEGIN TRANSACTION")
            try:
                result = body(self.con)
                _test_commit_hook(self.settings)
                self.con.execute("COMMIT")
                return result
            except BaseException as exc:
                try:
                    self.con.execute("ROLLBACK")
                except duckdb.Error:
                    pass
                self._stale = is_transient(exc)
                raise

        return self._with_retries(attempt)

    # -- writes (call inside transaction bodies) ------------------------------------------------------
    @staticmethod
    def insert(con: duckdb.DuckDBPyConnection, table_name: str, rows: pa.Table) -> int:
        """Append rows (already conformed) to a table; returns the row count."""
        if rows.num_rows == 0:
            return 0
        con.register("_oceanlake_rows", rows)
        try:
            con.execute(f"INSERT INTO {table_name} SELECT * FROM _oceanlake_rows")
        finally:
            con.unregister("_oceanlake_rows")
        return rows.num_rows

    @staticmethod
    def delete_keys(con: duckdb.DuckDBPyConnection, table_name: str, keys: pa.Table) -> None:
        """Delete the rows of ``table_name`` whose natural key is in ``keys`` (NULL-safe match)."""
        if keys.num_rows == 0:
            return
        cond = " AND ".join(f't."{c}" IS NOT DISTINCT FROM k."{c}"' for c in keys.column_names)
        con.register("_oceanlake_keys", keys)
        try:
            con.execute(f"DELETE FROM {table_name} AS t "
                        f"USING (SELECT DISTINCT * FROM _oceanlake_keys) AS k WHERE {cond}")
        finally:
            con.unregister("_oceanlake_keys")

    @staticmethod
    def any_key_exists(con: duckdb.DuckDBPyConnection, table_name: str, keys: pa.Table) -> bool:
        """Whether any of ``keys`` is already in ``table_name``."""
        if keys.num_rows == 0:
            return False
        cond = " AND ".join(f't."{c}" IS NOT DISTINCT FROM k."{c}"' for c in keys.column_names)
        con.register("_oceanlake_keys", keys)
        try:
            return bool(con.execute(
                f"SELECT EXISTS (SELECT 1 FROM {table_name} AS t JOIN _oceanlake_keys AS k ON {cond})").fetchone()[0])
        finally:
            con.unregister("_oceanlake_keys")

    def upsert(self, con: duckdb.DuckDBPyConnection, tables: dict[str, pa.Table]) -> dict[str, int]:
        """Insert conformed tables, first replacing rows that share their natural key.

        Tables with the same key columns (e.g. ``argo_profiles`` and ``argo_measurements``) are
        replaced together: the existence check runs on the first one only.
        """
        replace_decision: dict[tuple[str, ...], bool] = {}
        written = {}
        for name, rows in tables.items():
            key = lake_schema.table(name).key
            if key and rows.num_rows:
                keys = rows.select(list(key))
                if key not in replace_decision:
                    replace_decision[key] = self.any_key_exists(con, name, keys)
                if replace_decision[key]:
                    self.delete_keys(con, name, keys)
            written[name] = self.insert(con, name, rows)
        return written

    def quarantine(self, entries: Iterable[dict], con: duckdb.DuckDBPyConnection | None = None) -> int:
        """Record rejected objects (dicts with object, stage, reason, source_checksum, source_kind, run_id).

        An entry already recorded with the same object, checksum, stage and reason is not repeated,
        so re-running on a bad file does not grow the table.
        """
        rows = [dict(e, detected_at=e.get("detected_at") or utc_now()) for e in entries]
        if not rows:
            return 0
        table = conform("quarantine", pa.Table.from_pylist(rows, schema=_quarantine_input_schema()))

        def body(c: duckdb.DuckDBPyConnection) -> int:
            c.register("_oceanlake_q", table)
            try:
                new = c.execute(
                    "SELECT q.* FROM _oceanlake_q q WHERE NOT EXISTS (SELECT 1 FROM quarantine o "
                    "WHERE o.object = q.object AND o.stage = q.stage AND o.reason = q.reason "
                    "AND o.source_checksum IS NOT DISTINCT FROM q.source_checksum)").arrow().read_all()
            finally:
                c.unregister("_oceanlake_q")
            return self.insert(c, "quarantine", new)

        return body(con) if con is not None else self.transaction(body)

    # -- reads ---------------------------------------------------------------------------------------
    def known_checksums(self, checksums: Iterable[str]) -> set[str]:
        """The subset of ``checksums`` already recorded in ``ingested_files``."""
        return known_checksums(self.con, checksums)

    def snapshot_id(self) -> int:
        """Current DuckLake snapshot id (for provenance and time travel)."""
        return int(self.con.execute("SELECT id FROM lake.current_snapshot()").fetchone()[0])

    def count(self, table_name: str) -> int:
        """Row count of a table or view."""
        lake_schema.table(table_name)  # validates the name
        return int(self.con.execute(f"SELECT count(*) FROM {table_name}").fetchone()[0])


_commits_in_process = 0


def _test_commit_hook(settings: Settings) -> None:
    """Test-only fault hook (``OCEANLAKE_TEST_COMMIT_DELAY=SECONDS[@N]``): sleep before a COMMIT.

    The fault tests kill the process while it sleeps here, inside an open transaction, to check
    that nothing of the transaction becomes visible and that the next run completes the work.
    """
    global _commits_in_process
    if settings.test_commit_delay is None:
        return
    _commits_in_process += 1
    seconds, nth = settings.test_commit_delay
    if nth is None or nth == _commits_in_process:
        log.warning("TEST HOOK: commit #%d pending, sleeping %.1f s before COMMIT", _commits_in_process, seconds)
        time.sleep(seconds)


def known_checksums(con: duckdb.DuckDBPyConnection, checksums: Iterable[str]) -> set[str]:
    """The subset of ``checksums`` already recorded in ``ingested_files`` (``con``: a lake connection or cursor)."""
    wanted = list(set(checksums))
    if not wanted:
        return set()
    rows = con.execute("SELECT source_checksum FROM ingested_files WHERE source_checksum IN (SELECT unnest($1))",
                       [wanted]).fetchall()
    return {r[0] for r in rows}


def _quarantine_input_schema() -> pa.Schema:
    return pa.schema([pa.field(f.name, f.type) for f in lake_schema.table("quarantine").arrow_schema()])
