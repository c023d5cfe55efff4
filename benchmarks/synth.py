"""Synth: ``cdk synth`` of the project's app (every example environment) vs an empty CDK app.

Both run the project's pinned CLI with the same flags and environment, each into a fresh temp output
directory (so the project pays its asset bundling every run, as on a fresh clone or in CI). The
floor lives in a temp dir with a copy of the project's ``cdk.json`` (same feature flags and context)
whose ``app`` is a Python file that builds an empty ``cdk.App()`` (with one empty stack) and
synthesizes it with the same interpreter. Synth is slow, so there are few runs.
"""

from __future__ import annotations

import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import PROJECT_ROOT
from benchmarks.stats import FigureResult, Target, elapsed_ms, interleaved, summarize
from devtools import CDK_CLI

TARGET = Target("<=", 2.0)
RUNS = 5
CLI_ARGS = ("synth", "--quiet", "--no-notices", "--no-lookups")
# The CLI refuses an app without any stack ("This app contains no stacks"), so the floor holds one
# empty stack: nothing but the app, the stack and the synthesizer's own output.
EMPTY_APP = 'import aws_cdk as cdk\n\napp = cdk.App()\ncdk.Stack(app, "Empty")\napp.synth()\n'


def cli_environment() -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "CDK_"))}
    env.update(CDK_DISABLE_CLI_TELEMETRY="true")
    return env


def write_floor_app(directory: Path, project_settings: Path = PROJECT_ROOT / "cdk.json") -> None:
    """The empty app with the project's cdk.json (feature flags, context) and the same interpreter."""
    app_file = directory / "empty_app.py"
    app_file.write_text(EMPTY_APP)
    settings = json.loads(project_settings.read_text())
    settings["app"] = f"{shlex.quote(sys.executable)} {shlex.quote(str(app_file))}"
    (directory / "cdk.json").write_text(json.dumps(settings, indent=2))


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def synth(app_dir: Path, env: dict[str, str], cpu_seconds: list[float], output: Path | None = None) -> None:
    """One ``cdk synth`` of the app in ``app_dir`` into ``output`` (a fresh temporary folder when None);
    appends the CPU seconds of its process tree."""
    cpu_before = children_cpu_seconds()
    with tempfile.TemporaryDirectory(prefix="kmsecdh-bench-synth-") as scratch:
        result = subprocess.run(
            [str(CDK_CLI), *CLI_ARGS, "--output", str(output or scratch)],
            cwd=app_dir,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    cpu_seconds.append(children_cpu_seconds() - cpu_before)
    if result.returncode != 0:
        raise RuntimeError(f"cdk synth in {app_dir} failed ({result.returncode}):\n{result.stderr[-3000:]}")


def measure() -> FigureResult:
    env = cli_environment()
    project_cpu: list[float] = []
    floor_cpu: list[float] = []
    with tempfile.TemporaryDirectory(prefix="kmsecdh-bench-empty-app-") as floor_dir:
        write_floor_app(Path(floor_dir))
        project, floor = interleaved(
            lambda: elapsed_ms(lambda: synth(PROJECT_ROOT, env, project_cpu)) / 1000,
            lambda: elapsed_ms(lambda: synth(Path(floor_dir), env, floor_cpu)) / 1000,
            runs=RUNS,
            warmup=0,
        )
    return FigureResult(
        name="synth",
        project_label="cdk synth of app.py: every environment in cdk.json, fresh output dir",
        floor_label="cdk synth of an empty cdk.App() (one empty stack), same cdk.json and CLI flags",
        project=summarize(project, "s"),
        floor=summarize(floor, "s"),
        target=TARGET,
        notes=(
            f"{RUNS} interleaved runs each (synth is slow); `cdk {' '.join(CLI_ARGS)}` into a fresh temp dir",
            # CPU time is what the machine's load distorts least: it tells busy-machine runs apart.
            f"median CPU seconds per synth (CLI, app and jsii processes): project "
            f"{statistics.median(project_cpu):.1f}, floor {statistics.median(floor_cpu):.1f}",
        ),
        details={
            "project_cpu_s": statistics.median(project_cpu),
            "floor_cpu_s": statistics.median(floor_cpu),
            "cpu_ratio": statistics.median(project_cpu) / statistics.median(floor_cpu),
        },
    )
