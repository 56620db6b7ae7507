"""Lake versions: DuckLake snapshots (connections at a snapshot, existence) and Icechunk snapshots of cubes."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from tasks.config import Settings
from tasks.duck import LAKE_ALIAS, new_connection
from tasks.errors import ConfigError, SourceNotFound


def connect_at(settings: Settings, snapshot_id: int | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection with the lake attached at DuckLake snapshot ``snapshot_id`` (None: the latest).

    Every table and view reads as it was at that snapshot (DuckLake ``SNAPSHOT_VERSION``).

    Raises:
        ConfigError: when the lake's catalog does not exist.
        duckdb.InvalidInputException: when the snapshot does not exist (expired).
    """
    kind, target = settings.catalog.split(":", 1)
    if kind in {"sqlite", "duckdb"}:
        if not Path(target).exists():
            raise ConfigError(f"no lake at {settings.lake} (catalog {target} missing)")
    uri = f"ducklake:{target}" if kind == "duckdb" else f"ducklake:{kind}:{target}"
    options = ["READ_ONLY"] + ([f"SNAPSHOT_VERSION {int(snapshot_id)}"] if snapshot_id is not None else [])
    con = new_connection(settings)
    try:
        con.execute(f"ATTACH '{uri.replace(chr(39), chr(39) * 2)}' AS {LAKE_ALIAS} ({', '.join(options)})")
        con.execute(f"USE {LAKE_ALIAS}")
    except BaseException:
        con.close()
        raise
    return con


def ducklake_snapshots(settings: Settings) -> set[int]:
    """Ids of the DuckLake snapshots the catalog still holds (expired ones are gone)."""
    con = connect_at(settings)
    try:
        return {int(r[0]) for r in con.execute(f"SELECT snapshot_id FROM {LAKE_ALIAS}.snapshots()").fetchall()}
    finally:
        con.close()


def snapshot_at(con: duckdb.DuckDBPyConnection, when: datetime) -> int | None:
    """The last DuckLake snapshot committed at or before ``when`` (timezone-aware), None if none."""
    row = con.execute(f"SELECT max(snapshot_id) FROM {LAKE_ALIAS}.snapshots() WHERE snapshot_time <= $t",
                      {"t": when}).fetchone()
    return None if row[0] is None else int(row[0])


def cube_ancestry(settings: Settings, cube: str) -> list[str]:
    """Icechunk snapshot ids on the cube's ``main`` branch, newest first ([] when the cube does not exist)."""
    from tasks.cubes import BRANCH, open_cube_repository

    try:
        repo = open_cube_repository(settings, cube, create=False)
    except SourceNotFound:
        return []
    return [info.id for info in repo.ancestry(branch=BRANCH)]


def commits_span(ancestry: list[str], written: set[str]) -> tuple[str | None, str | None]:
    """(parent of the oldest, newest) of the ``written`` snapshots in a branch ``ancestry`` (newest first)."""
    positions = [i for i, snap in enumerate(ancestry) if snap in written]
    if not positions:
        return None, None
    oldest = max(positions)
    return (ancestry[oldest + 1] if oldest + 1 < len(ancestry) else None), ancestry[min(positions)]
