"""``oceanlake stats``: lake and external-table modes, output formats, errors (exit code 2)."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from flows.cli_stats import stats_command
from tasks.lake import Lake, conform
from tasks.synthetic.matchups import matchup_rows
from tasks.validation.metrics import METRIC_COLUMNS

runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("stats")(stats_command)

    @app.command("other")
    def other() -> None:  # a second command keeps "stats" a sub-command, as in the real app
        """Unused."""

    return app


@pytest.fixture
def lake_dir(settings):
    rows = conform("matchups", matchup_rows(n_argo=120, n_sequences=8, seed=2))
    with Lake(settings) as lake:
        lake.transaction(lambda con: lake.insert(con, "matchups", rows))
    return settings.lake


def test_help_teaches_with_examples():
    out = runner.invoke(_app(), ["stats", "--help"], terminal_width=200)
    assert out.exit_code == 0
    for text in ("--group-by", "--table", "--insitu-col", "--sat-col", "--bootstrap", "--log", "Examples",
                 "oceanlake stats --table"):
        assert text in out.output


def test_lake_mode_csv(lake_dir):
    out = runner.invoke(_app(), ["stats", "--lake", lake_dir, "--insitu", "hypernets", "--wavelength", "560",
                                 "--group-by", "site", "--format", "csv"])
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [r["site"] for r in rows] == ["GAIT", "MAFR", "VEIT"]
    assert list(rows[0]) == ["site", *METRIC_COLUMNS]
    assert all(int(r["n"]) > 0 for r in rows)


def test_lake_mode_default_grouping_table_and_json(lake_dir):
    out = runner.invoke(_app(), ["stats", "--lake", lake_dir, "--variable", "chlor_a", "--log", "-f", "json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)
    assert len(rows) == 1 and rows[0]["product"] == "occi-l3" and rows[0]["wavelength"] is None
    assert rows[0]["n"] > 50 and 0 < rows[0]["r2"] <= 1
    table = runner.invoke(_app(), ["stats", "--lake", lake_dir, "--product", "olci-l2-wfr"])
    assert table.exit_code == 0 and "rho_w" in table.stdout and "slope_rma" in table.stdout


def test_lake_mode_period_and_bootstrap(lake_dir):
    out = runner.invoke(_app(), ["stats", "--lake", lake_dir, "--insitu", "argo", "--start", "2024-05-01",
                                 "--end", "2024-07-01", "-g", "month", "--bootstrap", "30", "-f", "csv"])
    assert out.exit_code == 0, out.output
    frame = pd.read_csv(io.StringIO(out.stdout))
    assert len(frame) == 2 and {"bias_ci_low", "slope_rma_ci_high"} <= set(frame.columns)


def test_no_rows_is_not_an_error(lake_dir):
    out = runner.invoke(_app(), ["stats", "--lake", lake_dir, "--site", "nowhere", "-f", "json"])
    assert out.exit_code == 0 and json.loads(out.stdout) == []


def test_external_table_mode(tmp_path):
    path = tmp_path / "thomas.csv"
    pd.DataFrame({"band": [443, 443, 560, 560, 560], "in situ": [0.010, 0.012, 0.004, 0.005, 0.006],
                  "sat": [0.011, 0.013, 0.005, "NA", 0.0055]}).to_csv(path, index=False)
    out = runner.invoke(_app(), ["stats", "--table", str(path), "--insitu-col", "in situ", "--sat-col", "sat",
                                 "--group-by", "band", "-f", "json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)
    assert [(r["band"], r["n"]) for r in rows] == [(443, 2), (560, 2)]
    assert rows[0]["bias"] == pytest.approx(0.001)
    whole = runner.invoke(_app(), ["stats", "--table", str(path), "--insitu-col", "in situ", "--sat-col", "sat",
                                   "-f", "csv"])
    assert whole.exit_code == 0 and len(pd.read_csv(io.StringIO(whole.stdout))) == 1


@pytest.mark.parametrize("args, message", [
    (["--table", "{path}", "--insitu-col", "a"], "needs --insitu-col and --sat-col"),
    (["--table", "{path}", "--insitu-col", "a", "--sat-col", "zz"], "no column 'zz'"),
    (["--table", "{path}", "--insitu-col", "a", "--sat-col", "b", "--site", "X"], "filter the lake"),
    (["--lake", "{lake}", "--group-by", "site,colour"], "cannot group by 'colour'"),
    (["--lake", "{lake}", "--start", "yesterday"], "is not a date"),
])
def test_errors_exit_2_with_a_reason(tmp_path, lake_dir, args, message):
    path = tmp_path / "t.csv"
    pd.DataFrame({"a": [1.0], "b": [2.0]}).to_csv(path, index=False)
    args = [a.format(path=path, lake=lake_dir) for a in args]
    out = runner.invoke(_app(), ["stats", *args], terminal_width=200)
    assert out.exit_code == 2
    assert message in " ".join(out.output.split())


def test_missing_lake_is_a_clear_error(tmp_path):
    out = runner.invoke(_app(), ["stats", "--lake", str(tmp_path / "none")], terminal_width=200)
    assert out.exit_code == 2 and "ingest something first" in " ".join(out.output.split())
