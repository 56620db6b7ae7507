"""The Galaxy tool wrappers: planemo lint, no drift from the CLI, and their XML tests run for real.

``test_tool_tests_pass`` is a small ``planemo test`` without Galaxy (which cannot be downloaded
here): ``galaxy_tool_runner.py`` fills each test's command with Galaxy's Cheetah, runs it with the
project's ``oceanlake`` on ``test-data/`` and checks the outputs with Galaxy's assertion code.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import typer.main
import yaml

import lake_schema
from flows.cli import Kind, app

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / "galaxy" / "tools" / "oceanlake"
HERE = Path(__file__).resolve().parent
TOOL_FILES = sorted(p.name for p in TOOLS.glob("oceanlake_*.xml"))
#: Tool id -> the oceanlake verb it wraps (its ``argument=`` parameters are options of that verb).
MAIN_VERB = {"oceanlake_ingest_insitu": "ingest insitu", "oceanlake_ingest_satellite": "ingest satellite",
             "oceanlake_matchup": "matchup", "oceanlake_stats": "stats", "oceanlake_report": "report"}
VERB_RE = re.compile(r"(?<![\w/.-])oceanlake\s+(ingest\s+[a-z]+|[a-z]+)")
OPTION_RE = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def _cli_options() -> dict[str, set[str]]:
    """Verb ('ingest insitu', 'stats', ...) -> every option name it accepts, from the typer app itself."""
    out: dict[str, set[str]] = {}

    def walk(command, path: str) -> None:
        if hasattr(command, "commands"):  # a group (typer's own click flavour)
            for name, sub in command.commands.items():
                walk(sub, f"{path} {name}".strip())
        else:
            out[path] = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts) if opt.startswith("-")}

    walk(typer.main.get_command(app), "")
    return out


CLI = _cli_options()


def test_planemo_lint_passes_at_warn_level(planemo_bin, planemo_env):
    out = subprocess.run([str(planemo_bin / "planemo"), "lint", "--fail_level", "warn", "--report_level", "warn",
                          str(TOOLS)], capture_output=True, text=True, env=planemo_env, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    linted = set(re.findall(r"Linting tool \S*/(oceanlake_\w+\.xml)", out.stdout))
    assert linted == set(TOOL_FILES)
    problems = [line for line in out.stdout.splitlines() if "WARNING" in line or "ERROR" in line]
    assert not problems, "\n".join(problems)


def test_ids_versions_and_requirements_follow_pyproject(tools):
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert set(tools) == set(MAIN_VERB)
    for tool_id, tool in tools.items():
        assert f"{tool_id}.xml" in TOOL_FILES
        assert re.fullmatch(rf"{re.escape(version)}\+galaxy\d+", tool["version"]), tool["version"]
        assert tool["requirements"] == [["package", "oceanlake", version]]
        assert tool["containers"] == [f"oceanlake:{version}"]
        assert tool["tests"] >= 1
        assert tool["name"].startswith("oceanlake ")


def test_select_options_are_the_shipped_definitions(tools):
    products, protocols = sorted(lake_schema.products()), sorted(lake_schema.protocols())
    kinds = sorted(k.value for k in Kind)
    checked = 0
    for tool in tools.values():
        for param in tool["inputs"]:
            name = param["path"].rsplit("|", 1)[-1]
            expected = {"product": products, "protocol": protocols, "insitu": kinds, "kind": kinds}.get(name)
            if param["type"] == "select" and expected is not None:
                assert sorted(param["options"]) == expected, (tool["id"], param["path"])
                checked += 1
    assert checked == 11


@pytest.mark.parametrize("tool_id", sorted(MAIN_VERB))
def test_every_option_in_the_wrapper_exists_in_the_cli(tools, tool_id):
    tool = tools[tool_id]
    used: dict[str, set[str]] = {}
    for segment in tool["command"].split("&&"):
        verbs = {re.sub(r"\s+", " ", v) for v in VERB_RE.findall(segment)}
        assert len(verbs) <= 1, segment
        if verbs:
            used.setdefault(verbs.pop(), set()).update(OPTION_RE.findall(segment))
    main = MAIN_VERB[tool_id]
    assert main in used, f"{tool_id} never calls `oceanlake {main}`"
    for param in tool["inputs"]:
        for flag in (param["argument"], param["truevalue"], param["falsevalue"]):
            if flag and flag.startswith("--"):
                used[main].add(flag)
    for verb, options in used.items():
        assert verb in CLI, f"{tool_id}: `oceanlake {verb}` is not a command"
        unknown = options - CLI[verb]
        assert not unknown, f"{tool_id}: `oceanlake {verb}` has no option {sorted(unknown)}"


def test_test_data_is_small_synthetic_and_all_used(tools):
    files = {p.name: p for p in (TOOLS / "test-data").iterdir()}
    assert sum(p.stat().st_size for p in files.values()) < 2_000_000
    used = {name for tool in tools.values() for name in tool["test_data"]}
    workflow_tests = yaml.safe_load((REPO / "galaxy" / "workflows" / "oceanlake-validation-tests.yml").read_text())
    for case in workflow_tests:
        for value in case["job"].values():
            used |= {Path(e["path"]).name for e in value.get("elements", [])}
    assert used == set(files), f"missing: {sorted(used - set(files))}, unused: {sorted(set(files) - used)}"


def test_shed_yml_describes_the_repository():
    shed = yaml.safe_load((TOOLS / ".shed.yml").read_text())
    assert shed["name"] == "oceanlake"
    assert shed["owner"] and shed["description"] and shed["long_description"]
    assert shed["type"] == "unrestricted"
    assert shed["categories"]


@pytest.fixture(scope="module")
def prefect_api(prefect_harness) -> str:
    """URL of the session's Prefect test server, given to the jobs as ``PREFECT_API_URL``.

    That is the setup galaxy/README.md recommends (jobs report to a Prefect server); without it each
    job starts a temporary Prefect API in its folder, which works the same but costs ~10 s per run.
    """
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value()


def _run_tool_tests(planemo_bin: Path, env: dict[str, str], work: Path, tool_file: str) -> list[dict]:
    out = subprocess.run([str(planemo_bin / "python"), str(HERE / "galaxy_tool_runner.py"), str(TOOLS / tool_file),
                          "--work", str(work / Path(tool_file).stem), "--path", str(Path(sys.executable).parent)],
                         capture_output=True, text=True, env=env, timeout=580)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def tool_results(planemo_bin, planemo_env, prefect_api, tmp_path_factory) -> dict[str, list[dict]]:
    """Every tool's XML tests, three tools at a time (each job is mostly one thread: GALAXY_SLOTS=1)."""
    env = {**planemo_env, "PREFECT_API_URL": prefect_api, "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "GX_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
    for name in ("OCEANLAKE_LAKE", "OCEANLAKE_CATALOG", "OCEANLAKE_CACHE", "PREFECT_HOME"):
        env.pop(name, None)
    work = tmp_path_factory.mktemp("galaxy-jobs")
    slowest_first = sorted(TOOL_FILES, key=lambda f: ("ingest" not in f, "matchup" not in f, f))
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {f: pool.submit(_run_tool_tests, planemo_bin, env, work, f) for f in slowest_first}
        return {f: future.result() for f, future in futures.items()}


@pytest.mark.timeout(900)
@pytest.mark.parametrize("tool_file", TOOL_FILES)
def test_tool_tests_pass(tool_results, tool_file):
    results = tool_results[tool_file]
    assert results, f"{tool_file} has no test"
    failed = [r for r in results if not r["passed"]]
    assert not failed, "\n\n".join(
        f"test {r['test']}: {r['failures']}\ncommand: {r['command']}\nstderr: {r['stderr_tail']}" for r in failed)
