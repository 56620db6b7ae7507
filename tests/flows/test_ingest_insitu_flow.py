"""The Prefect flow ``ingest_insitu`` on the ephemeral test API (thin wrapper: counts and run id)."""

from __future__ import annotations

import pytest

from tasks.query import run_query
from tasks.synthetic import write_bad_files, write_sample_dataset


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("flow-sample")
    write_sample_dataset(out, n_floats=1, n_profiles=4, n_sites=1, n_sequences=2, with_index=False)
    bad = write_bad_files(out / "bad")
    return out, bad


def test_flow_ingests_and_records_the_flow_run_id(prefect_harness, sample, settings):
    from flows.ingest_insitu import ingest_insitu

    out, bad = sample
    state = ingest_insitu("argo", [str(out / "argo"), str(bad["text_as_nc"])], lake=settings.lake,
                          return_state=True)
    assert state.is_completed()
    summary = state.result()
    assert summary["files_ingested"] == 1 and summary["files_quarantined"] == 1
    run_ids = run_query(settings, "SELECT DISTINCT run_id FROM ingested_files").column("run_id").to_pylist()
    assert run_ids == [str(state.state_details.flow_run_id)]
    again = ingest_insitu("argo", [str(out / "argo")], lake=settings.lake)
    assert again["files_skipped"] == 1 and again["files_ingested"] == 0


def test_flow_hypernets(prefect_harness, sample, settings):
    from flows.ingest_insitu import ingest_insitu

    out, _ = sample
    summary = ingest_insitu("hypernets", [str(out / "hypernets")], lake=settings.lake)
    assert summary["files_ingested"] == 2
    assert summary["rows_written"]["hypernets_sequences"] == 2
