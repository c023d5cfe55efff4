"""Synthesis over its floor (issue 23): ``make synth``'s work for 100 environments against a replay app that
re-creates exactly the same templates, every resource a plain ``CfnResource``.

The project's side is ``cdk synth`` of the project's app (the five cdk-nag packs and any other the app
registers as validation plugins) for 100 environments generated from cdk.json's examples
(``benchmarks.organisation``), with the project's CLI, flags and cdk.json (feature flags, other context),
into a fresh output directory, then checkov over every template (``tools.synth``'s work). The floor is the
replay (``benchmarks.replay`` reads the project's first cloud assembly, ``benchmarks/replay_app.py`` is the
app): the same templates, logical ids, outputs, stack environments, names and tags, the same construct paths
and cdk-nag acknowledgments, the same CLI, flags, cdk.json and rule packs; what it leaves out is the
construct library's own work (the L2 and L3 constructs, their validation, the jsii round trips they make).
Every floor run's templates are compared with the project's (equal, or the figure fails) and both sides must
come out clean (no finding, no failed check).

The figure is CPU seconds of ``cdk synth`` (the CLI, the app and its jsii kernel, ``RUSAGE_CHILDREN``): what a
loaded machine distorts least; wall seconds are reported beside it. checkov's phase is measured on the
project's templates each run: the floor's are the same bytes, so it is the same work on both sides and the
ratio of the whole of make synth's work is given too. The same comparison for the examples alone (three
environments) shows how the ratio grows with the environments (docs/performance.md says why).
"""

from __future__ import annotations

import functools
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import PROJECT_ROOT, organisation, replay
from benchmarks.stats import FigureResult, Target, interleaved, summarize
from benchmarks.synth import children_cpu_seconds, cli_environment, synth, write_floor_app
from devtools import CDK_CLI
from tools.checkov import failed_checks
from tools.synth import read_report, unacknowledged_findings
from tools.synth import templates as synth_templates

TARGET = Target("<=", 2.0)
ENVIRONMENTS = 100
RUNS = 3
EXAMPLE_RUNS = 3
# tools.synth runs `cdk synth --quiet --output DIR`; --no-notices keeps the CLI off the network.
CLI_ARGS = ("synth", "--quiet", "--no-notices")
PROJECT_SETTINGS = PROJECT_ROOT / "cdk.json"
REPLAY_APP = PROJECT_ROOT / "benchmarks" / "replay_app.py"
SPEC_FILE = "replay.json"


def app_command(settings: Mapping[str, Any], root: Path = PROJECT_ROOT) -> str:
    """The project's ``app`` command, runnable from another directory (relative paths made absolute)."""
    words = shlex.split(settings["app"])
    return shlex.join(str(root / word) if (root / word).exists() else word for word in words)


def replay_command(spec_file: Path) -> str:
    """The replay app's command: this interpreter, the app file outside the import path (``-P``)."""
    return shlex.join([sys.executable, "-P", str(REPLAY_APP), str(spec_file)])


def nag_packs() -> list[tuple[str, str]]:
    """The rule packs the project's app registers, as (module, class name)."""
    from stacks.application import NAG_PACKS

    return [(pack.__module__, pack.__name__) for pack in NAG_PACKS]


def read_templates(output: Path) -> dict[str, Any]:
    """Every template of a cloud assembly, parsed, by its path in the assembly."""
    return {str(path.relative_to(output)): json.loads(path.read_text()) for path in synth_templates(output)}


def differences(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> list[str]:
    """Where two assemblies' templates differ: a missing or extra template, or an element (section and
    logical id, or a whole section) whose content differs."""
    found = [f"{name}: only in the project's" for name in expected.keys() - actual.keys()]
    found += [f"{name}: only in the replay's" for name in actual.keys() - expected.keys()]
    for name in sorted(expected.keys() & actual.keys()):
        mine, theirs = expected[name], actual[name]
        for section in sorted(mine.keys() | theirs.keys()):
            left, right = mine.get(section), theirs.get(section)
            if left == right:
                continue
            if isinstance(left, dict) and isinstance(right, dict):
                found += [
                    f"{name}: {section}.{key}"
                    for key in sorted(left.keys() | right.keys())
                    if left.get(key) != right.get(key)
                ]
            else:
                found.append(f"{name}: {section}")
    return found


@dataclass
class Samples:
    """CPU and wall seconds of each run of one phase (one side's cdk synth, checkov)."""

    cpu_s: list[float] = field(default_factory=list)
    wall_s: list[float] = field(default_factory=list)


def cdk_synth(app_dir: Path, output: Path, env: dict[str, str], samples: Samples) -> None:
    """``cdk synth`` of the app in ``app_dir`` into ``output``, its CPU and wall seconds added to ``samples``;
    fails unless it synthesized cleanly (no unacknowledged finding)."""
    cpu_before = children_cpu_seconds()
    started = time.perf_counter()
    completed = subprocess.run(
        [str(CDK_CLI), *CLI_ARGS, "--output", str(output)],
        cwd=app_dir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    samples.wall_s.append(time.perf_counter() - started)
    samples.cpu_s.append(children_cpu_seconds() - cpu_before)
    if completed.returncode != 0 or not (output / "validation-report.json").is_file():
        raise RuntimeError(
            f"cdk synth in {app_dir} failed ({completed.returncode}):\n{completed.stderr[-3000:]}"
        )
    findings = unacknowledged_findings(read_report(output))
    if findings:
        raise RuntimeError(f"{app_dir}: not clean: {findings[:5]}")


def check_templates(output: Path, checkov: Samples) -> None:
    cpu_before = children_cpu_seconds()
    started = time.perf_counter()
    failures = failed_checks(synth_templates(output))
    checkov.wall_s.append(time.perf_counter() - started)
    checkov.cpu_s.append(children_cpu_seconds() - cpu_before)
    if failures:
        raise RuntimeError(f"{output}: checkov failed: {failures[:5]}")


@dataclass
class Comparison:
    project: Samples
    floor: Samples
    templates: int
    resources: int


def compare(
    context: Mapping[str, Any], scratch: Path, runs: int, checkov: Samples | None = None
) -> Comparison:
    """``runs`` interleaved synths of the project's app for ``context``'s environments and of its replay,
    the replay made from the project's first assembly and its templates checked against it every run;
    checkov over the project's templates after each of its synths when ``checkov`` is given."""
    settings = json.loads(PROJECT_SETTINGS.read_text())
    env = cli_environment()
    project_dir, replay_dir = scratch / "project", scratch / "replay"
    project_dir.mkdir()
    replay_dir.mkdir()
    organisation.write_app_settings(project_dir, context, app_command(settings), PROJECT_SETTINGS)
    spec_file = replay_dir / SPEC_FILE
    organisation.write_app_settings(replay_dir, context, replay_command(spec_file), PROJECT_SETTINGS)
    project, floor = Samples(), Samples()
    reference: dict[str, Any] = {}

    def project_run() -> float:
        with tempfile.TemporaryDirectory(prefix="kmsecdh-bench-project-", dir=scratch) as directory:
            output = Path(directory) / "cdk.out"
            cdk_synth(project_dir, output, env, project)
            if not reference:
                reference.update(read_templates(output))
                spec_file.write_text(json.dumps(replay.spec(output, nag_packs())))
            if checkov is not None:
                check_templates(output, checkov)
        return project.cpu_s[-1]

    def floor_run() -> float:
        with tempfile.TemporaryDirectory(prefix="kmsecdh-bench-replay-", dir=scratch) as directory:
            output = Path(directory) / "cdk.out"
            cdk_synth(replay_dir, output, env, floor)
            different = differences(reference, read_templates(output))
        if different:
            raise RuntimeError(f"the replay's templates differ from the project's: {different[:10]}")
        return floor.cpu_s[-1]

    interleaved(project_run, floor_run, runs=runs, warmup=0)  # project first: the replay is made from it
    resources = sum(len(template.get("Resources", {})) for template in reference.values())
    return Comparison(project, floor, len(reference), resources)


REPLAY_FLOOR_LABEL = "the replay app: the same templates, every resource a plain CfnResource, same CLI, packs"


def _over_the_replay(
    name: str, project_label: str, comparison: Comparison, runs: int, notes: tuple[str, ...], details: dict
) -> FigureResult:
    """A figure of the project's cdk synth against its replay, in CPU seconds."""
    return FigureResult(
        name=name,
        project_label=project_label,
        floor_label=REPLAY_FLOOR_LABEL,
        project=summarize(comparison.project.cpu_s, "CPU s"),
        floor=summarize(comparison.floor.cpu_s, "CPU s"),
        target=TARGET,
        notes=(
            f"{runs} interleaved runs each; `cdk {' '.join(CLI_ARGS)}` into a fresh dir; the replay's "
            "templates equal the project's in every run",
            *notes,
        ),
        details=details,
    )


def measure() -> FigureResult:
    settings = json.loads(PROJECT_SETTINGS.read_text())
    examples = organisation.example_environments(settings)
    checkov = Samples()
    with tempfile.TemporaryDirectory(prefix="kmsecdh-bench-replay-") as scratch:
        scale = compare(organisation.context_for(settings, ENVIRONMENTS), Path(scratch), RUNS, checkov)
    few = examples_comparison()
    median: Callable[[list[float]], float] = statistics.median
    details = {
        "project_synth_cpu_s": median(scale.project.cpu_s),
        "project_synth_wall_s": median(scale.project.wall_s),
        "floor_synth_cpu_s": median(scale.floor.cpu_s),
        "floor_synth_wall_s": median(scale.floor.wall_s),
        "checkov_cpu_s": median(checkov.cpu_s),
        "checkov_wall_s": median(checkov.wall_s),
        "wall_ratio": median(scale.project.wall_s) / median(scale.floor.wall_s),
        "templates": scale.templates,
        "resources": scale.resources,
        "examples_project_cpu_s": median(few.project.cpu_s),
        "examples_floor_cpu_s": median(few.floor.cpu_s),
        "examples_cpu_ratio": median(few.project.cpu_s) / median(few.floor.cpu_s),
    }
    details["make_synth_cpu_ratio"] = (details["project_synth_cpu_s"] + details["checkov_cpu_s"]) / (
        details["floor_synth_cpu_s"] + details["checkov_cpu_s"]
    )
    further = ENVIRONMENTS - len(examples)
    per_environment = {
        side: (details[f"{side}_synth_cpu_s"] - details[f"examples_{side}_cpu_s"]) / further
        for side in ("project", "floor")
    }
    details.update({f"{side}_cpu_s_per_further_environment": cost for side, cost in per_environment.items()})
    d = details
    return _over_the_replay(
        "synth over its floor",
        f"CPU of cdk synth (CLI, app, jsii, cdk-nag) of the project's app, {ENVIRONMENTS} environments "
        f"generated from cdk.json's examples ({scale.templates} templates, {scale.resources} resources)",
        scale,
        RUNS,
        (
            f"wall seconds of cdk synth: project {d['project_synth_wall_s']:.1f}, floor "
            f"{d['floor_synth_wall_s']:.1f} (ratio {d['wall_ratio']:.2f}); checkov over the same templates "
            f"{d['checkov_wall_s']:.1f} s wall, {d['checkov_cpu_s']:.1f} CPU s; the whole of make synth's "
            f"work: CPU ratio {d['make_synth_cpu_ratio']:.2f}",
            f"the examples alone ({len(examples)} environments): project "
            f"{d['examples_project_cpu_s']:.1f} CPU s, floor {d['examples_floor_cpu_s']:.1f}, ratio "
            f"{d['examples_cpu_ratio']:.2f}; each further environment costs the project "
            f"{per_environment['project']:.2f} CPU s, the floor {per_environment['floor']:.2f}",
        ),
        details,
    )


@functools.cache
def examples_comparison() -> Comparison:
    """The example environments' synths against their replay (cached: the ``synth`` figure and the slope
    of ``synth over its floor`` read the same runs)."""
    settings = json.loads(PROJECT_SETTINGS.read_text())
    context = organisation.context_for(settings, len(organisation.example_environments(settings)))
    with tempfile.TemporaryDirectory(prefix="kmsecdh-bench-replay-") as scratch:
        return compare(context, Path(scratch), EXAMPLE_RUNS)


def measure_examples() -> FigureResult:
    """The ``synth`` figure: ``cdk synth`` of the project's app as cdk.json configures it (the example
    environments) against the replay of its own templates, in CPU seconds; an empty app's synthesis (the
    start-up any app pays) is measured beside them for the notes."""
    few = examples_comparison()
    empty_cpu: list[float] = []
    with tempfile.TemporaryDirectory(prefix="kmsecdh-bench-empty-app-") as empty_dir:
        write_floor_app(Path(empty_dir))
        for _ in range(EXAMPLE_RUNS):
            synth(Path(empty_dir), cli_environment(), empty_cpu)
    median: Callable[[list[float]], float] = statistics.median
    empty = median(empty_cpu)
    return _over_the_replay(
        "synth",
        f"CPU of cdk synth (CLI, app, jsii, cdk-nag) of app.py: every environment in cdk.json "
        f"({few.templates} templates, {few.resources} resources), fresh output dir",
        few,
        EXAMPLE_RUNS,
        (
            f"wall seconds: project {median(few.project.wall_s):.1f}, floor {median(few.floor.wall_s):.1f}; "
            f"an empty app (one empty stack, same cdk.json and CLI) {empty:.1f} CPU s, the start-up any app "
            f"pays: the project's own work over it {median(few.project.cpu_s) - empty:.1f} CPU s, the "
            f"replay's {median(few.floor.cpu_s) - empty:.1f}",
        ),
        {
            "project_wall_s": median(few.project.wall_s),
            "floor_wall_s": median(few.floor.wall_s),
            "empty_app_cpu_s": empty,
            "templates": few.templates,
            "resources": few.resources,
        },
    )
