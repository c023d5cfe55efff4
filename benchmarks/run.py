"""``make bench``: measure every figure, print the table, write benchmarks/results.json.

python -m benchmarks.run                      # every figure, the suite's time: results.json, performance.md
python -m benchmarks.run --only cold_start    # some figures, printed only (unless --output)
python -m benchmarks.run --only cli_help --suite  # and the test suite's wall time
python -m benchmarks.report                   # rewrite docs/performance.md's table from results.json
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from benchmarks import PROJECT_ROOT, Unavailable, report, suite
from devtools import use_project_node

# Cheap figures first, so a failure in a slow one comes after the quick numbers are known.
FIGURES = (
    "cold_start",
    "cli_help",
    "cli_derive_local",
    "warm_derive",
    "memory",
    "batch",
    "asset",
    "synth",
    "synth_scale",
    "deploy_local",
)
# Where each figure is measured: "<module of benchmarks>:<function>", "<figure>:measure" when not listed.
MEASURES = {"cli_help": "cli:measure_help", "cli_derive_local": "cli:measure_derive_local"}
RESULTS_FILE = PROJECT_ROOT / "benchmarks" / "results.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", action="append", choices=FIGURES, help="measure only this figure (repeatable)"
    )
    parser.add_argument("--output", type=Path, help=f"results file (default: {RESULTS_FILE} for a full run)")
    parser.add_argument(
        "--suite", action="store_true", help="also time the test suite (always in a full run)"
    )
    args = parser.parse_args(argv)
    use_project_node()
    names = [name for name in FIGURES if not args.only or name in args.only]
    output = args.output or (None if args.only else RESULTS_FILE)

    machine = report.machine()
    started = time.monotonic()
    results = {}
    failures = {}
    unavailable = {}
    for name in names:
        sys.stderr.write(f"bench: {name} ...\n")
        figure_started = time.monotonic()
        try:
            module, _, function = MEASURES.get(name, f"{name}:measure").partition(":")
            results[name] = getattr(importlib.import_module(f"benchmarks.{module}"), function)()
        except Unavailable as reason:  # a tool this checkout lacks: said, not failed
            unavailable[name] = str(reason)
            sys.stderr.write(f"bench: {name} not available: {reason}\n")
            continue
        except Exception as error:  # one broken figure must not hide the others
            failures[name] = f"{type(error).__name__}: {error}"
            sys.stderr.write(f"bench: {name} FAILED: {failures[name]}\n")
            continue
        sys.stderr.write(f"bench: {name} done in {time.monotonic() - figure_started:.0f} s\n")
    report.print_table(list(results.values()), machine, failures, unavailable)
    if output is not None:
        doc = report.document(results, machine, time.monotonic() - started, failures, unavailable)
        report.write(output, doc)
        sys.stderr.write(f"bench: wrote {output}\n")
        if output == RESULTS_FILE:  # before the suite, whose checks compare the page with the file
            report.rewrite_performance_page(report.PERFORMANCE_PAGE, doc, FIGURES)
    suite_passed = True
    if args.suite or not args.only:
        # After the results file is written: the suite's own checks of that file see every figure.
        sys.stderr.write("bench: test suite ...\n")
        test_suite = suite.measure()
        suite_passed = bool(test_suite["passed"])
        print(report.suite_line(test_suite))
        if output is not None:
            doc = {**doc, "test_suite": test_suite}
            report.write(output, doc)
            if output == RESULTS_FILE:
                report.rewrite_performance_page(report.PERFORMANCE_PAGE, doc, FIGURES)
    if output == RESULTS_FILE:
        sys.stderr.write(f"bench: rewrote the table in {report.PERFORMANCE_PAGE}\n")
    figures_met = not failures and all(result.met for result in results.values())
    return 0 if figures_met and suite_passed else 1


if __name__ == "__main__":
    sys.exit(main())
