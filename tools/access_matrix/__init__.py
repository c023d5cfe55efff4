"""The access matrix: who may do what to the project's resources, proven by an IAM evaluator.

For every example environment, the synthesized templates (``assembly``) give the principals, their
identity policies, the key, function and topic policies and the Guardrails stack's organisation policies
(``world``); @cloud-copilot/iam-simulate decides every request a real caller would make, without and with the
guardrails (``evaluate``); the decisions are compared with a model written from the configuration
(``model``), and written as docs/access-matrix.md (``report``, ``make access-matrix``).
``tests/infra/test_access_matrix.py`` fails on any cell that differs from the model, and on a stale
docs/access-matrix.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stacks.config import CONTEXT_KEY, parse_environments
from stacks.guardrails_config import GUARDRAILS_CONTEXT_KEY, parse_guardrails
from tools.access_matrix.assembly import read_assembly
from tools.access_matrix.evaluate import Decision, Evaluation, evaluate
from tools.access_matrix.model import expected
from tools.access_matrix.world import Environment, assumed_location, read_environment


@dataclass(frozen=True)
class Mismatch:
    environment: str
    decision: Decision
    guardrails: bool
    expected: bool

    def __str__(self) -> str:
        request = self.decision.request
        actual = self.decision.with_guardrails if self.guardrails else self.decision.without_guardrails
        return (
            f"{self.environment}: {request.principal.label} {request.action.label} on "
            f"{request.resource.kind} {request.resource.label} ({request.resource.region or 'global'}) "
            f"{'with' if self.guardrails else 'without'} guardrails: the evaluator says "
            f"{'allowed' if actual else 'denied'}, the model {'allowed' if self.expected else 'denied'}"
        )


@dataclass(frozen=True)
class EnvironmentMatrix:
    environment: Environment
    evaluation: Evaluation

    @property
    def mismatches(self) -> list[Mismatch]:
        found = []
        for decision in self.evaluation.decisions:
            for guardrails, actual in (
                (False, decision.without_guardrails),
                (True, decision.with_guardrails),
            ):
                model = expected(decision.request, self.environment, guardrails=guardrails)
                if actual != model:
                    found.append(Mismatch(self.environment.config.name, decision, guardrails, model))
        return found


def environments(outdir: Path, context: Mapping[str, Any]) -> dict[str, Environment]:
    """Every environment of ``context`` (cdk.json's) as synthesized into ``outdir``."""
    configs = parse_environments(context[CONTEXT_KEY])
    guardrails_context = context.get(GUARDRAILS_CONTEXT_KEY)
    guardrails = parse_guardrails(guardrails_context, configs) if guardrails_context is not None else None
    assembly = read_assembly(outdir, {name: assumed_location(config) for name, config in configs.items()})
    return {name: read_environment(assembly, config, configs, guardrails) for name, config in configs.items()}


def access_matrix(outdir: Path, context: Mapping[str, Any]) -> dict[str, EnvironmentMatrix]:
    """Evaluate every environment: one evaluator process each, as many at once as there are CPUs."""
    found = environments(outdir, context)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        evaluations = dict(zip(found, pool.map(evaluate, found.values()), strict=True))
    return {name: EnvironmentMatrix(environment, evaluations[name]) for name, environment in found.items()}
