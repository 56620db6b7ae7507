"""Crates written by the flows, validated with the ``rocrate`` library; the JSON-LD round trip."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from rocrate.rocrate import ROCrate

from tasks.provenance.crate import PROFILES, build_crate, parse_crate, redact_catalog
from tasks.provenance.model import FileRef, Output, RunRecord, SnapshotRef, Step

WFRUN = [p for p in PROFILES if "wfrun" in p]


def _ids(value) -> list[str]:
    return [v.id if hasattr(v, "id") else v["@id"] for v in (value if isinstance(value, list) else [value])]


def _entity(crate: ROCrate, entity_id: str) -> dict:
    return crate.dereference(entity_id).properties()


def _run_action(crate: ROCrate):
    workflow = crate.mainEntity
    return next(a for a in crate.get_by_type("CreateAction") if _ids(a["instrument"]) == [workflow.id])


def _check_common(crate: ROCrate, summary: dict, flow: str, new_lake: bool = False) -> dict:
    """Profile conformance and the parts every crate has; returns the step action's properties."""
    assert set(WFRUN) <= set(_ids(crate.root_dataset["conformsTo"]))
    workflow = crate.mainEntity
    assert {"File", "SoftwareSourceCode", "ComputationalWorkflow", "HowTo"} <= set(workflow.type)
    assert workflow["name"] == flow and workflow["programmingLanguage"]["name"] == "Prefect (Python)"
    software = {s["name"]: s["softwareVersion"] for s in workflow["softwareRequirements"]}
    for name in ("oceanlake", "duckdb", "duckdb-extension-ducklake", "zarr", "icechunk", "xarray", "prefect",
                 "python"):
        assert software[name], name
    run = _run_action(crate)
    assert run["actionStatus"] == "http://schema.org/CompletedActionStatus"
    assert run["startTime"] < run["endTime"] and run["identifier"]
    organize = crate.get_by_type("OrganizeAction")[0]
    assert organize["instrument"]["name"] == "Prefect" and _ids(organize["result"]) == [run.id]
    control = crate.dereference(_ids(organize["object"])[0])
    assert "HowToStep" in control["instrument"].type
    step = crate.dereference(_ids(control["object"])[0])
    assert step.type == "CreateAction" and step["instrument"]["name"].startswith("tasks.")
    parameters = [crate.dereference(i) for i in _ids(step["object"])]
    for value in (p for p in parameters if p.type == "PropertyValue" and "exampleOfWork" in p):
        assert crate.dereference(_ids(value["exampleOfWork"])[0]).type == "FormalParameter"
    roles = {(p["name"], p.get("oceanlake:role")) for p in map(crate.dereference, _ids(run["object"]) +
                                                                _ids(run["result"])) if p.type == "PropertyValue"}
    assert ("ducklake snapshot (after)", "after") in roles
    assert (("ducklake snapshot (before)", "before") in roles) is not new_lake  # a new lake had no snapshot before
    return {"step": step, "run": run}


def _result_hashes(crate: ROCrate, action) -> dict[str, str]:
    return {crate.dereference(i)["name"]: crate.dereference(i)["value"] for i in _ids(action["result"])
            if crate.dereference(i).get("propertyID", "").endswith("contentSha256")}


def test_ingest_insitu_crate(flow_lake):
    crate = ROCrate(flow_lake["crates"]["ingest_insitu"])
    parts = _check_common(crate, flow_lake["summaries"]["ingest_insitu"], "ingest_insitu", new_lake=True)
    step, run = parts["step"], parts["run"]
    files = [crate.dereference(i) for i in _ids(step["object"]) if crate.dereference(i).type == "File"]
    assert sorted(f["contentUrl"] for f in files) == sorted(flow_lake["argo"])
    for f in files:
        assert len(f["sha256"]) == 64 and int(f["contentSize"]) > 0 and f["encodingFormat"] == "application/x-netcdf"
        assert f.id.startswith("file:///") and f in crate.data_entities
    hashes = _result_hashes(crate, step)
    assert set(hashes) == {"argo_profiles", "argo_measurements", "argo_floats"}
    assert all(v.startswith("sha256:") and len(v) == 71 for v in hashes.values())
    assert _result_hashes(crate, run) == hashes
    assert run["identifier"] == flow_lake["summaries"]["ingest_insitu"]["run_id"]  # the Prefect flow run id
    assert (flow_lake["crates"]["ingest_insitu"] / "workflow" / "ingest_insitu.py").read_text().startswith('"""Flow')


def test_ingest_satellite_crate_records_cube_snapshots(flow_lake):
    crate = ROCrate(flow_lake["crates"]["ingest_satellite"])
    step = _check_common(crate, flow_lake["summaries"]["ingest_satellite"], "ingest_satellite")["step"]
    values = {p["name"]: p for p in map(crate.dereference, _ids(step["object"]) + _ids(step["result"]))
              if p.type == "PropertyValue"}
    assert len(values["product_definition_hash"]["value"]) == 16
    after = values["icechunk snapshot (after)"]
    assert after["oceanlake:cube"].startswith("occi-l3") and len(after["value"]) == 20
    assert values["icechunk snapshot (before)"]["value"] != after["value"]
    assert set(_result_hashes(crate, step)) == {"granule_versions"}


def test_matchup_crate_records_what_was_read(flow_lake):
    crate = ROCrate(flow_lake["crates"]["matchup"])
    step = _check_common(crate, flow_lake["summaries"]["matchup"], "matchup")["step"]
    summary = flow_lake["summaries"]["matchup"]
    values = {p["name"]: p for p in map(crate.dereference, _ids(step["object"]) + _ids(step["result"]))
              if p.type == "PropertyValue"}
    assert values["protocol_hash"]["value"] == summary["protocol_hash"]
    assert int(values["ducklake snapshot (read)"]["value"]) == summary["insitu_snapshot_id"]
    assert int(values["ducklake snapshot (after)"]["value"]) == summary["snapshot_id"]
    cube, snapshot = next(iter(summary["cube_snapshots"].items()))
    assert values["icechunk snapshot (read)"]["value"] == snapshot and values["icechunk snapshot (read)"][
        "oceanlake:cube"] == cube
    assert values["matchups"]["oceanlake:rows"] == summary["rows"] > 0


def test_crate_json_round_trip():
    started = datetime(2024, 3, 5, 1, 2, 3, tzinfo=UTC)
    step = Step(kind="matchups", label="matchups argo x occi-l3", parameters={"product": "occi-l3", "run_id": "r1",
                                                                            "period_start": None},
                inputs=[FileRef("/data/a b.nc", "ab" * 32, 12, "ingested"),
                        FileRef("s3://bucket/x.nc", None, None, "quarantined", "read: not NetCDF")],
                snapshots=[SnapshotRef("ducklake", "read", "7"), SnapshotRef("icechunk", "read", "X" * 20, "cube/g1")],
                outputs=[Output("matchups", "cd" * 32, 3, "rows")])
    record = RunRecord(flow="matchup", run_id="r1", start_time=started, end_time=started, lake="/lake",
                       catalog="postgres:dbname=l host=h password=secret", parameters={"product": "occi-l3"},
                       software={"oceanlake": "0.1.0"}, steps=[step],
                       snapshots=[SnapshotRef("ducklake", "before", "6"), SnapshotRef("ducklake", "after", "8")])
    document, files = build_crate(record)
    assert "secret" not in json.dumps(document) and set(files) == {"workflow/matchup.py"}
    parsed = parse_crate(json.loads(json.dumps(document)))
    assert parsed.steps == [step] and parsed.snapshots == record.snapshots
    assert parsed.run_id == "r1" and parsed.catalog == "postgres:dbname=l host=h password=***"
    assert parsed.parameters == {"product": "occi-l3"} and parsed.software == {"oceanlake": "0.1.0"}


@pytest.mark.parametrize(("spec", "redacted"), [("sqlite:/x/catalog.sqlite", "sqlite:/x/catalog.sqlite"),
                                                ("postgres:dbname=l password=s3cr3t host=h",
                                                 "postgres:dbname=l password=*** host=h")])
def test_catalog_password_never_written(spec, redacted):
    assert redact_catalog(spec) == redacted
