"""The results table printed by ``make bench`` and the ``benchmarks/results.json`` document."""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.stats import FigureResult, Summary

SCHEMA_VERSION = 1


def machine() -> dict[str, object]:
    """What the numbers were measured on; the load average tells a reader how busy the machine was."""
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "load_average_at_start": [round(load, 2) for load in os.getloadavg()],
    }


def document(
    results: Mapping[str, FigureResult],
    machine_info: dict[str, object],
    seconds: float,
    failures: Mapping[str, str] | None = None,
) -> dict:
    """The results document; ``results`` maps each figure's id (its module name) to its result,
    ``failures`` each figure that could not be measured to the error."""
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_s": round(seconds, 1),
        "machine": machine_info,
        "figures": {
            figure_id: {"name": result.name, **result.to_json()} for figure_id, result in results.items()
        },
        "failures": dict(failures or {}),
    }


def write(path: Path, doc: dict) -> None:
    path.write_text(json.dumps(doc, indent=2) + "\n")


def _cell(summary: Summary) -> str:
    return f"{summary.median:.4g} {summary.unit} [{summary.q1:.4g}-{summary.q3:.4g}] n={summary.runs}"


def table(
    results: Sequence[FigureResult],
    machine_info: dict[str, object],
    failures: Mapping[str, str] | None = None,
) -> str:
    """A Markdown table: medians with their interquartile range and number of runs."""
    lines = [
        "| figure | project median [IQR] | floor median [IQR] | ratio | target | met |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for result in results:
        lines.append(
            f"| {result.name} | {_cell(result.project)} | {_cell(result.floor)} | {result.ratio:.2f} "
            f"| {result.target} | {'yes' if result.met else 'NO'} |"
        )
    for figure_id, error in (failures or {}).items():
        lines.append(f"| {figure_id} | not measured: {error} | | | | NO |")
    lines.append("")
    lines.append(
        f"machine: {machine_info['cpu_count']} CPUs, "
        f"{machine_info['implementation']} {machine_info['python']}, "
        f"{machine_info['platform']}, load average at start {machine_info['load_average_at_start']}"
    )
    for result in results:
        lines.extend(f"note ({result.name}): {note}" for note in result.notes)
    return "\n".join(lines)


def suite_line(test_suite: Mapping[str, object]) -> str:
    """The test suite's line under the table."""
    return (
        f"test suite ({test_suite['command']}): {test_suite['wall_s']} s wall, {test_suite['cpu_s']} s CPU; "
        f"{test_suite['outcome']}"
    )


def print_table(
    results: Sequence[FigureResult],
    machine_info: dict[str, object],
    failures: Mapping[str, str] | None = None,
) -> None:
    sys.stdout.write(table(results, machine_info, failures) + "\n")
    sys.stdout.flush()
