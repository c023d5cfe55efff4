"""The rotation runbook, step by step, on the dev and prod examples of cdk.json: the templates of each step.

Each step synthesizes the environment's stage with a variant of its cdk.json entry and ``kmsecdh:today``:

0. as shipped: ``key_specs`` only, one key per spec;
1. add a generation (the existing key listed first): the existing key is untouched (same logical id and
   properties), a new key with its own alias, the spec's alias moved to it in place, the function configured
   with both generations;
2. set ``retire_after`` on the old generation (a date still to come): nothing changes but the date shown in
   the ``KeyGenerations`` output;
3. deploy after that date: the old key is disabled (``Enabled: false``) and kept, the function is no longer
   configured with it, and the audit alarms on every derive with it.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from stacks.config import TODAY_CONTEXT_KEY, parse_environment, parse_today
from stacks.stage import KmsEcdhStage
from tests.infra.conftest import load_context
from tests.infra.test_key_agreement_stack import generations_output, rendered

OLD, NEW = "2026-05", "2026-11"
BEFORE_RETIREMENT, RETIRE_AFTER, AFTER_RETIREMENT = "2027-01-15", "2027-02-28", "2027-03-01"


@dataclass
class Step:
    stage: KmsEcdhStage
    key_agreement: dict[str, Any]
    audit: dict[str, Any]
    replicas: dict[str, dict[str, Any]]


def synthesize(environment: str, generations: list[dict[str, str]] | None, today: str) -> Step:
    context = load_context()
    entry = copy.deepcopy(context["environments"][environment])
    if generations is not None:
        # with replica Regions, every generation is multi-Region (its key is replicated)
        multi_region = {"multi_region": True} if entry.get("replica_regions") else {}
        entry.setdefault("key_generations", {})["ECC_NIST_P256"] = [
            {**generation, **multi_region} for generation in generations
        ]
    config = parse_environment(environment, entry, parse_today(today))
    app = cdk.App(context={**context, TODAY_CONTEXT_KEY: today})
    stage = KmsEcdhStage(app, config)
    return Step(
        stage,
        Template.from_stack(stage.key_agreement).to_json(),
        Template.from_stack(stage.audit).to_json(),
        {replica.region: Template.from_stack(replica).to_json() for replica in stage.replicas},
    )


STEPS = {
    "shipped": (None, BEFORE_RETIREMENT),
    "generation added": ([{"name": OLD}, {"name": NEW}], BEFORE_RETIREMENT),
    "retire_after set": ([{"name": OLD, "retire_after": RETIRE_AFTER}, {"name": NEW}], BEFORE_RETIREMENT),
    "retired": ([{"name": OLD, "retire_after": RETIRE_AFTER}, {"name": NEW}], AFTER_RETIREMENT),
}


@pytest.fixture(scope="module", params=["dev", "prod"])
def runbook(request: pytest.FixtureRequest) -> tuple[str, dict[str, Step]]:
    environment = request.param
    return environment, {
        name: synthesize(environment, generations, today) for name, (generations, today) in STEPS.items()
    }


def of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def p256_keys(template: dict[str, Any], resource_type: str = "AWS::KMS::Key") -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in of_type(template, resource_type).items()
        if logical_id.startswith("P256")
    }


def aliases(template: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Alias name -> (its logical id, the logical id of the key it names)."""
    return {
        alias["Properties"]["AliasName"]: (logical_id, alias["Properties"]["TargetKeyId"]["Fn::GetAtt"][0])
        for logical_id, alias in of_type(template, "AWS::KMS::Alias").items()
    }


def function_keys(template: dict[str, Any]) -> tuple[dict[str, str], str]:
    """The derive function's KMSECDH_KEYS (alias -> key logical id) and KMSECDH_DEFAULT_KEY."""
    [function] = [
        function
        for function in of_type(template, "AWS::Lambda::Function").values()
        if function["Properties"].get("Handler") == "handler.handler"
    ]
    variables = function["Properties"]["Environment"]["Variables"]
    keys = json.loads(rendered(variables["KMSECDH_KEYS"]))
    return {alias: entry["arn"] for alias, entry in keys.items()}, variables["KMSECDH_DEFAULT_KEY"]


def test_adding_a_generation_keeps_the_existing_key_and_moves_the_alias_in_place(runbook) -> None:
    environment, steps = runbook
    spec_alias = f"alias/kmsecdh-{environment}-p256"
    shipped, added = steps["shipped"].key_agreement, steps["generation added"].key_agreement
    [(old_id, old_key)] = p256_keys(shipped).items()
    keys = p256_keys(added)
    # the key key_specs made is the first generation: same logical id, same properties, so not replaced
    assert keys.pop(old_id) == old_key
    [(new_id, new_key)] = keys.items()
    assert new_key["Properties"]["KeySpec"] == "ECC_NIST_P256"
    assert "Enabled" not in new_key["Properties"]
    assert new_key["Properties"]["KeyPolicy"]["Statement"] == old_key["Properties"]["KeyPolicy"]["Statement"]
    # the spec's alias is the same resource, now naming the new key: an update in place
    spec_alias_id, _ = aliases(shipped)[spec_alias]
    assert aliases(added)[spec_alias] == (spec_alias_id, new_id)
    assert aliases(added)[f"{spec_alias}-{OLD}"][1] == old_id
    assert aliases(added)[f"{spec_alias}-{NEW}"][1] == new_id
    keys_of_function, default = function_keys(added)
    assert default == spec_alias
    assert keys_of_function[spec_alias] == new_id
    assert keys_of_function[f"{spec_alias}-{OLD}"] == old_id
    assert keys_of_function[f"{spec_alias}-{NEW}"] == new_id


def test_setting_retire_after_changes_only_the_published_date(runbook) -> None:
    _, steps = runbook
    added, dated = steps["generation added"].key_agreement, steps["retire_after set"].key_agreement
    assert added["Resources"] == dated["Resources"]
    [old] = [entry for entry in generations_output(dated) if entry.get("generation") == OLD]
    assert (old["status"], old["retire_after"], old["current"]) == ("active", RETIRE_AFTER, False)


def test_after_retire_after_the_old_generation_is_disabled_kept_and_unconfigured(runbook) -> None:
    environment, steps = runbook
    spec_alias = f"alias/kmsecdh-{environment}-p256"
    dated, retired = steps["retire_after set"].key_agreement, steps["retired"].key_agreement
    old_id = aliases(dated)[f"{spec_alias}-{OLD}"][1]
    new_id = aliases(dated)[spec_alias][1]
    old_key = retired["Resources"][old_id]
    assert old_key["Properties"]["Enabled"] is False
    # still there, with its deletion policy and its whole key policy: the stack never deletes it
    assert {k: v for k, v in old_key.items() if k != "Properties"} == {
        k: v for k, v in dated["Resources"][old_id].items() if k != "Properties"
    }
    assert old_key["Properties"]["KeyPolicy"] == dated["Resources"][old_id]["Properties"]["KeyPolicy"]
    assert aliases(retired)[f"{spec_alias}-{OLD}"][1] == old_id
    keys_of_function, default = function_keys(retired)
    assert default == spec_alias
    assert old_id not in keys_of_function.values()
    assert keys_of_function[spec_alias] == keys_of_function[f"{spec_alias}-{NEW}"] == new_id
    [old] = [entry for entry in generations_output(retired) if entry.get("generation") == OLD]
    assert old["status"] == "retired"


def test_the_audit_alarms_on_every_derive_with_a_retired_generation(runbook) -> None:
    _, steps = runbook

    def retired_patterns(step: Step) -> list[str]:
        return [
            flattened(metric_filter["Properties"]["FilterPattern"])
            for metric_filter in of_type(step.audit, "AWS::Logs::MetricFilter").values()
            if metric_filter["Properties"]["MetricTransformations"][0]["MetricName"]
            == "RetiredOrDisabledKeyUsed"
            and "$.errorCode" not in flattened(metric_filter["Properties"]["FilterPattern"])
        ]

    assert retired_patterns(steps["retire_after set"]) == []
    retired = retired_patterns(steps["retired"])
    # the retired key by its key id, which its replica in each replica Region shares
    assert len(retired) == 1
    assert all('($.eventName = "DeriveSharedSecret")' in pattern for pattern in retired)


def test_replica_regions_follow_the_generations(runbook) -> None:
    environment, steps = runbook
    spec_alias = f"alias/kmsecdh-{environment}-p256"
    for region, template in steps["retired"].replicas.items():
        replicas = p256_keys(template, "AWS::KMS::ReplicaKey")
        by_alias = aliases(template)
        old = replicas[by_alias[f"{spec_alias}-{OLD}"][1]]
        new_id = by_alias[f"{spec_alias}-{NEW}"][1]
        assert old["Properties"]["Enabled"] is False, region
        assert replicas[new_id]["Properties"]["Enabled"] is True, region
        assert by_alias[spec_alias][1] == new_id
        keys_of_function, _ = function_keys(template)
        assert set(keys_of_function.values()) >= {new_id}
        assert by_alias[f"{spec_alias}-{OLD}"][1] not in keys_of_function.values()


def flattened(value: Any) -> str:
    """A filter pattern as text (a ``Fn::Join`` with key ARNs from ``Fn::GetAtt`` or stack outputs)."""
    if isinstance(value, str):
        return value
    return "".join(part if isinstance(part, str) else json.dumps(part) for part in value["Fn::Join"][1])
