"""A committed record of an app's keys' identities, a lock file, that synthesis checks.

CloudFormation cannot change a key's identity in place: its logical id in its stack, and what KMS fixes
when it creates the key (``KeySpec``, ``KeyUsage``, ``MultiRegion``, ``Origin``; a replica's
``PrimaryKeyArn``; an alias's ``AliasName``). Changing one makes CloudFormation delete the resource or
replace it with a new one. For a key whose public key peers hold (any asymmetric key, and its replicas) that
loses every key they derived with it; for an alias naming one, whoever names the alias no longer reaches the
key. So those are pinned:

- ``KeyLock.load(path)`` reads the record (``keys.lock.json``; none yet is an empty record);
- ``KeyLock.pin(scope, environment)`` adds a validation to ``scope`` (a stage, say) that refuses, at
  synthesis, a stack under it that would drop or alter a pinned resource, or a pinned stack that is gone; new
  resources pass, until recorded;
- ``KeyLock.record(scope, environment)`` then ``save()`` is the one way the record changes: run it (after
  ``app.synth()``) when a change is meant, and review the record's diff;
- ``template_identities`` reads the same identities from a CloudFormation template, for a check of a deployed
  stack or a change set (this repository's ``tools/deploy_guard.py``).

The record is per environment (a name the app chooses: this repository's stage names), then per stack name (a
logical id is unique within a deployed stack), then per logical id. The check reads the L1 resources as the
constructs left them, ``override_logical_id`` included; a raw ``add_property_override`` of a pinned property
is not seen here, only by a check of the template.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import CfnResource, Stack
from aws_cdk import aws_kms as kms
from constructs import Construct, IValidation

LOCK_FILE_NAME = "keys.lock.json"
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
_RECORD_NOTE = (
    "The identities of the keys each stack may never lose (kmsecdh_cdk.key_lock): synthesis refuses a change "
    "that would drop or alter one. Change this file only with the update command, and review its diff."
)

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


def _l1_properties(resource: CfnResource) -> Mapping[str, Any] | None:
    """The identity properties of a KMS key, replica key or alias as set on its L1 (unset ones left out)."""
    if isinstance(resource, kms.CfnKey):
        values = {
            "KeySpec": resource.key_spec,
            "KeyUsage": resource.key_usage,
            "MultiRegion": resource.multi_region,
            "Origin": resource.origin,
        }
    elif isinstance(resource, kms.CfnReplicaKey):
        values = {"PrimaryKeyArn": resource.primary_key_arn}
    elif isinstance(resource, kms.CfnAlias):
        values = {"AliasName": resource.alias_name, "TargetKeyId": resource.target_key_id}
    else:
        return None
    return {name: value for name, value in values.items() if value is not None}


def stack_resources(stack: Stack) -> dict[str, tuple[str, Mapping[str, Any]]]:
    """The KMS keys, replica keys and aliases of ``stack`` (not of stacks nested in it), with their identity
    properties as its template will have them."""
    resources = {}
    for construct in stack.node.find_all():
        if not isinstance(construct, CfnResource) or Stack.of(construct).node.path != stack.node.path:
            continue
        properties = _l1_properties(construct)
        if properties is not None:
            logical_id = stack.resolve(construct.logical_id)
            resources[logical_id] = (construct.cfn_resource_type, stack.resolve(properties))
    return resources


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


@dataclass(frozen=True)
class KeyLockViolation:
    """A pinned resource that a stack would drop (``current`` None) or whose identity it would alter."""

    environment: str
    stack_name: str
    logical_id: str
    pinned: Identity
    current: Identity | None

    @property
    def changes(self) -> list[str]:
        """``MultiRegion false -> true``, one per identity property that differs (empty when dropped)."""
        return [] if self.current is None else identity_changes(self.pinned, self.current)

    @property
    def is_key(self) -> bool:
        return self.pinned["Type"] != ALIAS

    def __str__(self) -> str:
        what = f"{self.stack_name}: pinned {describe(self.pinned)} {self.logical_id}"
        action = "delete" if self.current is None else "replace"
        if self.is_key:
            consequence = (
                f"CloudFormation would {action} the key (or orphan it, under a Retain policy), and its "
                "public key, which peers hold, with every key they derived with it, would be lost to whoever "
                "used it"
            )
        else:
            consequence = (
                f"CloudFormation would {action} the alias, and whoever names it would no longer reach the key"
            )
        if self.current is None:
            return f"{what} is no longer in the stack: {consequence}"
        return f"{what} would change {', '.join(self.changes)}: {consequence}"


class KeyLockError(ValueError):
    """The record cannot be read; str() names the file."""


class KeyLock:
    """The pinned identities of ``path``: environment -> stack name -> logical id -> identity."""

    def __init__(self, path: Path, record: Mapping[str, Mapping[str, Mapping[str, Identity]]]) -> None:
        self.path = path
        self._record = {environment: dict(stacks) for environment, stacks in record.items()}

    @classmethod
    def load(cls, path: Path) -> KeyLock:
        """The record in ``path``; an empty one if there is no such file yet."""
        if not path.is_file():
            return cls(path, {})
        try:
            document = json.loads(path.read_text())
            record = document["environments"]
            if not isinstance(record, dict):
                raise TypeError("environments is not an object")
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise KeyLockError(f"{path}: not a key lock record ({error})") from None
        return cls(path, record)

    @property
    def environments(self) -> list[str]:
        return sorted(self._record)

    def pinned(self, environment: str) -> dict[str, dict[str, Identity]]:
        """Stack name -> its pinned identities, for ``environment`` (empty when it has none yet)."""
        return {stack: dict(pinned) for stack, pinned in self._record.get(environment, {}).items()}

    def violations(self, scope: Construct, environment: str) -> list[KeyLockViolation]:
        """What the stacks under ``scope`` would drop or alter of ``environment``'s pinned resources."""
        current = {stack.stack_name: stack_resources(stack) for stack in _stacks(scope)}
        return [
            KeyLockViolation(environment, stack_name, logical_id, identity, now)
            for stack_name, pinned in self.pinned(environment).items()
            for logical_id, identity, now in changed_identities(pinned, current.get(stack_name, {}))
        ]

    def pin(
        self,
        scope: Construct,
        environment: str,
        *,
        update_command: str,
        advice: Callable[[KeyLockViolation], str | None] | None = None,
    ) -> None:
        """Refuse, at synthesis, any stack under ``scope`` that would drop or alter a pinned resource of
        ``environment``; each message ends with ``advice`` for its violation, if any, and the way to
        accept it (``update_command``)."""
        scope.node.add_validation(_PinnedKeys(self, scope, environment, update_command, advice))

    def record(self, scope: Construct, environment: str) -> None:
        """Make the stacks under ``scope`` (synthesized: call after ``app.synth()``) ``environment``'s
        record, replacing what it held."""
        stacks = {stack.stack_name: identities(stack_resources(stack)) for stack in _stacks(scope)}
        self._record[environment] = {name: pinned for name, pinned in stacks.items() if pinned}

    def forget(self, environment: str) -> None:
        """Drop ``environment``'s record (an environment the app no longer has)."""
        self._record.pop(environment, None)

    def save(self) -> None:
        record = {
            environment: {name: dict(sorted(pinned.items())) for name, pinned in sorted(stacks.items())}
            for environment, stacks in sorted(self._record.items())
        }
        document = {"about": _RECORD_NOTE, "environments": record}
        self.path.write_text(json.dumps(document, indent=2) + "\n")


def _stacks(scope: Construct) -> Iterator[Stack]:
    """The stacks under ``scope`` (``scope`` itself if it is one), nested stacks left to their parent."""
    for construct in scope.node.find_all():
        if isinstance(construct, Stack) and not construct.nested:
            yield construct


@jsii.implements(IValidation)
class _PinnedKeys:
    def __init__(
        self,
        lock: KeyLock,
        scope: Construct,
        environment: str,
        update_command: str,
        advice: Callable[[KeyLockViolation], str | None] | None,
    ) -> None:
        self._lock = lock
        self._scope = scope
        self._environment = environment
        self._update_command = update_command
        self._advice = advice

    def validate(self) -> list[str]:
        messages = []
        for violation in self._lock.violations(self._scope, self._environment):
            ways = []
            if self._advice is not None and (advice := self._advice(violation)):
                ways.append(advice)
            if violation.current is None:
                ways.append(
                    "a construct renamed or moved keeps its logical id with "
                    f'override_logical_id("{violation.logical_id}")'
                )
            ways.append(
                f"if you mean it, update {self._lock.path.name} ({self._update_command}) and review its diff"
            )
            messages.append(f"{violation}. {'; '.join(ways)}.")
        return messages
