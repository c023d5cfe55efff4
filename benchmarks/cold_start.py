"""Cold start: a fresh interpreter importing the Lambda handler and creating its KMS client, vs a fresh
interpreter that only imports boto3 and creates a KMS client.

Both children get the same environment (region, function configuration, the handler's folder and
the project root on PYTHONPATH as the asset's root is in the Lambda task root), so the difference is
what the handler's imports and client set-up add. Bytecode caching is allowed and one warm-up round fills
the caches: steady-state imports, not first-compile costs, are compared.
"""

from __future__ import annotations

import os
import subprocess
import sys

from benchmarks import PROJECT_ROOT, workload
from benchmarks.stats import FigureResult, Target, elapsed_ms, interleaved, summarize

TARGET = Target("<=", 1.3)
RUNS = 21

PROJECT_CODE = "import handler\nfrom kmsecdh import kms_calls\nkms_calls.kms_client()\n"
FLOOR_CODE = "import boto3\nboto3.client('kms')\n"


def child_environment() -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "KMSECDH_")) and name not in {"PYTHONDONTWRITEBYTECODE", "PYTHONPATH"}
    }
    env.update(workload.function_environment(workload.STAND_IN_KEY_ARN))
    env.update(
        AWS_DEFAULT_REGION="us-east-1",
        # No shared config or credential files: both children resolve the same nothing.
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONPATH=os.pathsep.join([str(PROJECT_ROOT / "lambda" / "derive"), str(PROJECT_ROOT)]),
    )
    return env


def run_child(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
        text=True,
    )


def measure() -> FigureResult:
    env = child_environment()
    project, floor = interleaved(
        lambda: elapsed_ms(lambda: run_child(PROJECT_CODE, env)),
        lambda: elapsed_ms(lambda: run_child(FLOOR_CODE, env)),
        runs=RUNS,
    )
    return FigureResult(
        name="cold start",
        project_label="fresh interpreter: import the handler module, create its KMS client",
        floor_label="fresh interpreter: import boto3, boto3.client('kms')",
        project=summarize(project, "ms"),
        floor=summarize(floor, "ms"),
        target=TARGET,
        notes=(f"{RUNS} interleaved runs each after one warm-up round; wall time of the child process",),
    )
