"""``make bench``: measure every figure of a group, print the table, write benchmarks/results.json.

python -m benchmarks.run                          # the default group, the suite's time: results.json
python -m benchmarks.run --group first-run        # a clean clone's first make synth and make test (long)
python -m benchmarks.run --only cold_start        # some figures, printed only (unless --output)
python -m benchmarks.run --only cli_help --suite  # and the test suite's wall time
python -m benchmarks.report                       # rewrite docs/performance.md's table from results.json

A group's run replaces that group's figures in results.json and keeps the other groups' (each figure carries
when it was measured and the load average around it).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import Unavailable, report, suite
from benchmarks.figures import DEFAULT_GROUP, FIGURES, GROUPS, RESULTS_FILE, measure_target
from benchmarks.stats import FigureResult
from devtools import use_project_node


def _load_average() -> list[float]:
    return [round(load, 2) for load in os.getloadavg()]


def measure_figure(name: str) -> tuple[FigureResult, dict[str, object]]:
    """``name``'s result, and when and under which load it was measured."""
    conditions: dict[str, object] = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_at_start": _load_average(),
    }
    started = time.monotonic()
    module, function = measure_target(name)
    result = getattr(importlib.import_module(f"benchmarks.{module}"), function)()
    conditions["seconds"] = round(time.monotonic() - started, 1)
    conditions["load_average_at_end"] = _load_average()
    return result, conditions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--group",
        choices=tuple(GROUPS),
        default=DEFAULT_GROUP,
        help=f"measure this group's figures (default: {DEFAULT_GROUP})",
    )
    parser.add_argument(
        "--only", action="append", choices=FIGURES, help="measure only this figure, of any group (repeatable)"
    )
    parser.add_argument(
        "--output", type=Path, help=f"results file (default: {RESULTS_FILE} for a group's run)"
    )
    parser.add_argument(
        "--suite", action="store_true", help="also time the test suite (always in the default group's run)"
    )
    args = parser.parse_args(argv)
    use_project_node()
    names = [name for name in FIGURES if name in args.only] if args.only else list(GROUPS[args.group])
    output = args.output or (None if args.only else RESULTS_FILE)

    machine = report.machine()
    started = time.monotonic()
    results: dict[str, FigureResult] = {}
    conditions: dict[str, dict[str, object]] = {}
    failures: dict[str, str] = {}
    unavailable: dict[str, str] = {}
    for name in names:
        sys.stderr.write(f"bench: {name} ...\n")
        try:
            results[name], conditions[name] = measure_figure(name)
        except Unavailable as reason:  # a tool this checkout lacks: said, not failed
            unavailable[name] = str(reason)
            sys.stderr.write(f"bench: {name} not available: {reason}\n")
            continue
        except Exception as error:  # one broken figure must not hide the others
            failures[name] = f"{type(error).__name__}: {error}"
            sys.stderr.write(f"bench: {name} FAILED: {failures[name]}\n")
            continue
        sys.stderr.write(f"bench: {name} done in {conditions[name]['seconds']:.0f} s\n")
    report.print_table(list(results.values()), machine, failures, unavailable)

    def write(doc: dict) -> dict:
        if output == RESULTS_FILE and output.is_file():
            doc = report.merge(json.loads(output.read_text()), doc, names)
        report.write(output, doc)
        if output == RESULTS_FILE:
            report.rewrite_performance_page(report.PERFORMANCE_PAGE, doc, FIGURES)
            report.rewrite_readme(report.README, doc)
        return doc

    if output is not None:
        # Before the suite, whose checks compare the page with the file.
        doc = write(
            report.document(results, machine, time.monotonic() - started, failures, unavailable, conditions)
        )
        sys.stderr.write(f"bench: wrote {output}\n")
    suite_passed = True
    if args.suite or (not args.only and args.group == DEFAULT_GROUP):
        # After the results file is written: the suite's own checks of that file see every figure.
        sys.stderr.write("bench: test suite ...\n")
        test_suite = suite.measure()
        suite_passed = bool(test_suite["passed"])
        print(report.suite_line(test_suite))
        if output is not None:
            write({**doc, "test_suite": test_suite})
    if output == RESULTS_FILE:
        sys.stderr.write(f"bench: rewrote the table in {report.PERFORMANCE_PAGE}\n")
    figures_met = not failures and all(result.met for result in results.values())
    return 0 if figures_met and suite_passed else 1


if __name__ == "__main__":
    sys.exit(main())
