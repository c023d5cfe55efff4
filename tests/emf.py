"""Reading CloudWatch Embedded Metric Format out of an invocation line, as CloudWatch Logs does.

``emf_metrics`` checks the line against the format's rules (the ``_aws`` metadata with a millisecond
``Timestamp`` and ``CloudWatchMetrics`` directives; every metric and every dimension a member of the line's
root, a number or a list of at most 100 numbers for a metric, a string for a dimension) and returns each
metric the line publishes, keyed by namespace, name and dimensions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_VALUES = 100


@dataclass(frozen=True)
class EmfMetric:
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    unit: str
    values: tuple[float, ...]


def emf_metrics(line: dict[str, Any]) -> dict[tuple[str, str, tuple[tuple[str, str], ...]], EmfMetric]:
    metadata = line["_aws"]
    assert isinstance(metadata["Timestamp"], int), "EMF wants the time in milliseconds since the epoch"
    metrics = {}
    for directive in metadata["CloudWatchMetrics"]:
        namespace = directive["Namespace"]
        for dimension_set in directive["Dimensions"]:
            dimensions = tuple((name, line[name]) for name in dimension_set)
            assert all(isinstance(value, str) for _, value in dimensions), dimensions
            for metric in directive["Metrics"]:
                value = line[metric["Name"]]
                values = tuple(value) if isinstance(value, list) else (value,)
                assert 1 <= len(values) <= MAX_VALUES, metric["Name"]
                assert all(isinstance(v, int | float) and not isinstance(v, bool) for v in values), value
                key = (namespace, metric["Name"], dimensions)
                metrics[key] = EmfMetric(namespace, metric["Name"], dimensions, metric["Unit"], values)
    return metrics


def dimension_values(line: dict[str, Any]) -> set[str]:
    """Every value a dimension of the line's metrics takes."""
    return {
        line[name]
        for directive in line["_aws"]["CloudWatchMetrics"]
        for dimension_set in directive["Dimensions"]
        for name in dimension_set
    }
