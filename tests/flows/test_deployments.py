"""deployments/prefect.yaml: parses, entrypoints import, parameters match the flow signature."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_deployments_reference_real_flows_and_parameters():
    spec = yaml.safe_load((REPO / "deployments" / "prefect.yaml").read_text())
    assert spec["deployments"]
    for dep in spec["deployments"]:
        path, func = dep["entrypoint"].split(":")
        assert (REPO / path).is_file(), dep["entrypoint"]
        flow = getattr(importlib.import_module(path[:-3].replace("/", ".")), func)
        params = set(inspect.signature(flow.fn).parameters)
        assert set(dep["parameters"]) <= params, (dep["name"], set(dep["parameters"]) - params)
        assert dep["work_pool"]["name"] == "oceanlake-process"
        for schedule in dep.get("schedules", []):
            assert len(schedule["cron"].split()) == 5 and schedule["timezone"] == "UTC"


def test_infra_compose_declares_storage_backends():
    compose = yaml.safe_load((REPO / "infra" / "docker-compose.yml").read_text())
    assert {"minio", "catalog"} <= set(compose["services"])
