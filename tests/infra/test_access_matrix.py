"""The access matrix: an IAM evaluator (@cloud-copilot/iam-simulate, a separate node process) decides who may
do what to every example environment's resources, without and with the guardrails, and every cell must equal
the model written from the configuration (tools/access_matrix/model.py).

Also: docs/access-matrix.md is the current table; the threat model's "prevented with guardrails" column says
what the evaluator decides; and a loosened policy is caught, cell by cell.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from devtools import PROJECT_ROOT
from tests.infra.conftest import SynthesizedApp, load_context
from tools.access_matrix import EnvironmentMatrix, access_matrix, environments
from tools.access_matrix.evaluate import Decision, evaluate
from tools.access_matrix.model import expected
from tools.access_matrix.report import DOCUMENT, render
from tools.access_matrix.world import Environment, Resource

ENVIRONMENTS = tuple(load_context()["environments"])
THREAT_MODEL = PROJECT_ROOT / "docs" / "threat-model.md"
ACCOUNT_ADMINISTRATOR = "account administrator"
KEY_ADMINISTRATOR = "key administrator"

# The threat model's rows (by the start of their first cell), what their "prevented with guardrails" cell
# claims, and the cells of the matrix that decide it: (principal kind, resource kind, action, variant start).
THREAT_ROWS: dict[str, tuple[str, list[tuple[str, str, str, str]]]] = {
    "invoke the derive function": ("yes", [(ACCOUNT_ADMINISTRATOR, "function", "lambda:InvokeFunction", "")]),
    "call `kms:DeriveSharedSecret` directly": (
        "already prevented",
        [
            (ACCOUNT_ADMINISTRATOR, "key-agreement key", "kms:DeriveSharedSecret", ""),
            (KEY_ADMINISTRATOR, "key-agreement key", "kms:DeriveSharedSecret", ""),
        ],
    ),
    "use the derive role's credentials outside the function": (
        "yes",
        [(ACCOUNT_ADMINISTRATOR, "role", "iam:PassRole", "")],
    ),
    "change the function": (
        "yes",
        [
            (ACCOUNT_ADMINISTRATOR, "function", "lambda:UpdateFunctionCode", ""),
            (ACCOUNT_ADMINISTRATOR, "function", "lambda:AddPermission", ""),
        ],
    ),
    "change the derive role's policies or trust": (
        "yes",
        [
            (ACCOUNT_ADMINISTRATOR, "role", "iam:PutRolePolicy", ""),
            (ACCOUNT_ADMINISTRATOR, "role", "iam:UpdateAssumeRolePolicy", ""),
        ],
    ),
    "rewrite the key policy": ("yes", [(KEY_ADMINISTRATOR, "key-agreement key", "kms:PutKeyPolicy", "")]),
    "a grant on the key": (
        "already prevented",
        [
            (ACCOUNT_ADMINISTRATOR, "key-agreement key", "kms:CreateGrant", ""),
            (KEY_ADMINISTRATOR, "key-agreement key", "kms:CreateGrant", ""),
        ],
    ),
    "point the alias at another key": ("yes", [(KEY_ADMINISTRATOR, "alias", "kms:UpdateAlias", "")]),
    "make peers encrypt to another key through the directory": (
        "partly",
        [(KEY_ADMINISTRATOR, "signing key", "kms:PutKeyPolicy", "")],
    ),
    "replicate a key into another Region": (
        "already prevented",
        [
            (kind, "key-agreement key", "kms:ReplicateKey", "to ")
            for kind in (ACCOUNT_ADMINISTRATOR, KEY_ADMINISTRATOR, "CloudFormation role")
        ],
    ),
    "switch off the audit layer": (
        "yes",
        [
            (ACCOUNT_ADMINISTRATOR, "trail", "cloudtrail:StopLogging", ""),
            (ACCOUNT_ADMINISTRATOR, "trail", "cloudtrail:PutEventSelectors", ""),
            (ACCOUNT_ADMINISTRATOR, "log group", "logs:DeleteLogGroup", ""),
            (ACCOUNT_ADMINISTRATOR, "log group", "logs:DeleteMetricFilter", ""),
            (ACCOUNT_ADMINISTRATOR, "alarm", "cloudwatch:DeleteAlarms", ""),
            (ACCOUNT_ADMINISTRATOR, "topic", "sns:DeleteTopic", ""),
            *(
                (kind, "audit key", action, "")
                for kind in (ACCOUNT_ADMINISTRATOR, KEY_ADMINISTRATOR)
                for action in ("kms:DisableKey", "kms:ScheduleKeyDeletion", "kms:PutKeyPolicy")
            ),
        ],
    ),
}


@pytest.fixture(scope="module")
def matrices(synthesized_app: SynthesizedApp) -> dict[str, EnvironmentMatrix]:
    return access_matrix(synthesized_app.outdir, synthesized_app.context)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_decision_is_the_models(matrices: dict[str, EnvironmentMatrix], environment: str) -> None:
    matrix = matrices[environment]
    assert matrix.evaluation.decisions
    mismatches = matrix.mismatches
    assert not mismatches, "\n".join(str(mismatch) for mismatch in mismatches)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_with_the_guardrails_an_account_administrator_changes_nothing(
    matrices: dict[str, EnvironmentMatrix], environment: str
) -> None:
    """Issue 19's bar: every path that only an alarm covered is refused to a same-account administrator with
    ``*``: invoke, change the function, pass or change the derive role, change a key's policy, alias, tags or
    replication, stop or change the trail."""
    matrix = matrices[environment]
    assert matrix.environment.guarded
    by_administrator = [
        decision
        for decision in matrix.evaluation.decisions
        if ACCOUNT_ADMINISTRATOR in decision.request.principal.kinds
    ]
    allowed = [
        f"{decision.request.action.label} on {decision.request.resource.label}"
        for decision in by_administrator
        if decision.with_guardrails
        and decision.request.resource.kind != "organisation log group"
        and decision.request.action.name != "kms:GetPublicKey"
    ]
    assert not allowed
    assert any(d.without_guardrails and not d.with_guardrails for d in by_administrator)


def test_the_committed_access_matrix_is_current(matrices: dict[str, EnvironmentMatrix]) -> None:
    assert DOCUMENT.read_text() == render(matrices), (
        f"{DOCUMENT.relative_to(PROJECT_ROOT)} is stale: run make access-matrix"
    )


def _threat_rows() -> dict[str, str]:
    """The threat model's first column -> its "prevented with guardrails" cell."""
    lines = THREAT_MODEL.read_text().splitlines()
    header = next(line for line in lines if line.startswith("| path |"))
    columns = [cell.strip() for cell in header.strip("|").split("|")]
    column = columns.index("prevented with guardrails")
    rows = {}
    for line in lines[lines.index(header) + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        rows[cells[0]] = cells[column]
    return rows


def _cells(
    matrix: EnvironmentMatrix, principal_kind: str, resource_kind: str, action: str, variant: str
) -> list[Decision]:
    return [
        decision
        for decision in matrix.evaluation.decisions
        if any(kind.startswith(principal_kind) for kind in decision.request.principal.kinds)
        and decision.request.resource.kind == resource_kind
        and decision.request.action.name == action
        and decision.request.action.variant.startswith(variant)
        and not (action == "kms:ReplicateKey" and decision.without_guardrails)  # into a configured Region
    ]


@pytest.mark.parametrize("row", list(THREAT_ROWS))
def test_the_threat_models_guardrails_column_is_the_evaluators(
    matrices: dict[str, EnvironmentMatrix], row: str
) -> None:
    claim, cells = THREAT_ROWS[row]
    rows = _threat_rows()
    [written] = [cell for path, cell in rows.items() if path.startswith(row)]
    assert written.startswith(claim), f"the threat model says {written!r} for {row!r}"
    guarded = [matrix for matrix in matrices.values() if matrix.environment.guarded]
    undecided = [cell for cell in cells if not any(_cells(matrix, *cell) for matrix in guarded)]
    assert not undecided, f"no cell of the access matrix decides {row!r} for {undecided}"
    found = [decision for matrix in guarded for cell in cells for decision in _cells(matrix, *cell)]
    assert not any(decision.with_guardrails for decision in found)
    if claim == "already prevented":
        assert not any(decision.without_guardrails for decision in found)
    else:
        assert any(decision.without_guardrails for decision in found), "the guardrails add nothing here"


# -- a loosened policy is caught ---------------------------------------------------------------------------


def _replace_resource(
    environment: Environment, match: Callable[[Resource], bool], **changes: Any
) -> Resource:
    [index] = [index for index, resource in enumerate(environment.resources) if match(resource)]
    environment.resources[index] = dataclasses.replace(environment.resources[index], **changes)
    return environment.resources[index]


def _without_replication_bound(environment: Environment) -> Resource:
    """The finding of issue 18: AllowReplicateKey without kms:ReplicaRegion, and no deny elsewhere."""
    key = next(r for r in environment.resources if r.kind == "key-agreement key" and r.primary)
    statements = []
    for statement in key.policy["Statement"]:
        if statement["Sid"].startswith("Deny") and "Region" in statement["Sid"]:
            continue
        if statement["Sid"].startswith("AllowReplicateKey"):
            statement = {name: value for name, value in statement.items() if name != "Condition"}
        statements.append(statement)
    return _replace_resource(environment, lambda r: r is key, policy={**key.policy, "Statement": statements})


def _invoke_open_to_the_organisation(environment: Environment) -> Resource:
    """A function policy statement admitting the whole organisation."""
    function = next(r for r in environment.resources if r.kind == "function")
    statement = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "lambda:InvokeFunction",
        "Resource": function.arn,
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": environment.organization_id}},
    }
    policy = {**function.policy, "Statement": [*function.policy["Statement"], statement]}
    return _replace_resource(environment, lambda r: r is function, policy=policy)


def _service_control_policies_without_the_invoke_guard(environment: Environment) -> Resource:
    """The guardrails lose the statement that keeps invocation to the callers."""
    environment.service_control_policies = [
        {
            **document,
            "Statement": [s for s in document["Statement"] if not s["Sid"].endswith("InvokeOnlyByCallers")],
        }
        for document in environment.service_control_policies
    ]
    return next(r for r in environment.resources if r.kind == "function")


@pytest.mark.parametrize(
    ("loosen", "principal_kind", "action"),
    [
        (_without_replication_bound, "CloudFormation role eu-west-1", "kms:ReplicateKey"),
        (_invoke_open_to_the_organisation, "organisation member", "lambda:InvokeFunction"),
        (_service_control_policies_without_the_invoke_guard, ACCOUNT_ADMINISTRATOR, "lambda:InvokeFunction"),
    ],
)
def test_a_loosened_policy_makes_cells_differ_from_the_model(
    synthesized_app: SynthesizedApp,
    loosen: Callable[[Environment], Resource],
    principal_kind: str,
    action: str,
) -> None:
    environment = environments(synthesized_app.outdir, synthesized_app.context)["prod"]
    resource = loosen(environment)
    requests = [
        request
        for request in environment.requests()
        if request.resource.arn == resource.arn and request.action.name == action
    ]
    decisions = evaluate(environment, requests).decisions
    differing = [
        decision
        for decision in decisions
        if (decision.without_guardrails, decision.with_guardrails)
        != tuple(expected(decision.request, environment, guardrails=g) for g in (False, True))
    ]
    assert differing
    assert {kind for decision in differing for kind in decision.request.principal.kinds} >= {principal_kind}


def test_the_evaluator_is_a_pinned_dev_dependency_nothing_shipped_uses() -> None:
    """@cloud-copilot/iam-simulate is AGPL-3.0: a development dependency at an exact version, run as a
    separate node process by tools/access_matrix only, never imported by what the wheel or the Lambda asset
    ships (kmsecdh, kmsecdh_cdk, the derive entry point)."""
    package = json.loads((PROJECT_ROOT / "package.json").read_text())
    lock = json.loads((PROJECT_ROOT / "package-lock.json").read_text())
    evaluator = ("@cloud-copilot/iam-simulate", "@cloud-copilot/iam-policy")
    for name in evaluator:
        version = package["devDependencies"][name]
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} is not pinned to an exact version: {version}"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
        assert lock["packages"][f"node_modules/{name}"]["dev"] is True
    assert lock["packages"][""]["devDependencies"] == package["devDependencies"]
    assert "dependencies" not in package
    shipped = [
        path
        for root in ("kmsecdh", "constructs_lib", "lambda")
        for path in (PROJECT_ROOT / root).rglob("*")
        if path.is_file() and path.suffix in (".py", ".txt", ".json", ".mjs", ".js")
    ]
    assert shipped
    assert not [path for path in shipped if "cloud-copilot" in path.read_text(errors="replace")]
