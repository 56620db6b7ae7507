"""Pieces shared by the ``oceanlake`` command modules: options, console, time parsing, table output."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, NoReturn

import pyarrow as pa
import typer
from rich.console import Console
from rich.table import Table as RichTable

#: Messages, progress and errors go to stderr; results to stdout.
console = Console(stderr=True)

LakeOption = Annotated[str | None, typer.Option(
    "--lake", envvar="OCEANLAKE_LAKE", help="Lake root: a folder or s3://bucket/prefix. [default: ./lake]")]
CatalogOption = Annotated[str | None, typer.Option(
    "--catalog", envvar="OCEANLAKE_CATALOG",
    help="DuckLake catalog: sqlite:PATH (default: catalog.sqlite in the lake), duckdb:PATH or "
         "postgres:dbname=.. host=..")]


class OutputFormat(StrEnum):
    """Output formats of result tables."""

    table = "table"
    csv = "csv"
    json = "json"


def stdout_console() -> Console:
    """Console for tables on stdout: the terminal's width, or wide enough not to truncate when piped."""
    return Console() if sys.stdout.isatty() else Console(width=400)


def fail(exc: Exception | str) -> NoReturn:
    """Print the error (a KeyError's message without its quotes) and exit with status 2."""
    message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code=2)


def parse_time(value: str | None, name: str) -> datetime | None:
    """A command-line date/time as naive UTC (``YYYY-MM-DD[THH:MM:SS][Z|+hh:mm]``), None stays None."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD) or time (YYYY-MM-DDTHH:MM:SS)",
                                 param_hint=name) from None
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def _json_value(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def print_table(result: pa.Table, fmt: OutputFormat, *, max_rows: int | None = None,
                cell: Callable[[Any], str] = lambda v: "" if v is None else str(v)) -> None:
    """Write a result to stdout: a rich table (at most ``max_rows`` rows), CSV, or JSON (NaN as null)."""
    if fmt is OutputFormat.json:
        rows = [{k: _json_value(v) for k, v in row.items()} for row in result.to_pylist()]
        typer.echo(json.dumps(rows, default=str))
    elif fmt is OutputFormat.csv:
        import pyarrow.csv as pacsv

        sink = sys.stdout.buffer
        pacsv.write_csv(result, sink)
        sink.flush()
    else:
        grid = RichTable(*result.column_names)
        for row in result.to_pylist()[:max_rows]:
            grid.add_row(*(cell(v) for v in row.values()))
        stdout_console().print(grid)
        if max_rows is not None and result.num_rows > max_rows:
            console.print(f"({result.num_rows} rows, first {max_rows} shown; use --format csv for all)")
