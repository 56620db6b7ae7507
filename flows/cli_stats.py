"""``oceanlake stats``: validation statistics of the lake's match-ups, or of an external match-up table.

Registered on the main app by ``flows/cli.py`` (``app.command("stats")(stats_command)``); shared
options and output helpers come from :mod:`flows.cli_common`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import typer

from flows.cli_common import CatalogOption, LakeOption, OutputFormat, console, fail, parse_time, print_table
from tasks.errors import OceanlakeError

_DEFAULT_GROUP_BY = "product,protocol,variable,wavelength"
_FILTERS = "Lake mode (filters of the match-ups)"
_EXTERNAL = "External table mode (--table)"


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def print_result(result: pa.Table, fmt: OutputFormat) -> None:
    """Write a statistics table to stdout: a rich table (4 significant digits), CSV or JSON (NaN as null)."""
    print_table(result, fmt, cell=_cell)


def stats_command(
    product: Annotated[str | None, typer.Option(
        help="Only this satellite product id.", rich_help_panel=_FILTERS)] = None,
    protocol: Annotated[str | None, typer.Option(help="Only this protocol id.", rich_help_panel=_FILTERS)] = None,
    insitu: Annotated[str | None, typer.Option(
        "--insitu", help="Only this in situ source (argo, hypernets).", rich_help_panel=_FILTERS)] = None,
    variable: Annotated[str | None, typer.Option(
        help="Only this satellite variable (rrs, rho_w, chlor_a, ...).", rich_help_panel=_FILTERS)] = None,
    wavelength: Annotated[float | None, typer.Option(
        help="Only the band within +-1 nm of this wavelength (nm): 443 finds OLCI 442.5.",
        rich_help_panel=_FILTERS)] = None,
    site: Annotated[str | None, typer.Option(
        help="Only this site (HYPERNETS station code, Argo WMO).", rich_help_panel=_FILTERS)] = None,
    start: Annotated[str | None, typer.Option(
        help="In situ time from (UTC, inclusive; YYYY-MM-DD[THH:MM:SS]).", rich_help_panel=_FILTERS)] = None,
    end: Annotated[str | None, typer.Option(
        help="In situ time before (UTC, exclusive).", rich_help_panel=_FILTERS)] = None,
    group_by: Annotated[str | None, typer.Option(
        "--group-by", "-g",
        help="Comma-separated grouping columns: matchups columns (insitu_source, product, protocol, variable, "
             "wavelength, site, insitu_id, ...) and month, year; with --table, the file's columns. '' = one row. "
             f"[default: {_DEFAULT_GROUP_BY}; with --table: none]", show_default=False)] = None,
    log: Annotated[bool, typer.Option(
        "--log", help="Regression slopes/intercepts and r on log10 values (chlorophyll).")] = False,
    bootstrap: Annotated[int, typer.Option(
        min=0, help="Bootstrap resamples for 95 % intervals of bias, mapd, rmsd, log_bias, log_mae, slope_rma "
                    "(0 = none).")] = 0,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.table,
    table: Annotated[Path | None, typer.Option(
        "--table", help="An external match-up table (.csv/.tsv/.txt or .parquet) instead of the lake.",
        rich_help_panel=_EXTERNAL, show_default=False)] = None,
    insitu_col: Annotated[str | None, typer.Option(
        "--insitu-col", help="Column of in situ values (with --table).", rich_help_panel=_EXTERNAL)] = None,
    sat_col: Annotated[str | None, typer.Option(
        "--sat-col", help="Column of satellite values (with --table).", rich_help_panel=_EXTERNAL)] = None,
    lake: LakeOption = None,
    catalog: CatalogOption = None,
) -> None:
    """Validation statistics (bias, MAE, RMSD, MAPD, log-space bias/MAE, MdSA, OLS/RMA slopes, r) per group.

    Lake mode uses the match-ups with passed AND is_primary; filters are bound as SQL parameters.
    Table mode computes the same metrics on another tool's match-up file (ThoMaS, hypernets_val, a
    SeaBASS-derived CSV), so results can be compared. Definitions: docs/validation.md.

    Examples:
        oceanlake stats

        oceanlake stats --product olci-l2-wfr --wavelength 443 --group-by site,month

        oceanlake stats --insitu argo --variable chlor_a --log --group-by product --bootstrap 1000

        oceanlake stats --site VEIT --start 2024-06-01 --end 2024-07-01 -f csv > veit_june.csv

        oceanlake stats --table test_hyp_S3A.csv --insitu-col Hyp --sat-col "S3A v4.0" --group-by wavelength

        oceanlake stats --table thomas_matchups.parquet --insitu-col chl_insitu --sat-col chl_sat --log -f json
    """
    from tasks.config import load_settings
    from tasks.validation.stats import file_stats, lake_stats

    filters = {"product": product, "protocol": protocol, "insitu": insitu, "variable": variable,
               "wavelength": wavelength, "site": site, "start": parse_time(start, "--start"),
               "end": parse_time(end, "--end")}
    try:
        if table is not None:
            if not insitu_col or not sat_col:
                raise typer.BadParameter("--table needs --insitu-col and --sat-col", param_hint="--table")
            used = [f"--{k}" for k, v in filters.items() if v is not None]
            if used:
                raise typer.BadParameter(f"{', '.join(used)} filter the lake; with --table, group by the file's "
                                         "columns instead (--group-by)", param_hint="--table")
            result = file_stats(table, insitu_col, sat_col, _split(group_by), log_space=log, bootstrap=bootstrap)
        else:
            groups = _split(_DEFAULT_GROUP_BY if group_by is None else group_by)
            result = lake_stats(load_settings(lake=lake, catalog=catalog), filters, groups, log_space=log,
                                bootstrap=bootstrap)
    except (OceanlakeError, KeyError, ValueError, FileNotFoundError) as exc:
        fail(exc)
    if result.num_rows == 0:
        console.print("no match-ups for these filters (statistics use passed AND is_primary rows)")
    print_result(result, fmt)

