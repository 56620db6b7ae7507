"""DuckDB connections to the lake: extensions from wheel files, S3 secret, DuckLake catalog.

Extensions are loaded from the ``duckdb-extension-*`` wheels installed beside duckdb, never
``INSTALL``-ed from the network, so the lake works offline.
"""

from __future__ import annotations

import importlib
import logging
from functools import cache
from pathlib import Path

import duckdb

from tasks.config import Settings
from tasks.errors import ConfigError

log = logging.getLogger(__name__)

LAKE_ALIAS = "lake"
_CATALOG_EXTENSION = {"sqlite": "sqlite_scanner", "postgres": "postgres_scanner", "duckdb": None}


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


def attach_lake(con: duckdb.DuckDBPyConnection, settings: Settings, read_only: bool = False) -> None:
    """Attach the DuckLake catalog of the lake as ``lake`` and make it the default database."""
    kind, target = settings.catalog.split(":", 1)
    if kind in {"sqlite", "duckdb"}:
        catalog_path = Path(target)
        if read_only and not catalog_path.exists():
            raise ConfigError(f"no lake at {settings.lake} (catalog {catalog_path} missing); ingest something first")
        catalog_path.parent.mkdir(parents=True, exist_ok=True)
    uri = f"ducklake:{target}" if kind == "duckdb" else f"ducklake:{kind}:{target}"
    options = [f"DATA_PATH {_quote(settings.lake_path('tables') + '/')}", "DATA_INLINING_ROW_LIMIT 0"]
    if read_only:
        options = ["READ_ONLY"]
    con.execute(f"ATTACH {_quote(uri)} AS {LAKE_ALIAS} ({', '.join(options)})")
    con.execute(f"USE {LAKE_ALIAS}")
    log.debug("attached lake %s (catalog kind %s, read_only=%s)", settings.lake, kind, read_only)
