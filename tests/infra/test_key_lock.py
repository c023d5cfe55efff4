"""The key identity lock (keys.lock.json, kmsecdh_cdk.key_lock, stacks/key_lock.py): synthesis refuses what
would replace or delete a pinned key or alias, with the consequence and the way out, and accepts the way out.

Each refusal case synthesizes the app of cdk.json with one environment's entry changed, as ``cdk synth`` would
(``create_app``, every check on), against the committed record, which ``test_the_committed_record_*`` keeps
equal to what the shipped environments synthesize.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from constructs import Construct

from devtools import PROJECT_ROOT
from kmsecdh.key_identity import changed_identities, template_identities, template_resources
from kmsecdh_cdk.key_agreement_key import KeyAgreementKey
from kmsecdh_cdk.key_lock import KeyLock, KeyLockError
from stacks.application import create_app
from stacks.config import CONTEXT_KEY
from stacks.key_agreement_stack import KeyAgreementStack
from stacks.key_lock import ALLOW_REPLACEMENT_CONTEXT_KEY, KEY_LOCK_FILE_CONTEXT_KEY
from tests.infra.conftest import SynthesizedApp, load_context

LOCK_FILE = PROJECT_ROOT / "keys.lock.json"
DEV_KEY, DEV_ALIAS = "P256KeyF60D39F8", "P256Alias12F45F04"


def synthesize(tmp_path: Path, environment: str, entry: dict[str, Any], **context: Any) -> dict[str, Any]:
    """Synthesize the app with only ``environment``, as ``entry`` says, checked against the committed
    record; the templates of its stages by stack name."""
    settings = {key: value for key, value in load_context().items() if key not in (CONTEXT_KEY, "pipeline")}
    app = create_app(
        outdir=str(tmp_path / "cdk.out"),
        context={
            **settings,
            CONTEXT_KEY: {environment: entry},
            KEY_LOCK_FILE_CONTEXT_KEY: str(LOCK_FILE),
            **context,
        },
    )
    assembly = app.synth()
    return {
        stack.stack_name: stack.template
        for stack in assembly.get_nested_assembly(f"assembly-{environment}").stacks
    }


def refusal(tmp_path: Path, environment: str, entry: dict[str, Any]) -> str:
    with pytest.raises(RuntimeError) as raised:
        synthesize(tmp_path, environment, entry)
    assert "Validation failed" in str(raised.value)
    return str(raised.value)


def shipped(environment: str) -> dict[str, Any]:
    return copy.deepcopy(load_context()[CONTEXT_KEY][environment])


def test_the_committed_record_pins_what_the_shipped_environments_synthesize(
    synthesized_app: SynthesizedApp,
) -> None:
    """What `make lock-keys` would write is committed (the templates' identities equal the record's, stack by
    stack), and the lock holds the environments' key-agreement keys, signing keys, replicas and aliases."""
    lock = KeyLock.load(LOCK_FILE)
    assert lock.environments == sorted(synthesized_app.environments)
    for environment, stacks in synthesized_app.stacks.items():
        synthesized = {
            json.loads((synthesized_app.outdir / f"assembly-{environment}" / "manifest.json").read_text())[
                "artifacts"
            ][stack.artifact_id]["properties"]["stackName"]: template_identities(stack.raw)
            for stack in stacks.values()
        }
        assert lock.pinned(environment) == {name: pinned for name, pinned in synthesized.items() if pinned}
    prod = lock.pinned("prod")
    assert {identity["Type"] for pinned in prod.values() for identity in pinned.values()} == {
        "AWS::KMS::Key",
        "AWS::KMS::ReplicaKey",
        "AWS::KMS::Alias",
    }
    directory = prod["kmsecdh-prod-directory"].values()
    assert {identity.get("KeyUsage") for identity in directory if identity["Type"] == "AWS::KMS::Key"} == {
        "SIGN_VERIFY"
    }
    assert {identity["AliasName"] for identity in directory if identity["Type"] == "AWS::KMS::Alias"} == {
        "alias/kmsecdh-prod-directory"
    }


def test_changing_a_key_spec_is_refused_with_the_consequence_and_the_generations_way(tmp_path: Path) -> None:
    dev = shipped("dev")
    dev["key_specs"] = ["ECC_NIST_P384"]
    message = refusal(tmp_path, "dev", dev)
    assert (
        f"kmsecdh-dev-key-agreement: pinned AWS::KMS::Key ECC_NIST_P256 KEY_AGREEMENT {DEV_KEY} is no longer "
        "in the stack: CloudFormation would delete the key" in message
    )
    assert f"pinned AWS::KMS::Alias alias/kmsecdh-dev-p256 {DEV_ALIAS} is no longer in the stack" in message
    assert "a key spec in use stays in key_specs and retires through key_generations" in message
    assert "update keys.lock.json (make lock-keys ENV=dev)" in message


def test_adding_a_key_spec_beside_the_pinned_one_passes(tmp_path: Path) -> None:
    dev = shipped("dev")
    dev["key_specs"] = ["ECC_NIST_P256", "ECC_NIST_P384"]
    templates = synthesize(tmp_path, "dev", dev)
    template = templates["kmsecdh-dev-key-agreement"]
    pinned = KeyLock.load(LOCK_FILE).pinned("dev")["kmsecdh-dev-key-agreement"]
    assert changed_identities(pinned, template_resources(template)) == []
    assert len(template_identities(template)) == len(pinned) + 2  # the new spec's key and alias


def test_making_a_deployed_generation_multi_region_is_refused_naming_the_generation(tmp_path: Path) -> None:
    dev = shipped("dev")
    dev["key_generations"] = {"ECC_NIST_P256": [{"name": "2026-01", "multi_region": True}]}
    message = refusal(tmp_path, "dev", dev)
    assert (
        f"pinned AWS::KMS::Key ECC_NIST_P256 KEY_AGREEMENT {DEV_KEY} would change MultiRegion false -> true: "
        "CloudFormation would replace the key" in message
    )
    assert (
        "environments.dev.key_generations.ECC_NIST_P256[0] ('2026-01'): a generation keeps its key's "
        "MultiRegion for good; add a new generation" in message
    )


def test_the_same_intent_as_a_new_generation_keeps_the_pinned_key(tmp_path: Path) -> None:
    dev = shipped("dev")
    dev["key_generations"] = {
        "ECC_NIST_P256": [{"name": "2026-01"}, {"name": "2027-01", "multi_region": True}]
    }
    template = synthesize(tmp_path, "dev", dev)["kmsecdh-dev-key-agreement"]
    pinned = KeyLock.load(LOCK_FILE).pinned("dev")["kmsecdh-dev-key-agreement"]
    assert changed_identities(pinned, template_resources(template)) == []
    [new_key] = [
        resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::KMS::Key" and logical_id.startswith("P2562027")
    ]
    assert new_key["Properties"]["MultiRegion"] is True


def _move_keys_under(scope_id: str, keep_logical_ids: bool):
    """A refactor: the stack creates its keys under a construct ``scope_id``, keeping the pinned logical ids
    (of the key and of its alias) when ``keep_logical_ids``."""
    pinned = KeyLock.load(LOCK_FILE).pinned("dev")["kmsecdh-dev-key-agreement"]

    def create_key(self: KeyAgreementStack, id: str, generation: Any, **settings: Any) -> KeyAgreementKey:
        scope = self.node.try_find_child(scope_id) or Construct(self, scope_id)
        key = KeyAgreementKey(scope, id, multi_region=generation.multi_region, **settings)
        if keep_logical_ids:
            key.key_resource.override_logical_id(DEV_KEY)
            key.alias.override_logical_id(DEV_ALIAS)
        assert {DEV_KEY, DEV_ALIAS} <= set(pinned)
        return key

    return create_key


def test_renaming_a_key_construct_is_refused_with_the_logical_id_to_keep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(KeyAgreementStack, "_create_key", _move_keys_under("Keys", keep_logical_ids=False))
    message = refusal(tmp_path, "dev", shipped("dev"))
    assert f"{DEV_KEY} is no longer in the stack" in message
    assert f'keeps its logical id with override_logical_id("{DEV_KEY}")' in message
    assert f'override_logical_id("{DEV_ALIAS}")' in message


def test_a_refactor_that_moves_the_construct_keeps_the_logical_id_and_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(KeyAgreementStack, "_create_key", _move_keys_under("Keys", keep_logical_ids=True))
    template = synthesize(tmp_path, "dev", shipped("dev"))["kmsecdh-dev-key-agreement"]
    # moved (without override_logical_id they would be KeysP256...: the refusal above), ids kept
    assert {DEV_KEY, DEV_ALIAS} <= set(template["Resources"])
    pinned = KeyLock.load(LOCK_FILE).pinned("dev")["kmsecdh-dev-key-agreement"]
    assert changed_identities(pinned, template_resources(template)) == []


def test_the_escape_hatch_lets_a_named_environment_past_the_lock(tmp_path: Path) -> None:
    dev = shipped("dev")
    dev["key_specs"] = ["ECC_NIST_P384"]
    templates = synthesize(tmp_path, "dev", dev, **{ALLOW_REPLACEMENT_CONTEXT_KEY: "dev"})
    assert DEV_KEY not in templates["kmsecdh-dev-key-agreement"]["Resources"]


def test_the_escape_hatch_names_existing_environments_only(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="context kmsecdh:allow-key-replacement names no environment 'dve'"):
        synthesize(tmp_path, "dev", shipped("dev"), **{ALLOW_REPLACEMENT_CONTEXT_KEY: "dve"})


def test_dropping_replica_regions_is_refused_for_the_replica_stack(tmp_path: Path) -> None:
    prod = shipped("prod")
    del prod["replica_regions"]
    message = refusal(tmp_path, "prod", prod)
    assert (
        "kmsecdh-prod-key-agreement-eu-west-1: pinned AWS::KMS::ReplicaKey replica P256KeyE10B0E73 is no "
        in message
    )


def test_adding_replica_regions_the_generations_way_keeps_every_pinned_key(tmp_path: Path) -> None:
    """staging, running: the replica Region gets the new multi-Region generations only; nothing pinned."""
    staging = shipped("staging")
    staging["replica_regions"] = ["eu-central-1"]
    staging["key_generations"]["ECC_NIST_P256"].append({"name": "2027-01", "multi_region": True})
    staging["key_generations"]["ECC_NIST_P384"] = [
        {"name": "2026-01"},
        {"name": "2027-01", "multi_region": True},
    ]
    templates = synthesize(tmp_path, "staging", staging)
    home = templates["kmsecdh-staging-key-agreement"]
    pinned = KeyLock.load(LOCK_FILE).pinned("staging")["kmsecdh-staging-key-agreement"]
    assert changed_identities(pinned, template_resources(home)) == []
    replica = templates["kmsecdh-staging-key-agreement-eu-central-1"]
    replicas = [r for r in replica["Resources"].values() if r["Type"] == "AWS::KMS::ReplicaKey"]
    assert len(replicas) == 2  # one per spec: the multi-Region generations
    aliases = sorted(
        r["Properties"]["AliasName"] for r in replica["Resources"].values() if r["Type"] == "AWS::KMS::Alias"
    )
    assert aliases == [
        "alias/kmsecdh-staging-p256",
        "alias/kmsecdh-staging-p256-2027-01",
        "alias/kmsecdh-staging-p384",
        "alias/kmsecdh-staging-p384-2027-01",
    ]
    # only the multi-Region primaries may be replicated
    replicable = [
        logical_id
        for logical_id, resource in home["Resources"].items()
        if resource["Type"] == "AWS::KMS::Key"
        and any(
            s["Sid"].startswith("AllowReplicateKeyTo")
            for s in resource["Properties"]["KeyPolicy"]["Statement"]
        )
    ]
    assert sorted(replicable) == sorted(
        logical_id
        for logical_id, resource in home["Resources"].items()
        if resource["Type"] == "AWS::KMS::Key" and resource["Properties"].get("MultiRegion")
    )
    assert len(replicable) == 2


# -- the library, on its own -------------------------------------------------------------------------------


def resource(resource_type: str, **properties: Any) -> dict[str, Any]:
    return {"Type": resource_type, "Properties": properties}


def test_identities_pin_asymmetric_keys_their_replicas_and_aliases_only() -> None:
    template = {
        "Resources": {
            "Agreement": resource("AWS::KMS::Key", KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT"),
            "Logs": resource("AWS::KMS::Key", EnableKeyRotation=True),
            "Mac": resource("AWS::KMS::Key", KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC"),
            "Replica": resource("AWS::KMS::ReplicaKey", PrimaryKeyArn="arn:aws:kms:eu-west-1:1:key/mrk-1"),
            "AgreementAlias": resource(
                "AWS::KMS::Alias", AliasName="alias/a", TargetKeyId={"Fn::GetAtt": ["Agreement", "Arn"]}
            ),
            "ReplicaAlias": resource("AWS::KMS::Alias", AliasName="alias/r", TargetKeyId={"Ref": "Replica"}),
            "LogsAlias": resource("AWS::KMS::Alias", AliasName="alias/l", TargetKeyId={"Ref": "Logs"}),
        }
    }
    pinned = template_identities(template)
    assert sorted(pinned) == ["Agreement", "AgreementAlias", "Replica", "ReplicaAlias"]
    assert pinned["Agreement"] == {
        "Type": "AWS::KMS::Key",
        "KeySpec": "ECC_NIST_P256",
        "KeyUsage": "KEY_AGREEMENT",
        "MultiRegion": False,
        "Origin": "AWS_KMS",
    }
    assert pinned["AgreementAlias"] == {"Type": "AWS::KMS::Alias", "AliasName": "alias/a"}


def test_changed_identities_are_drops_and_alterations_never_additions() -> None:
    """A key made symmetric is altered (its KeySpec), not dropped: its logical id is still there."""
    key = template_identities({"Resources": {"K": resource("AWS::KMS::Key", KeySpec="ECC_NIST_P256")}})["K"]
    moved = {**key, "MultiRegion": True}
    alias = {"Type": "AWS::KMS::Alias", "AliasName": "alias/a"}
    resources = {"K": ("AWS::KMS::Key", moved), "New": ("AWS::KMS::Key", key), "S": ("AWS::KMS::Key", {})}
    symmetric = {**key, "KeySpec": "SYMMETRIC_DEFAULT"}
    assert changed_identities({"K": key, "A": alias, "S": key}, resources) == [
        ("K", key, moved),
        ("A", alias, None),
        ("S", key, {**symmetric, "KeyUsage": "ENCRYPT_DECRYPT"}),
    ]


@pytest.mark.parametrize("text", ["{", '{"keys": {}}', '{"environments": []}'])
def test_an_unreadable_record_is_named(tmp_path: Path, text: str) -> None:
    path = tmp_path / "keys.lock.json"
    path.write_text(text)
    with pytest.raises(KeyLockError, match=f"^{path}: not a key lock record"):
        KeyLock.load(path)


def test_no_record_yet_pins_nothing(tmp_path: Path) -> None:
    assert KeyLock.load(tmp_path / "keys.lock.json").pinned("dev") == {}
