"""The daily flow writes one crate for the day (ingest, match-ups, gate, statistics, report) that reproduces."""

from __future__ import annotations

import json

import pytest
import yaml
from provenance_helpers import crate_of
from provenance_helpers import reproduce as _reproduce
from rocrate.rocrate import ROCrate

DAY = "2024-03-05"


@pytest.fixture(scope="module")
def daily_run(prefect_harness, tmp_path_factory):
    """The ``daily`` flow run on a small synthetic day (1 station, 2 floats, OC-CCI + 1 OLCI granule)."""
    from flows.daily import daily
    from tasks.synthetic.day import pipeline_config, write_synthetic_day

    base = tmp_path_factory.mktemp("provenance-daily")
    write_synthetic_day(base / "data", DAY, n_granules=2, n_profiles=2, n_stations=1, bad=True)
    config = base / "pipeline.yaml"
    config.write_text(yaml.safe_dump(pipeline_config(base / "data")), encoding="utf-8")
    lake = base / "lake"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OCEANLAKE_CACHE", str(base / "cache"))
        mp.delenv("OCEANLAKE_CATALOG", raising=False)
        summary = daily(date=DAY, config=str(config), lake=str(lake))
        yield {"lake": lake, "summary": summary, "crate": crate_of(lake, "daily"), "config": config}


def test_daily_crate_has_every_step(daily_run):
    crate = ROCrate(daily_run["crate"])
    run = next(a for a in crate.get_by_type("CreateAction") if a["instrument"].id == crate.mainEntity.id)
    assert run["identifier"] == daily_run["summary"]["run_id"]
    steps = [c["object"] for c in crate.get_by_type("OrganizeAction")[0]["object"]]
    tools = [s["instrument"]["name"] for s in steps]
    assert tools == ["tasks.ingest.ingest_insitu"] * 2 + ["tasks.ingest_satellite.ingest_satellite"] * 2 + \
        ["tasks.matchup.engine.run_matchups"] * 2 + ["tasks.pipeline.check_day", "tasks.validation.stats.lake_stats",
                                                     "tasks.validation.report.write_report"]
    inputs = [e for e in run["object"] if e.type in ("File", "Dataset")]
    quarantined = [e for e in inputs if e["oceanlake:role"] == "quarantined"]
    assert len(quarantined) == 2 and all(e["sha256"] and "read" in e["description"] for e in quarantined)
    assert any(e.type == "Dataset" and e["contentUrl"].endswith(".SEN3") for e in inputs)  # OLCI SAFE folder
    stats = json.loads((daily_run["crate"] / f"statistics-{DAY}.json").read_text())
    expected = json.loads(json.dumps(daily_run["summary"]["statistics"], default=str))
    assert len(stats) == len(expected) > 0 and stats[0].keys() == expected[0].keys()
    assert [r["n"] for r in stats] == [r["n"] for r in expected]
    assert (daily_run["crate"] / f"statistics-{DAY}.csv").read_text().startswith("insitu_source,")
    report = next(e for e in steps[-1]["result"] if e.type == "File")
    assert report["contentUrl"] == daily_run["summary"]["report"] and len(report["sha256"]) == 64


def test_daily_reproduces(daily_run):
    out = _reproduce(daily_run["crate"], "--json")
    assert out.exit_code == 0, out.output
    results = {(c["step"], c["output"]): c["status"] for c in json.loads(out.stdout)}
    assert results[(f"statistics {DAY}", "statistics")] == "identical"
    assert sum(1 for (step, output) in results if output == "matchups") == 2
    assert {s for (step, _), s in results.items() if not step.startswith("report")} == {"identical"}
    assert [s for (step, _), s in results.items() if step.startswith("report")] == ["not re-run"]


def test_kept_matchups_record_the_versions_they_were_computed_from(daily_run):
    """A re-run of the day keeps the match-ups (inputs unchanged): its steps record where the rows came from."""
    from datetime import date

    from tasks.config import load_settings
    from tasks.pipeline import load_pipeline_config, matchups_day
    from tasks.provenance.record import matchup_step
    from tasks.provenance.reproduce import IDENTICAL, reproduce_step

    settings = load_settings(lake=str(daily_run["lake"]))
    config = load_pipeline_config(daily_run["config"])
    first = {m["product"]: m for m in daily_run["summary"]["matchups"]}
    for combo in config.matchups:
        kept = matchups_day(combo, date.fromisoformat(DAY), settings, run_id="rerun")
        assert kept["skipped"] and kept["insitu_snapshot_id"] is None
        step = matchup_step(settings, kept)
        assert step.status == "skipped"
        assert step.snapshot("ducklake", "read") == str(first[combo.product]["insitu_snapshot_id"])
        assert step.cube_snapshots() == first[combo.product]["cube_snapshots"]
        comparisons = reproduce_step(step, settings)
        assert [c.status for c in comparisons] == [IDENTICAL]


def test_backfill_crate_has_the_steps_of_every_day(daily_run):
    from datetime import UTC, datetime

    from tasks.config import load_settings
    from tasks.provenance.crate import build_crate, parse_crate
    from tasks.provenance.record import collect

    settings = load_settings(lake=str(daily_run["lake"]))
    result = {"start": DAY, "end": "2024-03-06", "failed": ["2024-03-06"],
              "days": [daily_run["summary"], {"day": "2024-03-06", "failed": "no file"}]}
    record = collect("backfill", "b1", datetime.now(UTC), {"start": DAY, "end": "2024-03-06"}, result, settings)
    document, files = build_crate(record)
    parsed = parse_crate(json.loads(json.dumps(document)))
    assert parsed.status == "failed" and "failed days (not recorded): 2024-03-06" in parsed.description
    assert [s.kind for s in parsed.steps] == ["ingest-insitu"] * 2 + ["ingest-satellite"] * 2 + ["matchups"] * 2 + \
        ["quality-gate", "statistics", "report"]
    assert all(DAY in s.label for s in parsed.steps)
    assert {f"statistics-{DAY}.json", f"statistics-{DAY}.csv"} <= set(files)
