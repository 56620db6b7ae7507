"""Flow ``ingest_satellite``: ingest granules of one product into its cube (thin wrapper over tasks)."""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.runtime import flow_run

from flows.retries import retry_transient
from tasks import progress
from tasks.config import load_settings
from tasks.ingest_satellite import ingest_satellite as ingest_granules
from tasks.provenance import record_flow_run


@task(retries=3, retry_delay_seconds=[5, 30, 120], retry_condition_fn=retry_transient)
def ingest_product(product: str, sources: list[str], lake: str | None, catalog: str | None, run_id: str) -> dict:
    """Ingest the granules of ``product`` found in ``sources``; returns the run summary as a dict."""
    settings = load_settings(lake=lake, catalog=catalog)
    summary = ingest_granules(product, sources, settings, run_id=run_id,
                              progress=lambda done, total: progress.report(f"ingest {product}", done, total))
    return summary.as_dict()


@flow(name="ingest_satellite")
def ingest_satellite(product: str, sources: list[str], lake: str | None = None, catalog: str | None = None) -> dict:
    """Ingest satellite granules of one product (files, folders, globs, s3:// prefixes).

    Args:
        product: product id (see `oceanlake products`).
        sources: SOURCE arguments.
        lake: lake root (default: OCEANLAKE_LAKE or ./lake).
        catalog: DuckLake catalog spec (default: sqlite file in the lake).
    """
    summary = ingest_product(product, sources, lake, catalog, run_id=str(flow_run.get_id() or ""))
    get_run_logger().info("%s: %d granules found, %d ingested, %d skipped (already in the lake), %d quarantined",
                          product, summary["files_found"], summary["files_ingested"], summary["files_skipped"],
                          summary["files_quarantined"])
    record_flow_run(summary, lake=lake, catalog=catalog)
    return summary
