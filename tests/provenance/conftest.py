"""Fixtures of the provenance tests: small lakes built by the flows (which write crates) or by the tasks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from provenance_helpers import BOX, GRID_DAYS, crate_of, write_inputs  # noqa: F401


@pytest.fixture(scope="session")
def flow_lake(prefect_harness, tmp_path_factory):
    """Argo and OC-CCI ingested and matched by the flows ``ingest_insitu``, ``ingest_satellite`` and ``matchup``.

    Returns:
        dict with ``lake`` (path), ``settings``, the flows' ``summaries`` and their ``crates`` folders.
    """
    from flows.ingest_insitu import ingest_insitu
    from flows.ingest_satellite import ingest_satellite
    from flows.matchup import matchup
    from tasks.config import load_settings

    base = tmp_path_factory.mktemp("provenance-flows")
    argo, grids = write_inputs(base / "data")
    lake = str(base / "lake")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OCEANLAKE_CACHE", str(base / "cache"))
        mp.delenv("OCEANLAKE_CATALOG", raising=False)
        summaries = {"ingest_insitu": ingest_insitu("argo", argo, lake=lake),
                     "ingest_satellite": ingest_satellite("occi-l3", grids, lake=lake),
                     "matchup": matchup("argo", "occi-l3", "bgc-argo-chl", lake=lake)}
        yield {"lake": lake, "settings": load_settings(lake=lake), "summaries": summaries,
               "crates": {flow: crate_of(lake, flow) for flow in summaries}, "argo": argo, "grids": grids}


@pytest.fixture
def task_lake(settings, tmp_path):
    """Builds lakes with the task functions and writes crates with the hook's own functions (no Prefect).

    Returns:
        ``run(flow, summary_dict) -> crate folder`` plus the input files, as a namespace-like dict.
    """
    from tasks.provenance.crate import write_crate
    from tasks.provenance.record import collect

    argo, grids = write_inputs(tmp_path / "data")
    started = datetime.now(UTC) - timedelta(seconds=1)
    source = {"ingest_insitu": "ingest_insitu.py", "ingest_satellite": "ingest_satellite.py", "matchup": "matchup.py"}
    flows = Path(__file__).resolve().parents[2] / "flows"

    def run(flow: str, summary: dict) -> Path:
        record = collect(flow, f"{flow}-{summary['run_id']}", started, {}, summary, settings,
                         flow_source=str(flows / source[flow]))
        return Path(write_crate(record, settings))

    return {"settings": settings, "argo": argo, "grids": grids, "run": run}
