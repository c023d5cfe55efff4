"""Memory: peak RSS of the handler's process after 10,000 warm derives, vs a fresh interpreter with the
libraries any derive function needs.

The project side is a fresh interpreter that does what the Lambda runtime does (load the handler
module, which creates its KMS client on first use: here once, for real, so botocore's client is in
memory) and then runs 10,000 derives through ``handler.handler`` with the stand-in KMS client (fixed Z,
no network), the log line written to /dev/null. The floor is a fresh interpreter that imports boto3
and cryptography's EC key loader and KDF and creates a KMS client: what no Python derive function can
do without. Both report ``ru_maxrss`` (the peak resident set, what Lambda's "Max Memory Used" shows
less the runtime's own process) on stderr.

Peak RSS is deterministic up to allocator noise, so a few runs each suffice. The derive function's
configured memory size (kmsecdh_cdk.derive_function) is chosen from this figure: see docs/performance.md.
"""

from __future__ import annotations

import os
import subprocess
import sys

from benchmarks import PROJECT_ROOT, workload
from benchmarks.cold_start import child_environment
from benchmarks.stats import FigureResult, interleaved, summarize

# Reported, no target (issue 15): the figure sets the function's memory size. A leak would show as a
# ratio that grows with DERIVES.
TARGET = None
RUNS = 5
DERIVES = 10_000

PROJECT_CODE = f"""
import base64, os, resource, sys
from types import SimpleNamespace
sys.path.insert(0, {str(PROJECT_ROOT)!r})
from benchmarks import workload
from kmsecdh import kms_calls
handler = workload.load_handler()
kms_calls.kms_client()
peer = workload.peer_public_key_der()
event = workload.derive_event([peer])
context = SimpleNamespace(aws_request_id="bench-memory", function_name="kmsecdh-bench")
kms = workload.StandInKms()
with kms.installed():
    for _ in range({DERIVES}):
        response = handler.handler(event, context)
if kms.calls != {DERIVES} or "derived_key" not in response:
    raise SystemExit(f"derives failed: {{response}}")
os.write(2, f"maxrss_kib={{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}}\\n".encode())
"""

FLOOR_CODE = """
import os, resource
import boto3
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
boto3.client("kms")
os.write(2, f"maxrss_kib={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n".encode())
"""


def peak_rss_mib(code: str, env: dict[str, str]) -> float:
    """Run ``code`` in a fresh interpreter (stdout to /dev/null); its peak RSS in MiB."""
    completed = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    lines = [line for line in completed.stderr.splitlines() if line.startswith("maxrss_kib=")]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"memory child failed ({completed.returncode}): {completed.stderr[-2000:]}")
    return int(lines[-1].removeprefix("maxrss_kib=")) / 1024


def measure() -> FigureResult:
    env = child_environment()
    # The project child imports the benchmarks package itself; its own PYTHONPATH is the project root.
    env["PYTHONPATH"] = os.pathsep.join((str(PROJECT_ROOT), env["PYTHONPATH"]))
    env.update(workload.function_environment(workload.STAND_IN_KEY_ARN))
    project, floor = interleaved(
        lambda: peak_rss_mib(PROJECT_CODE, env),
        lambda: peak_rss_mib(FLOOR_CODE, env),
        runs=RUNS,
        warmup=0,
    )
    return FigureResult(
        name="memory",
        project_label=f"peak RSS of the handler's process after {DERIVES:,} warm derives, stand-in KMS",
        floor_label="fresh interpreter: import boto3, cryptography's EC loader and KDF, boto3.client('kms')",
        project=summarize(project, "MiB"),
        floor=summarize(floor, "MiB"),
        target=TARGET,
        notes=(
            f"{RUNS} interleaved fresh processes each; ru_maxrss of the child (Linux: KiB)",
            "the derive function's memory size is chosen from the project's peak (docs/performance.md)",
        ),
    )
