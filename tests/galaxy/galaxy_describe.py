"""Describe the Galaxy tools and the workflow as Galaxy sees them, as JSON (runs in the planemo venv).

    .venv-planemo/bin/python tests/galaxy/galaxy_describe.py galaxy/ > description.json

Tools: the XML after macro and token expansion by ``galaxy.tool_util`` (id, version, profile, the
command template, every input parameter with its pipe-qualified path as workflow connections and
tool states name it, the ``when`` branches it sits in, outputs with formats and filters, test
count). Workflow: ``gxformat2``'s conversion of ``workflows/*.gxwf.yml`` to the native ``.ga`` dict,
next to the committed ``.ga``. The checks themselves are in ``test_galaxy_workflow.py`` and
``test_galaxy_tools.py`` (project venv).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from galaxy.tool_util.parser import get_tool_source
from gxformat2.converter import python_to_workflow
from gxformat2.yaml import ordered_load


def _name(elem) -> str:
    return elem.get("name") or elem.get("argument", "").lstrip("-").replace("-", "_")


def _inputs(parent, prefix: str, conditions: list) -> list[dict]:
    out = []
    for elem in parent:
        if elem.tag == "param":
            out.append({
                "path": prefix + _name(elem), "type": elem.get("type"), "argument": elem.get("argument"),
                "format": [f for f in elem.get("format", "").split(",") if f],
                "multiple": elem.get("multiple") == "true",
                "optional": elem.get("optional") == "true", "truevalue": elem.get("truevalue"),
                "falsevalue": elem.get("falsevalue"), "options": [o.get("value") for o in elem.findall("option")],
                "conditions": conditions})
        elif elem.tag == "section":
            out += _inputs(elem, f"{prefix}{_name(elem)}|", conditions)
        elif elem.tag == "conditional":
            cond_prefix = f"{prefix}{_name(elem)}|"
            selector = elem.find("param")
            out += _inputs([selector], cond_prefix, conditions)
            for when in elem.findall("when"):
                branch = conditions + [[cond_prefix + _name(selector), when.get("value")]]
                out += _inputs(when, cond_prefix, branch)
    return out


def describe_tool(path: Path) -> dict:
    """Id, version, command and parameters of one tool XML after macro expansion."""
    source = get_tool_source(str(path))
    root = source.root
    outputs = []
    for elem in root.find("outputs"):
        outputs.append({"name": elem.get("name"), "kind": elem.tag, "format": elem.get("format"),
                        "type": elem.get("type"), "filters": [f.text.strip() for f in elem.findall("filter")],
                        "discover": [d.get("format") for d in elem.findall("discover_datasets")]})
    tests = source.parse_tests_to_dict()["tests"]
    data_refs = sorted({v for t in tests for i in t["inputs"] if i["attributes"].get("ftype")
                        for v in str(i["value"]).split(",")})
    requirements, containers = source.parse_requirements()[:2]
    return {"id": source.parse_id(), "version": source.parse_version(), "profile": source.parse_profile(),
            "name": source.parse_name(), "command": source.parse_command(),
            "inputs": _inputs(root.find("inputs"), "", []), "outputs": outputs, "tests": len(tests),
            "test_data": data_refs, "requirements": [[r.type, r.name, r.version] for r in requirements],
            "containers": [c.identifier for c in containers]}


def main() -> int:
    galaxy = Path(sys.argv[1]).resolve()
    tools = {p.name: describe_tool(p) for p in sorted((galaxy / "tools" / "oceanlake").glob("oceanlake_*.xml"))}
    workflows = {}
    for path in sorted((galaxy / "workflows").glob("*.gxwf.yml")):
        with path.open() as fh:
            converted = python_to_workflow(ordered_load(fh), workflow_directory=str(path.parent))
        workflows[path.name] = {"converted": converted,
                                "converted_text": json.dumps(converted, indent=4) + "\n"}
    json.dump({"tools": tools, "workflows": workflows}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
