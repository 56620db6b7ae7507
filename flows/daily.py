"""Flows ``daily`` and ``backfill``: the daily pipeline, one Prefect task per step (thin wiring over tasks.pipeline).

``daily(date)``: the day's new in situ files and satellite granules (SOURCE templates of the
pipeline configuration) -> ingest -> match-ups of every configured (in situ source x product x
protocol) -> quality gate -> statistics -> report -> run summary. ``backfill(start, end)``: many
days, ``max_concurrency`` at a time, on threads or on a Dask cluster; every day is ingested first,
then the match-ups, statistics and reports of every day are computed (so a day's match-ups see the
granules of its neighbours within the protocol's time window, whatever order the days ran in).

Both are idempotent: files already in the lake are skipped, match-ups whose inputs did not change
are kept, and a step that lost its work (crash, outage) is redone by the next run. Retries (with
backoff and jitter) apply to transient I/O failures only (:func:`flows.retries.retry_transient`).
Task tags ``oceanlake-ingest``, ``oceanlake-matchup`` and ``oceanlake-report`` can carry Prefect
concurrency limits (see docs/operations.md).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import dask
from prefect import flow, get_run_logger, task
from prefect.cache_policies import INPUTS, NO_CACHE, TASK_SOURCE
from prefect.futures import as_completed
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from flows.retries import retry_transient
from tasks import pipeline, progress
from tasks.config import Settings, load_settings
from tasks.errors import ConfigError, OceanlakeError
from tasks.pipeline import Combination, PipelineConfig
from tasks.provenance import record_flow_run

#: Retries of I/O steps: transient failures only, with backoff (seconds) and +-50 % jitter.
RETRY = {"retries": 3, "retry_delay_seconds": [5, 30, 120], "retry_jitter_factor": 0.5,
         "retry_condition_fn": retry_transient}
#: Steps that read or write the lake are never cached: their result depends on the lake, not only on inputs.
IO_STEP = {**RETRY, "cache_policy": NO_CACHE}
HOUR = 3600


def _settings(lake: str | None, catalog: str | None) -> Settings:
    return load_settings(lake=lake or None, catalog=catalog or None)


def _run_id() -> str:
    return str(flow_run.get_id() or uuid.uuid4().hex)


@task(name="ingest-insitu", task_run_name="ingest-{kind}-{day}", tags=["oceanlake", "oceanlake-ingest"],
      timeout_seconds=6 * HOUR, **IO_STEP)
def ingest_insitu_step(config: PipelineConfig, kind: str, day: date, lake: str, catalog: str, run_id: str) -> dict:
    """Ingest the day's in situ files of one kind; returns the ingestion summary."""
    return pipeline.ingest_insitu_day(config, kind, day, _settings(lake, catalog), run_id=run_id,
                                      progress=progress.report)


@task(name="ingest-satellite", task_run_name="ingest-{product}-{day}", tags=["oceanlake", "oceanlake-ingest"],
      timeout_seconds=6 * HOUR, **IO_STEP)
def ingest_satellite_step(config: PipelineConfig, product: str, day: date, lake: str, catalog: str,
                          run_id: str) -> dict:
    """Ingest the day's granules of one satellite product; returns the ingestion summary."""
    return pipeline.ingest_satellite_day(config, product, day, _settings(lake, catalog), run_id=run_id,
                                         progress=progress.report)


@task(name="matchups", task_run_name="matchups-{combo.insitu}-{combo.product}-{combo.protocol}-{day}",
      tags=["oceanlake", "oceanlake-matchup"], timeout_seconds=4 * HOUR, **IO_STEP)
def matchups_step(combo: Combination, day: date, lake: str, catalog: str, run_id: str) -> dict:
    """Match-ups of the day's observations for one (in situ source, product, protocol)."""
    return pipeline.matchups_day(combo, day, _settings(lake, catalog), run_id=run_id, progress=progress.report)


@task(name="quality-gate", task_run_name="quality-gate-{day}", tags=["oceanlake"], timeout_seconds=HOUR, **IO_STEP)
def gate_step(config: PipelineConfig, day: date, lake: str, catalog: str, run_id: str) -> dict:
    """The day's quality gate (no duplicated natural key); returns the checks and the lake version."""
    return pipeline.check_day(config, day, _settings(lake, catalog), run_id=run_id)


# Cached on the lake version the gate saw (snapshot id and time): same lake state, same statistics.
@task(name="statistics", task_run_name="statistics-{day}", tags=["oceanlake"], timeout_seconds=HOUR,
      cache_policy=INPUTS + TASK_SOURCE, cache_expiration=timedelta(days=30), **RETRY)
def statistics_step(config: PipelineConfig, day: date, lake: str, catalog: str, lake_version: str) -> list[dict]:
    """Validation statistics of the day's match-ups (per combination, variable and band)."""
    return pipeline.statistics_day(config, day, _settings(lake, catalog))


@task(name="report", task_run_name="report-{day}", tags=["oceanlake", "oceanlake-report"],
      timeout_seconds=2 * HOUR, **IO_STEP)
def report_step(config: PipelineConfig, day: date, lake: str, catalog: str) -> str | None:
    """Write the day's report (HTML, figures, statistics.csv); returns the report.html location."""
    return pipeline.report_day(config, day, _settings(lake, catalog))


def _load(config: str | None, settings: Settings) -> PipelineConfig:
    path = config or settings.pipeline_config
    if not path:
        raise ConfigError("no pipeline configuration: pass config= (CLI --config) or set OCEANLAKE_PIPELINE_CONFIG; "
                          "example: deployments/pipeline.example.yaml")
    cfg = pipeline.load_pipeline_config(path)
    cfg.validate(settings)
    return cfg


def _daily_run_name() -> str:
    try:
        return f"daily-{pipeline.resolve_day(flow_run.parameters.get('date'))}"
    except OceanlakeError:
        return "daily"


def _log_ingest(logger, step: dict) -> None:
    logger.info("%s: %d files found, %d ingested, %d already in the lake, %d files and %d objects quarantined%s",
                step["kind"], step["files_found"], step["files_ingested"], step["files_skipped"],
                step["files_quarantined"], step["objects_quarantined"],
                "; no file for the day in " + ", ".join(step["sources_without_files"])
                if step.get("sources_without_files") else "")


def _log_matchups(logger, step: dict) -> None:
    if step.get("skipped"):
        logger.info("%s x %s (%s): inputs unchanged since computed, %d rows kept (%d passed)", step["insitu_source"],
                    step["product"], step["protocol"], step["rows"], step["rows_passed"])
        return
    logger.info("%s x %s (%s): %d observations, %d without candidate granule, %d pairs, %d rows (%d passed), "
                "%d rows quarantined, %d replaced", step["insitu_source"], step["product"], step["protocol"],
                step["observations"], step["no_candidate"], step["matchup_pairs"], step["rows"],
                step["rows_passed"], step["rows_quarantined"], step["replaced_rows"])


@flow(name="daily", flow_run_name=_daily_run_name)
def daily(date: str | None = None, config: str | None = None, lake: str | None = None,
          catalog: str | None = None) -> dict:
    """The daily pipeline of one UTC day: ingest, match-ups, quality gate, statistics, report, summary.

    Args:
        date: the day, YYYY-MM-DD (default: yesterday, UTC).
        config: pipeline configuration YAML (default: OCEANLAKE_PIPELINE_CONFIG); see
            deployments/pipeline.example.yaml.
        lake: lake root (default: OCEANLAKE_LAKE or ./lake).
        catalog: DuckLake catalog spec (default: OCEANLAKE_CATALOG or the lake's SQLite file).

    Returns:
        The run summary (:class:`tasks.pipeline.DaySummary` as a dict): files ingested / skipped /
        quarantined, match-up rows passed (``matched``) / failing a criterion (``rejected``), each
        step's summary, the quality gate, statistics and the report location.
    """
    started = time.perf_counter()
    logger = get_run_logger()
    settings = _settings(lake, catalog)
    day = pipeline.resolve_day(date)
    cfg = _load(config, settings)
    lake, catalog, run_id = settings.lake, settings.catalog, _run_id()
    logger.info("daily %s: lake %s, config %s: %d in situ kinds, %d products, %d match-up combinations", day,
                settings.lake, cfg.origin, len(cfg.insitu), len(cfg.satellite), len(cfg.matchups))
    ingests = [ingest_insitu_step(cfg, spec.kind, day, lake, catalog, run_id) for spec in cfg.insitu]
    ingests += [ingest_satellite_step(cfg, spec.product, day, lake, catalog, run_id) for spec in cfg.satellite]
    for step in ingests:
        _log_ingest(logger, step)
    matchups = [matchups_step(combo, day, lake, catalog, run_id) for combo in cfg.matchups]
    for step in matchups:
        _log_matchups(logger, step)
    gate = gate_step(cfg, day, lake, catalog, run_id)
    statistics = statistics_step(cfg, day, lake, catalog, gate["lake_version"])
    report = report_step(cfg, day, lake, catalog)
    summary = pipeline.summarise(day, run_id, ingests, matchups, gate, statistics, report,
                                 time.perf_counter() - started)
    logger.info("daily %s%s", summary.line(), f"; report {report}" if report else "")
    record_flow_run(summary.as_dict(), lake=lake, catalog=catalog)
    return summary.as_dict()


# -- backfill ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def local_dask() -> Iterator[None]:
    """Dask arrays computed inside a step use the step's own threads, not the cluster running the step.

    In a Dask worker the default scheduler is the worker's client: a step reading a lazy cube would
    submit its chunk reads to the same cluster, whose single-threaded workers are all busy with
    steps waiting for them (a deadlock once every worker runs a step).
    """
    with dask.config.set(scheduler="threads"):
        yield


# No task timeout on the backfill steps: they run in worker threads or Dask workers, where Prefect
# cannot interrupt them; the steps of a day are bounded by the I/O timeouts of the clients.
@task(name="ingest-day", task_run_name="ingest-{day}", tags=["oceanlake", "oceanlake-ingest"], **IO_STEP)
def ingest_day_step(config: PipelineConfig, day: date, lake: str, catalog: str, run_id: str) -> dict:
    """Ingest one day's files of every configured kind and product; returns the summaries and the time taken."""
    started = time.perf_counter()
    with local_dask():
        ingests = pipeline.ingest_day(config, day, _settings(lake, catalog), run_id=run_id)
    return {"ingests": ingests, "elapsed_s": time.perf_counter() - started}


@task(name="analyse-day", task_run_name="matchups-report-{day}", tags=["oceanlake", "oceanlake-matchup"], **IO_STEP)
def analyse_day_step(config: PipelineConfig, day: date, lake: str, catalog: str, run_id: str,
                     ingested: dict) -> dict:
    """Match-ups, quality gate, statistics and report of one ingested day; returns the day's summary."""
    started = time.perf_counter() - ingested["elapsed_s"]
    with local_dask():
        return pipeline.analyse_day(config, day, _settings(lake, catalog), run_id=run_id,
                                    ingests=ingested["ingests"], started=started).as_dict()


def task_runner_for(kind: str, max_concurrency: int, settings: Settings):
    """The task runner of ``backfill``: threads, or Dask (the configured scheduler, else a LocalCluster).

    Raises:
        ConfigError: for an unknown kind, or ``dask`` without prefect-dask installed.
    """
    if kind == "thread":
        return ThreadPoolTaskRunner(max_workers=max_concurrency)
    if kind != "dask":
        raise ConfigError(f"task_runner {kind!r}: use thread or dask")
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError:
        raise ConfigError("task_runner dask needs prefect-dask (pip install prefect-dask)") from None
    if settings.dask_address:
        return DaskTaskRunner(address=settings.dask_address)
    return DaskTaskRunner(cluster_class="distributed.LocalCluster",
                          cluster_kwargs={"n_workers": max_concurrency, "threads_per_worker": 1, "processes": True,
                                          "dashboard_address": None, "env": _worker_env()})


def _worker_env() -> dict[str, str]:
    """Environment of LocalCluster workers: the API of this run, so their task runs are reported to it.

    Without it, a worker of a run on Prefect's ephemeral API starts an ephemeral server of its own
    (seconds per worker, and the task runs end up in a database nobody looks at).
    """
    from prefect import get_client

    with get_client(sync_client=True) as client:
        return {"PREFECT_API_URL": str(client.api_url).rstrip("/")}


def _bounded(submit, items: list, limit: int, label: str, logger) -> list[tuple[Any, Any]]:
    """Submit ``submit(item)`` for every item, at most ``limit`` in flight; returns (item, final state) in order."""
    pending: dict[Any, Any] = {}
    states: dict[Any, Any] = {}

    def collect(future) -> None:
        item = next(k for k, f in pending.items() if f is future)
        future.wait()  # records the final state on the future
        states[item] = future.state
        del pending[item]
        progress.report(label, len(states), len(items))
        logger.info("%s: %s %s", label, item, states[item].name)

    for item in items:
        while len(pending) >= limit:
            collect(next(as_completed(list(pending.values()))))
        pending[item] = submit(item)
    for future in as_completed(list(pending.values())):
        collect(future)
    return [(item, states[item]) for item in items]


@flow(name="backfill-days")
def backfill_days(days: list[date], config: PipelineConfig, lake: str, catalog: str, run_id: str,
                  max_concurrency: int = 2) -> list[dict]:
    """Ingest every day, then compute every day's match-ups, gate, statistics and report (run by ``backfill``)."""
    logger = get_run_logger()
    ingested = _bounded(lambda d: ingest_day_step.submit(config, d, lake, catalog, f"{run_id}-{d:%Y%m%d}"),
                        days, max_concurrency, "backfill: days ingested", logger)
    good = [d for d, state in ingested if state.is_completed()]
    results = {d: state.result(raise_on_failure=False) for d, state in ingested if state.is_completed()}
    analysed = _bounded(lambda d: analyse_day_step.submit(config, d, lake, catalog, f"{run_id}-{d:%Y%m%d}",
                                                          results[d]),
                        good, max_concurrency, "backfill: days done", logger)
    out = {d: state.result() for d, state in analysed if state.is_completed()}
    failed = {d: state.message for d, state in [*ingested, *analysed] if not state.is_completed()}
    return [out[d] if d in out else {"day": d.isoformat(), "failed": failed.get(d, "not run")} for d in days]


@flow(name="backfill")
def backfill(start: str, end: str, config: str | None = None, lake: str | None = None, catalog: str | None = None,
             max_concurrency: int = 2, task_runner: str = "thread") -> dict:
    """The daily pipeline over the days ``start`` to ``end`` (both included), ``max_concurrency`` days at a time.

    Args:
        start: first day, YYYY-MM-DD.
        end: last day, YYYY-MM-DD (included).
        config: pipeline configuration YAML (default: OCEANLAKE_PIPELINE_CONFIG).
        lake: lake root (default: OCEANLAKE_LAKE or ./lake).
        catalog: DuckLake catalog spec (default: OCEANLAKE_CATALOG or the lake's SQLite file).
        max_concurrency: days processed at the same time (threads, or Dask LocalCluster workers).
        task_runner: ``thread`` or ``dask`` (OCEANLAKE_DASK_ADDRESS / DASK_SCHEDULER_ADDRESS, else a
            LocalCluster of ``max_concurrency`` single-threaded workers).

    Returns:
        ``{"start", "end", "days": [day summaries], "failed": [days], ingested, skipped, quarantined,
        matched, rejected, "elapsed_s"}``.

    Raises:
        OceanlakeError: when some days failed (after every other day was processed); their errors are logged.
    """
    started = time.perf_counter()
    logger = get_run_logger()
    settings = _settings(lake, catalog)
    if max_concurrency < 1:
        raise ConfigError(f"max_concurrency must be >= 1, got {max_concurrency}")
    days = pipeline.days_between(start, end)
    cfg = _load(config, settings)
    runner = task_runner_for(task_runner, max_concurrency, settings)
    logger.info("backfill %s to %s: %d days, %d at a time on %s, lake %s", days[0], days[-1], len(days),
                max_concurrency, task_runner, settings.lake)
    summaries = backfill_days.with_options(task_runner=runner)(days, cfg, settings.lake, settings.catalog, _run_id(),
                                                               max_concurrency)
    out: dict[str, Any] = {"start": days[0].isoformat(), "end": days[-1].isoformat(), "days": summaries,
                           "failed": [s["day"] for s in summaries if "failed" in s]}
    for key in ("ingested", "skipped", "quarantined", "matched", "rejected"):
        out[key] = sum(s.get(key, 0) for s in summaries)
    out["elapsed_s"] = round(time.perf_counter() - started, 3)
    logger.info("backfill %s to %s: %d days done, %d failed; %d files ingested, %d quarantined, match-up rows %d "
                "passed, %d rejected in %.1f s", out["start"], out["end"], len(days) - len(out["failed"]),
                len(out["failed"]), out["ingested"], out["quarantined"], out["matched"], out["rejected"],
                out["elapsed_s"])
    record_flow_run(out, lake=settings.lake, catalog=settings.catalog)
    if out["failed"]:
        raise OceanlakeError(f"backfill: {len(out['failed'])} days failed: "
                             + "; ".join(f"{s['day']}: {s['failed']}" for s in summaries if "failed" in s))
    return out
