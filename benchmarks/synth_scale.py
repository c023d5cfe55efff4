"""Synth at organisation scale: ``make synth``'s work for 100 environments vs one environment, same flags.

``make synth``'s work is ``cdk synth`` (the app, the five cdk-nag packs as validation plugins, the cloud
assembly), reading ``validation-report.json``, and checkov over every template (``tools.synth``). Both
sides do exactly that, with the project's CLI, app command and cdk.json (feature flags, other context),
each into a fresh output directory; only ``environments`` differs: 100 environments generated from the
examples in cdk.json (``benchmarks.organisation``: accounts and Regions varied, every example field
used; a ``pipeline`` section deploys the copies in their examples' waves) against one: the example with the
most fields set, so that the floor is not a cheap environment (with the pipeline, if any, deploying it alone);
the hundred are the examples in turn, this one among them.

The phases are timed apart (synth, checkov) and CPU seconds are kept, so a loaded machine's run still
says where the time goes. Both sides must come out clean (no finding, no failed check): a benchmark of
a broken synth would measure the wrong thing.
"""

from __future__ import annotations

import json
import shlex
import statistics
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import PROJECT_ROOT, organisation
from benchmarks.stats import FigureResult, Target, interleaved, summarize
from benchmarks.synth import children_cpu_seconds, cli_environment
from devtools import CDK_CLI
from tools.checkov import failed_checks
from tools.synth import read_report, unacknowledged_findings
from tools.synth import templates as synth_templates

TARGET = Target("<=", 3.0)
ENVIRONMENTS = 100
RUNS = 3
# tools.synth runs `cdk synth --quiet --output DIR`; --no-notices keeps the CLI off the network.
CLI_ARGS = ("synth", "--quiet", "--no-notices")
PROJECT_SETTINGS = PROJECT_ROOT / "cdk.json"


def app_command(settings: Mapping[str, Any], root: Path = PROJECT_ROOT) -> str:
    """The project's ``app`` command, runnable from another directory (relative paths made absolute)."""
    words = shlex.split(settings["app"])
    return shlex.join(str(root / word) if (root / word).exists() else word for word in words)


def floor_environment(examples: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The example with the most fields set (the first of those in cdk.json's order), by its name."""
    name = max(examples, key=lambda example: len(examples[example]))
    return {name: examples[name]}


@dataclass
class Phases:
    """Wall seconds of each phase of make synth's work, and CPU seconds of the child processes."""

    synth_s: list[float] = field(default_factory=list)
    checkov_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    templates: int = 0


def synth_work(app_dir: Path, env: dict[str, str], phases: Phases) -> float:
    """make synth's work for the app in ``app_dir`` into a fresh directory; wall seconds."""
    cpu_before = children_cpu_seconds()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kmsecdh-bench-scale-") as scratch:
        output = Path(scratch) / "cdk.out"
        completed = subprocess.run(
            [str(CDK_CLI), *CLI_ARGS, "--output", str(output)],
            cwd=app_dir,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0 or not (output / "validation-report.json").is_file():
            raise RuntimeError(
                f"cdk synth in {app_dir} failed ({completed.returncode}):\n{completed.stderr[-3000:]}"
            )
        findings = unacknowledged_findings(read_report(output))
        synthesized = time.perf_counter()
        templates = synth_templates(output)
        failures = failed_checks(templates)
        finished = time.perf_counter()
    if findings or failures:
        raise RuntimeError(f"{app_dir}: not clean: {[*findings, *failures][:5]}")
    phases.synth_s.append(synthesized - started)
    phases.checkov_s.append(finished - synthesized)
    phases.cpu_s.append(children_cpu_seconds() - cpu_before)
    phases.templates = len(templates)
    return finished - started


def measure() -> FigureResult:
    settings = json.loads(PROJECT_SETTINGS.read_text())
    examples = organisation.example_environments(settings)
    command = app_command(settings)
    env = cli_environment()
    project_phases, floor_phases = Phases(), Phases()
    with tempfile.TemporaryDirectory(prefix="kmsecdh-bench-org-") as scratch:
        project_dir, floor_dir = Path(scratch) / "hundred", Path(scratch) / "one"
        project_dir.mkdir()
        floor_dir.mkdir()
        generated = organisation.context_for(settings, ENVIRONMENTS)
        organisation.write_app_settings(project_dir, generated, command, PROJECT_SETTINGS)
        single = floor_environment(examples)
        organisation.write_app_settings(
            floor_dir, organisation.context_for_one(settings, next(iter(single))), command, PROJECT_SETTINGS
        )
        project, floor = interleaved(
            lambda: synth_work(project_dir, env, project_phases),
            lambda: synth_work(floor_dir, env, floor_phases),
            runs=RUNS,
            warmup=0,
        )
    median = statistics.median
    details = {
        f"{side}_{phase}": median(getattr(phases, phase))
        for side, phases in (("project", project_phases), ("floor", floor_phases))
        for phase in ("synth_s", "checkov_s", "cpu_s")
    }
    per_environment_s = (median(project) - median(floor)) / (ENVIRONMENTS - 1)
    details["marginal_s_per_environment"] = per_environment_s
    details["cpu_ratio"] = details["project_cpu_s"] / details["floor_cpu_s"]
    return FigureResult(
        name="synth at organisation scale",
        project_label=(
            f"make synth's work (cdk synth + cdk-nag, report, checkov) for {ENVIRONMENTS} environments "
            f"generated from cdk.json's examples ({project_phases.templates} templates)"
        ),
        floor_label=(
            f"the same for one environment ({next(iter(single))}, {floor_phases.templates} templates)"
        ),
        project=summarize(project, "s"),
        floor=summarize(floor, "s"),
        target=TARGET,
        notes=(
            f"{RUNS} interleaved runs each; `cdk {' '.join(CLI_ARGS)}` into a fresh dir, then checkov",
            "median wall seconds, synth + checkov: "
            f"project {details['project_synth_s']:.1f} + {details['project_checkov_s']:.1f}, "
            f"floor {details['floor_synth_s']:.1f} + {details['floor_checkov_s']:.1f}; "
            f"each further environment costs {per_environment_s:.2f} s",
            f"median CPU seconds (every child process): project {details['project_cpu_s']:.1f}, "
            f"floor {details['floor_cpu_s']:.1f}, ratio {details['cpu_ratio']:.2f}",
        ),
        details=details,
    )
