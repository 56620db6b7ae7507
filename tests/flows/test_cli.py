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
                                  ["sample"], ["demo"], ["products"]])
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
    assert json.loads(granules.stdout) == [{"product": "occi-l3", "n": 3}, {"product": "olci-l2-wfr", "n": 2}]

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
