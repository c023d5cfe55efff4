"""The identities of the KMS keys and aliases that CloudFormation cannot change in place, read from a
CloudFormation template: what ``kmsecdh_cdk.key_lock`` pins at synthesis and the deploy guard
(``tools/deploy_guard.py``) checks against deployed stacks and change sets.

A key's identity is its logical id in its stack and what KMS fixes when it creates the key (``KeySpec``,
``KeyUsage``, ``MultiRegion``, ``Origin``; a replica's ``PrimaryKeyArn``; an alias's ``AliasName``): changing
one makes CloudFormation delete the resource or replace it with a new one. Pinned are the keys whose public
key peers hold (any asymmetric key, and its replicas) and the aliases naming one.

Standard library only, and no CDK code: the pipeline's deploy guard step runs it as a deploy role, from a
virtualenv holding nothing but hash-pinned wheels (docs/operations.md, "The deploy guard").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

KEY = "AWS::KMS::Key"
REPLICA_KEY = "AWS::KMS::ReplicaKey"
ALIAS = "AWS::KMS::Alias"
# Per pinned resource type: the properties that identify it, each with the value CloudFormation assumes when
# the template leaves it out.
IDENTITY_PROPERTIES: dict[str, dict[str, Any]] = {
    KEY: {
        "KeySpec": "SYMMETRIC_DEFAULT",
        "KeyUsage": "ENCRYPT_DECRYPT",
        "MultiRegion": False,
        "Origin": "AWS_KMS",
    },
    REPLICA_KEY: {"PrimaryKeyArn": None},
    ALIAS: {"AliasName": None},
}

Identity = dict[str, Any]
"""``{"Type": ..., <identity property>: <template value>, ...}``"""
Resources = Mapping[str, tuple[str, Mapping[str, Any]]]
"""Logical id -> (resource type, template properties)."""


def _is_pinned_key(resource_type: str, properties: Mapping[str, Any]) -> bool:
    """An asymmetric key (its public key is out there) or a replica of one."""
    if resource_type == REPLICA_KEY:
        return True
    spec = properties.get("KeySpec", IDENTITY_PROPERTIES[KEY]["KeySpec"])
    return resource_type == KEY and spec != "SYMMETRIC_DEFAULT" and not str(spec).startswith("HMAC_")


def _target_logical_id(target: Any) -> str | None:
    """The logical id an alias's ``TargetKeyId`` refers to (``Ref`` or ``Fn::GetAtt``), if any."""
    if isinstance(target, Mapping) and "Ref" in target:
        return target["Ref"]
    if isinstance(target, Mapping) and "Fn::GetAtt" in target:
        return target["Fn::GetAtt"][0]
    return None


def identity(resource_type: str, properties: Mapping[str, Any]) -> Identity:
    """A resource's identity: its type and, for a KMS key, replica key or alias, the identity properties."""
    defaults = IDENTITY_PROPERTIES.get(resource_type, {})
    return {"Type": resource_type, **{name: properties.get(name, value) for name, value in defaults.items()}}


def identities(resources: Resources) -> dict[str, Identity]:
    """The pinned resources among ``resources`` and their identities: asymmetric keys, replica keys, and the
    aliases whose target is one of those."""
    pinned = {
        logical_id: identity(resource_type, properties)
        for logical_id, (resource_type, properties) in resources.items()
        if _is_pinned_key(resource_type, properties)
    }
    for logical_id, (resource_type, properties) in resources.items():
        if resource_type == ALIAS and _target_logical_id(properties.get("TargetKeyId")) in pinned:
            pinned[logical_id] = identity(resource_type, properties)
    return dict(sorted(pinned.items()))


def template_resources(template: Mapping[str, Any]) -> dict[str, tuple[str, Mapping[str, Any]]]:
    """A CloudFormation template's resources, as ``Resources``."""
    return {
        logical_id: (resource.get("Type", ""), resource.get("Properties", {}))
        for logical_id, resource in template.get("Resources", {}).items()
    }


def template_identities(template: Mapping[str, Any]) -> dict[str, Identity]:
    """The pinned resources of a CloudFormation template, as ``identities`` gives them."""
    return identities(template_resources(template))


def changed_identities(
    pinned: Mapping[str, Identity], resources: Resources
) -> list[tuple[str, Identity, Identity | None]]:
    """(logical id, pinned identity, its identity in ``resources``, None when gone) of each pinned resource
    that ``resources`` drops or alters; resources not pinned are new, not changes."""
    changed = []
    for logical_id, pinned_identity in pinned.items():
        resource = resources.get(logical_id)
        current = None if resource is None else identity(*resource)
        if current != pinned_identity:
            changed.append((logical_id, pinned_identity, current))
    return changed


def identity_changes(pinned: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """``MultiRegion false -> true``: one per identity property ``current`` has otherwise than ``pinned``."""
    return [
        f"{name} {_show(value)} -> {_show(current.get(name))}"
        for name, value in pinned.items()
        if current.get(name) != value
    ]


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def describe(identity: Mapping[str, Any]) -> str:
    """``AWS::KMS::Key ECC_NIST_P256 KEY_AGREEMENT``, ``AWS::KMS::Alias alias/x``: what readers know."""
    if identity["Type"] == KEY:
        detail = f"{identity['KeySpec']} {identity['KeyUsage']}" + (
            " multi-Region" if identity["MultiRegion"] else ""
        )
    elif identity["Type"] == ALIAS:
        detail = str(identity["AliasName"])
    elif identity["Type"] == REPLICA_KEY:
        detail = "replica"
    else:
        return identity["Type"]
    return f"{identity['Type']} {detail}"
