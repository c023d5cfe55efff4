"""Sampling and statistics for the benchmarks: interleaved runs, medians with spread, ratios to a floor.

Pure code (no I/O, no project imports) so ``tests/bench`` can check it quickly.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

Sampler = Callable[[], float]


@dataclass(frozen=True)
class Summary:
    """Median and spread of one side's samples (interquartile range, min and max)."""

    unit: str
    runs: int
    median: float
    q1: float
    q3: float
    minimum: float
    maximum: float

    def to_json(self) -> dict[str, object]:
        return {
            "unit": self.unit,
            "runs": self.runs,
            "median": self.median,
            "q1": self.q1,
            "q3": self.q3,
            "min": self.minimum,
            "max": self.maximum,
        }


def summarize(samples: Sequence[float], unit: str) -> Summary:
    """Median, quartiles (inclusive method: they stay within the samples) and extremes."""
    if not samples:
        raise ValueError("no samples to summarize")
    values = sorted(samples)
    if len(values) == 1:
        q1 = q3 = values[0]
    else:
        q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return Summary(
        unit=unit,
        runs=len(values),
        median=statistics.median(values),
        q1=q1,
        q3=q3,
        minimum=values[0],
        maximum=values[-1],
    )


@dataclass(frozen=True)
class Target:
    """The bound the project/floor ratio must respect, e.g. ``<= 1.3`` or ``>= 3``; or, with a ``unit``, the
    bound of the project's own median in that unit (what a user waits for, e.g. ``<= 180 s``)."""

    comparison: Literal["<=", ">="]
    bound: float
    unit: str | None = None

    def met_by(self, value: float) -> bool:
        return value <= self.bound if self.comparison == "<=" else value >= self.bound

    def __str__(self) -> str:
        if self.unit is not None:
            return f"{self.comparison} {self.bound:g} {self.unit}"
        return f"ratio {self.comparison} {self.bound:g}"


@dataclass(frozen=True)
class FigureResult:
    """One row of the results table: the project's and the floor's summaries and their ratio.

    A figure that is only reported has no target (``target=None``, always "met"); it may also have no
    floor (``floor=None``, no ratio) where nothing cheaper does the same work.
    """

    name: str
    project_label: str
    floor_label: str
    project: Summary
    floor: Summary | None
    target: Target | None
    notes: tuple[str, ...] = field(default=())
    details: Mapping[str, float] = field(default_factory=dict)
    """Diagnostics that explain the figure (for example CPU time per operation), by name."""

    def __post_init__(self) -> None:
        if self.target is not None and self.target.unit not in (None, self.project.unit):
            raise ValueError(f"{self.name}: target in {self.target.unit}, project in {self.project.unit}")
        if self.floor is None:
            if self.target is not None and self.target.unit is None:
                raise ValueError(f"{self.name}: a target needs a floor to compare with")
            return
        if self.project.unit != self.floor.unit:
            raise ValueError(f"{self.name}: project in {self.project.unit}, floor in {self.floor.unit}")
        if self.floor.median == 0:
            raise ValueError(f"{self.name}: floor median is zero, no ratio")

    @property
    def ratio(self) -> float | None:
        """Project median over floor median (for a throughput, higher is better); None without a floor."""
        return None if self.floor is None else self.project.median / self.floor.median

    @property
    def met(self) -> bool:
        """The target holds; a figure that is only reported has none to miss."""
        if self.target is None:
            return True
        if self.target.unit is not None:
            return self.target.met_by(self.project.median)
        ratio = self.ratio
        return ratio is not None and self.target.met_by(ratio)

    def to_json(self) -> dict[str, object]:
        ratio = self.ratio
        return {
            "project": {"what": self.project_label, **self.project.to_json()},
            "floor": None if self.floor is None else {"what": self.floor_label, **self.floor.to_json()},
            "ratio": None if ratio is None else round(ratio, 4),
            "target": None
            if self.target is None
            else {"comparison": self.target.comparison, "bound": self.target.bound, "unit": self.target.unit},
            "met": self.met,
            "notes": list(self.notes),
            "details": {name: round(value, 4) for name, value in self.details.items()},
        }


def interleaved(
    project: Sampler, floor: Sampler, runs: int, warmup: int = 1
) -> tuple[list[float], list[float]]:
    """``runs`` samples of each side, alternating which goes first (ABBA) so drift hits both alike.

    The ``warmup`` rounds (caches, imports, connections) are run and discarded.
    """
    if runs < 1:
        raise ValueError("runs must be at least 1")
    for _ in range(warmup):
        project()
        floor()
    project_samples: list[float] = []
    floor_samples: list[float] = []
    for index in range(runs):
        if index % 2 == 0:
            project_samples.append(project())
            floor_samples.append(floor())
        else:
            floor_samples.append(floor())
            project_samples.append(project())
    return project_samples, floor_samples


def per_call_us(action: Callable[[], object], sample_ms: float) -> Sampler:
    """A sampler: CPU microseconds of this process per call of ``action``, averaged over about ``sample_ms``
    of calls.

    CPU time, not wall time: on a machine other jobs load, the time this process waits for a core is not
    the code's cost (it made wall-clock ratios of the same code swing between 2.4 and 6 at a load average of
    7 on 2 cores). The call count is calibrated once, so a fast floor and a slower project both get samples
    long enough to average out the clock's resolution.
    """
    probe_calls = 10
    probe_ms = cpu_ms(lambda: [action() for _ in range(probe_calls)])
    calls = max(probe_calls, round(sample_ms / max(probe_ms / probe_calls, 1e-6)))

    def sample() -> float:
        def repeated() -> None:
            for _ in range(calls):
                action()

        return cpu_ms(repeated) * 1000 / calls

    return sample


def cpu_ms(action: Callable[[], object]) -> float:
    """CPU milliseconds (every thread of this process) ``action`` takes."""
    start = time.process_time_ns()
    action()
    return (time.process_time_ns() - start) / 1e6


def elapsed_ms(action: Callable[[], object]) -> float:
    """Wall-clock milliseconds ``action`` takes."""
    start = time.perf_counter_ns()
    action()
    return (time.perf_counter_ns() - start) / 1e6
