"""``oceanlake reproduce CRATE``: re-run a recorded flow run from its RO-Crate and check its outputs are identical.

Registered in :mod:`flows.cli` with ``app.command("reproduce")(reproduce_command)``; the work is in
:mod:`tasks.provenance.reproduce`. Exit status: 0 when every output is identical, 1 when one
differs, 3 when the reproduction is refused (an input changed or is gone, a snapshot expired),
2 for other errors.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer
from rich.table import Table as RichTable

from flows.cli_common import CatalogOption, console, fail, stdout_console
from tasks.errors import OceanlakeError

#: Exit status when the reproduction is refused (differences exit with 1, other errors with 2).
REFUSED = 3


def _short(digest: str | None) -> str:
    return "" if digest is None else digest[:16]


def _print(comparisons, record) -> None:
    grid = RichTable(title=f"{record.flow} run {record.run_id} (lake {record.lake})", title_justify="left")
    for column in ("step", "output", "rows", "recorded sha256", "reproduced sha256", "result"):
        grid.add_column(column, overflow="fold")
    colours = {"identical": "green", "different": "red"}
    for c in comparisons:
        colour = colours.get(c.status, "yellow")
        grid.add_row(c.step, c.output, "" if c.rows is None else str(c.rows), _short(c.recorded),
                     _short(c.reproduced), f"[{colour}]{c.status}[/{colour}]" + (f" ({c.note})" if c.note else ""))
    stdout_console().print(grid)


def reproduce_command(
    crate: Annotated[str, typer.Argument(
        help="The run's crate: its folder or ro-crate-metadata.json (local or s3://), e.g. "
             "lake/provenance/2024/03/matchup-RUN_ID/.", show_default=False)],
    lake: Annotated[str | None, typer.Option(
        "--lake", help="Lake root, when it moved since the run. [default: the lake recorded in the crate]")] = None,
    catalog: CatalogOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparisons as JSON on stdout.")] = False,
) -> None:
    """Re-run a past flow run from its RO-Crate against the recorded lake snapshots; check the outputs are identical.

    Refuses (exit 3) when an input file changed since (SHA-256 mismatch: each file is named with the
    expected and actual checksum) or is gone, a product/protocol definition changed, or a recorded
    DuckLake or Icechunk snapshot was expired. Nothing is written to the lake. Exit 1 when an output
    differs, 0 when all are identical. See docs/provenance.md.

    Examples:
        oceanlake reproduce lake/provenance/2024/03/matchup-0f6c.../

        oceanlake reproduce s3://bucket/lake/provenance/2024/03/daily-41d2.../ro-crate-metadata.json

        oceanlake reproduce old-lake/provenance/2024/03/ingest_insitu-9a1b.../ --lake /data/new-lake
    """
    from tasks.provenance.reproduce import DIFFERENT, ReproductionRefused, reproduce_crate

    try:
        record, comparisons = reproduce_crate(crate, lake=lake, catalog=catalog)
    except ReproductionRefused as exc:
        console.print(f"[red]refused:[/red] {exc}", soft_wrap=True, markup=True, highlight=False)
        raise typer.Exit(code=REFUSED) from None
    except (OceanlakeError, FileNotFoundError, ValueError, KeyError) as exc:
        fail(exc)
    if as_json:
        typer.echo(json.dumps([asdict(c) for c in comparisons]))
    else:
        _print(comparisons, record)
    different = [c for c in comparisons if c.status == DIFFERENT]
    if different:
        console.print(f"[red]{len(different)} of {len(comparisons)} outputs differ[/red]: "
                      + ", ".join(f"{c.step}: {c.output}" for c in different), soft_wrap=True)
        raise typer.Exit(code=1)
    console.print(f"[green]reproduced[/green]: {sum(c.status == 'identical' for c in comparisons)} outputs identical")
