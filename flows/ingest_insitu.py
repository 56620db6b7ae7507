"""Flow ``ingest_insitu``: ingest Argo / HYPERNETS files into the lake (thin wrapper over tasks.ingest)."""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.runtime import flow_run

from flows.retries import retry_transient
from tasks import progress
from tasks.config import load_settings
from tasks.ingest import ingest_insitu as ingest_files
from tasks.provenance import record_flow_run
from tasks.sources import IndexFilter


@task(retries=3, retry_delay_seconds=[5, 30, 120], retry_condition_fn=retry_transient)
def ingest_batch(kind: str, sources: list[str], lake: str | None, catalog: str | None,
                 gdac: dict | None, run_id: str) -> dict:
    """Ingest one list of SOURCE arguments; returns the run summary as a dict."""
    settings = load_settings(lake=lake, catalog=catalog)
    summary = ingest_files(kind, sources, settings, run_id=run_id, gdac=IndexFilter(**gdac) if gdac else None,
                           progress=lambda done, total: progress.report(f"ingest {kind}", done, total))
    return summary.as_dict()


@flow(name="ingest_insitu")
def ingest_insitu(
    kind: str,
    sources: list[str],
    lake: str | None = None,
    catalog: str | None = None,
    index: str = "synthetic",
    wmo: list[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    bbox: list[float] | None = None,
) -> dict:
    """Ingest in situ files (``kind`` = argo | hypernets) from files, folders, globs, s3:// or a GDAC mirror.

    Args:
        kind: in situ source kind.
        sources: SOURCE arguments.
        lake: lake root (default: OCEANLAKE_LAKE or ./lake).
        catalog: DuckLake catalog spec (default: sqlite file in the lake).
        index: GDAC index used for mirror URLs (synthetic, core or bio).
        wmo: only these floats (GDAC mirrors).
        start: only profiles from this date, YYYY-MM-DD (GDAC mirrors).
        end: only profiles before this date, YYYY-MM-DD (GDAC mirrors).
        bbox: lon_min, lat_min, lon_max, lat_max (GDAC mirrors).
    """
    gdac = {"index": index, "wmo": tuple(wmo or ()), "start": start, "end": end,
            "bbox": tuple(bbox) if bbox else None}
    summary = ingest_batch(kind, sources, lake, catalog, gdac, run_id=str(flow_run.get_id() or ""))
    get_run_logger().info(
        "%s: %d files found, %d ingested, %d skipped (already in the lake), %d files and %d objects quarantined",
        kind, summary["files_found"], summary["files_ingested"], summary["files_skipped"],
        summary["files_quarantined"], summary["objects_quarantined"])
    record_flow_run(summary, lake=lake, catalog=catalog)
    return summary
