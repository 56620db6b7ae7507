"""Crates on an s3:// lake with s3:// inputs (moto server): written beside the lake, reproduced, refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from provenance_helpers import write_inputs

from tasks.ingest import ingest_insitu
from tasks.ingest_satellite import ingest_satellite
from tasks.matchup.engine import run_matchups
from tasks.provenance.crate import write_crate
from tasks.provenance.record import collect
from tasks.provenance.reproduce import IDENTICAL, ReproductionRefused, load_record, reproduce, settings_for

FLOWS = Path(__file__).resolve().parents[2] / "flows"


def test_s3_lake_crates_reproduce_and_refuse(s3_settings, tmp_path):
    settings, fs, bucket = s3_settings
    argo, grids = write_inputs(tmp_path / "data")
    for path in argo:
        fs.put(path, f"{bucket}/incoming/argo/{Path(path).name}")
    for path in grids:
        fs.put(path, f"{bucket}/incoming/occi/{Path(path).name}")
    started = datetime.now(UTC) - timedelta(seconds=1)
    summaries = {"ingest_insitu": ingest_insitu("argo", [f"s3://{bucket}/incoming/argo/"], settings),
                 "ingest_satellite": ingest_satellite("occi-l3", [f"s3://{bucket}/incoming/occi/"], settings),
                 "matchup": run_matchups("argo", "occi-l3", "bgc-argo-chl", settings)}
    crates = {}
    for flow, summary in summaries.items():
        record = collect(flow, f"s3-{flow}", started, {}, summary.as_dict(), settings,
                         flow_source=str(FLOWS / f"{flow}.py"))
        crates[flow] = write_crate(record, settings)
        assert crates[flow].startswith(f"s3://{bucket}/oceanlake/provenance/")
        assert fs.exists(f"{crates[flow]}/ro-crate-metadata.json") and fs.exists(f"{crates[flow]}/workflow/{flow}.py")
    inputs = load_record(crates["ingest_insitu"], settings).steps[0].inputs
    assert sorted(f.url for f in inputs) == sorted(f"s3://{bucket}/incoming/argo/{Path(p).name}" for p in argo)
    for flow, crate in crates.items():
        record = load_record(crate, settings)
        comparisons = reproduce(record, settings_for(record))
        assert comparisons and {c.status for c in comparisons} == {IDENTICAL}, flow
    changed = inputs[0].url
    fs.pipe(changed.removeprefix("s3://"), b"overwritten")
    record = load_record(crates["ingest_insitu"], settings)
    with pytest.raises(ReproductionRefused, match=f"input {changed} changed: expected sha256 {inputs[0].sha256}"):
        reproduce(record, settings_for(record))
    document = json.loads(fs.cat(f"{crates['matchup']}/ro-crate-metadata.json"))
    assert "testing-secret" not in json.dumps(document)
