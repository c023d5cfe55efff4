"""What one million derives cost, from the prices below and the run's measured CPU per derive.

The billed duration of a single-peer derive is the KMS round trip (not measurable without AWS: the
batch figure's stand-in latency is assumed) plus the CPU the client side spends per call (botocore and
the handler, measured by the batch figure against the local endpoint: ``singles_client_cpu_ms_per_peer``)
stretched by the function's share of a vCPU (Lambda gives a full vCPU at 1,769 MB, proportionally less
below), rounded up to the millisecond as Lambda bills it. ``make bench`` writes the table into
docs/performance.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Prices in US East (N. Virginia), retrieved 2026-11-30; each with its source in docs/performance.md.
LAMBDA_PER_MILLION_REQUESTS = 0.20
LAMBDA_ARM64_PER_GB_SECOND = 0.0000133334
KMS_ASYMMETRIC_PER_10K = 0.15
CLOUDTRAIL_DATA_EVENTS_PER_100K = 0.10
LOGS_INGESTION_PER_GB = 0.50
# Sizes of what each derive writes to CloudWatch Logs (estimates: a CloudTrail Invoke data event; the
# function's invocation line with Lambda's START/END/REPORT lines).
DATA_EVENT_BYTES = 1500
FUNCTION_LOG_BYTES = 400
FULL_VCPU_MB = 1769
MILLION = 1_000_000


@dataclass(frozen=True)
class Model:
    memory_mb: int
    kms_latency_ms: float
    cpu_ms_per_derive: float

    @property
    def billed_ms(self) -> int:
        return math.ceil(
            self.kms_latency_ms + self.cpu_ms_per_derive * max(1.0, FULL_VCPU_MB / self.memory_mb)
        )

    def parts(self) -> list[tuple[str, float]]:
        gb_seconds = MILLION * self.billed_ms / 1000 * self.memory_mb / 1024
        return [
            ("Lambda requests", LAMBDA_PER_MILLION_REQUESTS),
            (
                f"Lambda duration: 10^6 x {self.billed_ms} ms x {self.memory_mb / 1024:g} GB "
                f"= {gb_seconds:,.0f} GB-s",
                gb_seconds * LAMBDA_ARM64_PER_GB_SECOND,
            ),
            ("KMS `DeriveSharedSecret`", MILLION / 10_000 * KMS_ASYMMETRIC_PER_10K),
            ("audit: CloudTrail data events (`Invoke`)", MILLION / 100_000 * CLOUDTRAIL_DATA_EVENTS_PER_100K),
            (
                f"audit: the data events in the trail's log group, about {DATA_EVENT_BYTES / 1000:g} KB each",
                MILLION * DATA_EVENT_BYTES / 1e9 * LOGS_INGESTION_PER_GB,
            ),
            (
                f"the function's log lines (about {FUNCTION_LOG_BYTES / 1000:g} KB per invocation)",
                MILLION * FUNCTION_LOG_BYTES / 1e9 * LOGS_INGESTION_PER_GB,
            ),
        ]


def model_from(doc: Mapping[str, Any], memory_mb: int) -> Model | None:
    """The model with this results document's measured CPU per derive; None without a batch figure."""
    batch = doc.get("figures", {}).get("batch")
    if batch is None or "singles_client_cpu_ms_per_peer" not in batch.get("details", {}):
        return None
    from benchmarks.batch import STAND_IN_LATENCY_S

    return Model(memory_mb, STAND_IN_LATENCY_S * 1000, batch["details"]["singles_client_cpu_ms_per_peer"])


def table(model: Model) -> str:
    parts = model.parts()
    total = sum(cost for _, cost in parts)
    kms = dict(parts)["KMS `DeriveSharedSecret`"]
    lines = [
        f"Memory {model.memory_mb} MB; billed duration {model.billed_ms} ms = KMS round trip "
        f"{model.kms_latency_ms:g} ms (assumed) + {model.cpu_ms_per_derive:.2f} ms of client CPU per derive "
        f"(measured) x {FULL_VCPU_MB}/{model.memory_mb}, rounded up.",
        "",
        "| part | cost per million derives |",
        "| --- | --- |",
        *(f"| {name} | ${cost:,.2f} |" for name, cost in parts),
        f"| **total** | **${total:,.2f}**, of which KMS {kms / total:.0%} |",
    ]
    return "\n".join(lines)


def derive_function_memory_mb() -> int:
    """DeriveFunction's default memory size, read from its signature."""
    import inspect

    from kmsecdh_cdk.derive_function import DeriveFunction

    return int(inspect.signature(DeriveFunction.__init__).parameters["memory_size"].default)
