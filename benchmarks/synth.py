"""``cdk synth`` as the synthesis figures run it: the project's pinned CLI with the same flags and environment
into a fresh output directory (so the project pays its asset bundling every run, as on a fresh clone or in
CI), the CPU seconds of its process tree, and an empty app (one empty stack, a copy of the project's
``cdk.json``, the same interpreter): the start-up any app pays, reported beside the ``synth`` figure
(``benchmarks.synth_replay.measure_examples``), whose floor is the replay of the project's own templates.
"""

from __future__ import annotations

import json
import os
import resource
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import PROJECT_ROOT
from devtools import CDK_CLI

CLI_ARGS = ("synth", "--quiet", "--no-notices", "--no-lookups")
# The CLI refuses an app without any stack ("This app contains no stacks"), so the empty app holds one
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
