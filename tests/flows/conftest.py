"""Fixtures of the daily-pipeline tests: synthetic days, their pipeline config, a clean reference run of one day."""

from __future__ import annotations

import pytest
import yaml
from daily_helpers import DAY, DAYS, fingerprints, snapshot_id


@pytest.fixture(scope="session")
def day_data(tmp_path_factory):
    """Three synthetic days (the middle one with an unreadable Argo file and OC-CCI file) and their pipeline config.

    Returns:
        (data root, path of the pipeline config YAML, {day: SyntheticDay}).
    """
    from tasks.synthetic.day import pipeline_config, write_synthetic_day

    root = tmp_path_factory.mktemp("daily-data")
    written = {day: write_synthetic_day(root / "data", day, n_granules=4, n_profiles=6, n_stations=2,
                                        bad=day == DAY) for day in DAYS}
    config = root / "pipeline.yaml"
    config.write_text(yaml.safe_dump(pipeline_config(root / "data")), encoding="utf-8")
    return root, config, written


@pytest.fixture(scope="session")
def clean_run(prefect_harness, day_data, tmp_path_factory):
    """The reference: the ``daily`` flow run once for DAY on a fresh local lake.

    Returns:
        dict with ``settings``, the flow's ``summary``, ``state``, table ``fingerprints`` and ``snapshot``.
    """
    from flows.daily import daily
    from tasks.config import load_settings

    _, config, _ = day_data
    base = tmp_path_factory.mktemp("clean-run")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OCEANLAKE_CACHE", str(base / "cache"))
        mp.delenv("OCEANLAKE_CATALOG", raising=False)
        state = daily(date=DAY, config=str(config), lake=str(base / "lake"), return_state=True)
        settings = load_settings(lake=str(base / "lake"))
        return {"settings": settings, "state": state, "summary": state.result(), "fingerprints": fingerprints(settings),
                "snapshot": snapshot_id(settings)}


@pytest.fixture
def api_url(prefect_harness) -> str:
    """URL of the session's Prefect test API, for subprocesses to report to (no server start of their own)."""
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value()
