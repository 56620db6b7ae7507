"""The Workflow RO-Crate of the Galaxy workflow: built with rocrate, loaded back, profile entities present."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from rocrate.rocrate import ROCrate

REPO = Path(__file__).resolve().parents[2]
GALAXY = REPO / "galaxy"
WROC = "https://w3id.org/workflowhub/workflow-ro-crate/1.0"
GALAXY_LANG = "https://w3id.org/workflowhub/workflow-ro-crate#galaxy"

_spec = importlib.util.spec_from_file_location("build_crate", GALAXY / "build_crate.py")
build_crate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_crate)


@pytest.fixture(scope="module")
def crate_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("crate") / "oceanlake-validation.crate"
    assert build_crate.main([str(out), "--zip"]) == 0
    return out


def _ids(value) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [v.id if hasattr(v, "id") else v["@id"] for v in values]


def test_crate_loads_and_follows_workflow_ro_crate_1_0(crate_dir):
    crate = ROCrate(crate_dir)
    metadata = json.loads((crate_dir / "ro-crate-metadata.json").read_text())
    descriptor = next(e for e in metadata["@graph"] if e["@id"] == "ro-crate-metadata.json")
    assert {"https://w3id.org/ro/crate/1.1", WROC} <= set(_ids(descriptor["conformsTo"]))
    main = crate.mainEntity
    assert main.id == "workflows/oceanlake-validation.ga"
    assert {"File", "SoftwareSourceCode", "ComputationalWorkflow"} <= set(main.type)
    assert main["programmingLanguage"].id == GALAXY_LANG
    assert main["name"] and main["version"] == "0.1.0"
    assert _ids(main["license"]) == ["https://spdx.org/licenses/Apache-2.0"]
    root = crate.root_dataset
    assert root["name"] and root["description"] and root["datePublished"]
    assert _ids(root["license"]) == ["https://spdx.org/licenses/Apache-2.0"]
    assert crate.get("https://spdx.org/licenses/Apache-2.0")["identifier"] == "Apache-2.0"
    assert crate.get("README.md") is not None and (crate_dir / "README.md").is_file()


def test_crate_workflow_is_the_repository_workflow_with_its_parameters(crate_dir):
    crate = ROCrate(crate_dir)
    ga = GALAXY / "workflows" / "oceanlake-validation.ga"
    assert (crate_dir / "workflows" / "oceanlake-validation.ga").read_bytes() == ga.read_bytes()
    workflow = json.loads(ga.read_text())
    inputs = {s["label"] for s in workflow["steps"].values() if s["type"].endswith("input")}
    outputs = {o["label"] for s in workflow["steps"].values() for o in s["workflow_outputs"]}
    main = crate.mainEntity
    assert {p["name"] for p in main["input"]} == inputs
    assert {p["name"] for p in main["output"]} == outputs
    assert all("FormalParameter" in p.type and p["encodingFormat"] for p in [*main["input"], *main["output"]])


def test_crate_carries_tools_test_definition_and_test_data(crate_dir):
    crate = ROCrate(crate_dir)
    for xml in sorted((GALAXY / "tools" / "oceanlake").glob("*.xml")):
        assert crate.get(f"tools/oceanlake/{xml.name}") is not None, xml.name
    for data in (GALAXY / "tools" / "oceanlake" / "test-data").iterdir():
        assert crate.get(f"tools/oceanlake/test-data/{data.name}") is not None, data.name
    suites = crate.test_suites
    assert len(suites) == 1
    suite = suites[0]
    assert suite["mainEntity"].id == crate.mainEntity.id
    definition = suite["definition"]
    assert definition.id == "workflows/oceanlake-validation-tests.yml"
    assert definition.engine.id == "https://w3id.org/ro/terms/test#PlanemoEngine"
    for element in (e for case in __import__("yaml").safe_load((crate_dir / definition.id).read_text())
                    for value in case["job"].values() for e in value["elements"]):
        assert (crate_dir / "workflows" / element["path"]).resolve().is_file(), element["path"]


def test_every_data_entity_is_in_the_crate_and_the_zip(crate_dir):
    crate = ROCrate(crate_dir)
    for entity in crate.data_entities:
        assert (crate_dir / entity.id).exists(), entity.id
    zipped = ROCrate(crate_dir.parent / f"{crate_dir.name}.zip")
    assert zipped.mainEntity.id == crate.mainEntity.id
