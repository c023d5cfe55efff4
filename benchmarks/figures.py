"""Which figures ``make bench`` measures, in which group, and where each is measured and written.

Its own module so that both the runner (``benchmarks.run``) and the report (``benchmarks.report``) read it
without importing each other.
"""

from __future__ import annotations

from benchmarks import PROJECT_ROOT

DEFAULT_GROUP = "default"
FIRST_RUN_GROUP = "first-run"
# Cheap figures first, so a failure in a slow one comes after the quick numbers are known. The first-run
# figure (a clean clone's first make synth and make test, about a quarter of an hour) has a group of its own
# so that the default `make bench` stays short: `make bench FIGURES=first-run`.
GROUPS: dict[str, tuple[str, ...]] = {
    DEFAULT_GROUP: (
        "cold_start",
        "cli_help",
        "cli_derive_local",
        "warm_derive",
        "memory",
        "batch",
        "asset",
        "synth",
        "synth_replay",
        "access_matrix",
        "deploy_local",
    ),
    FIRST_RUN_GROUP: ("first_synth", "first_test"),
}
FIGURES: tuple[str, ...] = tuple(name for names in GROUPS.values() for name in names)
"""Every figure, in the order of the results table."""
# Where each figure is measured: "<module of benchmarks>:<function>", "<figure>:measure" when not listed.
MEASURES = {
    "cli_help": "cli:measure_help",
    "cli_derive_local": "cli:measure_derive_local",
    "synth": "synth_replay:measure_examples",
    "first_synth": "first_run:measure_synth",
    "first_test": "first_run:measure_test",
}
RESULTS_FILE = PROJECT_ROOT / "benchmarks" / "results.json"


def group_of(figure: str) -> str:
    """The group ``figure`` belongs to."""
    for group, names in GROUPS.items():
        if figure in names:
            return group
    raise KeyError(f"no figure {figure!r}: one of {', '.join(FIGURES)}")


def measure_target(figure: str) -> tuple[str, str]:
    """The module of ``benchmarks`` and the function in it that measure ``figure``."""
    module, _, function = MEASURES.get(figure, f"{figure}:measure").partition(":")
    return module, function
