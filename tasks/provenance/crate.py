"""A run's provenance as a Workflow Run RO-Crate (``ro-crate-metadata.json``), written to and read from the lake.

The crate follows the Workflow Run RO-Crate profiles (Process Run, Workflow Run and Provenance
Run Crate 0.5, https://w3id.org/ro/wfrun/): the root Dataset ``conformsTo`` them, its
``mainEntity`` is the flow (a copy of its module as a ``ComputationalWorkflow``, with
``FormalParameter`` inputs and outputs, ``HowToStep`` steps and the software it requires), one
``CreateAction`` is the flow run (``instrument`` the flow, ``object`` its parameters and input
files, ``result`` its outputs) and one ``CreateAction`` per step, each orchestrated by a
``ControlAction`` of the Prefect ``OrganizeAction``. Parameter values, lake snapshots and output
content hashes are ``PropertyValue`` entities; terms RO-Crate lacks are in the ``oceanlake:``
namespace (``oceanlake:role``, ``oceanlake:cube``, ``oceanlake:rows``, ``oceanlake:status``).

Crates live at ``{lake}/provenance/{yyyy}/{mm}/{flow}-{run_id}/`` (a folder or an ``s3://``
prefix), beside the files they hold (the flow's source, statistics as JSON and CSV).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlparse

import fsspec

from tasks.config import Settings
from tasks.provenance.hashing import bytes_sha256, encoding_format
from tasks.provenance.model import TOOLS, FileRef, Output, RunRecord, SnapshotRef, Step

METADATA = "ro-crate-metadata.json"
PROFILES = {
    "https://w3id.org/ro/wfrun/process/0.5": ("Process Run Crate", "0.5"),
    "https://w3id.org/ro/wfrun/workflow/0.5": ("Workflow Run Crate", "0.5"),
    "https://w3id.org/ro/wfrun/provenance/0.5": ("Provenance Run Crate", "0.5"),
    "https://w3id.org/workflowhub/workflow-ro-crate/1.0": ("Workflow RO-Crate", "1.0"),
}
TERMS = "https://w3id.org/oceanlake/terms#"
CONTEXT = ["https://w3id.org/ro/crate/1.1/context", "https://w3id.org/ro/terms/workflow-run/context",
           {"oceanlake": TERMS}]
#: ``propertyID`` of the PropertyValues holding lake versions and content hashes.
PROPERTY_IDS = {"ducklake": "https://ducklake.select/docs/stable/duckdb/usage/snapshots",
                "icechunk": "https://icechunk.io/en/stable/version-control/",
                "content": f"{TERMS}contentSha256"}
_STATUS = {"completed": "http://schema.org/CompletedActionStatus", "skipped": "http://schema.org/CompletedActionStatus",
           "failed": "http://schema.org/FailedActionStatus"}
_FORMAL = {"@id": "https://bioschemas.org/profiles/FormalParameter/1.0-RELEASE"}


def crate_location(settings: Settings, record: RunRecord) -> str:
    """Folder (path or ``s3://`` URL) of a run's crate: ``{lake}/provenance/{yyyy}/{mm}/{flow}-{run_id}``."""
    started = record.start_time.astimezone(UTC)
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{record.flow}-{record.run_id}")
    return settings.lake_path("provenance", f"{started:%Y}", f"{started:%m}", name)


def redact_catalog(catalog: str) -> str:
    """A catalog spec without its password (``password=...`` of a PostgreSQL spec becomes ``password=***``)."""
    return re.sub(r"(password\s*=\s*)(\S+)", r"\1***", catalog, flags=re.IGNORECASE)


def _ref(entity_id: str) -> dict[str, str]:
    return {"@id": entity_id}


def _file_id(url: str) -> str:
    """The crate id of a file: its URL, a ``file://`` URI for an absolute path, else a crate-relative name."""
    if "://" in url:
        return url
    return Path(url).as_uri() if url.startswith("/") else url


def _value(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return json.dumps(value, default=str, sort_keys=True)


class _Graph:
    """Entities of the crate by id (later additions of the same id merge their properties)."""

    def __init__(self) -> None:
        self.entities: dict[str, dict[str, Any]] = {}

    def add(self, entity: dict[str, Any]) -> dict[str, str]:
        current = self.entities.setdefault(entity["@id"], {})
        for key, value in entity.items():
            if key == "exampleOfWork" and key in current:
                merged = [*_as_list(current[key]), *(v for v in _as_list(value) if v not in _as_list(current[key]))]
                current[key] = merged
            elif value is not None:
                current[key] = value
        return _ref(entity["@id"])


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _file(graph: _Graph, ref: FileRef, example_of: list[str]) -> dict[str, str]:
    folder = ref.url.startswith("/") and Path(ref.url).is_dir()
    fid = _file_id(ref.url) + ("/" if folder and not ref.url.endswith("/") else "")
    return graph.add({"@id": fid, "@type": "Dataset" if folder else "File",
                      "name": PurePosixPath(ref.url.rstrip("/")).name, "contentUrl": ref.url,
                      "sha256": ref.sha256, "contentSize": None if ref.size is None else str(ref.size),
                      "encodingFormat": encoding_format(ref.url), "description": ref.description,
                      "oceanlake:role": ref.role, "exampleOfWork": [_ref(e) for e in example_of]})


_ROLES = {"read": "read", "before": "before the writes", "after": "after the writes"}


def _snapshot(graph: _Graph, prefix: str, snap: SnapshotRef) -> dict[str, str]:
    suffix = f"-{re.sub(r'[^A-Za-z0-9_.-]', '_', snap.cube)}" if snap.cube else ""
    what = f"Icechunk snapshot of cube {snap.cube}" if snap.cube else "DuckLake snapshot of the lake's tables"
    return graph.add({"@id": f"{prefix}-{snap.system}-{snap.role}{suffix}", "@type": "PropertyValue",
                      "propertyID": PROPERTY_IDS[snap.system], "name": f"{snap.system} snapshot ({snap.role})",
                      "value": snap.value, "oceanlake:role": snap.role, "oceanlake:cube": snap.cube,
                      "description": f"{what} {_ROLES[snap.role]}"})


def _tool(graph: _Graph, kind: str, step: Step) -> str:
    tool = f"#tool-{kind}"
    params = [graph.add({"@id": f"{tool}-param-{name}", "@type": "FormalParameter", "name": name,
                         "additionalType": "Text", "conformsTo": _FORMAL}) for name in step.parameters]
    params.append(graph.add({"@id": f"{tool}-param-files", "@type": "FormalParameter", "name": "files",
                             "additionalType": "File", "conformsTo": _FORMAL}))
    outputs = [graph.add({"@id": f"{tool}-out-{o.name}", "@type": "FormalParameter", "name": o.name,
                          "additionalType": "PropertyValue", "conformsTo": _FORMAL}) for o in step.outputs]
    existing = graph.entities.get(tool, {})
    graph.add({"@id": tool, "@type": "SoftwareApplication", "name": TOOLS[kind],
               "description": f"oceanlake step {kind} ({TOOLS[kind]})",
               "input": _merge(existing.get("input"), params), "output": _merge(existing.get("output"), outputs)})
    return tool


def _merge(old: Any, new: list[dict[str, str]]) -> list[dict[str, str]]:
    out = list(_as_list(old))
    return out + [n for n in new if n not in out]


def _step_action(graph: _Graph, index: int, step: Step, attachments: dict[str, bytes]) -> str:
    tool = _tool(graph, step.kind, step)
    prefix = f"#step-{index}"
    objects = [graph.add({"@id": f"{prefix}-param-{name}", "@type": "PropertyValue", "name": name,
                          "value": _value(value), "exampleOfWork": _ref(f"{tool}-param-{name}")})
               for name, value in step.parameters.items()]
    objects += [_file(graph, f, [f"{tool}-param-files", "#param-files"]) for f in step.inputs]
    objects += [_snapshot(graph, prefix, s) for s in step.snapshots if s.role in ("read", "before")]
    results = [graph.add({"@id": f"{prefix}-out-{o.name}", "@type": "PropertyValue", "name": o.name,
                          "propertyID": PROPERTY_IDS["content"], "value": f"sha256:{o.sha256}",
                          "oceanlake:rows": o.rows, "description": o.description,
                          "exampleOfWork": [_ref(f"{tool}-out-{o.name}"), _ref(f"#out-{o.name}")]})
               for o in step.outputs]
    results += [_snapshot(graph, prefix, s) for s in step.snapshots if s.role == "after"]
    for f in step.files:
        data = attachments.get(f.url)
        sized = FileRef(f.url, bytes_sha256(data), len(data), "output", f.description) if data is not None else f
        results.append(_file(graph, sized, [f"{tool}-param-files"]))
    graph.add({"@id": prefix, "@type": "CreateAction", "name": step.label, "instrument": _ref(tool),
               "object": objects, "result": results, "actionStatus": _STATUS[step.status],
               "oceanlake:status": step.status})
    return prefix


def _software(graph: _Graph, record: RunRecord) -> list[dict[str, str]]:
    return [graph.add({"@id": f"#software-{name}", "@type": "SoftwareApplication", "name": name,
                       "softwareVersion": version,
                       "url": "https://www.python.org/" if name == "python" else f"https://pypi.org/project/{name}/"})
            for name, version in sorted(record.software.items())]


def _flow_file(record: RunRecord) -> tuple[str, bytes]:
    """Crate name and content of the copy of the flow's module."""
    path = Path(record.flow_source) if record.flow_source else None
    source = path.read_bytes() if path is not None and path.is_file() else b""
    return f"workflow/{path.name if path is not None else record.flow + '.py'}", source


def _formal(graph: _Graph, entity_id: str, name: str, kind: str) -> dict[str, str]:
    return graph.add({"@id": entity_id, "@type": "FormalParameter", "name": name, "additionalType": kind,
                      "conformsTo": _FORMAL})


def _workflow(graph: _Graph, record: RunRecord, workflow: str, source: bytes, howtos: list[dict[str, str]]) -> None:
    """The flow as a ComputationalWorkflow: parameters, outputs, steps, language and required software."""
    inputs = [_formal(graph, f"#param-{name}", name, "Text") for name in record.parameters]
    inputs.append(_formal(graph, "#param-files", "files", "File"))
    outputs = [_formal(graph, f"#out-{name}", name, "PropertyValue")
               for name in sorted({o.name for s in record.steps for o in s.outputs})]
    language = graph.add({"@id": "#language-prefect", "@type": "ComputerLanguage", "name": "Prefect (Python)",
                          "url": _ref("https://www.prefect.io/"), "version": record.software.get("prefect")})
    graph.add({"@id": workflow, "@type": ["File", "SoftwareSourceCode", "ComputationalWorkflow", "HowTo"],
               "name": record.flow, "description": f"Prefect flow {record.flow!r} of oceanlake (a copy of its module)",
               "programmingLanguage": language, "encodingFormat": "text/x-python", "sha256": bytes_sha256(source),
               "contentSize": str(len(source)), "input": inputs, "output": outputs, "step": howtos,
               "softwareRequirements": _software(graph, record)})


def _run_action(graph: _Graph, record: RunRecord, workflow: str, steps: list[str]) -> str:
    """The flow run's CreateAction: its parameters and every step's inputs and outputs."""
    objects = [graph.add({"@id": f"#run-param-{name}", "@type": "PropertyValue", "name": name,
                          "value": _value(value), "exampleOfWork": _ref(f"#param-{name}")})
               for name, value in record.parameters.items()]
    objects += [ref for sid in steps for ref in graph.entities[sid]["object"] if _is_data(graph.entities[ref["@id"]])]
    objects += [_snapshot(graph, "#run", s) for s in record.snapshots if s.role == "before"]
    results = [ref for sid in steps for ref in graph.entities[sid]["result"]]
    results += [_snapshot(graph, "#run", s) for s in record.snapshots if s.role == "after"]
    run_id = f"#run-{record.run_id}"
    graph.add({"@id": run_id, "@type": "CreateAction", "name": f"{record.flow} flow run {record.run_id}",
               "description": record.description or None, "identifier": record.run_id, "instrument": _ref(workflow),
               "object": _unique(objects), "result": _unique(results), "startTime": record.start_time.isoformat(),
               "endTime": record.end_time.isoformat(), "actionStatus": _STATUS[record.status],
               "oceanlake:lake": record.lake, "oceanlake:catalog": redact_catalog(record.catalog)})
    return run_id


def _orchestration(graph: _Graph, record: RunRecord, steps: list[str], run_id: str) -> list[dict[str, str]]:
    """HowToSteps (one per kind of step), a ControlAction per step and Prefect's OrganizeAction; returns the steps."""
    kinds = list(dict.fromkeys(s.kind for s in record.steps))
    howtos = {kind: graph.add({"@id": f"#howto-{kind}", "@type": "HowToStep", "name": kind, "position": str(k),
                               "workExample": _ref(f"#tool-{kind}")}) for k, kind in enumerate(kinds, start=1)}
    controls = [graph.add({"@id": f"#control-{i}", "@type": "ControlAction", "name": f"orchestrate {step.label}",
                           "instrument": howtos[step.kind], "object": _ref(action),
                           "actionStatus": _STATUS[step.status]})
                for i, (step, action) in enumerate(zip(record.steps, steps, strict=True), start=1)]
    prefect = graph.add({"@id": "#software-prefect-engine", "@type": "SoftwareApplication", "name": "Prefect",
                         "softwareVersion": record.software.get("prefect"), "url": "https://www.prefect.io/"})
    graph.add({"@id": "#orchestration", "@type": "OrganizeAction", "name": f"Prefect run of flow {record.flow}",
               "instrument": prefect, "object": controls, "result": _ref(run_id),
               "startTime": record.start_time.isoformat(), "endTime": record.end_time.isoformat(),
               "actionStatus": _STATUS[record.status]})
    return list(howtos.values())


def build_crate(record: RunRecord) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The crate's JSON-LD and the files to write beside it (crate-relative name -> bytes).

    Args:
        record: the run.

    Returns:
        (``ro-crate-metadata.json`` content, {file name: content}) - the flow's source and the attachments.
    """
    graph = _Graph()
    files = dict(record.attachments)
    workflow, source = _flow_file(record)
    steps = [_step_action(graph, i, step, files) for i, step in enumerate(record.steps, start=1)]
    run_id = _run_action(graph, record, workflow, steps)
    _workflow(graph, record, workflow, source, _orchestration(graph, record, steps, run_id))
    files[workflow] = source
    attached = [_file(graph, FileRef(name, bytes_sha256(data), len(data), "output"), [])
                for name, data in record.attachments.items()]
    data = [ref for sid in steps for key in ("object", "result") for ref in graph.entities[sid][key]
            if _is_data(graph.entities[ref["@id"]])]
    for url, (name, version) in PROFILES.items():
        graph.add({"@id": url, "@type": "CreativeWork", "name": name, "version": version})
    root = {"@id": "./", "@type": "Dataset", "name": f"oceanlake {record.flow} run {record.run_id}",
            "description": record.description or f"Provenance of oceanlake flow run {record.run_id} ({record.flow})",
            "datePublished": record.end_time.isoformat(), "license": _ref("https://spdx.org/licenses/Apache-2.0"),
            "conformsTo": [_ref(url) for url in PROFILES], "mainEntity": _ref(workflow),
            "hasPart": _unique([_ref(workflow), *attached, *data]), "mentions": [_ref(run_id)]}
    descriptor = {"@id": METADATA, "@type": "CreativeWork", "about": _ref("./"),
                  "conformsTo": [_ref("https://w3id.org/ro/crate/1.1"),
                                 _ref("https://w3id.org/workflowhub/workflow-ro-crate/1.0")]}
    return {"@context": CONTEXT, "@graph": [descriptor, root, *graph.entities.values()]}, files


def _is_data(entity: dict[str, Any]) -> bool:
    types = _as_list(entity.get("@type"))
    return "File" in types or "Dataset" in types


def _unique(refs: list[dict[str, str]]) -> list[dict[str, str]]:
    seen, out = set(), []
    for ref in refs:
        if ref["@id"] not in seen:
            seen.add(ref["@id"])
            out.append(ref)
    return out


def _filesystem(location: str, settings: Settings) -> fsspec.AbstractFileSystem:
    if location.startswith("s3://"):
        return fsspec.filesystem("s3", **settings.s3.storage_options())
    return fsspec.filesystem("file", auto_mkdir=True)


def write_crate(record: RunRecord, settings: Settings) -> str:
    """Write the run's crate to the lake; returns the crate folder (path or ``s3://`` URL)."""
    folder = crate_location(settings, record)
    document, files = build_crate(record)
    fs = _filesystem(folder, settings)
    for name, data in files.items():
        fs.pipe_file(f"{folder}/{name}", data)
    fs.pipe_file(f"{folder}/{METADATA}", json.dumps(document, indent=1, ensure_ascii=False).encode())
    return folder


def read_document(location: str, settings: Settings) -> dict[str, Any]:
    """The JSON-LD of a crate: ``location`` is its folder or its ``ro-crate-metadata.json`` (local or ``s3://``).

    Raises:
        FileNotFoundError: when there is no crate there.
        ValueError: when the file is not JSON.
    """
    path = location if location.endswith(".json") else f"{location.rstrip('/')}/{METADATA}"
    fs = _filesystem(path, settings)
    if not fs.exists(path):
        raise FileNotFoundError(f"no RO-Crate at {location} ({METADATA} not found)")
    try:
        return json.loads(fs.cat_file(path))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON: {exc}") from None


def _types(entity: dict[str, Any]) -> list[str]:
    return _as_list(entity.get("@type"))


def _parse_file(entity: dict[str, Any]) -> FileRef:
    url = entity.get("contentUrl") or entity["@id"]
    if url.startswith("file://"):
        url = unquote(urlparse(url).path)
    size = entity.get("contentSize")
    return FileRef(url=url, sha256=entity.get("sha256"), size=int(size) if size not in (None, "") else None,
                   role=entity.get("oceanlake:role", "ingested"), description=entity.get("description"))


def _parse_snapshot(entity: dict[str, Any]) -> SnapshotRef | None:
    system = next((k for k, v in PROPERTY_IDS.items() if v == entity.get("propertyID") and k != "content"), None)
    if system is None:
        return None
    return SnapshotRef(system=system, role=entity.get("oceanlake:role", "read"), value=str(entity["value"]),
                       cube=entity.get("oceanlake:cube"))


def _parse_step(graph: dict[str, dict[str, Any]], action: dict[str, Any]) -> Step:
    tool = action["instrument"]["@id"]
    kind = tool.removeprefix("#tool-")
    step = Step(kind=kind, label=action.get("name", kind), status=action.get("oceanlake:status", "completed"))
    for key in ("object", "result"):
        for ref in _as_list(action.get(key)):
            entity = graph[ref["@id"]]
            types = _types(entity)
            if "File" in types or "Dataset" in types:
                (step.inputs if key == "object" else step.files).append(_parse_file(entity))
            elif entity.get("propertyID") == PROPERTY_IDS["content"]:
                step.outputs.append(Output(name=entity["name"], sha256=str(entity["value"]).removeprefix("sha256:"),
                                           rows=int(entity.get("oceanlake:rows", 0)),
                                           description=entity.get("description", "")))
            elif (snap := _parse_snapshot(entity)) is not None:
                step.snapshots.append(snap)
            elif "PropertyValue" in types:
                step.parameters[entity["name"]] = entity.get("value")
    return step


def parse_crate(document: dict[str, Any]) -> RunRecord:
    """The run recorded by a crate written by :func:`write_crate`.

    Raises:
        ValueError: when the document is not such a crate (no root, no flow run, no orchestration).
    """
    try:
        graph = {e["@id"]: e for e in document["@graph"]}
        workflow = graph["./"]["mainEntity"]["@id"]
        run = next(e for e in graph.values() if "CreateAction" in _types(e) and e["instrument"]["@id"] == workflow)
        organize = next(e for e in graph.values() if "OrganizeAction" in _types(e))
    except (KeyError, TypeError, StopIteration) as exc:
        raise ValueError(f"not an oceanlake Workflow Run RO-Crate (missing {exc})") from None
    steps = [_parse_step(graph, graph[graph[c["@id"]]["object"]["@id"]]) for c in _as_list(organize.get("object"))]
    record = RunRecord(flow=graph[workflow].get("name", ""), run_id=run.get("identifier", ""),
                       start_time=datetime.fromisoformat(run["startTime"]),
                       end_time=datetime.fromisoformat(run["endTime"]), lake=run.get("oceanlake:lake", ""),
                       catalog=run.get("oceanlake:catalog", ""),
                       status="failed" if run.get("actionStatus") == _STATUS["failed"] else "completed",
                       steps=steps, description=run.get("description") or "")
    for ref in _as_list(run.get("object")) + _as_list(run.get("result")):
        entity = graph[ref["@id"]]
        if ref["@id"].startswith("#run-param-"):
            record.parameters[entity["name"]] = entity.get("value")
        elif ref["@id"].startswith("#run-") and (snap := _parse_snapshot(entity)) is not None:
            record.snapshots.append(snap)
    record.software = {graph[r["@id"]]["name"]: graph[r["@id"]].get("softwareVersion")
                       for r in _as_list(graph[workflow].get("softwareRequirements"))}
    return record
