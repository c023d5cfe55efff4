"""``make test`` wall time: reported, no target (issue 15).

One run of the whole suite exactly as ``make test`` runs it (``python -m pytest`` in the project root),
against the floor every run pays: pytest's start-up, the imports of every test module and collection
(``pytest --collect-only``). The suite must pass: the time of a failing run says nothing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

from benchmarks import PROJECT_ROOT
from benchmarks.stats import FigureResult, elapsed_ms, summarize

TIMEOUT_S = 7200
# pytest -q's last line, e.g. "2207 passed, 1 deselected in 135.01s (0:02:15)".
_SUMMARY = re.compile(r"^=*\s*(\d+ (?:passed|failed|skipped|deselected|error).*?) in [\d.]+s", re.MULTILINE)


def pytest(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20")
    return subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


def measure() -> FigureResult:
    results: dict[str, subprocess.CompletedProcess[str]] = {}
    collect_s = elapsed_ms(lambda: results.setdefault("collect", pytest("--collect-only", "-q"))) / 1000
    suite_s = elapsed_ms(lambda: results.setdefault("suite", pytest("-q"))) / 1000
    for name, completed in results.items():
        if completed.returncode != 0:
            raise RuntimeError(f"pytest ({name}) failed ({completed.returncode}): {completed.stdout[-2000:]}")
    summary = _SUMMARY.findall(results["suite"].stdout)
    return FigureResult(
        name="make test wall time",
        project_label="python -m pytest (make test): the whole suite",
        floor_label="python -m pytest --collect-only: start-up, imports, collection",
        project=summarize([suite_s], "s"),
        floor=summarize([collect_s], "s"),
        target=None,
        notes=(f"one run each; pytest says: {summary[-1] if summary else 'no summary line'}",),
    )
