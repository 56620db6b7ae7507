"""Build the Workflow RO-Crate of the Galaxy validation workflow, ready for WorkflowHub.

    PYTHONPATH=. .venv/bin/python galaxy/build_crate.py [OUT_DIR] [--zip]

``OUT_DIR`` defaults to ``build/oceanlake-validation.crate`` (``build/`` is git-ignored); with
``--zip`` the crate is also written as ``OUT_DIR.zip``, the file to upload to WorkflowHub
(*Contribute > Workflow > Upload/Import Workflow RO-Crate*).

The crate follows Workflow RO-Crate 1.0 (https://w3id.org/workflowhub/workflow-ro-crate/1.0, on
RO-Crate 1.1) and Workflow Testing RO-Crate 0.1:

* ``mainEntity``: ``workflows/oceanlake-validation.ga`` (File, SoftwareSourceCode,
  ComputationalWorkflow; ``programmingLanguage`` Galaxy), with its inputs and outputs as Bioschemas
  FormalParameters, name, description, version, licence and creator taken from the workflow;
* ``workflows/oceanlake-validation.gxwf.yml``: the gxformat2 source the ``.ga`` is generated from;
* ``README.md`` (``galaxy/workflows/README.md``), licence Apache-2.0 (SPDX);
* ``tools/oceanlake/``: the Galaxy tool wrappers the workflow runs (XML, macros, glue script) and
  their synthetic ``test-data/``;
* a TestSuite whose TestDefinition is the planemo test ``workflows/oceanlake-validation-tests.yml``
  (it reads ``../tools/oceanlake/test-data/``, so the crate's layout keeps those paths valid).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from rocrate.rocrate import ROCrate

GALAXY = Path(__file__).resolve().parent
WORKFLOW = GALAXY / "workflows" / "oceanlake-validation.ga"
SOURCE = GALAXY / "workflows" / "oceanlake-validation.gxwf.yml"
TESTS = GALAXY / "workflows" / "oceanlake-validation-tests.yml"
README = GALAXY / "workflows" / "README.md"
TOOLS = GALAXY / "tools" / "oceanlake"
LICENSE = {"@id": "https://spdx.org/licenses/Apache-2.0", "@type": "CreativeWork", "name": "Apache License 2.0",
           "identifier": "Apache-2.0"}
#: Media types of the Galaxy datatypes the workflow takes and gives.
MEDIA_TYPES = {"netcdf": "application/x-netcdf", "h5": "application/x-hdf5", "json": "application/json",
               "csv": "text/csv", "html": "text/html", "png": "image/png", "zip": "application/zip"}
#: Profiles this crate follows.
WROC_PROFILE = "https://w3id.org/workflowhub/workflow-ro-crate/1.0"
PLANEMO_ENGINE_VERSION = ">=0.75"


def _tool_outputs() -> dict[tuple[str, str], str]:
    """(tool id, output name) -> Galaxy format, read from the tool XML files (macros: lake and summary)."""
    import xml.etree.ElementTree as ET

    formats = {}
    macro_outputs = {"lake_output": ("lake_out", "zip"), "summary_output": ("summary", "json")}
    for path in TOOLS.glob("oceanlake_*.xml"):
        root = ET.parse(path).getroot()
        for elem in root.find("outputs"):
            if elem.tag == "expand":
                name, fmt = macro_outputs[elem.get("macro")]
            elif elem.tag == "collection":
                name, fmt = elem.get("name"), elem.find("discover_datasets").get("format")
            else:
                name, fmt = elem.get("name"), elem.get("format")
            formats[(root.get("id"), name)] = fmt
    return formats


def _parameters(crate: ROCrate, workflow: dict) -> tuple[list, list]:
    steps = workflow["steps"].values()
    inputs = []
    for step in steps:
        if step["type"] not in ("data_input", "data_collection_input"):
            continue
        state = json.loads(step["tool_state"])
        collection = step["type"] == "data_collection_input"
        inputs.append(crate.add_formal_parameter(
            name=step["label"], additionalType="Collection" if collection else "File",
            identifier=f"#input-{step['label']}", description=step.get("annotation"), valueRequired=True,
            properties={"encodingFormat": [MEDIA_TYPES[f] for f in state.get("format", [])]}))
    formats = _tool_outputs()
    outputs = []
    for step in steps:
        for out in step.get("workflow_outputs", []):
            fmt = formats[(step["tool_id"], out["output_name"])]
            collection = (step["tool_id"], out["output_name"]) == ("oceanlake_report", "figures")
            outputs.append(crate.add_formal_parameter(
                name=out["label"], additionalType="Collection" if collection else "File",
                identifier=f"#output-{out['label']}",
                description=f"{out['output_name']} of step {step['label']} ({step['tool_id']})",
                properties={"encodingFormat": MEDIA_TYPES[fmt]}))
    return inputs, outputs


def build_crate(out_dir: Path) -> ROCrate:
    """Write the crate into ``out_dir`` (replaced) and return it.

    Args:
        out_dir: crate folder to (re)create.

    Returns:
        The written crate.
    """
    workflow = json.loads(WORKFLOW.read_text())
    creator = [{"@id": "#oceanlake-developers", "@type": "Organization", "name": c["name"]}
               for c in workflow.get("creator", [])]
    crate = ROCrate(version="1.1", gen_preview=False)
    crate.name = workflow["name"]
    crate.description = workflow["annotation"]
    crate.root_dataset["keywords"] = ["ocean colour", "validation", "match-up", "BGC-Argo", "OC-CCI", "Galaxy",
                                      "oceanlake"]
    license_entity = crate.add_jsonld(dict(LICENSE))
    crate.license = license_entity
    people = [crate.add_jsonld(dict(c)) for c in creator]
    crate.root_dataset["creator"] = people
    crate.add_file(README, dest_path="README.md", properties={
        "name": "README", "encodingFormat": "text/markdown", "about": {"@id": "./"}})
    main = crate.add_workflow(WORKFLOW, dest_path="workflows/oceanlake-validation.ga", main=True, lang="galaxy",
                              properties={"name": workflow["name"], "description": workflow["annotation"],
                                          "version": workflow.get("release"), "license": {"@id": LICENSE["@id"]},
                                          "creator": [{"@id": p.id} for p in people],
                                          "identifier": workflow.get("uuid")})
    inputs, outputs = _parameters(crate, workflow)
    main["input"] = inputs
    main["output"] = outputs
    crate.add_file(SOURCE, dest_path="workflows/oceanlake-validation.gxwf.yml", properties={
        "name": "Workflow source (gxformat2)", "encodingFormat": "application/yaml",
        "description": "The Format 2 source of workflows/oceanlake-validation.ga (gxwf-to-native converts it).",
        "about": {"@id": main.id}})
    tool_files = []
    for path in sorted(TOOLS.glob("*.xml")) + [TOOLS / "oceanlake_galaxy.py"]:
        media = "application/xml" if path.suffix == ".xml" else "text/x-python"
        tool_files.append(crate.add_file(path, dest_path=f"tools/oceanlake/{path.name}", properties={
            "name": path.name, "encodingFormat": media}))
    test_files = [crate.add_file(p, dest_path=f"tools/oceanlake/test-data/{p.name}", properties={"name": p.name})
                  for p in sorted((TOOLS / "test-data").iterdir()) if p.is_file()]
    test_data = crate.add_dataset(dest_path="tools/oceanlake/test-data/", properties={
        "name": "Synthetic test data", "hasPart": test_files,
        "description": "Synthetic files (generated by galaxy/make_test_data.py) read by the tool tests and the "
                       "workflow test."})
    crate.add_dataset(dest_path="tools/oceanlake/", properties={
        "name": "oceanlake Galaxy tool wrappers", "hasPart": [*tool_files, test_data],
        "description": "The Galaxy tools the workflow runs (install them from here or the Tool Shed)."})
    suite = crate.add_test_suite(identifier="#workflow-test", name="Workflow test on synthetic data")
    crate.add_test_definition(suite, source=TESTS, dest_path="workflows/oceanlake-validation-tests.yml",
                              engine="planemo", engine_version=PLANEMO_ENGINE_VERSION)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    crate.write(out_dir)
    return crate


def main(argv: list[str] | None = None) -> int:
    """Build the crate (and its zip with ``--zip``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", type=Path, default=Path("build/oceanlake-validation.crate"))
    parser.add_argument("--zip", action="store_true", help="also write OUT.zip for WorkflowHub")
    args = parser.parse_args(argv)
    crate = build_crate(args.out)
    written = [args.out]
    if args.zip:
        written.append(Path(crate.write_zip(args.out.parent / f"{args.out.name}.zip")))
    sys.stdout.write("".join(f"{p}\n" for p in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
