"""``oceanlake report``: the validation report (HTML + PNG figures) of the lake's match-ups.

Registered in :mod:`flows.cli` with ``app.command("report")(report_command)``; shared options come
from :mod:`flows.cli_common`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flows.cli_common import CatalogOption, LakeOption, console, fail, parse_time
from tasks.config import load_settings
from tasks.errors import OceanlakeError


def report_command(
    out: Annotated[Path, typer.Option(
        "--out", help="Folder to write report.html, the PNG figures and statistics.csv into (created).",
        show_default=False)],
    product: Annotated[str | None, typer.Option("--product", help="Only this satellite product id.")] = None,
    protocol: Annotated[str | None, typer.Option("--protocol", help="Only this protocol id.")] = None,
    insitu: Annotated[str | None, typer.Option(
        "--insitu", help="Only this in situ source (argo, hypernets).")] = None,
    start: Annotated[str | None, typer.Option(
        help="In situ time from, UTC, inclusive (YYYY-MM-DD[THH:MM:SS]).")] = None,
    end: Annotated[str | None, typer.Option(help="In situ time before, UTC, exclusive.")] = None,
    lake: LakeOption = None,
    catalog: CatalogOption = None,
) -> None:
    """Write the validation report of the match-ups: one self-contained HTML file plus PNG figures.

    The report (OUT/report.html) embeds every figure, so the file alone can be mailed or archived:
    header (lake, filters, snapshot, protocol hashes), statistics per band of the passed primary
    match-ups (also OUT/statistics.csv), scatter plots (log axes for chlorophyll, 1:1, OLS and RMA
    lines, density when N is large), mean spectra per site, map of match-up locations, time series
    of satellite - in situ differences and the protocol funnel. See docs/report.md.

    Examples:
        oceanlake report --out report/

        oceanlake report --out report-olci/ --product olci-l2-wfr --protocol hypernets

        oceanlake report --out report-2024/ --insitu argo --start 2024-01-01 --end 2025-01-01 --lake s3://bucket/lake
    """
    from tasks.validation.report import ReportFilters, create_report

    try:
        settings = load_settings(lake=lake, catalog=catalog)
        filters = ReportFilters(product=product, protocol=protocol, insitu=insitu, start=parse_time(start, "--start"),
                                end=parse_time(end, "--end"))
        report = create_report(settings, out, filters,
                               on_step=lambda message: console.print(f"[dim]{message}[/dim]"))
    except OceanlakeError as exc:
        fail(exc)
    console.print(f"[bold]report:[/bold] {report.path.resolve()}")
    if report.frame.empty:
        console.print("[yellow]no match-up matches these filters: the report says so and lists what the lake "
                      "holds[/yellow]")
    else:
        console.print(f"  {len(report.frame)} match-up rows, {len(report.statistics)} statistics rows, "
                      f"{len(report.figures)} figures (PNG files and statistics.csv beside it)")
