"""``make deploy-local`` cycle time per environment: reported, no target (issue 15).

Runs the project's deploy-local tool (``python -m tools.deploy_local``: synthesize, start the local AWS
endpoint, bootstrap, then per environment deploy, check, derive, destroy) once and reads its transcript:
timed steps (``[offset s] title`` closed by ``done in N s``), each environment's introduced by a
``stage <name>`` line; its cycle runs from the start of its first step to the end of its last (until the
next stage, or the endpoint's stop). The steps every run pays once (synth, endpoint start, bootstraps,
stop) are reported beside it. Without the tool (a branch that predates ``make deploy-local``) the figure
says so and is not measured.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass

from benchmarks import PROJECT_ROOT, Unavailable
from benchmarks.stats import FigureResult, summarize

TOOL = "tools.deploy_local"
TOOL_ENTRY = PROJECT_ROOT / "tools" / "deploy_local" / "__main__.py"
TIMEOUT_S = 3600
_STEP = re.compile(r"^\[\s*(\d+(?:\.\d+)?)s\] (.*)$")
_DONE = re.compile(r"^\s+done in (\d+(?:\.\d+)?) s$")
_STAGE = re.compile(r"^\s+stage ([a-z][a-z0-9-]*)\b")
_AFTER_STAGES = "stop the endpoint"


@dataclass(frozen=True)
class Step:
    offset_s: float
    title: str
    duration_s: float
    stage: str | None
    """The environment whose cycle the step belongs to; None for the steps every run pays once."""


def steps(transcript: str) -> list[Step]:
    """The timed steps of a deploy-local transcript, each with the stage it ran in."""
    found: list[Step] = []
    started: tuple[float, str] | None = None
    stage: str | None = None
    for line in transcript.splitlines():
        if match := _STEP.match(line):
            started = (float(match.group(1)), match.group(2))
            if started[1].startswith(_AFTER_STAGES):
                stage = None
        elif (match := _DONE.match(line)) and started is not None:
            found.append(Step(started[0], started[1], float(match.group(1)), stage))
            started = None
        elif match := _STAGE.match(line):
            stage = match.group(1)
    return found


def cycle_times(found: list[Step]) -> dict[str, float]:
    """Seconds from the start of each environment's first step to the end of its last."""
    spans: dict[str, tuple[float, float]] = {}
    for step in found:
        if step.stage is None:
            continue
        start, end = spans.get(step.stage, (step.offset_s, step.offset_s))
        spans[step.stage] = (min(start, step.offset_s), max(end, step.offset_s + step.duration_s))
    return {stage: end - start for stage, (start, end) in spans.items()}


def measure() -> FigureResult:
    if not TOOL_ENTRY.is_file():
        raise Unavailable(f"make deploy-local is not on this branch ({TOOL_ENTRY} absent)")
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "CDK_"))}
    completed = subprocess.run(
        [sys.executable, "-m", TOOL],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"make deploy-local failed ({completed.returncode}): {completed.stdout[-2000:]}")
    found = steps(completed.stdout)
    cycles = cycle_times(found)
    if not cycles:
        raise RuntimeError(
            f"no deploy/destroy steps in the deploy-local transcript: {completed.stdout[-2000:]}"
        )
    total = found[-1].offset_s + found[-1].duration_s
    once = total - sum(cycles.values())
    return FigureResult(
        name="deploy-local cycle per environment",
        project_label="make deploy-local: deploy, check, derive, destroy of one environment",
        floor_label="",
        project=summarize(list(cycles.values()), "s"),
        floor=None,
        target=None,
        notes=(
            "one run; per environment: "
            + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in cycles.items()),
            f"whole run {total:.0f} s, of which {once:.0f} s is paid once (synth, endpoint, bootstrap, stop)",
        ),
        details={
            **{f"{name}_cycle_s": seconds for name, seconds in cycles.items()},
            "once_s": once,
            "total_s": total,
        },
    )
