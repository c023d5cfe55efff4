"""checkov (CloudFormation framework) over synthesized templates: every failed check, one line each.

checkov runs from its own virtualenv (``.checkov-venv``, every package pinned in checkov-requirements.txt)
because it pins boto3 and others below the project's versions. ``--skip-download`` keeps it offline: the
checks are the ones the pinned version ships, nothing is fetched from the vendor's platform.

A check that does not apply to a resource is skipped in that resource's template metadata
(``kmsecdh_cdk.acknowledgments.skip_checkov``), with the reason beside it.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from devtools import PROJECT_ROOT

CHECKOV = PROJECT_ROOT / ".checkov-venv" / "bin" / "checkov"
# checkov's exit status: 0 when every check passed, 1 when one failed; anything else is checkov failing.
_CHECKS_FAILED = 1
# Fewer templates than this per process and a second checkov start-up costs more than it saves.
MIN_TEMPLATES_PER_PROCESS = 8


class CheckovError(RuntimeError):
    """checkov itself failed (not installed, crashed, or could not parse a template)."""


def failed_checks(templates: Sequence[Path], workers: int | None = None) -> list[str]:
    """One line per failed check over ``templates``: check id and name, resource, template file.

    checkov checks its templates one after the other in one process (about 0.2 s of CPU each, after
    2-3 s of start-up), so many templates are split into groups checked by concurrent checkov
    processes, one per CPU (``workers``), each given at least ``MIN_TEMPLATES_PER_PROCESS`` templates:
    for a few, a second start-up would cost more than it saves.
    """
    if not templates:
        raise CheckovError("no template to scan")
    groups = template_groups(templates, workers or os.cpu_count() or 1)
    env = None
    if len(groups) > 1:
        # Every CPU has a checkov of its own: checkov's forked workers would only add the pickling of
        # their results (about a fifth more CPU for the same report).
        env = dict(os.environ, CHECKOV_PARALLELIZATION_TYPE="none")
    try:
        processes = [
            subprocess.Popen(
                _command(group), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
            )
            for group in groups
        ]
    except FileNotFoundError:
        raise CheckovError(f"{CHECKOV} not found: run make setup") from None
    failures = []
    for process, group in zip(processes, groups, strict=True):
        stdout, stderr = process.communicate()
        if process.returncode not in (0, _CHECKS_FAILED):
            raise CheckovError(f"checkov exited {process.returncode}: {stderr.strip()[-2000:]}")
        failures += failures_in_report(json.loads(stdout), len(group))
    return failures


def template_groups(templates: Sequence[Path], workers: int) -> list[list[Path]]:
    """``templates`` in at most ``workers`` groups of at least MIN_TEMPLATES_PER_PROCESS (but one)."""
    count = max(1, min(workers, len(templates) // MIN_TEMPLATES_PER_PROCESS))
    return [list(templates[index::count]) for index in range(count)]


def _command(templates: Sequence[Path]) -> list[str]:
    files = (argument for path in templates for argument in ("--file", str(path)))
    return [
        str(CHECKOV),
        "--framework",
        "cloudformation",
        "--skip-download",
        "--compact",
        "--quiet",
        "--output",
        "json",
        *files,
    ]


def failures_in_report(output: dict[str, Any] | list[dict[str, Any]], template_count: int) -> list[str]:
    """The failed checks of checkov's JSON output (one report, or a list of them)."""
    reports = output if isinstance(output, list) else [output]
    failures = []
    scanned = 0
    for report in reports:
        summary = report.get("summary", {})
        if summary.get("parsing_errors"):
            raise CheckovError(f"checkov could not parse {summary['parsing_errors']} template(s)")
        scanned += summary.get("resource_count", 0)
        failures.extend(
            f"{check['check_id']} {check['check_name']}: {check['resource']} in "
            f"{Path(check['file_path']).name}"
            for check in report.get("results", {}).get("failed_checks", [])
        )
    if scanned == 0 and template_count:
        raise CheckovError("checkov scanned no resource: the templates were not read as CloudFormation")
    return failures
