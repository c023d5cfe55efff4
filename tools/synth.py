"""`make synth`: synthesize every environment with the CDK CLI and fail on any unacknowledged finding
of the cdk-nag packs or any failed checkov check.

The CLI's exit status is not enough: `cdk synth -q` (CLI 2.1148) was seen to exit 0 while
`cdk.out/validation-report.json` listed failures, so this reads the report and decides itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devtools import CDK_CLI, PROJECT_ROOT, use_project_node
from tools.checkov import failed_checks

OUTPUT_DIR = PROJECT_ROOT / "cdk.out"
REPORT_NAME = "validation-report.json"
WARNING = "warning"


def unacknowledged_findings(report: dict[str, Any]) -> list[str]:
    """One line per violation a plugin reported and nobody acknowledged, or a failed plugin without any.

    Construct warnings (severity ``warning``, e.g. alarms that notify nobody) are not findings: ``warnings``
    lists them and synthesis goes on.
    """
    findings = _violation_lines(report, lambda violation: violation.get("severity") != WARNING)
    for plugin in report.get("pluginReports", []):
        if plugin.get("conclusion") != "success" and not plugin.get("violations"):
            findings.append(f"{plugin['pluginName']}: conclusion {plugin.get('conclusion')!r}")
    return findings


def warnings(report: dict[str, Any]) -> list[str]:
    """One line per construct warning the report lists: said at synthesis, never a failure."""
    return _violation_lines(report, lambda violation: violation.get("severity") == WARNING)


def _violation_lines(report: dict[str, Any], selected: Callable[[dict[str, Any]], bool]) -> list[str]:
    lines = []
    for plugin in report.get("pluginReports", []):
        for violation in filter(selected, plugin.get("violations", [])):
            for construct in violation.get("violatingConstructs", []) or [{}]:
                lines.append(
                    f"{plugin['pluginName']}: {violation.get('ruleName')} at "
                    f"{construct.get('constructPath', '?')}: {violation.get('description', '')}"
                )
    return lines


def templates(output_dir: Path) -> list[Path]:
    """Every template of the cloud assembly: the environments' stages (``assembly-*``) and the stacks at its
    root (the pipeline and CodePipeline's support stacks in other Regions)."""
    return sorted(output_dir.glob("assembly-*/*.template.json")) + sorted(output_dir.glob("*.template.json"))


def read_report(output_dir: Path) -> dict[str, Any]:
    return json.loads((output_dir / REPORT_NAME).read_text())


def main() -> int:
    use_project_node()
    report_path = OUTPUT_DIR / REPORT_NAME
    report_path.unlink(missing_ok=True)  # never judge a stale report
    completed = subprocess.run(
        [str(CDK_CLI), "synth", "--quiet", "--output", str(OUTPUT_DIR)], cwd=PROJECT_ROOT, check=False
    )
    if not report_path.is_file():
        print(f"synth: no {REPORT_NAME} written (cdk synth exited {completed.returncode})", file=sys.stderr)
        return completed.returncode or 1
    report = read_report(OUTPUT_DIR)
    for warning in warnings(report):
        print(f"synth: warning: {warning}", file=sys.stderr)
    findings = unacknowledged_findings(report)
    for finding in findings:
        print(f"synth: {finding}", file=sys.stderr)
    if findings:
        print(f"synth: {len(findings)} unacknowledged finding(s), see {report_path}", file=sys.stderr)
        return 1
    failures = failed_checks(templates(OUTPUT_DIR))
    for failure in failures:
        print(f"synth: checkov {failure}", file=sys.stderr)
    if failures:
        print(f"synth: {len(failures)} failed checkov check(s)", file=sys.stderr)
        return 1
    if completed.returncode != 0:
        print(f"synth: cdk synth exited {completed.returncode}", file=sys.stderr)
        return completed.returncode
    print(f"synth: every environment synthesized into {OUTPUT_DIR}, no unacknowledged finding, checkov clean")
    return 0


if __name__ == "__main__":
    sys.exit(main())
