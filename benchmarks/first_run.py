"""What a user waits for (issue 23 §3): a clean clone's first ``make synth`` and first ``make test``, setup
included, each phase apart. The ``first-run`` group of ``make bench`` (``make bench FIGURES=first-run``):
about a quarter of an hour, so not in the default group.

HEAD of this checkout is cloned (``git clone``, then the commit checked out) into an empty temporary folder,
and ``make`` runs there target by target, in the order the two commands run them: the project's virtualenv
(``.venv``), the CDK CLI and its Node (``npm ci``), checkov's virtualenv, then the synthesis itself (``make
synth`` once those exist) — together the first ``make synth`` —, then the two local endpoints' virtualenvs
and the suite (``make test`` once everything exists: pytest alone) — with the first three phases, the first
``make test``. A second ``make synth`` in the clone is the first one's floor: the same synthesis with nothing
left to set up. pip's and npm's caches and the Lambda asset's bundle cache are the machine's own (warm after
any earlier run here), so nothing is downloaded: a first machine pays its downloads on top.

Targets, in wall seconds on this machine: the first ``make synth`` at most 3 minutes, the suite at most 6
minutes. The phases and the suite's slowest tests (pytest's ``--durations``) say where the time goes.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks import PROJECT_ROOT
from benchmarks.stats import FigureResult, Summary, Target, summarize
from benchmarks.synth import children_cpu_seconds

SYNTH_TARGET = Target("<=", 180.0, "s")
SUITE_TARGET = Target("<=", 360.0, "s")
SLOWEST_TESTS = 10
# (phase, make target) in the order the commands run them; "synth" and "suite" are the commands once set up.
SYNTH_PHASES = (
    ("virtualenv .venv", ".venv/.installed"),
    ("CDK CLI (npm ci)", "node_modules/.installed"),
    ("checkov virtualenv", ".checkov-venv/.installed"),
    ("synth", "synth"),
)
TEST_PHASES = (
    ("local KMS endpoint virtualenv", ".localstack-venv/.installed"),
    ("local endpoint with CloudFormation virtualenv", ".localstack-full-venv/.installed"),
    ("suite", "test"),
)
SETUP_SHARED = 3  # the first three phases: what make test sets up too
# pytest --durations' lines: "12.34s call     tests/x/test_y.py::test_z"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)s (setup|call|teardown)\s+(\S+)$")
_SUMMARY = re.compile(r"^=*\s*(\d+ \w+.*?) in [0-9.]+s")
_PASSED = re.compile(r"(\d+) passed")


@dataclass(frozen=True)
class Phase:
    name: str
    wall_s: float
    cpu_s: float


@dataclass(frozen=True)
class CloneRun:
    """One clean clone's phases, its second make synth, and what the suite said."""

    commit: str
    phases: tuple[Phase, ...]
    second_synth: Phase
    suite_outcome: str
    suite_passed: bool
    slowest: tuple[tuple[float, str], ...]

    def phase(self, name: str) -> Phase:
        return next(phase for phase in self.phases if phase.name == name)

    @property
    def first_synth(self) -> list[Phase]:
        return list(self.phases[: len(SYNTH_PHASES)])

    @property
    def first_test(self) -> list[Phase]:
        return [*self.phases[:SETUP_SHARED], *self.phases[len(SYNTH_PHASES) :]]


def slowest_tests(output: str, count: int = SLOWEST_TESTS) -> list[tuple[float, str]]:
    """The ``count`` longest test phases pytest's ``--durations`` printed: (seconds, "when test id")."""
    found = [
        (float(match.group(1)), f"{match.group(2)} {match.group(3)}")
        for line in output.splitlines()
        if (match := _DURATION.match(line.strip()))
    ]
    return sorted(found, reverse=True)[:count]


def clone_environment() -> dict[str, str]:
    """This process's environment without what would point the clone at this checkout's tools or an AWS
    account: its virtualenv, its Node on PATH, AWS and CDK settings."""
    own_bins = {str(PROJECT_ROOT / ".venv" / "bin"), str(PROJECT_ROOT / "node_modules" / ".bin")}
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "CDK_", "VIRTUAL_ENV", "PYTEST_"))
    }
    env["PATH"] = os.pathsep.join(
        part for part in env.get("PATH", "").split(os.pathsep) if part not in own_bins
    )
    return env


def _make(clone: Path, target: str, env: Mapping[str, str], name: str) -> tuple[Phase, str, bool]:
    """``make target`` in the clone: the phase's seconds, its output and whether it passed; a failed setup
    or synthesis ends the run (the suite's failure is reported with its figures)."""
    cpu_before = children_cpu_seconds()
    started = time.perf_counter()
    completed = subprocess.run(
        ["make", target], cwd=clone, env=dict(env), capture_output=True, text=True, check=False
    )
    phase = Phase(name, time.perf_counter() - started, children_cpu_seconds() - cpu_before)
    if completed.returncode != 0 and name != "suite":
        raise RuntimeError(
            f"make {target} in a clean clone failed ({completed.returncode}):\n"
            f"{completed.stdout[-2000:]}\n{completed.stderr[-2000:]}"
        )
    return phase, completed.stdout, completed.returncode == 0


@functools.cache
def clone_run() -> CloneRun:
    """Clone HEAD and run every phase once (cached: both figures of the group read the same run)."""
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    env = clone_environment()
    with tempfile.TemporaryDirectory(prefix="kmsecdh-first-run-") as scratch:
        clone = Path(scratch) / "kmsecdh"
        subprocess.run(
            ["git", "clone", "--quiet", "--no-checkout", str(PROJECT_ROOT), str(clone)],
            check=True,
            capture_output=True,
        )
        subprocess.run(["git", "checkout", "--quiet", commit], cwd=clone, check=True, capture_output=True)
        phases = []
        suite_output, suite_passed = "", False
        for name, target in (*SYNTH_PHASES, *TEST_PHASES):
            phase_env = dict(env, PYTEST_ADDOPTS=f"--durations={SLOWEST_TESTS}") if name == "suite" else env
            phase, output, passed = _make(clone, target, phase_env, name)
            phases.append(phase)
            if name == "suite":
                suite_output, suite_passed = output, passed
        second_synth, _, _ = _make(clone, "synth", env, "second synth")
    summaries = [match.group(1) for line in suite_output.splitlines() if (match := _SUMMARY.match(line))]
    return CloneRun(
        commit=commit,
        phases=tuple(phases),
        second_synth=second_synth,
        suite_outcome=summaries[-1] if summaries else "no summary line",
        suite_passed=suite_passed,
        slowest=tuple(slowest_tests(suite_output)),
    )


def tests_passed(run: CloneRun) -> int:
    """How many tests the clone's suite passed, from pytest's summary line."""
    match = _PASSED.search(run.suite_outcome)
    return int(match.group(1)) if match else 0


def _once(seconds: float) -> Summary:
    return summarize([seconds], "s")


def _phase_notes(phases: Sequence[Phase]) -> str:
    return ", ".join(f"{phase.name} {phase.wall_s:.0f} s ({phase.cpu_s:.0f} CPU s)" for phase in phases)


def _details(phases: Sequence[Phase]) -> dict[str, float]:
    details = {}
    for phase in phases:
        key = re.sub(r"[^a-z0-9]+", "_", phase.name.lower()).strip("_")
        details[f"{key}_wall_s"] = phase.wall_s
        details[f"{key}_cpu_s"] = phase.cpu_s
    return details


def measure_synth() -> FigureResult:
    run = clone_run()
    phases = run.first_synth
    total = sum(phase.wall_s for phase in phases)
    return FigureResult(
        name="first make synth",
        project_label="a clean clone's first make synth, setup included (wall)",
        floor_label="its second make synth: the synthesis alone, nothing to set up",
        project=_once(total),
        floor=_once(run.second_synth.wall_s),
        target=SYNTH_TARGET,
        notes=(
            f"clone of {run.commit[:12]}, pip/npm/bundle caches warm; phases: {_phase_notes(phases)}",
            f"setup {total - run.phase('synth').wall_s:.0f} s of the {total:.0f} s",
        ),
        details={**_details(phases), "second_synth_wall_s": run.second_synth.wall_s, "total_wall_s": total},
    )


def measure_test() -> FigureResult:
    run = clone_run()
    phases = run.first_test
    suite = run.phase("suite")
    total = sum(phase.wall_s for phase in phases)
    if not run.suite_passed:
        raise RuntimeError(f"the suite failed on a clean clone of {run.commit[:12]}: {run.suite_outcome}")
    return FigureResult(
        name="the suite on a clean clone",
        project_label="make test's pytest run alone, once set up (wall)",
        floor_label="",
        project=_once(suite.wall_s),
        floor=None,
        target=SUITE_TARGET,
        notes=(
            f"first make test, setup included: {total:.0f} s; phases: {_phase_notes(phases)}; "
            f"{run.suite_outcome}",
            "slowest test phases: " + ", ".join(f"{test} {seconds:.0f} s" for seconds, test in run.slowest),
        ),
        details={**_details(phases), "first_make_test_wall_s": total, "tests_passed": tests_passed(run)},
    )
