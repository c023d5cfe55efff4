"""The access matrix's evaluation (issue 23 §2): what ``tools.access_matrix`` costs over the IAM evaluator it
drives, in ``make test`` (``tests/infra/test_access_matrix.py``) and ``make access-matrix``.

The example app is synthesized once (``cdk synth``, cdk.json's context); each run
then evaluates every environment's whole matrix (``tools.access_matrix.access_matrix``: the assembly read,
the principals, policies and requests built, one evaluator process per environment, as many at once as
there are CPUs) and compares every cell with the model. The figure is CPU seconds: the project's side is
everything (this process's threads and the evaluator processes), the floor the evaluator processes alone
(``node`` running @cloud-copilot/iam-simulate over the same requests, its start-up included), so the ratio
says what the Python side adds to the decisions themselves. Wall time per decision and for the whole table
are beside it. Every run must agree with the model (no mismatch), or the figure fails.

On a branch without ``tools/access_matrix`` the figure says so (unavailable).
"""

from __future__ import annotations

import importlib
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks import PROJECT_ROOT, Unavailable
from benchmarks.stats import FigureResult, summarize
from benchmarks.synth import cli_environment, synth

MODULE = "tools.access_matrix"
MODULE_FILE = PROJECT_ROOT / "tools" / "access_matrix" / "__init__.py"
RUNS = 3


def _cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def measure() -> FigureResult:
    if not MODULE_FILE.is_file():
        absent = MODULE_FILE.relative_to(PROJECT_ROOT)
        raise Unavailable(f"the access matrix is not on this branch ({absent} absent)")
    evaluate = importlib.import_module(MODULE).access_matrix
    context = json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]
    total_cpu: list[float] = []
    evaluator_cpu: list[float] = []
    wall: list[float] = []
    decisions = simulations = 0
    with tempfile.TemporaryDirectory(prefix="kmsecdh-bench-access-matrix-") as outdir:
        synth(PROJECT_ROOT, cli_environment(), [], output=Path(outdir))
        for _ in range(RUNS):
            self_before = _cpu_seconds(resource.RUSAGE_SELF)
            children_before = _cpu_seconds(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            matrices = evaluate(Path(outdir), context)
            mismatches = [str(mismatch) for matrix in matrices.values() for mismatch in matrix.mismatches]
            wall.append(time.perf_counter() - started)
            children = _cpu_seconds(resource.RUSAGE_CHILDREN) - children_before
            evaluator_cpu.append(children)
            total_cpu.append(_cpu_seconds(resource.RUSAGE_SELF) - self_before + children)
            if mismatches:
                raise RuntimeError(f"the access matrix differs from the model: {mismatches[:5]}")
            decisions = sum(len(matrix.evaluation.decisions) for matrix in matrices.values())
            simulations = sum(matrix.evaluation.simulations for matrix in matrices.values())
    median_wall = statistics.median(wall)
    per_decision_ms = 1000 * median_wall / decisions
    return FigureResult(
        name="access matrix",
        project_label=(
            f"CPU of tools.access_matrix over the example environments ({len(matrices)}): read, build, "
            f"evaluate, compare with the model ({decisions} requests, each without and with the guardrails)"
        ),
        floor_label=f"the evaluator processes alone (node, iam-simulate, {simulations} simulations)",
        project=summarize(total_cpu, "CPU s"),
        floor=summarize(evaluator_cpu, "CPU s"),
        target=None,
        notes=(
            f"{RUNS} runs; the whole table {median_wall:.1f} s wall, {per_decision_ms:.1f} ms per request "
            f"({1000 * median_wall / simulations:.2f} ms per simulation)",
        ),
        details={
            "wall_s": median_wall,
            "ms_per_request": per_decision_ms,
            "requests": decisions,
            "simulations": simulations,
        },
    )
