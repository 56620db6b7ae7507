"""Fixtures of the Galaxy wrapper tests: the planemo venv, and the tools and workflow as Galaxy parses them.

planemo, galaxy-tool-util, gxformat2 and Cheetah live in their own venv (``make planemo``, a
dependency of ``make test``) because their pins do not belong in the runtime venv; the tests call
them as subprocesses and fail (not skip) when that venv is missing, so a broken setup is never
reported as green.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GALAXY = REPO / "galaxy"
TOOLS = GALAXY / "tools" / "oceanlake"
WORKFLOWS = GALAXY / "workflows"
HERE = Path(__file__).resolve().parent
PLANEMO_VENV = REPO / ".venv-planemo"


@pytest.fixture(scope="session")
def planemo_bin() -> Path:
    """``.venv-planemo/bin``; fails with the fix when the venv is missing."""
    binary = PLANEMO_VENV / "bin"
    if not (binary / "planemo").exists():
        pytest.fail(f"{PLANEMO_VENV} is missing: run `make planemo` (`make test` does it) to install planemo "
                    "and gxformat2 for the Galaxy wrapper tests", pytrace=False)
    return binary


@pytest.fixture(scope="session")
def planemo_env(tmp_path_factory) -> dict[str, str]:
    """Environment for planemo: a throw-away HOME (planemo writes config and caches there), no network use."""
    home = tmp_path_factory.mktemp("planemo-home")
    return {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")}


@pytest.fixture(scope="session")
def description(planemo_bin, planemo_env) -> dict:
    """Tools (macros expanded) and converted workflows, described by ``galaxy_describe.py`` in the planemo venv."""
    out = subprocess.run([str(planemo_bin / "python"), str(HERE / "galaxy_describe.py"), str(GALAXY)],
                         capture_output=True, text=True, env=planemo_env, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture(scope="session")
def tools(description) -> dict[str, dict]:
    """Tool id -> description."""
    return {tool["id"]: tool for tool in description["tools"].values()}
