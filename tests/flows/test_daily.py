"""Flows ``daily`` and ``backfill`` (tasks/pipeline.py, flows/daily.py, flows/cli_run.py) on synthetic days."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from daily_helpers import DAY, DAYS, duplicate_keys, fingerprints, snapshot_id
from typer.testing import CliRunner

from tasks.config import load_settings
from tasks.errors import ConfigError
from tasks.pipeline import (
    days_between,
    format_template,
    load_pipeline_config,
    pipeline_config_from_dict,
    resolve_day,
)
from tasks.query import run_query
from tests.lake.test_postgres_catalog import postgres  # noqa: F401 - the throwaway PostgreSQL server fixture

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


# -- configuration ----------------------------------------------------------------------------------------------


def test_example_config_is_valid(settings):
    config = load_pipeline_config(REPO / "deployments" / "pipeline.example.yaml")
    config.validate(settings)
    assert [s.kind for s in config.insitu] == ["argo", "hypernets"]
    assert {s.product for s in config.satellite} == {"occi-l3", "olci-l2-wfr"}
    assert [c.label for c in config.matchups] == ["argo x occi-l3 (bgc-argo-chl)",
                                                  "hypernets x olci-l2-wfr (hypernets)"]
    assert config.insitu_kind("argo").lookback_days == 2
    assert config.report.folder == "{lake}/reports/{date:%Y-%m-%d}"


def test_templates_and_days():
    day = date(2024, 3, 1)
    assert format_template("/d/{date:%Y/%j}/x-{date:%Y%m%d}.nc", day) == "/d/2024/061/x-20240301.nc"
    assert format_template("{lake}/reports/{date}", day, lake="s3://b/l") == "s3://b/l/reports/2024-03-01"
    assert format_template("a{{b}}", day) == "a{b}"
    assert days_between("2024-02-28", "2024-03-01") == [date(2024, 2, 28), date(2024, 2, 29), date(2024, 3, 1)]
    assert resolve_day(None) == datetime.now(UTC).date() - timedelta(days=1)
    with pytest.raises(ConfigError, match="placeholders"):
        format_template("/d/{day}", day)
    with pytest.raises(ConfigError, match="before its start"):
        days_between("2024-03-02", "2024-03-01")
    with pytest.raises(ConfigError, match="not a day"):
        resolve_day("yesterday")


@pytest.mark.parametrize(("data", "message"), [
    ({"insitu": {"argo": ["x"]}, "sattelite": {}}, "unknown keys"),
    ({"matchups": [{"insitu": "argo", "product": "occi-l3"}]}, "insitu: ..., product: ..., protocol"),
    ({"insitu": {"argo": {"sources": ["x"], "gdac": {"wmos": [1]}}}}, "unknown"),
    ({"satellite": {"occi-l3": [3]}}, "SOURCE"),
    ({"report": {"enabled": True}}, "nothing to do"),
    ({"insitu": {"argo": ["x"]}, "missing_sources": "ignore"}, "warn or fail"),
])
def test_config_structure_errors(data, message):
    with pytest.raises(ConfigError, match=message):
        pipeline_config_from_dict(data, origin="test.yaml")


def test_config_unknown_ids_list_the_valid_ones(settings):
    config = pipeline_config_from_dict({"matchups": [{"insitu": "argo", "product": "occi-l3", "protocol": "nope"}]},
                                       origin="test.yaml")
    with pytest.raises(ConfigError, match="test.yaml: unknown protocol 'nope'; protocols are: .*bgc-argo-chl"):
        config.validate(settings)
    config = pipeline_config_from_dict({"satellite": {"occi-l4": ["x"]}}, origin="test.yaml")
    with pytest.raises(ConfigError, match="products are: .*occi-l3"):
        config.validate(settings)


def test_cli_help_teaches_with_examples():
    from flows.cli_run import run_app

    for args in ([], ["daily"], ["backfill"]):
        result = runner.invoke(run_app, [*args, "--help"], terminal_width=200)
        assert result.exit_code == 0, result.output
        assert "Usage" in result.output and "Examples" in result.output and "oceanlake run" in result.output
        if args:
            assert "--config" in result.output and "--lake" in result.output


def test_cli_refuses_a_bad_config_before_starting_prefect(tmp_path, monkeypatch):
    from flows.cli_run import run_app

    monkeypatch.delenv("OCEANLAKE_PIPELINE_CONFIG", raising=False)
    bad = tmp_path / "p.yaml"
    bad.write_text("insitu: {argo: [x]}\nmatchups: [{insitu: argo, product: occi-l3, protocol: nope}]\n")
    result = runner.invoke(run_app, ["daily", "--config", str(bad), "--lake", str(tmp_path / "lake")])
    assert result.exit_code == 2 and "unknown protocol 'nope'" in result.output
    result = runner.invoke(run_app, ["daily", "--lake", str(tmp_path / "lake")])
    assert result.exit_code == 2 and "OCEANLAKE_PIPELINE_CONFIG" in result.output
    result = runner.invoke(run_app, ["backfill", "--start", "2024-03-02", "--end", "2024-03-01", "--config",
                                     str(REPO / "deployments" / "pipeline.example.yaml")])
    assert result.exit_code == 2 and "before its start" in result.output


# -- the daily flow ------------------------------------------------------------------------------------------------


def test_daily_counts_matchups_and_report(clean_run, day_data):
    _, _, written = day_data
    state, summary, settings = clean_run["state"], clean_run["summary"], clean_run["settings"]
    assert state.is_completed()
    day = written[DAY]
    good_files = len(day.argo) + len(day.hypernets) + day.n_granules
    assert summary["day"] == DAY
    assert (summary["ingested"], summary["skipped"]) == (good_files, 0)
    assert summary["quarantined"] == 2  # the unreadable Argo and OC-CCI files
    by_kind = {s["kind"]: s for s in summary["ingest"]}
    assert by_kind["argo"]["files_ingested"] == len(day.argo) and by_kind["argo"]["files_quarantined"] == 1
    assert by_kind["olci-l2-wfr"]["files_ingested"] == len(day.olci)
    combos = {(m["insitu_source"], m["product"]): m for m in summary["matchups"]}
    assert set(combos) == {("argo", "occi-l3"), ("hypernets", "olci-l2-wfr")}
    assert all(m["rows"] > 0 and not m["skipped"] for m in combos.values())
    assert summary["matched"] == sum(m["rows_passed"] for m in combos.values()) > 0
    assert summary["matched"] + summary["rejected"] == sum(m["rows"] for m in combos.values())
    assert summary["gate"]["passed"] and not any(summary["gate"]["duplicates"].values())
    assert {s["product"] for s in summary["statistics"]} == {"occi-l3", "olci-l2-wfr"}

    rows = run_query(settings, "SELECT insitu_source, count(*) AS n, min(time_insitu) AS t0, max(time_insitu) AS t1 "
                               "FROM matchups GROUP BY ALL ORDER BY 1").to_pylist()
    assert [r["insitu_source"] for r in rows] == ["argo", "hypernets"]
    assert all(r["t0"].date().isoformat() == DAY == r["t1"].date().isoformat() for r in rows)
    run_ids = run_query(settings, "SELECT DISTINCT run_id FROM ingested_files").column(0).to_pylist()
    assert run_ids == [str(state.state_details.flow_run_id)]
    report = Path(summary["report"])
    assert report == Path(settings.lake) / "reports" / DAY / "report.html" and report.is_file()
    assert (report.parent / "statistics.csv").is_file()


def test_rerun_of_a_day_changes_nothing(clean_run, day_data):
    """The same day again (through the CLI, as JSON): nothing read twice, match-ups kept, no new lake snapshot."""
    from flows.cli_run import run_app

    _, config, _ = day_data
    settings = clean_run["settings"]
    result = runner.invoke(run_app, ["daily", "--date", DAY, "--config", str(config), "--lake", settings.lake,
                                     "--json"])
    assert result.exit_code == 0, result.output
    again = json.loads(result.stdout)
    assert (again["ingested"], again["skipped"]) == (0, clean_run["summary"]["ingested"])
    assert all(m["skipped"] for m in again["matchups"])
    for key in ("matched", "rejected", "primary_matched", "quarantined"):
        assert again[key] == clean_run["summary"][key], key
    assert snapshot_id(settings) == clean_run["snapshot"]  # no commit at all
    assert fingerprints(settings) == clean_run["fingerprints"]


def test_backfill_runs_days_concurrently(prefect_harness, day_data, tmp_path, monkeypatch):
    from flows.daily import backfill
    from tasks import progress

    _, config, written = day_data
    monkeypatch.setenv("OCEANLAKE_CACHE", str(tmp_path / "cache"))
    seen: dict[str, tuple[int, int]] = {}
    progress.set_reporter(lambda label, done, total: seen.__setitem__(label, (done, total)))
    try:
        result = backfill(start=DAYS[0], end=DAYS[-1], config=str(config), lake=str(tmp_path / "lake"),
                          max_concurrency=2)
    finally:
        progress.set_reporter(None)
    assert [d["day"] for d in result["days"]] == list(DAYS) and not result["failed"]
    assert seen["backfill: days ingested"] == (3, 3) and seen["backfill: days done"] == (3, 3)
    for day in result["days"]:
        files = written[day["day"]]
        assert day["ingested"] == len(files.argo) + len(files.hypernets) + files.n_granules
        assert day["matched"] > 0 and Path(day["report"]).is_file()
    settings = load_settings(lake=str(tmp_path / "lake"))
    assert not any(duplicate_keys(settings).values())
    per_day = run_query(settings, "SELECT CAST(time_insitu AS DATE) AS d, count(*) AS n FROM matchups "
                                  "GROUP BY ALL ORDER BY 1").to_pylist()
    assert [r["d"].isoformat() for r in per_day] == list(DAYS)
    # OC-CCI days appended out of order stay one cube the match-ups can read (sorted on read)
    granules = run_query(settings, "SELECT count(*) AS n, count(DISTINCT cube) AS cubes FROM granules "
                                   "WHERE product = 'occi-l3'").to_pylist()
    assert granules == [{"n": 3, "cubes": 1}]


def test_backfill_task_runners(settings, monkeypatch):
    from prefect.task_runners import ThreadPoolTaskRunner
    from prefect_dask import DaskTaskRunner

    from flows.daily import task_runner_for

    assert isinstance(task_runner_for("thread", 3, settings), ThreadPoolTaskRunner)
    local = task_runner_for("dask", 2, settings)
    assert isinstance(local, DaskTaskRunner) and local.cluster_kwargs["n_workers"] == 2
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://10.0.0.5:8786")
    remote = task_runner_for("dask", 2, load_settings(lake=settings.lake))
    assert remote.address == "tcp://10.0.0.5:8786"
    with pytest.raises(ConfigError, match="thread or dask"):
        task_runner_for("ray", 2, settings)


def _sum_of_a_dask_array() -> float:
    """Like the cube readers: a lazy array computed in a reader thread while the step's thread waits for it."""
    from concurrent.futures import ThreadPoolExecutor

    import dask.array as da

    from flows.daily import local_dask

    with local_dask(), ThreadPoolExecutor(1) as reader:
        return float(reader.submit(lambda: da.ones(100, chunks=10).sum().compute()).result())


def test_steps_on_a_busy_dask_cluster_compute_their_arrays_locally():
    """A step computing a lazy array on a cluster whose only worker thread runs that step must not deadlock."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        assert client.submit(_sum_of_a_dask_array).result(timeout=60) == 100.0


@pytest.mark.slow
def test_backfill_on_a_dask_local_cluster(prefect_harness, day_data, clean_run, tmp_path, monkeypatch):
    """Two days on a 2-worker LocalCluster (worker processes report to the same Prefect API)."""
    from prefect import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName, TaskRunFilterStartTime

    from flows.daily import backfill

    _, config, _ = day_data
    monkeypatch.setenv("OCEANLAKE_CACHE", str(tmp_path / "cache"))
    started = datetime.now(UTC)
    result = backfill(start=DAY, end=DAYS[-1], config=str(config), lake=str(tmp_path / "lake"), max_concurrency=2,
                      task_runner="dask")
    assert [d["day"] for d in result["days"]] == [DAY, DAYS[-1]] and not result["failed"]
    assert result["days"][0]["ingested"] == clean_run["summary"]["ingested"]
    assert not any(duplicate_keys(load_settings(lake=str(tmp_path / "lake"))).values())
    names = [f"{step}-{day}" for step in ("ingest", "matchups-report") for day in (DAY, DAYS[-1])]
    with get_client(sync_client=True) as client:  # the workers reported to this API, not to servers of their own
        runs = client.read_task_runs(task_run_filter=TaskRunFilter(
            name=TaskRunFilterName(any_=names), start_time=TaskRunFilterStartTime(after_=started)))
    assert sorted(r.name for r in runs if r.state.is_completed()) == sorted(names)


# -- PostgreSQL catalog ---------------------------------------------------------------------------------------------


def test_daily_with_postgres_catalog(prefect_harness, postgres, day_data, clean_run, tmp_path, monkeypatch):  # noqa: F811
    from flows.daily import daily

    _, config, _ = day_data
    monkeypatch.setenv("OCEANLAKE_CACHE", str(tmp_path / "cache"))
    summary = daily(date=DAY, config=str(config), lake=str(tmp_path / "lake"), catalog=postgres)
    assert not (tmp_path / "lake" / "catalog.sqlite").exists()
    for key in ("ingested", "quarantined", "matched", "rejected"):
        assert summary[key] == clean_run["summary"][key], key
    settings = load_settings(lake=str(tmp_path / "lake"), catalog=postgres)
    assert fingerprints(settings) == clean_run["fingerprints"]
    again = daily(date=DAY, config=str(config), lake=str(tmp_path / "lake"), catalog=postgres)
    assert again["ingested"] == 0 and all(m["skipped"] for m in again["matchups"])


def test_pipeline_config_round_trips_through_yaml(day_data):
    _, config, _ = day_data
    loaded = load_pipeline_config(config)
    assert loaded == pipeline_config_from_dict(yaml.safe_load(config.read_text()), origin=str(config))
