"""The ``oceanlake`` command line: ingest, query and explore the lake.

Every verb has ``--help``. The lake is chosen once with ``--lake`` (or ``OCEANLAKE_LAKE``).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

import lake_schema
from flows.cli_common import (
    CatalogOption,
    LakeOption,
    OutputFormat,
    console,
    fail,
    parse_time,
    print_table,
    stdout_console,
)
from tasks import progress
from tasks.config import load_settings
from tasks.errors import OceanlakeError

EXAMPLE_QUERY = ("SELECT platform_number, count(*) AS profiles, round(median(chla_surface), 3) AS chla_mg_m3 "
                 "FROM argo_surface_chla GROUP BY ALL ORDER BY 1")

MATCHUPS_QUERY = ("SELECT insitu_source, product, protocol, variable, count(*) AS rows, count(*) FILTER (passed) "
                  "AS passed, round(median(sat_filtered_mean / insitu_value), 3) AS median_ratio "
                  "FROM matchups WHERE is_primary GROUP BY ALL ORDER BY ALL")

#: The demo's match-up runs: (in situ source, product, protocol).
DEMO_MATCHUPS = (("argo", "occi-l3", "bgc-argo-chl"), ("hypernets", "olci-l2-wfr", "hypernets"))

GRANULES_QUERY = ("SELECT product, granule_id, time_start, round(valid_fraction, 3) AS valid_fraction, cube "
                  "FROM granules ORDER BY time_start")

app = typer.Typer(
    name="oceanlake",
    help=(
        "Ocean-colour validation lakehouse.\n\n"
        "Quick start: `oceanlake demo` builds a lake from generated sample files; then "
        f"`oceanlake sql \"{EXAMPLE_QUERY}\"`.\n\n"
        "The lake is a folder or s3://bucket/prefix (--lake or OCEANLAKE_LAKE, default ./lake)."
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
ingest_app = typer.Typer(help="Ingest files into the lake: in situ (Argo, HYPERNETS) or satellite products.",
                         no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")


class Kind(StrEnum):
    """In situ source kinds."""

    argo = "argo"
    hypernets = "hypernets"


class GdacIndex(StrEnum):
    """GDAC index files."""

    synthetic = "synthetic"
    core = "core"
    bio = "bio"


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log details to stderr.")] = False) -> None:
    """Ocean-colour validation lakehouse."""
    # Without a Prefect server, flows run against a temporary local API whose first start creates
    # its database (slow on small machines): give it time instead of Prefect's 20 s default.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


def _with_progress(label: str, fn):
    """Run ``fn()`` with a progress bar fed by ``tasks.progress.report``."""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=False, disable=not sys.stderr.isatty()) as bar:
        task_ids: dict[str, int] = {}

        def reporter(step: str, done: int, total: int) -> None:
            if step not in task_ids:
                task_ids[step] = bar.add_task(step, total=total)
            bar.update(task_ids[step], completed=done, total=total)

        progress.set_reporter(reporter)
        try:
            return fn()
        finally:
            progress.set_reporter(None)


def _report(summary: dict, as_json: bool) -> None:
    """Print a run summary: JSON on stdout, or a human summary on stderr."""
    if as_json:
        typer.echo(json.dumps(summary, default=str))
    else:
        _print_summary(summary)


def _print_summary(summary: dict) -> None:
    console.print(
        f"[bold]{summary['kind']}[/bold]: {summary['files_found']} files found, "
        f"{summary['files_ingested']} ingested, {summary['files_skipped']} already in the lake, "
        f"{summary['files_quarantined']} files + {summary['objects_quarantined']} objects quarantined")
    rows = ", ".join(f"{k}={v}" for k, v in sorted(summary["rows_written"].items()) if v)
    if rows:
        console.print(f"  rows written: {rows}")
    if summary["files_quarantined"] or summary["objects_quarantined"]:
        console.print('  see why: oceanlake sql "SELECT object, stage, reason FROM quarantine '
                      'ORDER BY detected_at DESC"')


@ingest_app.command("insitu")
def ingest_insitu_command(
    kind: Annotated[Kind, typer.Argument(help="argo (core/B/S profile + meta files) or hypernets (water L2A).")],
    sources: Annotated[list[str], typer.Argument(
        help="Files, folders, globs (quote them), s3://bucket/prefix, or an Argo GDAC mirror URL "
             "(https://.../ with the index files and dac/).", show_default=False)],
    lake: LakeOption = None,
    catalog: CatalogOption = None,
    index: Annotated[GdacIndex, typer.Option(help="GDAC index used with a mirror URL.")] = GdacIndex.synthetic,
    wmo: Annotated[list[str] | None, typer.Option(help="GDAC mirror: only this float (repeatable).")] = None,
    start: Annotated[str | None, typer.Option(help="GDAC mirror: profiles from this date (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option(help="GDAC mirror: profiles before this date (YYYY-MM-DD).")] = None,
    bbox: Annotated[str | None, typer.Option(help="GDAC mirror: lon_min,lat_min,lon_max,lat_max.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run summary as JSON on stdout.")] = False,
) -> None:
    """Ingest in situ files; new files only (by SHA-256), bad ones quarantined with a reason.

    Examples:
        oceanlake ingest insitu argo ./gdac/dac/coriolis/6903247

        oceanlake ingest insitu argo "data/**/*_Sprof.nc" --lake s3://bucket/lake

        oceanlake ingest insitu argo https://mirror.example/ifremer/argo --wmo 6903247 --start 2024-01-01

        oceanlake ingest insitu hypernets ./hypernets/
    """
    from flows.ingest_insitu import ingest_insitu

    try:
        box = [float(v) for v in bbox.split(",")] if bbox else None
        if box is not None and len(box) != 4:
            raise typer.BadParameter("--bbox needs 4 numbers: lon_min,lat_min,lon_max,lat_max")
        load_settings(lake=lake, catalog=catalog)  # validate before starting Prefect
        summary = _with_progress(f"ingest {kind.value}", lambda: ingest_insitu(
            kind.value, sources, lake=lake, catalog=catalog, index=index.value, wmo=wmo, start=start, end=end,
            bbox=box))
    except OceanlakeError as exc:
        fail(exc)
    _report(summary, as_json)


@ingest_app.command("satellite")
def ingest_satellite_command(
    product: Annotated[str, typer.Argument(
        help="Product id, e.g. pace-oci-l3m, olci-l2-wfr (see `oceanlake products`).")],
    sources: Annotated[list[str], typer.Argument(
        help="Files, SAFE folders (*.SEN3), folders (recursive), globs (quote them), s3://bucket/prefix, or a "
             "catalogue search (quote it): cmr://SHORT_NAME?start=..&end=.., "
             "cdse://SENTINEL-3?product_type=OL_2_WFR___&.., cmems://DATASET_ID?start=..&end=.. "
             "(see docs/remote-sources.md).",
        show_default=False)],
    lake: LakeOption = None,
    catalog: CatalogOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run summary as JSON on stdout.")] = False,
) -> None:
    """Ingest satellite granules: one cube commit per granule, bad files quarantined with a reason.

    Examples:
        oceanlake ingest satellite pace-oci-l3m ./pace/PACE_OCI.2024061*.L3m.DAY.CHL.V3_0.chlor_a.0p1deg.nc

        oceanlake ingest satellite olci-l2-wfr ./olci/ --lake s3://bucket/lake

        oceanlake ingest satellite occi-l3 "cci/**/ESACCI-OC-L3S-*.nc"
    """
    from flows.ingest_satellite import ingest_satellite

    try:
        settings = load_settings(lake=lake, catalog=catalog)
        lake_schema.product(product, settings.product_dirs)
        summary = _with_progress(f"ingest {product}", lambda: ingest_satellite(product, sources, lake=lake,
                                                                              catalog=catalog))
    except (OceanlakeError, KeyError) as exc:
        fail(exc)
    _report(summary, as_json)


def _print_matchup_summary(summary: dict) -> None:
    console.print(
        f"[bold]{summary['insitu_source']} x {summary['product']}[/bold] ({summary['protocol']} "
        f"#{summary['protocol_hash']}): {summary['observations']} observations, {summary['granules']} granules, "
        f"{summary['no_candidate']} observations outside every granule, {summary['candidate_pairs']} candidate "
        f"pairs, {summary['no_pixel']} without a pixel, {summary['matchup_pairs']} match-ups -> {summary['rows']} "
        f"rows ({summary['rows_passed']} passed, {summary['primary_passed']} primary passed)")
    if summary["funnel"]:
        console.print("  rows failing each criterion: " + ", ".join(f"{k}={v}" for k, v in summary["funnel"].items()))
    notes = {"invalid positions (quarantined)": summary["invalid_positions"],
             "duplicate rows merged": summary["duplicates_merged"],
             "rows quarantined by the quality gate": summary["rows_quarantined"],
             "bands outside the in situ spectral range": summary["bands_outside_insitu_range"],
             "rows replaced from an earlier run": summary["replaced_rows"]}
    for label, count in notes.items():
        if count:
            console.print(f"  {label}: {count}")
    if summary["criteria_not_evaluated"]:
        console.print(f"  not evaluated (the product lacks the inputs): {', '.join(summary['criteria_not_evaluated'])}")


@app.command("matchup")
def matchup_command(
    insitu: Annotated[Kind, typer.Option("--insitu", help="In situ source: argo (surface chl) or hypernets (Rrs).")],
    product: Annotated[str, typer.Option("--product", help="Satellite product id (see `oceanlake products`).")],
    protocol: Annotated[str, typer.Option("--protocol", help="Protocol id (see `oceanlake protocols`).")],
    start: Annotated[str | None, typer.Option(help="Period start, UTC, inclusive (YYYY-MM-DD[THH:MM:SS]).")] = None,
    end: Annotated[str | None, typer.Option(help="Period end, UTC, exclusive.")] = None,
    lake: LakeOption = None,
    catalog: CatalogOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run summary as JSON on stdout.")] = False,
) -> None:
    """Colocate in situ observations with a satellite product under a community protocol.

    Writes one row per (observation, granule, variable, band) to the `matchups` table with the window
    statistics, the in situ value, the decision and every failed criterion. Re-running the same
    (source, product, protocol, period) replaces its rows.

    Examples:
        oceanlake matchup --insitu argo --product pace-oci-l3m --protocol bgc-argo-chl

        oceanlake matchup --insitu hypernets --product olci-l2-wfr --protocol hypernets --start 2024-06-01

        oceanlake sql "SELECT insitu_id, wavelength, insitu_value, sat_filtered_mean, failed_criteria FROM matchups"
    """
    from flows.matchup import matchup

    try:
        settings = load_settings(lake=lake, catalog=catalog)
        lake_schema.product(product, settings.product_dirs)
        lake_schema.protocol(protocol, settings.protocol_dirs)
        period = (parse_time(start, "--start"), parse_time(end, "--end"))
        summary = _with_progress(f"match-ups {product}", lambda: matchup(
            insitu.value, product, protocol, period[0], period[1], lake=lake, catalog=catalog))
    except (OceanlakeError, KeyError) as exc:
        fail(exc)
    if as_json:
        typer.echo(json.dumps(summary, default=str))
    else:
        _print_matchup_summary(summary)


@app.command("protocols")
def protocols_command() -> None:
    """List the match-up protocols (built-in and from OCEANLAKE_PROTOCOLS folders)."""
    settings = load_settings()
    grid = RichTable()
    for column in ("id", "window", "max dt", "valid pixels", "CV test", "hash"):
        grid.add_column(column, no_wrap=True)
    grid.add_column("title")
    for pid, p in sorted(lake_schema.protocols(settings.protocol_dirs).items()):
        window = f"{p.window_size}x{p.window_size}" + (f"x{2 * p.time_half_steps + 1}" if p.time_half_steps else "")
        valid = " ".join(x for x in (f">= {p.min_valid_fraction:.0%}" if p.min_valid_fraction is not None else "",
                                     f">= {p.min_valid_count} px" if p.min_valid_count is not None else "") if x)
        cv = f"{p.cv_statistic} CV <= {p.max_cv}" if p.cv_statistic else "-"
        grid.add_row(pid, window, f"{p.max_time_difference_s / 3600:g} h", valid, cv, p.config_hash, p.title)
    stdout_console().print(grid)


@app.command("products")
def products_command() -> None:
    """List the satellite product definitions (built-in and from OCEANLAKE_PRODUCTS folders)."""
    settings = load_settings()
    grid = RichTable()
    grid.add_column("id", no_wrap=True)
    for column in ("sensor", "reader", "geometry", "variables", "title"):
        grid.add_column(column)
    for pid, spec in sorted(lake_schema.products(settings.product_dirs).items()):
        grid.add_row(pid, f"{spec.platform} {spec.sensor}", spec.reader, spec.geometry, ", ".join(spec.variables),
                     spec.title)
    stdout_console().print(grid)


def _parse_params(params: list[str] | None) -> dict[str, object]:
    out: dict[str, object] = {}
    for item in params or []:
        if "=" not in item:
            raise typer.BadParameter(f"--param {item!r}: use NAME=VALUE")
        name, value = item.split("=", 1)
        out[name] = value
    return out


@app.command("sql")
def sql_command(
    query: Annotated[str, typer.Argument(help="SQL over the lake tables and views (read-only).")],
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.table,
    param: Annotated[list[str] | None, typer.Option(
        "--param", "-p",
        help="Bind $NAME in the query to VALUE (NAME=VALUE, repeatable); never pasted into SQL.")] = None,
    lake: LakeOption = None,
    catalog: CatalogOption = None,
) -> None:
    """Run a read-only SQL query. Tables: see `oceanlake schema`.

    Examples:
        oceanlake sql "SELECT * FROM argo_surface_chla LIMIT 5"

        oceanlake sql "SELECT * FROM argo_profiles WHERE platform_number = $wmo" -p wmo=6903247 -f csv
    """
    from tasks.query import run_query

    try:
        result = run_query(load_settings(lake=lake, catalog=catalog), query, _parse_params(param))
    except OceanlakeError as exc:
        fail(exc)
    except Exception as exc:  # noqa: BLE001 - DuckDB errors are user errors here
        fail(exc)
    print_table(result, fmt, max_rows=1000)


@app.command("schema")
def schema_command(
    table: Annotated[str | None, typer.Argument(help="Table to describe (all tables when omitted).")] = None,
) -> None:
    """Describe the lake tables: columns, types, units and meaning (from lake_schema)."""
    specs = [lake_schema.table(table)] if table else list(lake_schema.tables().values())
    out = Console()
    for spec in specs:
        grid = RichTable(title=f"{spec.name} — {spec.description}", title_justify="left")
        for col in ("column", "type", "units", "description"):
            grid.add_column(col, overflow="fold")
        for f in spec.fields:
            grid.add_row(f.name, f.type, f.units or "", f.description)
        out.print(grid)
    if not table:
        out.print("Views: " + ", ".join(lake_schema.views()))


@app.command("sample")
def sample_command(
    out: Annotated[Path, typer.Argument(help="Folder to write the sample files into.")] = Path("sample-data"),
    floats: Annotated[int, typer.Option(help="Number of BGC-Argo floats.")] = 3,
    profiles: Annotated[int, typer.Option(help="Profiles per float.")] = 20,
    sites: Annotated[int, typer.Option(help="Number of HYPERNETS water sites.")] = 2,
    sequences: Annotated[int, typer.Option(help="Sequences per site.")] = 10,
    bad: Annotated[bool, typer.Option(help="Also write one bad file per bad-input case (tests quarantine).")] = True,
) -> None:
    """Generate sample files in the real formats (Argo S-prof/GDAC tree, HYPERNETS water L2A)."""
    from tasks.synthetic import write_bad_files, write_sample_dataset

    written = write_sample_dataset(out, n_floats=floats, n_profiles=profiles, n_sites=sites, n_sequences=sequences)
    if bad:
        written["bad"] = list(write_bad_files(out / "bad").values())
    for kind, paths in written.items():
        console.print(f"{kind}: {len(paths)} files")
    console.print(f"written under {out.resolve()}")


@app.command("demo")
def demo_command(
    data: Annotated[Path, typer.Option(help="Where to write the sample files.")] = Path("sample-data"),
    lake: LakeOption = None,
) -> None:
    """Generate sample data, ingest it into the lake, compute match-ups (embedded DuckDB, no server), show queries."""
    from flows.ingest_insitu import ingest_insitu
    from flows.ingest_satellite import ingest_satellite
    from tasks.query import run_query
    from tasks.synthetic import write_bad_files, write_sample_dataset, write_satellite_samples

    settings = load_settings(lake=lake)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    written = write_sample_dataset(data)
    written.update(write_satellite_samples(data / "satellite"))
    bad = write_bad_files(data / "bad")
    console.print(f"sample files in {data.resolve()}")
    argo_sources = [str(data / "argo"), *(str(p) for k, p in bad.items() if "hypernets" not in k)]
    hyp_sources = [str(data / "hypernets"), *(str(p) for k, p in bad.items() if "hypernets" in k)]
    for kind, sources in (("argo", argo_sources), ("hypernets", hyp_sources)):
        summary = _with_progress(f"ingest {kind}", lambda k=kind, s=sources: ingest_insitu(k, s, lake=settings.lake))
        _print_summary(summary)
    for product in ("occi-l3", "olci-l2-wfr"):
        summary = _with_progress(f"ingest {product}", lambda p=product: ingest_satellite(
            p, [str(data / "satellite" / p)], lake=settings.lake))
        _print_summary(summary)
    from flows.matchup import matchup

    for insitu, product, protocol in DEMO_MATCHUPS:
        summary = _with_progress(f"match-ups {product}", lambda i=insitu, p=product, r=protocol: matchup(
            i, p, r, lake=settings.lake))
        _print_matchup_summary(summary)
    console.print(f"\n[bold]lake:[/bold] {settings.lake}   catalog: {settings.catalog}")
    console.print(f"files written: {sum(len(v) for v in written.values())} sample + {len(bad)} deliberately bad")
    console.print(f"\nexample queries:\n  oceanlake sql \"{EXAMPLE_QUERY}\"")
    console.print(f"  oceanlake sql \"{GRANULES_QUERY}\"")
    console.print(f"  oceanlake sql \"{MATCHUPS_QUERY}\"\n")
    for query in (EXAMPLE_QUERY, MATCHUPS_QUERY):
        print_table(run_query(settings, query), OutputFormat.table)


# Verbs defined in their own modules (validation, pipeline runs): registered here so `oceanlake --help` lists them.
from flows.cli_report import report_command  # noqa: E402
from flows.cli_reproduce import reproduce_command  # noqa: E402
from flows.cli_run import run_app  # noqa: E402
from flows.cli_stats import stats_command  # noqa: E402

app.command("stats")(stats_command)
app.command("report")(report_command)
app.command("reproduce")(reproduce_command)
app.add_typer(run_app, name="run")


if __name__ == "__main__":
    app()
