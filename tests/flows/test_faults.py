"""Faults the daily pipeline survives: a bad file, an S3 outage, a kill during a commit, two runs of one day at once."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
import time

import pytest
from daily_helpers import DAY, cli_process, duplicate_keys, fingerprints

from tasks.config import load_settings
from tasks.query import run_query

#: Marker the test-only commit hook logs before sleeping inside an open transaction.
HOOK_MARKER = "TEST HOOK: commit #"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_bad_file_among_good_ones_is_quarantined_and_the_others_ingested(clean_run, day_data):
    _, _, written = day_data
    day, settings = written[DAY], clean_run["settings"]
    rows = run_query(settings, "SELECT object, stage, reason FROM quarantine ORDER BY object").to_pylist()
    assert [(r["object"], r["stage"]) for r in rows] == sorted((str(p), "read") for p in day.bad)
    assert all(r["object"] in r["reason"] for r in rows)  # the reason names the file
    ingested = set(run_query(settings, "SELECT source_file FROM ingested_files").column(0).to_pylist())
    good = {str(p) for p in [*day.argo, *day.hypernets, *day.occi, *day.olci]}
    assert ingested == good
    by_kind = {s["kind"]: s for s in clean_run["summary"]["ingest"]}
    assert (by_kind["argo"]["files_quarantined"], by_kind["occi-l3"]["files_quarantined"]) == (1, 1)


class _Endpoint:
    """A moto S3 server on a fixed 127.0.0.1 port that can be stopped and restarted (its data stays in memory)."""

    def __init__(self):
        from moto.server import ThreadedMotoServer

        self._cls, self.port = ThreadedMotoServer, _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = None
        self.start()

    def start(self) -> None:
        self.server = self._cls(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()

    def stop(self) -> None:
        self.server.stop()


class _OutageOnFirstFailure(logging.Handler):
    """Restarts the endpoint as soon as a step reports a failure caused by the outage."""

    def __init__(self, endpoint: _Endpoint):
        super().__init__(logging.WARNING)
        self.endpoint, self.failures, self.restarted = endpoint, [], threading.Event()
        self._restart_lock = threading.Lock()  # not ``self.lock``: logging.Handler.handle() holds that one

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "at write" in message or "transient lake error" in message or "at fetch" in message:
            self.failures.append(message[:300])
            self.restart()

    def restart(self) -> None:
        with self._restart_lock:
            if not self.restarted.is_set():
                self.restarted.set()
                self.endpoint.start()


def _task_run_counts(flow_run_id) -> dict[str, int]:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    return {run.name: run.run_count for run in runs}


def test_s3_outage_during_the_satellite_ingest(prefect_harness, day_data, clean_run, tmp_path, monkeypatch):
    """The whole day on an s3:// lake; the endpoint stops during the OLCI ingest and comes back after a failure."""
    import s3fs

    from flows.daily import daily
    from tasks import progress

    _, config, _ = day_data
    endpoint = _Endpoint()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret")
    monkeypatch.setenv("OCEANLAKE_S3_ENDPOINT", endpoint.url)
    monkeypatch.setenv("OCEANLAKE_CACHE", str(tmp_path / "cache"))
    fs = s3fs.S3FileSystem(key="testing", secret="testing-secret", client_kwargs={"endpoint_url": endpoint.url})
    fs.mkdir("lake-outage")
    lake = "s3://lake-outage/oceanlake"
    watcher = _OutageOnFirstFailure(endpoint)
    stopped = threading.Event()

    def reporter(label: str, done: int, total: int) -> None:
        if label == "ingest olci-l2-wfr" and done == 1 and not stopped.is_set():
            stopped.set()
            endpoint.stop()
            fallback = threading.Timer(90, watcher.restart)  # back anyway if no failure is logged
            fallback.daemon = True
            fallback.start()

    logging.getLogger("tasks").addHandler(watcher)
    progress.set_reporter(reporter)
    try:
        state = daily(date=DAY, config=str(config), lake=lake, return_state=True)
    finally:
        progress.set_reporter(None)
        logging.getLogger("tasks").removeHandler(watcher)
        watcher.restart()
    try:
        assert stopped.is_set() and watcher.restarted.is_set(), "the outage must have hit the run"
        assert watcher.failures
        assert state.is_completed(), state.message
        summary = state.result()
        for key in ("ingested", "quarantined", "matched", "rejected"):
            assert summary[key] == clean_run["summary"][key], key
        settings = load_settings(lake=lake)
        assert not any(duplicate_keys(settings).values())
        assert fingerprints(settings) == clean_run["fingerprints"]  # nothing missing, nothing stale in quarantine
        runs = _task_run_counts(state.state_details.flow_run_id)
        assert runs[f"ingest-olci-l2-wfr-{DAY}"] >= 2, runs  # failed during the outage, retried by Prefect
        assert fs.glob("lake-outage/oceanlake/tables/**/*.parquet")
        assert fs.exists("lake-outage/oceanlake/cubes")
        assert summary["report"] == f"{lake}/reports/{DAY}/report.html" and fs.exists(summary["report"])
    finally:
        endpoint.stop()


def _wait_for(proc, marker: str, timeout_s: float) -> list[str]:
    """stderr lines of ``proc`` until one contains ``marker`` (fails after ``timeout_s`` or if the process ends)."""
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        for line in proc.stderr:
            lines.append(line)
            if marker in line:
                found.set()
                return

    threading.Thread(target=read, daemon=True).start()
    if not found.wait(timeout_s):
        pytest.fail(f"no {marker!r} within {timeout_s} s; stderr:\n{''.join(lines[-40:])}")
    return lines


def _files_and_rows_agree(settings) -> None:
    """Nothing partial: every recorded file has its rows, and every row's file is recorded."""
    recorded = set(run_query(settings, "SELECT source_checksum FROM ingested_files").column(0).to_pylist())
    with_rows = set(run_query(settings, "SELECT source_checksum FROM argo_profiles UNION SELECT source_checksum "
                                        "FROM hypernets_sequences UNION SELECT source_checksum FROM granule_versions"
                              ).column(0).to_pylist())
    assert recorded == with_rows


@pytest.mark.parametrize("commit", [1, 4], ids=["in-situ-chunk-commit", "later-commit"])
def test_killed_during_a_commit_then_the_next_run_completes_the_day(api_url, day_data, clean_run, tmp_path, commit):
    from tasks.lake import Lake

    _, config, _ = day_data
    lake = tmp_path / "lake"
    settings = load_settings(lake=str(lake))
    Lake(settings).close()  # tables exist: the run's commit #1 is its first data commit
    args = ["daily", "--date", DAY, "--config", str(config), "--lake", str(lake), "--json"]
    proc = cli_process(args, api_url, tmp_path / "cache", OCEANLAKE_TEST_COMMIT_DELAY=f"300@{commit}")
    try:
        _wait_for(proc, f"{HOOK_MARKER}{commit} pending", timeout_s=600)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    before = fingerprints(settings)
    _files_and_rows_agree(settings)
    if commit == 1:
        assert all(n == 0 for n, _ in before.values()), before  # the killed transaction left nothing visible

    rerun = cli_process(args, api_url, tmp_path / "cache")
    out, err = rerun.communicate(timeout=900)
    assert rerun.returncode == 0, err[-3000:]
    summary = json.loads(out)
    assert summary["ingested"] + summary["skipped"] == clean_run["summary"]["ingested"]
    assert not any(duplicate_keys(settings).values())
    assert fingerprints(settings) == clean_run["fingerprints"]


def test_two_daily_runs_of_the_same_day_at_once(api_url, day_data, clean_run, tmp_path):
    _, config, _ = day_data
    lake = tmp_path / "lake"
    args = ["daily", "--date", DAY, "--config", str(config), "--lake", str(lake), "--json"]
    procs = [cli_process(args, api_url, tmp_path / "cache")]
    time.sleep(0.5)
    procs.append(cli_process(args, api_url, tmp_path / "cache"))
    results = [p.communicate(timeout=900) for p in procs]
    for proc, (_, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err[-3000:]
    summaries = [json.loads(out) for out, _ in results]
    assert sum(s["ingested"] for s in summaries) == clean_run["summary"]["ingested"]  # every file exactly once
    settings = load_settings(lake=str(lake))
    assert not any(duplicate_keys(settings).values())
    assert fingerprints(settings) == clean_run["fingerprints"]
