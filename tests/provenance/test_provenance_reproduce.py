"""``oceanlake reproduce``: round trips on generated data, and the refusals (changed input, expired snapshots)."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

from provenance_helpers import reproduce as _reproduce

from flows.cli_reproduce import REFUSED
from tasks.ingest import ingest_insitu
from tasks.ingest_satellite import ingest_satellite
from tasks.lake import Lake
from tasks.provenance.hashing import file_sha256


def test_flow_crates_reproduce_identically(flow_lake):
    for flow, crate in flow_lake["crates"].items():
        out = _reproduce(crate, "--json")
        assert out.exit_code == 0, (flow, out.output)
        comparisons = json.loads(out.stdout)
        assert comparisons and {c["status"] for c in comparisons} == {"identical"}, (flow, comparisons)
    matchups = json.loads(_reproduce(flow_lake["crates"]["matchup"], "--json").stdout)
    assert [(c["output"], c["rows"]) for c in matchups] == [("matchups", flow_lake["summaries"]["matchup"]["rows"])]


def test_a_different_output_is_reported(flow_lake, tmp_path):
    document = json.loads((flow_lake["crates"]["matchup"] / "ro-crate-metadata.json").read_text())
    output = next(e for e in document["@graph"] if e["@id"] == "#step-1-out-matchups")
    output["value"] = "sha256:" + "0" * 64  # as if the recorded run had produced other rows
    (tmp_path / "ro-crate-metadata.json").write_text(json.dumps(document))
    out = _reproduce(tmp_path)
    assert out.exit_code == 1
    assert "different" in out.output and "1 of 1 outputs differ" in out.output


def test_refused_when_an_input_changed_or_is_gone(task_lake):
    settings, argo = task_lake["settings"], task_lake["argo"]
    crate = task_lake["run"]("ingest_insitu", ingest_insitu("argo", argo, settings).as_dict())
    expected = [file_sha256(p, settings)[0] for p in argo]
    with open(argo[0], "ab") as fh:  # the file was rewritten since the run
        fh.write(b"\0")
    Path(argo[1]).unlink()
    out = _reproduce(crate)
    assert out.exit_code == REFUSED, out.output
    text = out.output
    actual = file_sha256(argo[0], settings)[0]
    assert f"input {argo[0]} changed: expected sha256 {expected[0]}, actual {actual}" in text
    assert f"input {argo[1]} is gone" in text and expected[1] in text


def test_refused_when_the_ducklake_snapshot_expired(task_lake):
    settings = task_lake["settings"]
    summary = ingest_insitu("argo", task_lake["argo"], settings)
    crate = task_lake["run"]("ingest_insitu", summary.as_dict())
    assert _reproduce(crate).exit_code == 0
    ingest_satellite("occi-l3", task_lake["grids"][:1], settings)  # the lake moves on
    with Lake(settings) as lake:  # real expiry of the run's snapshot
        lake.con.execute(f"CALL ducklake_expire_snapshots('lake', versions => [{int(summary.snapshot_id)}])")
    out = _reproduce(crate)
    assert out.exit_code == REFUSED
    assert f"DuckLake snapshot {summary.snapshot_id} (after by step 'ingest argo') no longer exists" in out.output


def test_refused_when_the_icechunk_snapshot_expired(task_lake):
    from tasks.cubes import cube_history, open_cube_repository

    settings, grids = task_lake["settings"], task_lake["grids"]
    crate = task_lake["run"]("ingest_satellite", ingest_satellite("occi-l3", grids[:2], settings).as_dict())
    assert _reproduce(crate).exit_code == 0
    ingest_satellite("occi-l3", grids[2:], settings)  # a later commit to the same cube
    with Lake(settings) as lake:
        cube, written = lake.con.execute("SELECT cube, max(cube_snapshot_id) FILTER (source_file = $f) "
                                         "FROM granule_versions GROUP BY cube", {"f": grids[1]}).fetchone()
    tip = cube_history(settings, cube)[0]
    repo = open_cube_repository(settings, cube, create=False)
    assert written in repo.expire_snapshots(tip["written_at"] - timedelta(microseconds=1))
    out = _reproduce(crate)
    assert out.exit_code == REFUSED
    text = out.output
    assert f"Icechunk snapshot {written} of cube {cube} (after by step 'ingest occi-l3') is not in the cube's " \
           "history any more" in text


def test_a_moved_lake_reproduces_with_lake(task_lake, tmp_path):
    settings = task_lake["settings"]
    crate = task_lake["run"]("ingest_insitu", ingest_insitu("argo", task_lake["argo"], settings).as_dict())
    moved = tmp_path / "moved"
    shutil.copytree(settings.lake, moved)
    out = _reproduce(moved / crate.relative_to(settings.lake), "--lake", moved, "--json")
    assert out.exit_code == 0, out.output
    assert {c["status"] for c in json.loads(out.stdout)} == {"identical"}
