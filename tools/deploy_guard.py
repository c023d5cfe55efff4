"""`make deploy-guard ENV=<name>`, and a step of each pipeline wave: before a deployment, refuse any change
that would replace or delete a pinned key or alias of a deployed stack (the identities of
kmsecdh.key_identity, which kmsecdh_cdk.key_lock pins at synthesis: key-agreement keys, their replicas, the
directory's signing key, the aliases naming them), printing which and why. Exit status 1 when it refuses, 0
when the deployment keeps every pinned resource, 2 when it cannot tell.

What would be deployed, two ways:

- ``--environment NAME [--app cdk.out]``: each stack of the environment's stage in the cloud assembly that is
  deployed and holds a pinned resource gets a change set of its template, created here, read, then deleted
  (with the credentials at hand, for the environment's account and Region);
- ``--stack-name NAME --change-set-name NAME``: a change set that exists, read only: the one CDK Pipelines
  creates before each stack's deployment (``PipelineChange``), or ``cdk deploy --no-execute
  --change-set-name NAME``'s (the way for a template over CreateChangeSet's 51,200-byte inline limit).

Either way two readings, and either refuses: the deployed template (GetTemplate) against the new one on the
pinned identity properties (so a replacement KMS forces is seen even where a change set does not say so, as
on the local endpoint), and CloudFormation's own answer in the change set (a ``Remove``, or a ``Modify``
with ``Replacement`` ``True`` or ``Conditional``, of a pinned resource).

It imports no CDK code, only boto3 beyond the standard library and this repository's source: the pipeline runs
it as the target account's deploy role, from a virtualenv holding nothing but hash-pinned wheels
(``stacks/pipeline_stack.py``, ``guard_commands``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from devtools import PROJECT_ROOT
from kmsecdh.key_identity import (
    Identity,
    changed_identities,
    describe,
    identity_changes,
    template_identities,
    template_resources,
)
from tools.deploy_local.assembly import StackPlan, read_stages

CAPABILITIES = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND")
# CreateChangeSet's limit for an inline template (TemplateBody), in bytes.
TEMPLATE_BODY_LIMIT = 51_200
CHANGE_SET_PREFIX = "kmsecdh-deploy-guard"
NO_CHANGES = "didn't contain changes"
NOT_DEPLOYED = ("REVIEW_IN_PROGRESS", "DELETE_COMPLETE")
WAY_OUT = (
    "A key that should change is a new key: a new generation in key_generations (multi_region as wanted), "
    "the old one retired with retire_after; a construct renamed or moved keeps its logical id "
    "(override_logical_id). See docs/operations.md."
)


@dataclass(frozen=True)
class Refusal:
    """A pinned resource of a deployed stack that the deployment would replace or delete, and why."""

    stack_name: str
    logical_id: str
    identity: Identity
    reasons: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.stack_name}: {describe(self.identity)} {self.logical_id} {'; '.join(self.reasons)}"


def refusals(
    stack_name: str,
    deployed: Mapping[str, Any],
    new: Mapping[str, Any],
    changes: Iterable[Mapping[str, Any]] = (),
) -> list[Refusal]:
    """What deploying ``new`` over ``deployed`` (templates) would replace or delete of the pinned resources,
    from the identities and from the change set's ``changes`` (DescribeChangeSet's ``Changes``)."""
    pinned = template_identities(deployed)
    reasons: dict[str, list[str]] = {}
    for logical_id, identity, now in changed_identities(pinned, template_resources(new)):
        if now is None:
            reason = "would be deleted: the new template no longer has it"
        else:
            differences = ", ".join(identity_changes(identity, now))
            reason = f"would be replaced: {differences}, which a KMS key or alias never changes in place"
        reasons.setdefault(logical_id, []).append(reason)
    for change in changes:
        resource = change.get("ResourceChange", {})
        logical_id = resource.get("LogicalResourceId")
        if logical_id not in pinned:
            continue
        if resource.get("Action") == "Remove":
            reasons.setdefault(logical_id, []).append("CloudFormation's change set removes it")
        elif resource.get("Action") == "Modify" and resource.get("Replacement") in ("True", "Conditional"):
            causes = sorted(
                {
                    detail["Target"]["Name"]
                    for detail in resource.get("Details", [])
                    if detail.get("Target", {}).get("RequiresRecreation") in ("Always", "Conditionally")
                    and "Name" in detail.get("Target", {})
                }
            )
            because = f" ({', '.join(causes)})" if causes else ""
            reasons.setdefault(logical_id, []).append(
                f"CloudFormation's change set replaces it (Replacement {resource['Replacement']}){because}"
            )
    return [
        Refusal(stack_name, logical_id, pinned[logical_id], tuple(found))
        for logical_id, found in sorted(reasons.items())
    ]


def _template(body: Any) -> dict[str, Any]:
    """A GetTemplate ``TemplateBody``: boto3 gives a JSON template already parsed, a YAML one as text."""
    return body if isinstance(body, dict) else json.loads(body)


def deployed_template(cloudformation: Any, stack_name: str) -> dict[str, Any] | None:
    """The template of the deployed stack ``stack_name``, or None when there is no such stack yet."""
    try:
        [stack] = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    if stack["StackStatus"] in NOT_DEPLOYED:
        return None
    return _template(
        cloudformation.get_template(StackName=stack_name, TemplateStage="Original")["TemplateBody"]
    )


def change_set_changes(cloudformation: Any, stack_name: str, change_set_name: str) -> list[dict[str, Any]]:
    """Every change of an existing change set (all pages)."""
    changes: list[dict[str, Any]] = []
    request = {"StackName": stack_name, "ChangeSetName": change_set_name}
    while True:
        page = cloudformation.describe_change_set(**request)
        changes += page.get("Changes", [])
        if not page.get("NextToken"):
            return changes
        request["NextToken"] = page["NextToken"]


def created_change_set(
    cloudformation: Any, stack_name: str, template: Mapping[str, Any], timeout: float = 300.0
) -> list[dict[str, Any]]:
    """The changes of a change set of ``template`` for ``stack_name``, created here and deleted after."""
    name = f"{CHANGE_SET_PREFIX}-{int(time.time())}"
    cloudformation.create_change_set(
        StackName=stack_name,
        ChangeSetName=name,
        ChangeSetType="UPDATE",
        TemplateBody=json.dumps(template, separators=(",", ":")),
        Capabilities=list(CAPABILITIES),
        Description="kmsecdh deploy guard: read, never executed",
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            description = cloudformation.describe_change_set(StackName=stack_name, ChangeSetName=name)
            if description["Status"] == "CREATE_COMPLETE":
                return change_set_changes(cloudformation, stack_name, name)
            if description["Status"] == "FAILED":
                if NO_CHANGES in description.get("StatusReason", ""):
                    return []
                raise RuntimeError(
                    f"{stack_name}: change set {name} failed: {description.get('StatusReason')}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"{stack_name}: change set {name} not created in {timeout:.0f} s")
            time.sleep(2)
    finally:
        cloudformation.delete_change_set(StackName=stack_name, ChangeSetName=name)


def _client(plan: StackPlan) -> Any:
    """CloudFormation in the stack's Region (the credentials' Region for an environment-agnostic stack)."""
    return boto3.client("cloudformation", region_name=None if plan.agnostic else plan.region)


def guard_environment(environment: str, app: Path) -> tuple[list[Refusal], list[str]]:
    """(refusals, what was looked at) for every stack of ``environment``'s stage in the assembly ``app``."""
    stages = {stage.name: stage for stage in read_stages(app)}
    if environment not in stages:
        raise LookupError(f"no stage {environment!r} in {app} (stages: {', '.join(stages)})")
    found: list[Refusal] = []
    notes: list[str] = []
    for plan in stages[environment].stacks:
        cloudformation = _client(plan)
        deployed = deployed_template(cloudformation, plan.stack_name)
        if deployed is None:
            notes.append(f"{plan.stack_name}: not deployed yet, nothing to lose")
            continue
        if not template_identities(deployed):
            notes.append(f"{plan.stack_name}: holds no pinned key or alias")
            continue
        body_size = len(json.dumps(plan.template, separators=(",", ":")).encode())
        if body_size > TEMPLATE_BODY_LIMIT:
            changes: list[dict[str, Any]] = []
            notes.append(
                f"{plan.stack_name}: templates compared; no change set (the template is {body_size} bytes, "
                f"over {TEMPLATE_BODY_LIMIT}): for CloudFormation's own answer too, create one with "
                f"`cdk deploy --no-execute --change-set-name {CHANGE_SET_PREFIX} '{plan.display_name}'` "
                "and run "
                f"--stack-name {plan.stack_name} --change-set-name {CHANGE_SET_PREFIX}"
            )
        else:
            changes = created_change_set(cloudformation, plan.stack_name, plan.template)
            notes.append(f"{plan.stack_name}: templates compared, change set of cdk.out's template read")
        found += refusals(plan.stack_name, deployed, plan.template, changes)
    return found, notes


def guard_change_set(
    stack_name: str, change_set_name: str, region: str | None
) -> tuple[list[Refusal], list[str]]:
    """(refusals, what was looked at) for an existing change set of ``stack_name``."""
    cloudformation = boto3.client("cloudformation", region_name=region)
    deployed = deployed_template(cloudformation, stack_name)
    if deployed is None:
        return [], [f"{stack_name}: not deployed yet, nothing to lose"]
    new = _template(
        cloudformation.get_template(
            StackName=stack_name, ChangeSetName=change_set_name, TemplateStage="Original"
        )["TemplateBody"]
    )
    changes = change_set_changes(cloudformation, stack_name, change_set_name)
    return refusals(stack_name, deployed, new, changes), [f"{stack_name}: change set {change_set_name} read"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.deploy_guard", description=__doc__)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--environment", help="every stack of this stage of the cloud assembly")
    target.add_argument("--stack-name", help="one deployed stack, with --change-set-name")
    parser.add_argument(
        "--app", type=Path, default=PROJECT_ROOT / "cdk.out", help="the cloud assembly [cdk.out]"
    )
    parser.add_argument("--change-set-name", help="an existing change set of --stack-name")
    parser.add_argument("--region", help="--stack-name's Region [the credentials' Region]")
    args = parser.parse_args(argv)
    if args.stack_name and not args.change_set_name:
        parser.error("--stack-name needs --change-set-name")
    try:
        if args.environment:
            found, notes = guard_environment(args.environment, args.app)
        else:
            found, notes = guard_change_set(args.stack_name, args.change_set_name, args.region)
    except (LookupError, RuntimeError, ClientError, BotoCoreError) as error:
        print(f"deploy guard: {error}", file=sys.stderr)
        return 2
    for note in notes:
        print(f"deploy guard: {note}")
    for refusal in found:
        print(f"REFUSED  {refusal}")
    if found:
        print(f"deploy guard: refused, {len(found)} pinned key(s) or alias(es) would be lost. {WAY_OUT}")
        return 1
    print("deploy guard: every pinned key and alias stays as deployed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
