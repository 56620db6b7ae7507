"""``oceanlake run daily|backfill``: the daily pipeline from the command line (flows in :mod:`flows.daily`).

Registered in :mod:`flows.cli` with ``app.add_typer(run_app, name="run")``. Self-contained (its own
options, console and progress bars) so that ``flows.cli`` can import it without an import cycle.
"""

from __future__ import annotations

import json
import math
import os
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tasks import progress
from tasks.config import load_settings
from tasks.errors import OceanlakeError

console = Console(stderr=True)

run_app = typer.Typer(
    help=(
        "Run the daily pipeline: ingest a day's new in situ files and satellite granules, compute the "
        "match-ups of every configured (in situ source x product x protocol), run the quality gate, "
        "compute statistics and write the day's report.\n\n"
        "What to ingest and match comes from a pipeline config file (--config or OCEANLAKE_PIPELINE_CONFIG; "
        "example and reference: deployments/pipeline.example.yaml, docs/operations.md).\n\n"
        "Examples:\n\n"
        "  oceanlake run daily --config pipeline.yaml                      # yesterday (UTC)\n\n"
        "  oceanlake run daily --date 2024-03-01 --config pipeline.yaml --lake s3://bucket/lake\n\n"
        "  oceanlake run backfill --start 2024-03-01 --end 2024-03-31 --config pipeline.yaml --max-concurrency 2\n\n"
        "  oceanlake run backfill --start 2024-03-01 --end 2024-03-10 --config pipeline.yaml --dask"
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

ConfigOption = Annotated[str | None, typer.Option(
    "--config", "-c", envvar="OCEANLAKE_PIPELINE_CONFIG", show_default=False,
    help="Pipeline config YAML: sources per kind/product ({date:%Y%m%d} placeholders), match-up combinations, "
         "report folder. [default: OCEANLAKE_PIPELINE_CONFIG]")]
LakeOption = Annotated[str | None, typer.Option(
    "--lake", envvar="OCEANLAKE_LAKE", help="Lake root: a folder or s3://bucket/prefix. [default: ./lake]")]
CatalogOption = Annotated[str | None, typer.Option(
    "--catalog", envvar="OCEANLAKE_CATALOG",
    help="DuckLake catalog: sqlite:PATH (default: catalog.sqlite in the lake), duckdb:PATH or "
         "postgres:dbname=.. host=..")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the run summary as JSON on stdout.")]


def _fail(exc: Exception) -> None:
    console.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(code=2)


def _prepare(config: str | None, lake: str | None, catalog: str | None):
    """Validate settings and config before starting Prefect (clear errors, no flow run)."""
    from tasks.pipeline import load_pipeline_config

    # Without a Prefect server, flows run against a temporary local API whose first start creates
    # its database (slow on small machines): give it time instead of Prefect's 20 s default.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    settings = load_settings(lake=lake, catalog=catalog)
    path = config or settings.pipeline_config
    if not path:
        raise typer.BadParameter("no pipeline config: pass --config FILE or set OCEANLAKE_PIPELINE_CONFIG "
                                 "(example: deployments/pipeline.example.yaml)", param_hint="--config")
    load_pipeline_config(path).validate(settings)
    return settings, path


def _with_progress(fn):
    """Run ``fn()`` with progress bars fed by ``tasks.progress.report`` (one bar per step label)."""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=False, disable=not sys.stderr.isatty()) as bar:
        bars: dict[str, Any] = {}

        def reporter(label: str, done: int, total: int) -> None:
            if label not in bars:
                bars[label] = bar.add_task(label, total=total)
            bar.update(bars[label], completed=done, total=total)

        progress.set_reporter(reporter)
        try:
            return fn()
        finally:
            progress.set_reporter(None)


def _jsonable(value: Any) -> Any:
    """NaN/inf (statistics of too few match-ups) as null, so stdout is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _print_day(summary: dict) -> None:
    console.print(
        f"[bold]{summary['day']}[/bold]: {summary['ingested']} files ingested, {summary['skipped']} already in the "
        f"lake, {summary['quarantined']} quarantined; match-up rows {summary['matched']} passed, "
        f"{summary['rejected']} rejected ({summary['primary_matched']} primary passed)")
    for step in summary["ingest"]:
        console.print(f"  ingest {step['kind']}: {step['files_found']} found, {step['files_ingested']} ingested, "
                      f"{step['files_skipped']} skipped, {step['files_quarantined']} files + "
                      f"{step['objects_quarantined']} objects quarantined")
    for step in summary["matchups"]:
        state = "inputs unchanged, rows kept" if step.get("skipped") else \
            f"{step['observations']} observations, {step['matchup_pairs']} pairs"
        console.print(f"  match-ups {step['insitu_source']} x {step['product']} ({step['protocol']}): {state}, "
                      f"{step['rows']} rows ({step['rows_passed']} passed)")
    for warning in summary.get("warnings", []):
        console.print(f"  [yellow]note:[/yellow] {warning}")
    if summary.get("report"):
        console.print(f"  report: {summary['report']}")


def _print_backfill(result: dict) -> None:
    for day in result["days"]:
        if "failed" in day:
            console.print(f"[red]{day['day']}: failed[/red]: {day['failed']}")
        else:
            _print_day(day)
    console.print(f"[bold]backfill {result['start']} to {result['end']}[/bold]: {len(result['days'])} days, "
                  f"{result['ingested']} files ingested, {result['quarantined']} quarantined, match-up rows "
                  f"{result['matched']} passed, {result['rejected']} rejected in {result['elapsed_s']:.0f} s")


def _quarantine_hint(summary: dict) -> None:
    if summary.get("quarantined"):
        console.print('  see why: oceanlake sql "SELECT object, stage, reason FROM quarantine '
                      'ORDER BY detected_at DESC"')


@run_app.command("daily")
def daily_command(
    date: Annotated[str | None, typer.Option(
        "--date", help="UTC day to process, YYYY-MM-DD. [default: yesterday]", show_default=False)] = None,
    config: ConfigOption = None,
    lake: LakeOption = None,
    catalog: CatalogOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run the daily pipeline for one UTC day; re-running a day changes nothing that is already done.

    Steps: ingest the day's files of every configured in situ kind and satellite product (new files
    only, bad ones quarantined), match-ups of the day's observations for every configured
    (in situ source x product x protocol), quality gate (no duplicated key), statistics, report
    (<lake>/reports/YYYY-MM-DD/report.html by default), and a summary of what was ingested,
    quarantined, matched and rejected.

    Examples:
        oceanlake run daily --config pipeline.yaml

        oceanlake run daily --date 2024-03-01 --config pipeline.yaml --lake s3://bucket/lake --json

        OCEANLAKE_PIPELINE_CONFIG=pipeline.yaml oceanlake run daily --date 2024-03-01
    """
    from flows.daily import daily
    from tasks.pipeline import resolve_day

    try:
        _, path = _prepare(config, lake, catalog)
        day = resolve_day(date)
        summary = _with_progress(lambda: daily(date=day.isoformat(), config=path, lake=lake, catalog=catalog))
    except OceanlakeError as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps(_jsonable(summary), default=str))
        return
    _print_day(summary)
    _quarantine_hint(summary)


@run_app.command("backfill")
def backfill_command(
    start: Annotated[str, typer.Option("--start", help="First UTC day, YYYY-MM-DD.", show_default=False)],
    end: Annotated[str, typer.Option("--end", help="Last UTC day, YYYY-MM-DD (included).", show_default=False)],
    config: ConfigOption = None,
    lake: LakeOption = None,
    catalog: CatalogOption = None,
    max_concurrency: Annotated[int, typer.Option(
        "--max-concurrency", min=1, help="Days processed at the same time (threads or Dask workers).")] = 2,
    dask: Annotated[bool, typer.Option(
        "--dask", help="Run the days on Dask: OCEANLAKE_DASK_ADDRESS (or DASK_SCHEDULER_ADDRESS), else a local "
                       "cluster of --max-concurrency single-threaded worker processes.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Run the daily pipeline over a range of days, several at a time, with a progress bar over days.

    Every day is ingested first, then the match-ups, quality gate, statistics and report of every
    day are computed. Days already done are cheap to re-run (nothing is read twice). A day that
    fails does not stop the others; the command exits with an error listing the failed days.

    Examples:
        oceanlake run backfill --start 2024-03-01 --end 2024-03-31 --config pipeline.yaml

        oceanlake run backfill --start 2024-03-01 --end 2024-03-10 --config pipeline.yaml --dask --max-concurrency 2

        DASK_SCHEDULER_ADDRESS=tcp://10.0.0.5:8786 oceanlake run backfill --start 2024-01-01 --end 2024-12-31 --dask
    """
    from flows.daily import backfill
    from tasks.pipeline import days_between

    try:
        _, path = _prepare(config, lake, catalog)
        days = days_between(start, end)
        console.print(f"backfill {days[0]} to {days[-1]}: {len(days)} days, {max_concurrency} at a time"
                      f"{' on Dask' if dask else ''}")
        result = _with_progress(lambda: backfill(start=days[0].isoformat(), end=days[-1].isoformat(), config=path,
                                                 lake=lake, catalog=catalog, max_concurrency=max_concurrency,
                                                 task_runner="dask" if dask else "thread"))
    except OceanlakeError as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps(_jsonable(result), default=str))
        return
    _print_backfill(result)
