"""Batch: 100 peers in one invocation vs 100 single invocations.

The same handler, key, peers and KDF on both sides; the figure is throughput (peers per second), so
the ratio is how many times faster the batch gets through the same peers. The target (issue 15) is the
latency-bound case: a stand-in KMS that waits 10 ms per call without using CPU, as a call across the
network does, where the batch's concurrent calls (service.BATCH_CONCURRENCY) can overlap the waiting.
The same comparison against the local KMS endpoint is kept as information, with its ceiling: there
client and endpoint are both CPU-bound on this machine, so no concurrency can beat
(client + endpoint) / max(client, endpoint).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import boto3

from benchmarks import workload
from benchmarks.stats import FigureResult, Target, elapsed_ms, interleaved, summarize
from devtools import in_process_lambda
from devtools.local_endpoint import LocalKmsEndpoint
from kmsecdh import service

TARGET = Target(">=", 6.0)
PEERS = 100
RUNS = 7
STAND_IN_LATENCY_S = 0.010
STAND_IN_RUNS = 7
# Credentials or a region from the caller's shell must not leak into the local endpoint's client.
AWS_SETTINGS_TO_UNSET = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_CONFIG_FILE")


def process_group_cpu_seconds(group: int) -> float:
    """User + system CPU seconds of every live process in process group ``group`` (Linux /proc)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # Fields after the parenthesised command name: state, ppid, pgrp, ..., utime (12th), stime.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class CpuAccount:
    """Wall and CPU time spent by one side, in this process (the client) and in the endpoint."""

    endpoint_group: int
    peers: int = 0
    client_s: float = 0.0
    endpoint_s: float = 0.0

    def throughput(self, action: Callable[[], object], peers: int) -> Callable[[], float]:
        """A sampler: peers per second of one ``action``, charging its CPU time to this account."""

        def sample() -> float:
            client, endpoint = time.process_time(), process_group_cpu_seconds(self.endpoint_group)
            seconds = elapsed_ms(action) / 1000
            self.client_s += time.process_time() - client
            self.endpoint_s += process_group_cpu_seconds(self.endpoint_group) - endpoint
            self.peers += peers
            return peers / seconds

        return sample

    def ms_per_peer(self, seconds: float) -> float:
        return seconds * 1000 / self.peers


@contextmanager
def _configured_local_key() -> Iterator[int]:
    """A local KMS endpoint with one key-agreement key, the function configured to use it; yields its pid."""
    with (
        LocalKmsEndpoint() as endpoint,
        in_process_lambda.environment(endpoint.client_environment(), AWS_SETTINGS_TO_UNSET),
    ):
        kms = boto3.client("kms")
        metadata = kms.create_key(KeySpec=workload.KEY_SPEC, KeyUsage="KEY_AGREEMENT")["KeyMetadata"]
        kms.create_alias(AliasName=workload.KEY_ALIAS, TargetKeyId=metadata["KeyId"])
        if endpoint.pid is None:
            raise RuntimeError("the local KMS endpoint is not running")
        with in_process_lambda.environment(workload.function_environment(metadata["Arn"])):
            yield endpoint.pid


def stand_in_latency_rates(
    one_batch: Callable[[], object], singles: Callable[[], object]
) -> tuple[list[float], list[float]]:
    """Peers per second of the batch and of the singles with a stand-in KMS that only waits
    STAND_IN_LATENCY_S per call: the latency-bound case (KMS across a network, its CPU not ours)."""
    with (
        in_process_lambda.environment(workload.function_environment(workload.STAND_IN_KEY_ARN)),
        workload.StandInKms(latency_s=STAND_IN_LATENCY_S).installed(),
    ):
        return interleaved(
            lambda: PEERS / (elapsed_ms(one_batch) / 1000),
            lambda: PEERS / (elapsed_ms(singles) / 1000),
            runs=STAND_IN_RUNS,
            warmup=1,
        )


def measure() -> FigureResult:
    handler = workload.load_handler()
    context = SimpleNamespace(aws_request_id="bench-batch", function_name="kmsecdh-bench")
    peers = [workload.peer_public_key_der() for _ in range(PEERS)]
    batch_event = workload.derive_event(peers)
    single_events = [workload.derive_event([peer]) for peer in peers]

    def one_batch() -> list[str]:
        return [entry["derived_key"] for entry in handler.handler(batch_event, context)["results"]]

    def singles() -> list[str]:
        return [handler.handler(event, context)["derived_key"] for event in single_events]

    with _configured_local_key() as endpoint_group, workload.quiet_stdio():
        if one_batch() != singles():
            raise RuntimeError("the batch and the single invocations derived different keys")
        batch_cpu, singles_cpu = CpuAccount(endpoint_group), CpuAccount(endpoint_group)
        project, floor = interleaved(
            batch_cpu.throughput(one_batch, PEERS),
            singles_cpu.throughput(singles, PEERS),
            runs=RUNS,
            warmup=0,
        )
    batch_cpu_ms = batch_cpu.ms_per_peer(batch_cpu.client_s + batch_cpu.endpoint_s)
    cpus = os.cpu_count() or 1
    # With the endpoint on this machine the work is CPU-bound: the batch cannot beat its CPU time
    # spread over every core, nor the client's or the endpoint's share, each serialized by its own
    # Python interpreter lock.
    best_batch_ms = max(
        batch_cpu_ms / cpus,
        batch_cpu.ms_per_peer(batch_cpu.client_s),
        batch_cpu.ms_per_peer(batch_cpu.endpoint_s),
    )
    with workload.quiet_stdio():
        latency_batch, latency_singles = stand_in_latency_rates(one_batch, singles)
    singles_wall_ms = 1000 / statistics.median(floor)
    endpoint_ratio = statistics.median(project) / statistics.median(floor)
    ceiling = singles_wall_ms / best_batch_ms
    return FigureResult(
        name="batch",
        project_label=(
            f"one invocation with {PEERS} peer_public_keys, stand-in KMS waiting "
            f"{STAND_IN_LATENCY_S * 1000:g} ms per call without CPU"
        ),
        floor_label=f"{PEERS} single invocations, same stand-in KMS, key and peers",
        project=summarize(latency_batch, "peers/s"),
        floor=summarize(latency_singles, "peers/s"),
        target=TARGET,
        notes=(
            f"{STAND_IN_RUNS} interleaved runs each; throughput ratio (higher is better); batch concurrency "
            f"{service.BATCH_CONCURRENCY}: with no overhead per call the ratio would be about that",
            f"information, local KMS endpoint ({RUNS} runs each): batch {statistics.median(project):.0f} "
            f"peers/s, singles {statistics.median(floor):.0f} peers/s, ratio {endpoint_ratio:.2f}; "
            f"CPU-bound ceiling on {cpus} CPUs about {ceiling:.2f}",
            f"CPU per peer: singles {singles_cpu.ms_per_peer(singles_cpu.client_s):.2f} ms client + "
            f"{singles_cpu.ms_per_peer(singles_cpu.endpoint_s):.2f} ms endpoint, batch "
            f"{batch_cpu.ms_per_peer(batch_cpu.client_s):.2f} ms client + "
            f"{batch_cpu.ms_per_peer(batch_cpu.endpoint_s):.2f} ms endpoint",
        ),
        details={
            "local_endpoint_batch_peers_per_s": statistics.median(project),
            "local_endpoint_singles_peers_per_s": statistics.median(floor),
            "local_endpoint_ratio": endpoint_ratio,
            "cpu_bound_ratio_ceiling": ceiling,
            "singles_client_cpu_ms_per_peer": singles_cpu.ms_per_peer(singles_cpu.client_s),
            "singles_endpoint_cpu_ms_per_peer": singles_cpu.ms_per_peer(singles_cpu.endpoint_s),
            "batch_client_cpu_ms_per_peer": batch_cpu.ms_per_peer(batch_cpu.client_s),
            "batch_endpoint_cpu_ms_per_peer": batch_cpu.ms_per_peer(batch_cpu.endpoint_s),
        },
    )
