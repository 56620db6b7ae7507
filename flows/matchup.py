"""Flow ``matchup``: colocate in situ observations with a satellite product under a protocol (thin wrapper)."""

from __future__ import annotations

from datetime import datetime

from prefect import flow, get_run_logger, task
from prefect.runtime import flow_run

from flows.retries import retry_transient
from tasks import progress
from tasks.config import load_settings
from tasks.matchup.engine import run_matchups
from tasks.provenance import record_flow_run


@task(retries=3, retry_delay_seconds=[5, 30, 120], retry_condition_fn=retry_transient)
def compute_matchups(insitu: str, product: str, protocol: str, start: datetime | None, end: datetime | None,
                     lake: str | None, catalog: str | None, run_id: str) -> dict:
    """Compute and publish the match-ups of one (source, product, protocol, period); returns the summary."""
    settings = load_settings(lake=lake, catalog=catalog)
    summary = run_matchups(insitu, product, protocol, settings, start=start, end=end, run_id=run_id,
                           progress=lambda done, total: progress.report(f"match-ups {product}", done, total))
    return summary.as_dict()


@flow(name="matchup")
def matchup(insitu: str, product: str, protocol: str, start: datetime | None = None, end: datetime | None = None,
            lake: str | None = None, catalog: str | None = None) -> dict:
    """Match-ups of in situ observations with a satellite product under a community protocol.

    Idempotent per (in situ source, product, protocol, period): a re-run replaces the period's rows.

    Args:
        insitu: in situ source (argo, hypernets).
        product: satellite product id (see `oceanlake products`).
        protocol: protocol id (see `oceanlake protocols`).
        start: period start (UTC, inclusive); None = open.
        end: period end (UTC, exclusive); None = open.
        lake: lake root (default: OCEANLAKE_LAKE or ./lake).
        catalog: DuckLake catalog spec (default: sqlite file in the lake).
    """
    summary = compute_matchups(insitu, product, protocol, start, end, lake, catalog,
                               run_id=str(flow_run.get_id() or ""))
    get_run_logger().info(
        "%s x %s (%s): %d observations, %d without candidate granule, %d pairs, %d rows (%d passed), "
        "%d rows quarantined", insitu, product, protocol, summary["observations"], summary["no_candidate"],
        summary["matchup_pairs"], summary["rows"], summary["rows_passed"], summary["rows_quarantined"])
    record_flow_run(summary, lake=lake, catalog=catalog)
    return summary
