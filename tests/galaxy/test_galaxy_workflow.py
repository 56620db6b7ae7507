"""The Galaxy workflow: the .ga is the conversion of the gxformat2 source, and it uses the tools correctly.

Every tool step must name a tool of galaxy/tools/oceanlake with its version; every connection must
land on a data parameter of that tool that is active in the step's state and come from an output
that exists (and is not filtered away) in the source step; every value in a tool state must be a
parameter of the tool, in an active branch, with a valid option. The planemo test file of the
workflow must name the workflow's inputs and outputs and existing test data.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / "galaxy" / "workflows"
SOURCE = WORKFLOWS / "oceanlake-validation.gxwf.yml"
NATIVE = WORKFLOWS / "oceanlake-validation.ga"
TESTS = WORKFLOWS / "oceanlake-validation-tests.yml"
#: Galaxy datatypes a connection may carry into a parameter accepting the key (subclasses in Galaxy).
SUBTYPES = {"h5": {"netcdf"}}


@pytest.fixture(scope="module")
def native() -> dict:
    return json.loads(NATIVE.read_text())


def _flatten(state: dict, prefix: str = "") -> dict[str, object]:
    out = {}
    for key, value in state.items():
        if key.startswith("__"):
            continue
        if isinstance(value, dict) and "__class__" not in value:
            out.update(_flatten(value, f"{prefix}{key}|"))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _active(param: dict, state: dict[str, object], tool: dict) -> bool:
    """Whether the parameter's conditional branches are the ones selected in the state (or the defaults)."""
    for selector_path, value in param["conditions"]:
        selector = next(p for p in tool["inputs"] if p["path"] == selector_path)
        chosen = state.get(selector_path, selector["options"][0] if selector["options"] else None)
        if chosen != value:
            return False
    return True


def _output_available(tool: dict, output_name: str, state: dict) -> bool:
    output = next((o for o in tool["outputs"] if o["name"] == output_name), None)
    if output is None:
        return False
    for expression in output["filters"]:  # e.g. lake['mode'] == 'history'
        nested: dict = {}
        for path, value in state.items():
            node = nested
            *parents, leaf = path.split("|")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
        if not eval(expression, {}, nested):  # noqa: S307 - the wrapper's own filter expression
            return False
    return True


def test_ga_is_the_conversion_of_the_gxformat2_source(description):
    converted = description["workflows"][SOURCE.name]["converted_text"]
    assert NATIVE.read_text() == converted, (
        "galaxy/workflows/oceanlake-validation.ga is stale: regenerate it with "
        "`.venv-planemo/bin/gxwf-to-native galaxy/workflows/oceanlake-validation.gxwf.yml "
        "galaxy/workflows/oceanlake-validation.ga`")


def test_gxformat2_source_lints(planemo_bin, planemo_env):
    out = subprocess.run([str(planemo_bin / "gxwf-lint"), str(SOURCE)], capture_output=True, text=True,
                         env=planemo_env, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def test_planemo_workflow_lint(planemo_bin, planemo_env):
    out = subprocess.run([str(planemo_bin / "planemo"), "workflow_lint", "--fail_level", "warn", str(NATIVE)],
                         capture_output=True, text=True, env=planemo_env, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Tests appear structurally correct" in out.stdout


def test_metadata_for_publication(native):
    assert native["name"] and native["annotation"]
    assert native["license"] == "Apache-2.0"
    assert native["creator"] and native["release"]
    for step in native["steps"].values():
        assert step["label"], step
        assert step["annotation"], f"step {step['label']} has no doc"


def test_tool_steps_name_the_tools_and_versions(native, tools):
    steps = [s for s in native["steps"].values() if s["type"] == "tool"]
    assert [s["tool_id"] for s in steps] == ["oceanlake_ingest_insitu", "oceanlake_ingest_satellite",
                                             "oceanlake_matchup", "oceanlake_stats", "oceanlake_report"]
    for step in steps:
        assert step["tool_id"] in tools, step["tool_id"]
        assert step["tool_version"] == tools[step["tool_id"]]["version"], step["label"]


def test_tool_states_use_real_parameters_and_options(native, tools):
    for step in (s for s in native["steps"].values() if s["type"] == "tool"):
        tool = tools[step["tool_id"]]
        state = _flatten(json.loads(step["tool_state"]))
        for path, value in state.items():
            candidates = [p for p in tool["inputs"] if p["path"] == path]  # one per branch that defines it
            assert candidates, f"{step['label']}: {path} is not a parameter of {tool['id']}"
            param = next((p for p in candidates if _active(p, state, tool)), None)
            assert param is not None, f"{step['label']}: {path} set in an inactive branch"
            if param["type"] == "select":
                assert value in param["options"], f"{step['label']}: {path}={value!r} not in {param['options']}"
            if param["type"] == "data":
                assert value == {"__class__": "ConnectedValue"}, (step["label"], path)


def test_connections_land_on_active_data_parameters_from_real_outputs(native, tools):
    steps = native["steps"]
    for step in (s for s in steps.values() if s["type"] == "tool"):
        tool = tools[step["tool_id"]]
        state = _flatten(json.loads(step["tool_state"]))
        assert step["input_connections"], f"{step['label']} is not connected"
        for path, links in step["input_connections"].items():
            param = next((p for p in tool["inputs"] if p["path"] == path and _active(p, state, tool)), None)
            assert param is not None, f"{step['label']}: {path} is not a parameter of an active branch"
            assert param["type"] == "data", f"{step['label']}: {path} is not a data parameter"
            accepted = set(param["format"])
            for link in links:
                source = steps[str(link["id"])]
                if source["type"] == "tool":
                    source_tool = tools[source["tool_id"]]
                    source_state = _flatten(json.loads(source["tool_state"]))
                    assert _output_available(source_tool, link["output_name"], source_state), (
                        f"{step['label']}: {source['label']}/{link['output_name']} is not produced")
                    fmt = next(o["format"] for o in source_tool["outputs"] if o["name"] == link["output_name"])
                    assert fmt in accepted, f"{step['label']}: {path} does not accept {fmt}"
                else:
                    assert link["output_name"] == "output"
                    formats = set(json.loads(source["tool_state"])["format"])
                    widened = accepted | {sub for f in accepted for sub in SUBTYPES.get(f, ())}
                    assert formats <= widened, f"{step['label']}: {path} does not accept {formats - widened}"
                    if source["type"] == "data_collection_input":
                        assert param["multiple"], f"{step['label']}: a collection into single-dataset {path}"


def test_steps_run_in_order_access_colocation_validation_visualisation(native):
    steps = native["steps"]
    label = {s["id"]: s["label"] for s in steps.values()}
    upstream = {s["label"]: {label[link["id"]] for links in s["input_connections"].values() for link in links}
                for s in steps.values()}
    assert upstream["ingest_insitu"] == {"argo_profiles"}
    assert upstream["ingest_satellite"] == {"satellite_granules", "ingest_insitu"}
    assert upstream["matchup"] == {"ingest_satellite"}
    assert upstream["statistics"] == upstream["report"] == {"matchup"}


def test_workflow_outputs_are_real_outputs(native, tools):
    labels = []
    for step in (s for s in native["steps"].values() if s["type"] == "tool"):
        tool = tools[step["tool_id"]]
        state = _flatten(json.loads(step["tool_state"]))
        for out in step["workflow_outputs"]:
            assert _output_available(tool, out["output_name"], state), (step["label"], out["output_name"])
            labels.append(out["label"])
    assert len(labels) == len(set(labels))
    assert {"report", "statistics", "matchups", "lake"} <= set(labels)


def test_planemo_test_file_matches_the_workflow(native, description):
    cases = yaml.safe_load(TESTS.read_text())
    inputs = {s["label"] for s in native["steps"].values() if s["type"].endswith("input")}
    outputs = {o["label"] for s in native["steps"].values() for o in s["workflow_outputs"]}
    for case in cases:
        assert set(case["job"]) == inputs
        for value in case["job"].values():
            for element in value["elements"]:
                assert (WORKFLOWS / element["path"]).is_file(), element["path"]
                assert element["identifier"] == Path(element["path"]).name
        assert set(case["outputs"]) <= outputs
        for name, checks in case["outputs"].items():
            assert checks["asserts"], name
