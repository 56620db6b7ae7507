"""The ``oceanlake`` command line: --help everywhere, demo end to end, sql output formats."""

from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from flows.cli import app

runner = CliRunner()


@pytest.mark.parametrize("args", [[], ["ingest"], ["ingest", "insitu"], ["ingest", "satellite"], ["sql"], ["schema"],
                                  ["sample"], ["demo"], ["products"], ["matchup"], ["protocols"], ["report"]])
def test_every_verb_has_help(args):
    result = runner.invoke(app, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_schema_documents_columns():
    result = runner.invoke(app, ["schema", "argo_profiles"], terminal_width=200)
    assert result.exit_code == 0
    for column in ("platform_number", "chla_surface_rule", "mg m-3"):
        assert column in result.output


def test_demo_end_to_end_then_sql_formats(prefect_harness, tmp_path, monkeypatch):
    monkeypatch.setenv("OCEANLAKE_CACHE", str(tmp_path / "cache"))
    lake = str(tmp_path / "lake")
    result = runner.invoke(app, ["demo", "--data", str(tmp_path / "data"), "--lake", lake], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "example queries" in result.output and lake in result.output
    assert "occi-l3" in result.output and "olci-l2-wfr" in result.output
    assert "quarantined" in result.output

    as_json = runner.invoke(app, ["sql", "SELECT count(*) AS n FROM argo_profiles", "--lake", lake, "-f", "json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)[0]["n"] > 0
    granules = runner.invoke(app, ["sql", "SELECT product, count(*) AS n FROM granules GROUP BY product "
                                   "ORDER BY product", "--lake", lake, "-f", "json"])
    assert json.loads(granules.stdout) == [{"product": "occi-l3", "n": 3}, {"product": "olci-l2-wfr", "n": 3}]
    assert "match-ups" in result.output and "median_ratio" in result.output

    as_csv = runner.invoke(app, ["sql", "SELECT site, count(*) AS n FROM hypernets_sequences GROUP BY site "
                                 "ORDER BY site", "--lake", lake, "--format", "csv"])
    assert as_csv.exit_code == 0, as_csv.output
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert len(rows) == 2 and all(int(r["n"]) > 0 for r in rows)

    bound = runner.invoke(app, ["sql", "SELECT count(*) AS n FROM quarantine WHERE stage = $stage",
                                "--lake", lake, "-f", "json", "-p", "stage=read"])
    assert json.loads(bound.stdout)[0]["n"] >= 3

    refused = runner.invoke(app, ["sql", "DELETE FROM quarantine", "--lake", lake])
    assert refused.exit_code == 2 and "read-only" in refused.output.lower().replace("read only", "read-only")


def test_bad_lake_url_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["ingest", "insitu", "argo", str(tmp_path), "--lake", "ftp://host/lake"])
    assert result.exit_code == 2
    assert "only local paths and s3://" in result.output


def test_products_lists_the_definitions():
    result = runner.invoke(app, ["products"], terminal_width=250)
    assert result.exit_code == 0
    for product in ("pace-oci-l3m", "olci-l2-wfr", "msi-acolite-l2w", "modis-l3b"):
        assert product in result.output


def test_ingest_satellite_command(prefect_harness, tmp_path, monkeypatch):
    from datetime import date

    from tasks.synthetic import write_occi_l3

    monkeypatch.setenv("OCEANLAKE_CACHE", str(tmp_path / "cache"))
    for day in (1, 2):
        write_occi_l3(tmp_path / "cci", date(2024, 5, day))
    lake = str(tmp_path / "lake")
    result = runner.invoke(app, ["ingest", "satellite", "occi-l3", str(tmp_path / "cci"), "--lake", lake, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["files_ingested"] == 2
    listed = runner.invoke(app, ["sql", "SELECT count(*) AS n FROM granules", "--lake", lake, "-f", "json"])
    assert json.loads(listed.stdout)[0]["n"] == 2
    unknown = runner.invoke(app, ["ingest", "satellite", "occi-l4", str(tmp_path), "--lake", lake])
    assert unknown.exit_code == 2 and "occi-l3" in unknown.output


def test_matchup_command_on_the_demo_lake_is_idempotent(prefect_harness, tmp_path, monkeypatch):
    monkeypatch.setenv("OCEANLAKE_CACHE", str(tmp_path / "cache"))
    lake = str(tmp_path / "lake")
    assert runner.invoke(app, ["demo", "--data", str(tmp_path / "data"), "--lake", lake]).exit_code == 0
    count = ["sql", "SELECT insitu_source, count(*) AS n, count(*) FILTER (passed) AS passed FROM matchups "
             "GROUP BY 1 ORDER BY 1", "--lake", lake, "-f", "json"]
    before = json.loads(runner.invoke(app, count).stdout)
    assert [r["insitu_source"] for r in before] == ["argo", "hypernets"] and all(r["n"] > 0 for r in before)
    assert any(r["passed"] > 0 for r in before)
    again = runner.invoke(app, ["matchup", "--insitu", "hypernets", "--product", "olci-l2-wfr", "--protocol",
                                "hypernets", "--lake", lake, "--json"])
    assert again.exit_code == 0, again.output
    summary = json.loads(again.stdout.strip().splitlines()[-1])
    hyp = next(r for r in before if r["insitu_source"] == "hypernets")
    assert summary["rows"] == summary["replaced_rows"] == hyp["n"]
    assert json.loads(runner.invoke(app, count).stdout) == before
    human = runner.invoke(app, ["matchup", "--insitu", "argo", "--product", "occi-l3", "--protocol", "bgc-argo-chl",
                                "--start", "2024-03-01", "--end", "2024-04-01", "--lake", lake], terminal_width=200)
    assert human.exit_code == 0 and "argo x occi-l3" in human.output and "bgc-argo-chl" in human.output
    bad = runner.invoke(app, ["matchup", "--insitu", "argo", "--product", "occi-l3", "--protocol", "nasa",
                              "--lake", lake])
    assert bad.exit_code == 2 and "bailey-werdell-2006" in bad.output
    bad_date = runner.invoke(app, ["matchup", "--insitu", "argo", "--product", "occi-l3", "--protocol",
                                   "bgc-argo-chl", "--start", "March", "--lake", lake])
    assert bad_date.exit_code == 2 and "not a date" in bad_date.output
    listed = runner.invoke(app, ["protocols"], terminal_width=250)
    assert listed.exit_code == 0 and "eumetsat-olci" in listed.output and "median CV <= 0.15" in listed.output
