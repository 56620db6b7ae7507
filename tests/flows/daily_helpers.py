"""Helpers of the daily-pipeline tests: table fingerprints, duplicate keys, the CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import lake_schema

REPO = Path(__file__).resolve().parents[2]
#: The synthetic day every daily test processes; backfills run the day before and after too.
DAY = "2024-03-05"
DAYS = ("2024-03-04", DAY, "2024-03-06")
#: Columns that legitimately differ between two runs that wrote the same data (provenance of the run).
VOLATILE = {"run_id", "ingested_at", "detected_at", "created_at", "insitu_snapshot_id", "sat_snapshot_id",
            "cube_snapshot_id"}
#: Tables whose natural key identifies one row (argo_measurements / hypernets_reflectance keys group rows).
UNIQUE_KEY_TABLES = ("argo_profiles", "argo_floats", "hypernets_sequences", "ingested_files", "granule_versions",
                     "matchups")


def fingerprints(settings) -> dict[str, tuple[int, int]]:
    """(row count, order-independent hash of the non-provenance columns) of every lake table."""
    from tasks.query import connect_readonly

    con = connect_readonly(settings)
    try:
        out = {}
        for name, spec in lake_schema.tables().items():
            cols = ", ".join(f'"{c}"' for c in spec.column_names if c not in VOLATILE)
            n, digest = con.execute(f"SELECT count(*), coalesce(sum(hash(row({cols}))::HUGEINT), 0) "
                                    f"FROM {name}").fetchone()
            out[name] = (int(n), int(digest))
        return out
    finally:
        con.close()


def duplicate_keys(settings) -> dict[str, int]:
    """Number of duplicated natural keys per table (must all be 0)."""
    from tasks.query import connect_readonly

    con = connect_readonly(settings)
    try:
        out = {}
        for name in UNIQUE_KEY_TABLES:
            cols = ", ".join(f'"{c}"' for c in lake_schema.table(name).key)
            out[name] = int(con.execute(f"SELECT count(*) FROM (SELECT {cols} FROM {name} GROUP BY ALL "
                                        "HAVING count(*) > 1)").fetchone()[0])
        return out
    finally:
        con.close()


def snapshot_id(settings) -> int:
    """Current DuckLake snapshot of the lake."""
    from tasks.query import run_query

    return int(run_query(settings, "SELECT id FROM lake.current_snapshot()").column(0)[0].as_py())


#: Runs ``oceanlake run`` (the sub-app registered as ``oceanlake run``) in a subprocess, logging warnings to stderr.
RUN_CLI = ("import logging, sys; logging.basicConfig(level=logging.WARNING); from flows.cli_run import run_app; "
           "run_app(sys.argv[1:], prog_name='oceanlake run')")


def cli_process(args: list[str], api_url: str, cache: Path, **env: str) -> subprocess.Popen:
    """Start ``oceanlake run ARGS`` in a subprocess reporting to the test API (stdout/stderr piped, text)."""
    environ = {**os.environ, "PYTHONPATH": str(REPO), "PREFECT_API_URL": api_url, "OCEANLAKE_CACHE": str(cache),
               **env}
    environ.pop("OCEANLAKE_CATALOG", None)
    return subprocess.Popen([sys.executable, "-c", RUN_CLI, *args], cwd=REPO, env=environ, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
