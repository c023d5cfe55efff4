"""The CDK CLI and the jsii kernel run on the Node release package.json pins (npm's ``node`` package), one
the CDK supports, whatever Node the machine has (``devtools.use_project_node``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from devtools import CDK_CLI, NODE_BIN, PROJECT_ROOT, use_project_node

# The releases the CDK CLI and jsii list as supported (their end-of-life banner, CLI 2.1148, jsii 1.x).
SUPPORTED_NODE_MAJORS = {22, 24}
END_OF_LIFE_BANNER = "end-of-life and not supported"


def pinned_node() -> str:
    return json.loads((PROJECT_ROOT / "package.json").read_text())["devDependencies"]["node"]


def test_the_pinned_node_is_installed_and_supported() -> None:
    version = subprocess.run(
        [str(NODE_BIN / "node"), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert version == f"v{pinned_node()}"
    assert int(pinned_node().split(".")[0]) in SUPPORTED_NODE_MAJORS


def test_this_session_and_its_children_find_the_pinned_node() -> None:
    """tests/conftest.py puts it first on PATH: jsii (``node`` unless JSII_NODE is set) and the CLI's
    ``#!/usr/bin/env node`` both resolve to it."""
    assert shutil.which("node") == str(NODE_BIN / "node")
    assert shutil.which("cdk") == str(CDK_CLI)
    assert os.environ.get("JSII_NODE") in (None, str(NODE_BIN / "node"))


def test_cdk_code_runs_without_the_end_of_life_banner() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", "import aws_cdk; aws_cdk.App()"], capture_output=True, text=True, check=True
    )
    assert END_OF_LIFE_BANNER not in completed.stderr


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (["/usr/bin", "/bin"], [str(NODE_BIN), "/usr/bin", "/bin"]),
        (["/usr/bin", str(NODE_BIN), "/bin"], [str(NODE_BIN), "/usr/bin", "/bin"]),
        ([str(NODE_BIN), "/usr/bin"], [str(NODE_BIN), "/usr/bin"]),
        ([""], [str(NODE_BIN)]),
    ],
)
def test_use_project_node_puts_it_first_once(monkeypatch, before: list[str], after: list[str]) -> None:
    monkeypatch.setenv("PATH", os.pathsep.join(before))
    use_project_node()
    assert os.environ["PATH"].split(os.pathsep) == after


def planned_setup(target: str) -> str:
    """What ``make TARGET`` would run on a clean clone: every prerequisite's recipe, nothing executed."""
    return subprocess.run(
        ["make", "--dry-run", "--always-make", target],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_make_synth_sets_up_only_what_synthesis_needs() -> None:
    plan = planned_setup("synth")
    assert "requirements-dev.txt" in plan
    assert "npm ci" in plan
    assert "checkov-requirements.txt" in plan
    assert "localstack" not in plan


@pytest.mark.parametrize("target", ["test", "deploy-local"])
def test_the_local_endpoints_install_with_the_targets_that_start_them(target: str) -> None:
    plan = planned_setup(target)
    assert "localstack-core[runtime]" in plan
    assert ("localstack-core[base-runtime]" in plan) == (target == "test")
