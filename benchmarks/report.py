"""The results table printed by ``make bench`` and the ``benchmarks/results.json`` document."""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import PROJECT_ROOT, cost
from benchmarks.figures import FIGURES, GROUPS, RESULTS_FILE
from benchmarks.stats import FigureResult, Summary

# 2: figures may have no target or floor (reported only); `unavailable` figures.
# 3: each figure's `conditions` (when it was measured, its seconds, the load average at its start and end);
#    figure groups, a group's run keeping the others' figures (`merge`).
SCHEMA_VERSION = 3


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
    unavailable: Mapping[str, str] | None = None,
    conditions: Mapping[str, Mapping[str, object]] | None = None,
) -> dict:
    """The results document; ``results`` maps each figure's id (its module name) to its result,
    ``failures`` each figure that could not be measured to the error, ``unavailable`` each figure this
    checkout cannot measure (a tool it needs is absent) to the reason, ``conditions`` each measured figure
    to when and under which load it was measured."""
    conditions = conditions or {}
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "duration_s": round(seconds, 1),
        "machine": machine_info,
        "figures": {
            figure_id: {
                "name": result.name,
                **result.to_json(),
                "conditions": dict(conditions.get(figure_id, {})),
            }
            for figure_id, result in results.items()
        },
        "failures": dict(failures or {}),
        "unavailable": dict(unavailable or {}),
    }


def merge(previous: Mapping[str, Any], doc: Mapping[str, Any], measured: Sequence[str]) -> dict:
    """``doc`` with what ``previous`` holds of the figures not ``measured`` in it (another group's): their
    results, failures and unavailability, and the test suite's line when ``doc`` has none. Figures the
    harness no longer has are dropped."""
    kept = [name for name in FIGURES if name not in measured]
    merged = dict(doc)
    for section in ("figures", "failures", "unavailable"):
        earlier = previous.get(section, {})
        merged[section] = {
            **{name: earlier[name] for name in kept if name in earlier},
            **doc.get(section, {}),
        }
    if "test_suite" not in doc and "test_suite" in previous:
        merged["test_suite"] = previous["test_suite"]
    return merged


def write(path: Path, doc: dict) -> None:
    path.write_text(json.dumps(doc, indent=2) + "\n")


def _cell(summary: Summary | None) -> str:
    if summary is None:
        return "(none)"
    return f"{summary.median:.4g} {summary.unit} [{summary.q1:.4g}-{summary.q3:.4g}] n={summary.runs}"


def _verdict(result: FigureResult) -> str:
    if result.target is None:
        return "reported"
    return "yes" if result.met else "NO"


def table(
    results: Sequence[FigureResult],
    machine_info: dict[str, object],
    failures: Mapping[str, str] | None = None,
    unavailable: Mapping[str, str] | None = None,
) -> str:
    """A Markdown table: medians with their interquartile range and number of runs."""
    lines = [
        "| figure | project median [IQR] | floor median [IQR] | ratio | target | met |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for result in results:
        ratio = "" if result.ratio is None else f"{result.ratio:.2f}"
        lines.append(
            f"| {result.name} | {_cell(result.project)} | {_cell(result.floor)} | {ratio} "
            f"| {result.target or 'none (reported)'} | {_verdict(result)} |"
        )
    for figure_id, error in (failures or {}).items():
        lines.append(f"| {figure_id} | not measured: {error} | | | | NO |")
    for figure_id, reason in (unavailable or {}).items():
        lines.append(f"| {figure_id} | not available: {reason} | | | | |")
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
    unavailable: Mapping[str, str] | None = None,
) -> None:
    sys.stdout.write(table(results, machine_info, failures, unavailable) + "\n")
    sys.stdout.flush()


# docs/performance.md's table sits between these two lines; `make bench` rewrites what is between them
# from results.json (python -m benchmarks.report rewrites it from an existing file).
PERFORMANCE_PAGE = PROJECT_ROOT / "docs" / "performance.md"
TABLE_START = "<!-- bench:table:start (written by make bench from benchmarks/results.json) -->"
TABLE_END = "<!-- bench:table:end -->"


def _doc_cell(side: Mapping[str, Any] | None) -> str:
    if side is None:
        return "(no floor)"
    spread = "" if side["runs"] == 1 else f" [{side['q1']:.4g}-{side['q3']:.4g}]"
    return f"{side['what']}: {side['median']:.4g} {side['unit']}{spread} n={side['runs']}"


def _doc_target(target: Mapping[str, Any] | None) -> str:
    if target is None:
        return "none (reported)"
    unit = f" {target['unit']}" if target.get("unit") else ""
    return f"{'≤' if target['comparison'] == '<=' else '≥'} {target['bound']:g}{unit}"


def performance_table(doc: Mapping[str, Any], order: Sequence[str] = ()) -> str:
    """The performance page's table of a results document: every figure in ``order`` (then any other), the
    failures, and the machine and date of the run."""
    figures: Mapping[str, Any] = doc["figures"]
    ids = [figure_id for figure_id in order if figure_id in figures]
    ids += [figure_id for figure_id in figures if figure_id not in ids]
    lines = [
        "| figure | project median [IQR] | floor median [IQR] | ratio | target | met |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for figure_id in ids:
        figure = figures[figure_id]
        ratio = "" if figure["ratio"] is None else f"{figure['ratio']:.2f}"
        met = "reported" if figure["target"] is None else ("yes" if figure["met"] else "**no**")
        lines.append(
            f"| {figure['name']} | {_doc_cell(figure['project'])} | {_doc_cell(figure['floor'])} | {ratio} "
            f"| {_doc_target(figure['target'])} | {met} |"
        )
    for figure_id, error in doc.get("failures", {}).items():
        lines.append(f"| {figure_id} | not measured: {error} | | | | **no** |")
    for figure_id, reason in doc.get("unavailable", {}).items():
        lines.append(f"| {figure_id} | not available: {reason} | | | | |")
    lines.append("")
    notes = [f"- {figures[name]['name']}: {note}" for name in ids for note in figures[name]["notes"]]
    if notes:
        lines.extend([*notes, ""])
    if "test_suite" in doc:
        lines.append(f"The {suite_line(doc['test_suite'])}.")
        lines.append("")
    machine = doc["machine"]
    lines.append(
        f"Machine: {machine['cpu_count']} CPUs, {machine['implementation']} {machine['python']} "
        f"({machine['machine']}). "
        + " ".join(
            _group_run(group, [figures[name] for name in ids if name in names])
            for group, names in GROUPS.items()
            if any(name in figures for name in names)
        )
    )
    return "\n".join(lines)


def _load_range(conditions: Sequence[Mapping[str, Any]]) -> str:
    """The machine's 1-minute load average around some figures, lowest to highest of their starts and ends."""
    loads = [
        load for c in conditions for load in (c["load_average_at_start"][0], c["load_average_at_end"][0])
    ]
    return f"{min(loads):g} to {max(loads):g}"


def _group_run(group: str, figures: Sequence[Mapping[str, Any]]) -> str:
    """When a group's figures were measured and the machine's load (1-minute average) around them."""
    conditions = [figure["conditions"] for figure in figures if figure.get("conditions")]
    if not conditions:
        return f"Group {group}: measured before the harness kept the conditions."
    return (
        f"Group {group}: measured {min(c['measured_at'] for c in conditions)} in "
        f"{sum(c['seconds'] for c in conditions):.0f} s, load average {_load_range(conditions)}."
    )


COST_START = "<!-- bench:cost:start (written by make bench: benchmarks/cost.py and results.json) -->"
COST_END = "<!-- bench:cost:end -->"


def _replace_block(text: str, start_marker: str, end_marker: str, body: str, where: Path) -> str:
    start, end = text.find(start_marker), text.find(end_marker)
    if start < 0 or end < start:
        raise ValueError(f"{where}: no {start_marker!r} ... {end_marker!r} block to rewrite")
    return text[:start] + f"{start_marker}\n{body}\n" + text[end:]


def cost_block(doc: Mapping[str, Any], memory_mb: int) -> str:
    model = cost.model_from(doc, memory_mb)
    if model is None:
        return "*Computed by `make bench` from the batch figure's CPU per derive; this run has none.*"
    return cost.table(model)


def rewrite_performance_page(
    page: Path, doc: Mapping[str, Any], order: Sequence[str] = (), memory_mb: int | None = None
) -> None:
    """Replace the page's table block with the table of ``doc``, and its cost block (when there is
    one) with the cost of a million derives at ``memory_mb`` (DeriveFunction's default when None)."""
    text = _replace_block(page.read_text(), TABLE_START, TABLE_END, performance_table(doc, order), page)
    if COST_START in text:
        memory = cost.derive_function_memory_mb() if memory_mb is None else memory_mb
        text = _replace_block(text, COST_START, COST_END, cost_block(doc, memory), page)
    page.write_text(text)


# The README's table of what a clean clone's first two commands take (the first-run group's figures).
README = PROJECT_ROOT / "README.md"
FIRST_RUN_START = (
    "<!-- bench:first-run:start (written by make bench FIGURES=first-run from benchmarks/results.json) -->"
)
FIRST_RUN_END = "<!-- bench:first-run:end -->"
_SETS_UP = {
    "make synth": (
        "the project's virtualenv `.venv` (`requirements-dev.txt`), the pinned CDK CLI and the Node it runs "
        "on (`npm ci` into `node_modules`), checkov's own virtualenv `.checkov-venv`"
    ),
    "make test": (
        "the same, then the two local AWS endpoints' virtualenvs on Python 3.13: `.localstack-venv` (KMS "
        "only) and `.localstack-full-venv` (with CloudFormation, for `make deploy-local`, about 500 MB)"
    ),
}


def minutes(seconds: float) -> str:
    """``seconds`` as a person reads a wait: "2 min 05 s", "48 s"."""
    whole = round(seconds)
    return f"{whole // 60} min {whole % 60:02d} s" if whole >= 60 else f"{whole} s"


def first_run_table(doc: Mapping[str, Any]) -> str | None:
    """The README's table of a clean clone's first ``make synth`` and ``make test`` from the first-run
    group's figures, with how they were measured; None when the results hold neither figure."""
    figures = doc["figures"]
    if "first_synth" not in figures or "first_test" not in figures:
        return None
    synth, test = figures["first_synth"]["details"], figures["first_test"]["details"]
    synth_setup = synth["total_wall_s"] - synth["synth_wall_s"]
    test_setup = test["first_make_test_wall_s"] - test["suite_wall_s"]
    endpoints = test_setup - synth_setup
    conditions = [figures[name]["conditions"] for name in ("first_synth", "first_test")]
    machine = doc["machine"]
    return "\n".join(
        [
            "| command | sets up on its first run | first run on a clean clone |",
            "| --- | --- | --- |",
            f"| `make synth` | {_SETS_UP['make synth']} | {minutes(synth['total_wall_s'])}: "
            f"{minutes(synth_setup)} of setup, {minutes(synth['synth_wall_s'])} of synthesis |",
            f"| `make test` | {_SETS_UP['make test']} | {minutes(test['first_make_test_wall_s'])}: "
            f"{minutes(test_setup)} of setup (the local endpoints' {minutes(endpoints)} of it), "
            f"{minutes(test['suite_wall_s'])} for the {int(test['tests_passed'])} tests |",
            "",
            f"Measured by `make bench FIGURES=first-run` on {conditions[0]['measured_at'][:10]}: `git clone` "
            "into an empty directory, then each setup step and each command timed apart, on "
            f"{machine['cpu_count']} cores (load average {_load_range(conditions)}), with pip's and "
            "npm's caches and the Lambda asset's bundle cache (`~/.cache/kmsecdh/bundles`) already warm, so "
            "nothing was downloaded: expect more on a first machine. Later runs only synthesize (about "
            f"{minutes(synth['second_synth_wall_s'])}) or test.",
        ]
    )


def rewrite_readme(page: Path, doc: Mapping[str, Any]) -> bool:
    """Replace the README's first-run block with the table of ``doc``; False (the page untouched) when
    ``doc`` has no first-run figures."""
    body = first_run_table(doc)
    if body is None:
        return False
    page.write_text(_replace_block(page.read_text(), FIRST_RUN_START, FIRST_RUN_END, body, page))
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """python -m benchmarks.report [RESULTS]: rewrite docs/performance.md's table (and the README's
    first-run table, when the file has its figures) from a results file."""
    args = list(sys.argv[1:] if argv is None else argv)
    results = Path(args[0]) if args else RESULTS_FILE
    doc = json.loads(results.read_text())
    rewrite_performance_page(PERFORMANCE_PAGE, doc, FIGURES)
    sys.stderr.write(f"report: {PERFORMANCE_PAGE.relative_to(PROJECT_ROOT)} table rewritten from {results}\n")
    if rewrite_readme(README, doc):
        sys.stderr.write(
            f"report: {README.relative_to(PROJECT_ROOT)} first-run table rewritten from {results}\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
