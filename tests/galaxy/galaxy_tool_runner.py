"""Run the ``<tests>`` of a Galaxy tool XML without a Galaxy server (a small ``planemo test``).

Runs in the planemo venv (``galaxy-tool-util`` and Cheetah), called by ``test_tool_execution.py``::

    .venv-planemo/bin/python tests/galaxy/galaxy_tool_runner.py TOOL.xml --work DIR [--test N] [--path BIN]

For each test case: macros are expanded and the tests parsed by ``galaxy.tool_util`` (as Galaxy
does), the ``<command>`` Cheetah template is filled with a namespace that behaves like Galaxy's
parameter wrappers for the constructs the oceanlake wrappers use (data, multiple data, select,
text with sanitizers, boolean, integer, float, conditional, section, output filters, discovered
collections), the lines are stripped and joined like Galaxy does, the command runs with bash in a
fresh job folder, and every output is checked with Galaxy's own assertion functions
(``galaxy.tool_util.verify.asserts``). Prints one JSON report (list of test results) on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import string
import subprocess
import sys
import time
from pathlib import Path

from Cheetah.Template import Template
from galaxy.tool_util.parser import get_tool_source
from galaxy.tool_util.verify.asserts import verify_assertions

# Galaxy's default parameter sanitizer (galaxy.util.sanitize_param).
DEFAULT_VALID = set(string.ascii_letters + string.digits + " -=_.()/+*^,:?!")
DEFAULT_MAP = {">": "__gt__", "<": "__lt__", "'": "__sq__", '"': "__dq__", "[": "__ob__", "]": "__cb__",
               "{": "__oc__", "}": "__cc__", "@": "__at__", "\n": "__cn__", "\r": "__cr__", "\t": "__tc__",
               "#": "__pd__"}


class Sanitizer:
    """A ``<sanitizer>`` element (or Galaxy's default one): valid characters kept, mapped ones replaced
    (Galaxy's default mapping unless a ``<mapping>`` says otherwise), others replaced by ``invalid_char``."""

    def __init__(self, elem=None):
        self.valid, self.mapping, self.invalid = set(DEFAULT_VALID), dict(DEFAULT_MAP), "X"
        if elem is None:
            return
        self.invalid = elem.get("invalid_char", "X")
        valid = elem.find("valid")
        if valid is not None:
            self.valid = self._initial(valid.get("initial", "default"))
            for child in valid:
                chars = set(child.get("value", ""))
                self.valid = self.valid | chars if child.tag == "add" else self.valid - chars
        mapping = elem.find("mapping")
        if mapping is not None:
            self.mapping = {} if mapping.get("initial", "default") == "none" else dict(DEFAULT_MAP)
            for child in mapping:
                if child.tag == "add":
                    self.mapping[child.get("source")] = child.get("target")
                else:
                    self.mapping.pop(child.get("source"), None)

    @staticmethod
    def _initial(spec: str) -> set[str]:
        if spec == "none":
            return set()
        if spec == "default":
            return set(DEFAULT_VALID)
        out: set[str] = set()
        for part in spec.split(","):
            out |= set(getattr(string, part.strip().removeprefix("string.")))
        return out

    def __call__(self, value: str) -> str:
        return "".join(c if c in self.valid else self.mapping.get(c, self.invalid) for c in value)


class Value:
    """A text/integer/float/select/boolean parameter value: ``str()`` is what the command sees."""

    def __init__(self, raw, text: str):
        self.value, self._text = raw, text

    def __str__(self):
        return self._text

    def __bool__(self):
        return bool(self.value)

    def __eq__(self, other):
        return str(self) == str(other)

    def __hash__(self):
        return hash(self._text)

    def __getattr__(self, name):
        return getattr(self._text, name)


class Dataset:
    """An input or output dataset: ``str()`` is its path."""

    def __init__(self, path: Path, ext: str, name: str):
        self.file_name, self.ext, self.name, self.element_identifier = str(path), ext, name, name
        self.extension = ext

    def __str__(self):
        return self.file_name

    def __bool__(self):
        return True

    def is_of_type(self, *exts):
        return self.ext in exts


class NoDataset:
    """An optional data parameter left empty."""

    def __str__(self):
        return "None"

    def __bool__(self):
        return False


class DatasetList(list):
    """A ``multiple="true"`` data parameter."""

    def __str__(self):
        return ",".join(map(str, self))


def _param_value(elem, test_value, profile: float, test_data: Path):
    kind = elem.get("type")
    optional = elem.get("optional", "false") == "true"
    if kind == "data":
        if test_value is None:
            if not optional:
                raise ValueError(f"required data parameter {elem.get('name')} has no test value")
            return NoDataset(), None
        value, attrs = test_value
        ext = attrs.get("ftype") or elem.get("format", "data").split(",")[0]
        items = [Dataset(test_data / v, ext, v) for v in str(value).split(",")]
        raw = items if elem.get("multiple") == "true" else items[0]
        return (DatasetList(items) if elem.get("multiple") == "true" else items[0]), raw
    if kind == "select":
        options = [o.get("value") for o in elem.findall("option")]
        default = next((o.get("value") for o in elem.findall("option") if o.get("selected") == "true"),
                       None if optional else (options[0] if options else None))
        raw = test_value[0] if test_value is not None else default
        if raw is not None and raw not in options:
            raise ValueError(f"{elem.get('name')}: {raw!r} is not an option ({options})")
        return Value(raw, "" if raw is None else str(raw)), raw
    if kind == "boolean":
        raw = test_value[0] if test_value is not None else elem.get("checked", "false")
        flag = str(raw).lower() in ("true", "yes", "1")
        return Value(flag, elem.get("truevalue", "true") if flag else elem.get("falsevalue", "false")), flag
    raw = test_value[0] if test_value is not None else elem.get("value")
    if raw in (None, "") and kind in ("integer", "float"):
        raw = None
    if raw is None and kind == "text" and not (optional and profile >= 23.0):
        raw = ""
    if raw is not None and kind == "integer":
        raw = int(raw)
    elif raw is not None and kind == "float":
        raw = float(raw)
    sanitizer = Sanitizer(elem.find("sanitizer"))
    return Value(raw, "" if raw is None else sanitizer(str(raw))), raw


def _name(elem) -> str:
    return elem.get("name") or elem.get("argument", "").lstrip("-").replace("-", "_")


def build_namespace(parent, values: dict, prefix: str, profile: float, test_data: Path) -> tuple[dict, dict]:
    """Cheetah namespace and raw values (for output filters) of the parameters under ``parent``."""
    ns: dict = {}
    raw: dict = {}
    for elem in parent:
        if elem.tag not in ("param", "conditional", "section"):
            continue
        name = _name(elem)
        qualified = f"{prefix}{name}"
        if elem.tag == "param":
            ns[name], raw[name] = _param_value(elem, values.get(qualified), profile, test_data)
        elif elem.tag == "section":
            ns[name], raw[name] = build_namespace(elem, values, qualified + "|", profile, test_data)
        else:
            selector = elem.find("param")
            sel_ns, sel_raw = _param_value(selector, values.get(f"{qualified}|{_name(selector)}"), profile, test_data)
            when = next((w for w in elem.findall("when") if w.get("value") == str(sel_raw)), None)
            inner_ns, inner_raw = ({}, {}) if when is None else build_namespace(
                when, values, qualified + "|", profile, test_data)
            ns[name] = {_name(selector): sel_ns, **inner_ns}
            raw[name] = {_name(selector): sel_raw, **inner_raw}
    return ns, raw


def render(command: str, namespace: dict) -> str:
    """Fill the Cheetah template and join its lines like Galaxy (strip each line, newlines to spaces)."""
    text = str(Template(source=command, searchList=[namespace]))
    return " ".join(line.strip() for line in text.splitlines()).strip()


def _outputs(root, raw: dict, outdir: Path) -> tuple[dict, list]:
    datasets, collections = {}, []
    for elem in root.find("outputs"):
        filters = [f.text.strip() for f in elem.findall("filter")]
        if not all(eval(f, {}, dict(raw)) for f in filters):  # noqa: S307 - the tool's own filter expressions
            continue
        if elem.tag == "data":
            dataset = Dataset(outdir / f"{elem.get('name')}.dat", elem.get("format"), elem.get("name"))
            dataset.from_work_dir = elem.get("from_work_dir")
            datasets[elem.get("name")] = dataset
        elif elem.tag == "collection":
            collections.append(elem)
    return datasets, collections


def _discover(elem, workdir: Path) -> dict[str, Path]:
    found = {}
    for disc in elem.findall("discover_datasets"):
        folder = workdir / disc.get("directory", ".")
        pattern = re.compile(disc.get("pattern"))
        for path in sorted(folder.iterdir()) if folder.is_dir() else []:
            match = pattern.fullmatch(path.name)
            if match:
                found[match.group("designation")] = path
    return found


def _check(data: bytes, attrs: dict) -> None:
    verify_assertions(data, attrs.get("assert_list") or [])


def prepare(tool_path: Path, index: int, workdir: Path) -> dict:
    """Parse the tool and test ``index``; build the namespace and the rendered command (outputs under workdir)."""
    source = get_tool_source(str(tool_path))
    root = source.root
    test = source.parse_tests_to_dict()["tests"][index]
    values = {i["name"]: (i["value"], i["attributes"]) for i in test["inputs"]}
    test_data = tool_path.parent / "test-data"
    namespace, raw = build_namespace(root.find("inputs"), values, "", float(root.get("profile", "16.01")), test_data)
    datasets, collections = _outputs(root, raw, workdir / "outputs")
    namespace.update(datasets)
    namespace["__tool_directory__"] = str(tool_path.parent)
    unknown = set(values) - set(_qualified_names(root.find("inputs"), ""))
    return {"test": test, "test_data": test_data, "datasets": datasets, "collections": collections,
            "command": render(source.parse_command(), namespace),
            "failures": [f"test inputs not defined by the tool: {sorted(unknown)}"] if unknown else []}


def _verify_outputs(case: dict) -> list[str]:
    failures = []
    test, datasets, collections = case["test"], case["datasets"], case["collections"]
    expected = test.get("expect_num_outputs")
    if expected is not None and int(expected) != len(datasets) + len(collections):
        given = len(datasets) + len(collections)
        failures.append(f"expect_num_outputs={expected} but the output filters give {given} outputs")
    for output in test["outputs"]:
        name, attrs = output["name"], output["attributes"]
        try:
            path = Path(datasets[name].file_name)
            _check(path.read_bytes(), attrs)
            if output.get("value") and (case["test_data"] / output["value"]).read_bytes() != path.read_bytes():
                raise AssertionError(f"differs from {output['value']}")
        except (AssertionError, KeyError, OSError) as exc:
            failures.append(f"output {name}: {exc}")
    return failures


def _verify_collections(case: dict, job: Path) -> list[str]:
    failures = []
    by_name = {c.get("name"): c for c in case["collections"]}
    for coll in case["test"].get("output_collections", []):
        try:
            found = _discover(by_name[coll["name"]], job)
            for identifier, (_expected_file, element_attrs) in coll["element_tests"].items():
                if identifier not in found:
                    raise AssertionError(f"no element {identifier!r} (found {sorted(found)})")
                _check(found[identifier].read_bytes(), element_attrs)
            if coll.get("element_count") is not None and len(found) != int(coll["element_count"]):
                raise AssertionError(f"{len(found)} elements, expected {coll['element_count']}")
        except (AssertionError, KeyError, OSError) as exc:
            failures.append(f"collection {coll['name']}: {exc}")
    return failures


def _verify_job(test: dict, proc: subprocess.CompletedProcess) -> list[str]:
    """Exit status (``expect_failure``, ``expect_exit_code``) and ``assert_stdout``/``assert_stderr``."""
    failures = []
    if test.get("expect_exit_code") is not None:
        if proc.returncode != int(test["expect_exit_code"]):
            failures.append(f"exit code {proc.returncode}, expected {test['expect_exit_code']}")
    elif test.get("expect_failure"):
        if proc.returncode == 0:
            failures.append("the job succeeded but the test expects a failure")
    elif proc.returncode:
        failures.append(f"exit code {proc.returncode}")
    for stream, text in (("stdout", proc.stdout), ("stderr", proc.stderr)):
        try:
            verify_assertions(text.encode(), test.get(stream) or [])
        except AssertionError as exc:
            failures.append(f"{stream}: {exc}")
    return failures


def run_test(tool_path: Path, index: int, workdir: Path, timeout: float) -> dict:
    """Run test ``index`` of the tool in ``workdir``; return a result dict (passed, failures, command...)."""
    case = prepare(tool_path, index, workdir)
    job = workdir / "working"
    job.mkdir(parents=True)
    (workdir / "outputs").mkdir()
    start = time.monotonic()
    env = {**os.environ, "GALAXY_SLOTS": "1", "HOME": str(workdir)}
    proc = subprocess.run(["bash", "-c", case["command"]], cwd=job, env=env, capture_output=True, text=True,
                          timeout=timeout)
    failures = case["failures"] + _verify_job(case["test"], proc)
    for dataset in case["datasets"].values():  # Galaxy moves from_work_dir files to the outputs after the job
        if dataset.from_work_dir and (job / dataset.from_work_dir).is_file():
            shutil.copyfile(job / dataset.from_work_dir, dataset.file_name)
    if not case["test"].get("expect_failure"):
        failures += _verify_outputs(case) + _verify_collections(case, job)
    return {"test": index, "command": case["command"], "seconds": round(time.monotonic() - start, 1),
            "exit_code": proc.returncode, "stderr_tail": proc.stderr[-3000:], "failures": failures,
            "passed": not failures}


def _qualified_names(parent, prefix: str) -> list[str]:
    names = []
    for elem in parent:
        if elem.tag == "param":
            names.append(prefix + _name(elem))
        elif elem.tag == "section":
            names += _qualified_names(elem, f"{prefix}{_name(elem)}|")
        elif elem.tag == "conditional":
            names += _qualified_names(elem, f"{prefix}{_name(elem)}|")
        elif elem.tag == "when":
            names += _qualified_names(elem, prefix)
    return names


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tool", type=Path)
    parser.add_argument("--work", type=Path, required=True, help="folder for the job folders (one per test)")
    parser.add_argument("--test", type=int, action="append", help="test index (default: all)")
    parser.add_argument("--path", help="folder prepended to PATH (where oceanlake and python are)")
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--render-only", action="store_true", help="print the commands, run nothing")
    args = parser.parse_args()
    if args.path:
        os.environ["PATH"] = f"{args.path}{os.pathsep}{os.environ['PATH']}"
    source = get_tool_source(str(args.tool.resolve()))
    indexes = args.test or list(range(len(source.parse_tests_to_dict()["tests"])))
    results = []
    for index in indexes:
        workdir = args.work / f"{args.tool.stem}-{index}"
        if args.render_only:
            results.append(render_only(args.tool.resolve(), index, workdir))
        else:
            results.append(run_test(args.tool.resolve(), index, workdir, args.timeout))
    json.dump(results, sys.stdout, indent=1)
    return 0


def render_only(tool_path: Path, index: int, workdir: Path) -> dict:
    """The rendered command of test ``index`` (outputs under ``workdir``), nothing run."""
    return {"test": index, "command": prepare(tool_path, index, workdir)["command"]}


if __name__ == "__main__":
    sys.exit(main())
