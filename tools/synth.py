"""`make synth`: synthesize every environment with the CDK CLI and fail on any unacknowledged finding
of the cdk-nag packs or any failed checkov check.

The CLI's exit status is not enough: `cdk synth -q` (CLI 2.1148) was seen to exit 0 while
`cdk.out/validation-report.json` listed failures, so this reads the report and decides itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from devtools import CDK_CLI, PROJECT_ROOT, use_project_node
from tools.checkov import failed_checks

OUTPUT_DIR = PROJECT_ROOT / "cdk.out"
REPORT_NAME = "validation-report.json"


def unacknowledged_findings(report: dict[str, Any]) -> list[str]:
    """One line per violation a plugin reported and nobody acknowledged, or a failed plugin without any."""
    findings = []
    for plugin in report.get("pluginReports", []):
        violations = plugin.get("violations", [])
        for violation in violations:
            for construct in violation.get("violatingConstructs", []) or [{}]:
                findings.append(
                    f"{plugin['pluginName']}: {violation.get('ruleName')} at "
                    f"{construct.get('constructPath', '?')}: {violation.get('description', '')}"
                )
        if plugin.get("conclusion") != "success" and not violations:
            findings.append(f"{plugin['pluginName']}: conclusion {plugin.get('conclusion')!r}")
    return findings


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
    findings = unacknowledged_findings(read_report(OUTPUT_DIR))
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
