"""Helpers of the provenance tests (a module of its own: ``conftest`` names clash across test folders)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import typer
from typer.testing import CliRunner

from flows.cli_reproduce import reproduce_command

GRID_DAYS = [datetime(2024, 3, 1) + timedelta(days=k) for k in range(3)]
BOX = (5.0, 41.0, 10.0, 45.0)


def crate_of(lake: str | Path, flow: str) -> Path:
    """The crate folder of the (only) run of ``flow`` in the lake."""
    found = sorted(Path(lake).glob(f"provenance/*/*/{flow}-*"))
    assert len(found) == 1, f"expected one {flow} crate, found {found}"
    return found[0]


def write_inputs(folder: Path) -> tuple[list[str], list[str]]:
    """Two synthetic BGC-Argo floats (one in the Ligurian Sea) and three OC-CCI daily grids over it."""
    from tasks.synthetic import write_occi_l3, write_sample_dataset

    files = write_sample_dataset(folder / "insitu", n_floats=2, n_profiles=2, n_sites=0, with_index=False)
    grids = [write_occi_l3(folder / "occi", day, bbox=BOX, seed=k) for k, day in enumerate(GRID_DAYS)]
    return [str(p) for p in files["argo_sprof"]], [str(p) for p in grids]


runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("reproduce")(reproduce_command)

    @app.command("other")
    def other() -> None:  # a second command keeps "reproduce" a sub-command, as in the real app
        """Unused."""

    return app


def reproduce(*args: str):
    """``oceanlake reproduce ARGS`` through typer's test runner."""
    return runner.invoke(_app(), ["reproduce", *map(str, args)], terminal_width=240)
