"""The test suite's wall time: ``make test``'s pytest run, once, as a developer waits for it.

Not a ratio (no floor: the suite is whatever the project tests); reported beside the figures so a change
that makes the suite slower shows in ``benchmarks/results.json``. CPU seconds are those of pytest and
every process it waited for (the local KMS endpoint, the CDK CLI, pip, OpenSSL).
"""

from __future__ import annotations

import re
import resource
import subprocess
import sys
import time

from benchmarks import PROJECT_ROOT

# pytest's last line: "N passed, M deselected in 87.42s (0:01:27)", framed by "=" without -q.
_SUMMARY = re.compile(r"^(?:=+ )?(\d+ \w+.*) in [0-9.]+s(?: \([0-9:]+\))?(?: =+)?$")


def measure() -> dict[str, object]:
    """Run the whole suite (pytest with the project's settings) and return what it took."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [line for line in result.stdout.splitlines() if _SUMMARY.match(line)]
    summary = _SUMMARY.match(lines[-1]).group(1) if lines else "no summary line"  # type: ignore[union-attr]
    return {
        "command": "python -m pytest (make test)",
        "wall_s": round(wall, 1),
        "cpu_s": round((after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime), 1),
        "outcome": summary,
        "passed": result.returncode == 0,
    }
