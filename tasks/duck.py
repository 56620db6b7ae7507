"""DuckDB connections to the lake: extensions from wheel files, S3 secret, DuckLake catalog.

Extensions are loaded from the ``duckdb-extension-*`` wheels installed beside duckdb, never
``INSTALL``-ed from the network, so the lake works offline.

Loading an extension verifies its signature: DuckDB hashes the whole file (36 MB for DuckLake),
0.1-0.2 s per extension and per database instance. Lake sessions (:func:`lake_connection` /
:func:`release_connection`) therefore reuse the instances of this process's earlier sessions,
detached from their lake, instead of loading the extensions again.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import subprocess
import sys
import threading
from functools import cache
from pathlib import Path

import duckdb

from tasks.config import Settings
from tasks.errors import ConfigError, TransientError

log = logging.getLogger(__name__)

LAKE_ALIAS = "lake"
_CATALOG_EXTENSION = {"sqlite": "sqlite_scanner", "postgres": "postgres_scanner", "duckdb": None}
#: Idle instances kept per kind of connection (see :func:`release_connection`).
MAX_IDLE = 2
_idle: dict[tuple, list[duckdb.DuckDBPyConnection]] = {}
_idle_pid = os.getpid()
_idle_lock = threading.Lock()


@cache
def extension_file(name: str) -> str:
    """Path of the ``.duckdb_extension`` file shipped by the ``duckdb-extension-<name>`` wheel."""
    try:
        module = importlib.import_module(f"duckdb_extension_{name}")
    except ImportError as exc:
        raise ConfigError(
            f"DuckDB extension {name!r} is not installed; pip install duckdb-extension-{name.replace('_', '-')}"
        ) from exc
    files = sorted(Path(module.__file__).parent.rglob("*.duckdb_extension"))
    if not files:
        raise ConfigError(f"wheel duckdb-extension-{name} holds no .duckdb_extension file")
    return str(files[0])


def load_extension(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Load one extension from its wheel file."""
    con.execute(f"LOAD '{extension_file(name)}'")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def new_connection(settings: Settings) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with offline extensions, tuning and the S3 secret."""
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    con.execute("SET enable_progress_bar = false")  # DuckDB prints it on stdout, where the CLI writes JSON and CSV
    if settings.threads:
        con.execute(f"SET threads = {int(settings.threads)}")
    if settings.memory_limit:
        con.execute(f"SET memory_limit = {_quote(settings.memory_limit)}")
    con.execute("SET TimeZone = 'UTC'")
    load_extension(con, "ducklake")
    kind = settings.catalog.split(":", 1)[0]
    if _CATALOG_EXTENSION[kind]:
        load_extension(con, _CATALOG_EXTENSION[kind])
    if settings.is_s3:
        load_extension(con, "httpfs")
        s3 = settings.s3
        parts = ["TYPE s3", f"REGION {_quote(s3.region)}"]
        if s3.key_id:
            parts += [f"KEY_ID {_quote(s3.key_id)}", f"SECRET {_quote(s3.secret or '')}"]
        if s3.endpoint_host:
            parts += [f"ENDPOINT {_quote(s3.endpoint_host)}", "URL_STYLE 'path'", f"USE_SSL {str(s3.use_ssl).lower()}"]
        con.execute(f"CREATE OR REPLACE SECRET oceanlake_s3 ({', '.join(parts)})")
    return con


def _connection_kind(settings: Settings) -> tuple:
    """What :func:`new_connection` makes of ``settings`` in this thread: instances of one kind are interchangeable.

    Per thread: an instance handed from one thread to another while both use the lake made
    concurrent backfill days wait forever (tests/flows/test_daily.py::test_backfill_runs_days_concurrently).
    """
    return threading.get_ident(), settings.catalog.split(":", 1)[0], settings.threads, settings.memory_limit, \
        settings.is_s3, settings.s3 if settings.is_s3 else None


def lake_connection(settings: Settings) -> duckdb.DuckDBPyConnection:
    """A connection like :func:`new_connection`'s, reusing an idle instance of this process when there is one.

    For lake sessions that only run oceanlake's own SQL; hand the connection back with
    :func:`release_connection` (or close it).
    """
    global _idle_pid
    with _idle_lock:
        if _idle_pid != os.getpid():  # forked: the parent's instances are not ours
            _idle.clear()
            _idle_pid = os.getpid()
        idle = _idle.get(_connection_kind(settings))
        con = idle.pop() if idle else None
    return con if con is not None else new_connection(settings)


def release_connection(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """Detach the lake and keep the instance (extensions loaded) for the next :func:`lake_connection`.

    The instance is closed instead when it is still in a transaction or cannot be detached
    cleanly, or when :data:`MAX_IDLE` instances of its kind are already idle.
    """
    try:
        con.execute("ROLLBACK")  # succeeds only inside a transaction: a session that did not end cleanly
        reusable = False
    except duckdb.TransactionException:
        reusable = True
    except duckdb.Error:
        reusable = False
    if reusable:
        try:
            con.execute("USE memory")
            con.execute(f"DETACH DATABASE IF EXISTS {LAKE_ALIAS}")
            reusable = [r[0] for r in con.execute("SELECT database_name FROM duckdb_databases() "
                                                  "WHERE NOT internal").fetchall()] == ["memory"]
        except duckdb.Error:
            reusable = False
    with _idle_lock:
        idle = _idle.setdefault(_connection_kind(settings), [])
        if reusable and _idle_pid == os.getpid() and len(idle) < MAX_IDLE:
            idle.append(con)
            return
    with contextlib.suppress(duckdb.Error):
        con.close()


#: Run in a child process: SQLite locks are POSIX locks, owned by the process, and closing any
#: descriptor of the file drops all of them - Python's sqlite3 closing its connection in this
#: process would release the locks of DuckDB's own SQLite copy (seen as "disk I/O error").
_WAL_SCRIPT = (
    "import sqlite3, sys\n"
    "con = sqlite3.connect(sys.argv[1], timeout=30)\n"
    "if con.execute('PRAGMA journal_mode').fetchone()[0].lower() != 'wal':\n"
    "    con.execute('PRAGMA journal_mode=WAL')\n"
    "con.close()\n"
)
_wal_checked: set[tuple] = set()
_wal_lock = threading.Lock()


def use_wal(catalog_path: Path) -> None:
    """Put a SQLite catalog in write-ahead-log mode (stored in the file; checked once per process and file).

    In SQLite's default rollback-journal mode a reader (a read-only attach, a long query) blocks a
    writer's COMMIT; when the commit gives up with "database is locked", DuckDB's SQLite scanner
    (1.5.5) keeps that catalog connection open with its PENDING lock until the process exits, and
    every later attach of the lake then fails or waits forever (tests/lake/test_catalog_locking.py).
    In WAL mode readers never block the writer, and writers that collide fail before the commit,
    releasing their locks, so the lake's transaction retry succeeds. A missing catalog file is
    created in WAL mode before DuckLake initialises it. The check runs in a child process (see
    :data:`_WAL_SCRIPT`), 20-40 ms once per process and catalog file.

    Raises:
        TransientError: when the catalog stayed locked by other writers for 30 s.
        ConfigError: when the file is not a SQLite database or cannot be written.
    """
    with _wal_lock:
        if _file_identity(catalog_path) in _wal_checked:
            return
        done = subprocess.run([sys.executable, "-S", "-c", _WAL_SCRIPT, str(catalog_path)], capture_output=True,
                              text=True, timeout=120, check=False)
        if done.returncode:
            message = (done.stderr.strip().splitlines() or ["failed"])[-1]
            error = TransientError if "locked" in message else ConfigError
            raise error(f"catalog {catalog_path}: cannot switch it to WAL mode: {message}")
        _wal_checked.add(_file_identity(catalog_path))


def _file_identity(path: Path) -> tuple:
    """Path, device and inode of a file (a catalog deleted since is checked again when created anew)."""
    try:
        stat = path.stat()
    except OSError:
        return (str(path), None, None)
    return str(path), stat.st_dev, stat.st_ino


def attach_lake(con: duckdb.DuckDBPyConnection, settings: Settings, read_only: bool = False) -> None:
    """Attach the DuckLake catalog of the lake as ``lake`` and make it the default database."""
    kind, target = settings.catalog.split(":", 1)
    if kind in {"sqlite", "duckdb"}:
        catalog_path = Path(target)
        if read_only and not catalog_path.exists():
            raise ConfigError(f"no lake at {settings.lake} (catalog {catalog_path} missing); ingest something first")
        catalog_path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "sqlite" and not read_only:
            use_wal(catalog_path)
    uri = f"ducklake:{target}" if kind == "duckdb" else f"ducklake:{kind}:{target}"
    options = [f"DATA_PATH {_quote(settings.lake_path('tables') + '/')}", "DATA_INLINING_ROW_LIMIT 0"]
    if read_only:
        options = ["READ_ONLY"]
    con.execute(f"ATTACH {_quote(uri)} AS {LAKE_ALIAS} ({', '.join(options)})")
    con.execute(f"USE {LAKE_ALIAS}")
    log.debug("attached lake %s (catalog kind %s, read_only=%s)", settings.lake, kind, read_only)
