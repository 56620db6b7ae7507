"""The production path on a real Prefect server (docs/deployment.md, "Checking a deployment on a real server").

`prefect server start` on 127.0.0.1 (its own PREFECT_HOME and SQLite database), the work pool,
`prefect deploy` of the daily deployment from deployments/prefect.yaml, a process worker, a run of
the daily deployment for a synthetic day whose files are generated here, and the match-ups queried
from the lake the run wrote. Everything runs as subprocesses with the same CLI a user types; every
process started here is stopped in a ``finally`` (the server and worker by process group, a flow run
still running by the pid the worker recorded). On failure the server, worker and flow-run logs are
printed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tasks.config import load_settings
from tasks.query import run_query

REPO = Path(__file__).resolve().parents[2]
#: The prefect CLI of this Python (its worker starts flow runs with the same interpreter).
PREFECT = [sys.executable, "-m", "prefect"]
#: The server's first start creates and migrates its database: more than a minute on 2 busy cores.
SERVER_START_TIMEOUT_S = 240
#: Worker pick-up, flow-run process start (imports), the daily pipeline on the synthetic day.
FLOW_RUN_TIMEOUT_S = 480
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
#: The synthetic day: the second sample float is in the Ligurian Sea under the OC-CCI sample granule.
DAY = "2024-03-01"

#: Slow (about 1-2 min) but part of the default run: CI runs the production path on every change.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _tail(path: Path, lines: int = 60) -> str:
    if not path.exists():
        return f"({path.name}: absent)"
    return f"--- last lines of {path} ---\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop(proc: subprocess.Popen | None, grace_s: float = 20) -> None:
    """Stop a process started here with ``start_new_session=True`` and everything left in its process group."""
    if proc is None:
        return
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)  # the group id is the pid of the process started in its own session
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            proc.poll()  # reap it when it exits
            if not _group_alive(proc.pid):
                break
            time.sleep(0.2)
        else:
            continue
        break
    proc.poll()


class PrefectServer:
    """A ``prefect server start`` subprocess on 127.0.0.1 and the environment of CLI calls against it."""

    def __init__(self, home: Path, port: int):
        self.home = home
        self.port = port
        self.url = f"http://127.0.0.1:{self.port}/api"
        self.log = home / "server.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "OCEANLAKE_"))}
        self.env.update(
            PREFECT_HOME=str(home),
            PREFECT_API_URL=self.url,
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_UI_ENABLED="false",
            PREFECT_LOGGING_LEVEL="INFO",
            PREFECT_WORKER_QUERY_SECONDS="2",
            PREFECT_CLI_WRAP_LINES="false",
            DO_NOT_TRACK="1",
            GX_ANALYTICS_ENABLED="false",
            PYTHONUNBUFFERED="1",
            COLUMNS="200",
        )
        self.proc: subprocess.Popen | None = None
        self.client = httpx.Client(base_url=self.url, timeout=30)

    def start(self) -> None:
        """Start the server and wait for /api/health (fails with the server log when it does not come up)."""
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [*PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env, cwd=self.home, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"prefect server exited with code {self.proc.returncode}\n{_tail(self.log)}")
            try:
                if self.client.get("/health", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(2)
        pytest.fail(f"prefect server not healthy after {SERVER_START_TIMEOUT_S} s\n{_tail(self.log)}")

    def cli(self, *args: str, env: dict[str, str] | None = None, timeout: float = 180) -> str:
        """Run ``prefect <args>`` from the repository root against this server; returns its output."""
        result = subprocess.run([*PREFECT, *args], env={**self.env, **(env or {})}, cwd=REPO, capture_output=True,
                                text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            pytest.fail(f"`prefect {' '.join(args)}` failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result.stdout + result.stderr

    def start_worker(self, pool: str, env: dict[str, str], log: Path) -> subprocess.Popen:
        """A process worker of ``pool`` in the background (its flow runs inherit ``env``)."""
        with log.open("wb") as out:
            return subprocess.Popen([*PREFECT, "worker", "start", "--pool", pool, "--type", "process", "--limit", "1"],
                                    env={**self.env, **env}, cwd=self.home, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)

    def flow_run(self, run_id: str) -> dict:
        """The flow run as the API returns it."""
        response = self.client.get(f"/flow_runs/{run_id}")
        response.raise_for_status()
        return response.json()

    def wait_for(self, run_id: str, timeout_s: float) -> dict:
        """Poll the flow run until it reaches a terminal state or ``timeout_s`` passes; returns the last read."""
        deadline = time.monotonic() + timeout_s
        run: dict = {}
        while time.monotonic() < deadline:
            try:
                run = self.flow_run(run_id)
            except httpx.HTTPError:  # a busy server (2 cores, a flow run working): ask again
                pass
            if (run.get("state") or {}).get("type") in TERMINAL:
                break
            time.sleep(3)
        return run

    def run_logs(self, run_id: str, limit: int = 200) -> str:
        """The flow run's log lines (for failure messages)."""
        try:
            response = self.client.post("/logs/filter", json={
                "logs": {"flow_run_id": {"any_": [run_id]}}, "sort": "TIMESTAMP_ASC", "limit": limit})
            return "\n".join(f"{log['timestamp'][11:19]} {log['level']:>2} {log['message']}"
                             for log in response.json())
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            return f"(could not read the flow run logs: {exc})"

    def kill_flow_run_process(self, run_id: str) -> None:
        """Kill a flow run still running at the end (its process runs in its own session, by the pid recorded)."""
        try:
            pid = (self.flow_run(run_id).get("infrastructure_pid") or "").rpartition(":")[2]
        except httpx.HTTPError:
            return
        if pid.isdigit():
            try:
                os.killpg(int(pid), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def stop(self) -> None:
        """Stop the server (and its child processes)."""
        self.client.close()
        _stop(self.proc)


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory, tcp_port):
    """A real Prefect server on 127.0.0.1 (a free port) for this module, stopped at the end."""
    server = PrefectServer(tmp_path_factory.mktemp("prefect-server-home"), tcp_port)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def _day_of_data(root: Path) -> Path:
    """Write one day of files in the real formats and the pipeline config that selects them; returns the config.

    Argo S-profiles of two floats (the second one in the Ligurian Sea on the day), HYPERNETS L2A
    files, the day's OC-CCI L3 granule over the Ligurian Sea and OLCI WFR granules (the satellite
    SOURCE templates keep only the day's files); match-ups of Argo x OC-CCI under bgc-argo-chl.
    """
    from tasks.synthetic import write_sample_dataset, write_satellite_samples

    write_sample_dataset(root, n_floats=2, n_profiles=3, n_sites=1, n_sequences=2, with_index=False)
    write_satellite_samples(root / "satellite", n_days=1)
    config = {
        "insitu": {"argo": [str(root / "argo")], "hypernets": [str(root / "hypernets")]},
        "satellite": {"occi-l3": [str(root / "satellite" / "occi-l3" / "*{date:%Y%m%d}*")],
                      "olci-l2-wfr": [str(root / "satellite" / "olci-l2-wfr" / "*_{date:%Y%m%d}T*.SEN3")]},
        "matchups": [{"insitu": "argo", "product": "occi-l3", "protocol": "bgc-argo-chl"}],
        "report": {"enabled": True},
    }
    path = root / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _flow_run_id(output: str) -> str:
    match = re.search(r"UUID:\s*([0-9a-f-]{36})", output)
    assert match, f"no flow run id in the output of `prefect deployment run`:\n{output}"
    return match.group(1)


def test_daily_deployment_runs_on_a_real_server(prefect_server, tmp_path, monkeypatch):
    lake = tmp_path / "lake"
    config = _day_of_data(tmp_path / "incoming")
    env = {  # read by `prefect deploy` (parameters) and by the worker and its flow runs
        "OCEANLAKE_REPO": str(REPO),
        "OCEANLAKE_LAKE": str(lake),
        "OCEANLAKE_PIPELINE_CONFIG": str(config),
        "OCEANLAKE_CACHE": str(tmp_path / "cache"),
    }
    prefect_server.cli("work-pool", "create", "oceanlake-process", "--type", "process", "--overwrite")
    prefect_server.cli("--no-prompt", "deploy", "--prefect-file", "deployments/prefect.yaml", "--name", "daily",
                       env=env)
    deployment = prefect_server.client.get("/deployments/name/daily/daily").json()
    assert deployment["parameters"] == {"config": str(config), "lake": str(lake)}
    assert [s["schedule"]["cron"] for s in deployment["schedules"]] == ["0 6 * * *"]

    worker_log = tmp_path / "worker.log"
    worker = prefect_server.start_worker("oceanlake-process", env, worker_log)
    run_id, run = None, {}
    try:
        run_id = _flow_run_id(prefect_server.cli("deployment", "run", "daily/daily", "--param", f"date={DAY}"))
        run = prefect_server.wait_for(run_id, FLOW_RUN_TIMEOUT_S)
        state = (run.get("state") or {}).get("type")
        assert state == "COMPLETED", (
            f"flow run {run_id} ended {state!r} ({(run.get('state') or {}).get('message')})\n"
            f"--- flow run logs ---\n{prefect_server.run_logs(run_id)}\n{_tail(worker_log)}\n"
            f"{_tail(prefect_server.log)}")
    finally:
        if run_id:
            prefect_server.kill_flow_run_process(run_id)
        _stop(worker)

    assert run["name"] == f"daily-{DAY}" and run["parameters"]["date"] == DAY
    monkeypatch.setenv("OCEANLAKE_CACHE", str(tmp_path / "cache"))
    settings = load_settings(lake=str(lake))
    n = run_query(settings, "SELECT count(*) AS n FROM matchups").column("n")[0].as_py()
    assert n > 0, f"no match-up in the lake after the daily run {run_id}:\n{prefect_server.run_logs(run_id)}"
    runs = run_query(settings, "SELECT DISTINCT run_id FROM matchups").column("run_id").to_pylist()
    assert runs == [run_id]  # the rows carry the flow run id of the deployment run
