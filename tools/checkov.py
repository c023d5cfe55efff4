"""checkov (CloudFormation framework) over synthesized templates: every failed check, one line each.

checkov runs from its own virtualenv (``.checkov-venv``, every package pinned in checkov-requirements.txt)
because it pins boto3 and others below the project's versions. ``--skip-download`` keeps it offline: the
checks are the ones the pinned version ships, nothing is fetched from the vendor's platform.

A check that does not apply to a resource is skipped in that resource's template metadata
(``kmsecdh_cdk.acknowledgments.skip_checkov``), with the reason beside it.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from devtools import PROJECT_ROOT

CHECKOV = PROJECT_ROOT / ".checkov-venv" / "bin" / "checkov"
# checkov's exit status: 0 when every check passed, 1 when one failed; anything else is checkov failing.
_CHECKS_FAILED = 1


class CheckovError(RuntimeError):
    """checkov itself failed (not installed, crashed, or could not parse a template)."""


def failed_checks(templates: Sequence[Path]) -> list[str]:
    """One line per failed check over ``templates``: check id and name, resource, template file."""
    if not templates:
        raise CheckovError("no template to scan")
    command = [str(CHECKOV), "--framework", "cloudformation", "--skip-download", "--compact", "--quiet"]
    command += ["--output", "json", *(argument for path in templates for argument in ("--file", str(path)))]
    try:
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise CheckovError(f"{CHECKOV} not found: run make setup") from None
    if completed.returncode not in (0, _CHECKS_FAILED):
        raise CheckovError(f"checkov exited {completed.returncode}: {completed.stderr.strip()[-2000:]}")
    return failures_in_report(json.loads(completed.stdout), len(templates))


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
