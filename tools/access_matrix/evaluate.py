"""Every request of an environment, with and without the guardrails, evaluated by @cloud-copilot/iam-simulate
in one ``node`` process (``simulate.mjs``): the evaluator is AGPL-3.0, so it stays a separate program that
only the tests and ``make access-matrix`` run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.access_matrix.world import ALLOW_ALL, Environment, Request, context

SIMULATOR = Path(__file__).with_name("simulate.mjs")
ALLOWED = "Allowed"
ROOT = "r-root"
TARGET = "ou-guardrails-target"
FULL_AWS_ACCESS = "FullAWSAccess"


class EvaluatorError(RuntimeError):
    """The evaluator could not run, or refused a request as invalid."""


@dataclass(frozen=True)
class Decision:
    request: Request
    without_guardrails: bool
    with_guardrails: bool


@dataclass(frozen=True)
class Evaluation:
    decisions: list[Decision]
    simulations: int
    seconds: float  # the node process, start to end


class _Batch:
    """The simulator's input: each policy document once, requests naming documents."""

    def __init__(self) -> None:
        self.documents: dict[str, Any] = {}
        self._names: dict[str, str] = {}
        self.requests: list[dict[str, Any]] = []
        self._indexes: dict[
            str, int
        ] = {}  # a request asked twice (the same policies apply) is simulated once

    def name(self, document: dict[str, Any]) -> str:
        text = json.dumps(document, sort_keys=True)
        if text not in self._names:
            self._names[text] = f"policy-{len(self._names)}"
            self.documents[self._names[text]] = document
        return self._names[text]

    def add(self, request: Request, environment: Environment, *, guardrails: bool) -> list[int]:
        """The simulations one request takes (an alias operation is checked on the alias and on its key)."""
        resources = [request.resource]
        if request.resource.target_key is not None:
            resources.append(request.resource.target_key)
        indexes = []
        for resource in resources:
            simulation = {
                "principal": request.principal.arn,
                "action": request.action.name,
                "resource": resource.arn,
                "resourceAccount": resource.account,
                "context": context(request, environment),
                "identity": [self.name(document) for document in request.principal.identity],
                "resourcePolicy": self.name(resource.policy) if resource.policy else None,
                "scp": self._scp(request, environment, guardrails),
                "rcp": self._rcp(resource.account, environment, guardrails),
            }
            key = json.dumps(simulation, sort_keys=True)
            if key not in self._indexes:
                self._indexes[key] = len(self.requests)
                self.requests.append(simulation)
            indexes.append(self._indexes[key])
        return indexes

    def _scp(self, request: Request, environment: Environment, guardrails: bool) -> list[dict[str, Any]]:
        principal = request.principal
        if not principal.in_organization:
            return []  # another organisation's policies are not the project's to model
        levels = [{"org": ROOT, "policies": [self.name_as(FULL_AWS_ACCESS, ALLOW_ALL)]}]
        if guardrails and principal.account in environment.guarded_accounts:
            levels.append(
                {
                    "org": TARGET,
                    "policies": [
                        self.name_as(FULL_AWS_ACCESS, ALLOW_ALL),
                        *(self.name(document) for document in environment.service_control_policies),
                    ],
                }
            )
        return levels

    def _rcp(self, account: str, environment: Environment, guardrails: bool) -> list[dict[str, Any]]:
        if not (guardrails and account in environment.guarded_accounts):
            return []  # RCPFullAWSAccess alone
        return [{"org": TARGET, "policies": [self.name(d) for d in environment.resource_control_policies]}]

    def name_as(self, name: str, document: dict[str, Any]) -> str:
        self.documents[name] = document
        return name


def evaluate(environment: Environment, requests: Sequence[Request] | None = None) -> Evaluation:
    """Decide every request (default: all of the environment's) without and with the guardrails."""
    node = shutil.which("node")
    if node is None:
        raise EvaluatorError(
            "node is not on PATH: the access matrix runs @cloud-copilot/iam-simulate with it"
        )
    requests = list(environment.requests() if requests is None else requests)
    batch = _Batch()
    plan = [
        (
            request,
            batch.add(request, environment, guardrails=False),
            batch.add(request, environment, guardrails=True),
        )
        for request in requests
    ]
    started = time.perf_counter()
    completed = subprocess.run(
        [node, str(SIMULATOR)],
        input=json.dumps({"documents": batch.documents, "requests": batch.requests}),
        capture_output=True,
        text=True,
        check=False,
        cwd=SIMULATOR.parent,
    )
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise EvaluatorError(f"simulate.mjs exited {completed.returncode}: {completed.stderr.strip()}")
    outcomes = json.loads(completed.stdout)["decisions"]
    decisions = [
        Decision(
            request,
            all(outcomes[index] == ALLOWED for index in without),
            all(outcomes[index] == ALLOWED for index in with_),
        )
        for request, without, with_ in plan
    ]
    return Evaluation(decisions=decisions, simulations=len(batch.requests), seconds=seconds)
