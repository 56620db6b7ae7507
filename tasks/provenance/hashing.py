"""Content hashes of what a run read and wrote: files (SHA-256 of the bytes) and lake rows (SHA-256 of the rows).

The hash of rows is independent of how they are stored (Parquet files, row order, an in-memory
Arrow table): the rows are sorted by the table's natural key (then by their text), each row is
written as DuckDB's text of its columns, minus the columns ``lake_schema/provenance.yaml`` lists
as volatile (run id, write times) or lake state, and the lines are hashed with SHA-256. The same
rows in the lake and recomputed in memory give the same hash.
"""

from __future__ import annotations

import hashlib
import json
import math
import mimetypes
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import duckdb
import fsspec
import pyarrow as pa

import lake_schema
from tasks.config import Settings
from tasks.sources import local_copy, sha256_file, size_bytes

#: Rows fetched per batch while hashing (bounds memory).
BATCH_ROWS = 65_536
#: Significant digits statistics are compared with: DuckDB's parallel aggregates may change the last bits.
STATISTICS_DIGITS = 12
#: Media types of the file families the lake reads (others: guessed from the name).
_FORMATS = {".nc": "application/x-netcdf", ".nc4": "application/x-netcdf", ".h5": "application/x-hdf5",
            ".sen3": "application/x-sentinel3-safe", ".zarr": "application/x-zarr", ".json": "application/json",
            ".csv": "text/csv", ".html": "text/html", ".py": "text/x-python", ".yaml": "application/yaml"}


def hashed_columns(table_name: str) -> list[str]:
    """Columns of ``table_name`` that enter its content hash (all but volatile and lake-state columns)."""
    spec = lake_schema.provenance()
    left_out = set(spec["volatile"]) | set(spec.get("lake_state", {}).get(table_name, ()))
    return [c for c in lake_schema.table(table_name).column_names if c not in left_out]


def _digest(con: duckdb.DuckDBPyConnection, relation: str, params: Mapping[str, Any] | None,
            table_name: str) -> tuple[str, int]:
    columns = hashed_columns(table_name)
    text = "{" + ", ".join(f"'{c}': \"{c}\"" for c in columns) + "}::VARCHAR"
    order = [f'"{c}"' for c in lake_schema.table(table_name).key] + ["_row"]
    result = con.execute(f"SELECT {text} AS _row FROM ({relation}) ORDER BY {', '.join(order)}",
                         dict(params) if params else None)
    digest, n = hashlib.sha256(), 0
    reader = result.fetch_record_batch(BATCH_ROWS)
    for batch in reader:
        lines = batch.column(0).to_pylist()
        digest.update(("\n".join(lines) + "\n").encode())
        n += len(lines)
    return digest.hexdigest(), n


def lake_rows_sha256(con: duckdb.DuckDBPyConnection, table_name: str, where: str = "true",
                     params: Mapping[str, Any] | None = None) -> tuple[str, int]:
    """Content hash and count of the rows of lake table ``table_name`` matching ``where`` (``$name`` bound).

    Args:
        con: a lake connection (``USE lake`` done), e.g. at a snapshot.
        table_name: a table of ``lake_schema/tables.yaml``.
        where: SQL condition on the table's columns.
        params: values of the ``$name`` placeholders of ``where``.

    Returns:
        (SHA-256 hex digest, number of rows).
    """
    return _digest(con, f"SELECT * FROM {lake_schema.table(table_name).name} WHERE {where}", params, table_name)


def table_sha256(table_name: str, rows: pa.Table | None) -> tuple[str, int]:
    """Content hash and count of in-memory rows of ``table_name`` (lake schema); None is no rows."""
    rows = rows if rows is not None else lake_schema.table(table_name).arrow_schema().empty_table()
    con = duckdb.connect()
    try:
        con.register("_oceanlake_rows", rows)
        return _digest(con, "SELECT * FROM _oceanlake_rows", None, table_name)
    finally:
        con.close()


def _canonical(value: Any) -> Any:
    if isinstance(value, float):
        return None if not math.isfinite(value) else float(f"{value:.{STATISTICS_DIGITS}g}")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def records_sha256(records: Iterable[Mapping[str, Any]]) -> tuple[str, int]:
    """Content hash and count of result records (statistics rows): canonical JSON, floats to 12 digits.

    The records are sorted by their canonical text, so their order does not matter.
    """
    lines = sorted(json.dumps(_canonical(r), sort_keys=True, default=str) for r in records)
    return hashlib.sha256(("\n".join(lines) + "\n").encode()).hexdigest(), len(lines)


def file_sha256(url: str, settings: Settings) -> tuple[str, int]:
    """SHA-256 (hex) and size (bytes) of a file or product folder, local or remote (fetched to a temporary copy).

    Raises:
        FileNotFoundError: (or the store's error) when it does not exist.
    """
    if url.startswith("s3://"):  # the listing cached by an earlier read in this process may be stale
        fsspec.filesystem("s3", **settings.s3.storage_options()).invalidate_cache(url)
    with local_copy(url, settings) as path:
        if not path.exists():
            raise FileNotFoundError(f"{url}: no such file or folder")
        return sha256_file(path), size_bytes(path)


def bytes_sha256(data: bytes) -> str:
    """SHA-256 (hex) of bytes."""
    return hashlib.sha256(data).hexdigest()


def encoding_format(url: str) -> str:
    """Media type of a file from its name (``application/x-netcdf`` for ``.nc``, ...)."""
    name = url.rstrip("/").lower()
    for suffix, media in _FORMATS.items():
        if name.endswith(suffix):
            return media
    return mimetypes.guess_type(name)[0] or "application/octet-stream"
