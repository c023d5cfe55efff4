"""A committed record of an app's keys' identities, a lock file, that synthesis checks.

CloudFormation cannot change a key's identity in place: its logical id in its stack, and what KMS fixes
when it creates the key (``KeySpec``, ``KeyUsage``, ``MultiRegion``, ``Origin``; a replica's
``PrimaryKeyArn``; an alias's ``AliasName``). Changing one makes CloudFormation delete the resource or
replace it with a new one. For a key whose public key peers hold (any asymmetric key, and its replicas) that
loses every key they derived with it; for an alias naming one, whoever names the alias no longer reaches the
key. So those are pinned. Which resources are pinned, and their identities, are ``kmsecdh.key_identity``'s
(CDK-free: it reads them from a CloudFormation template too, for this repository's ``tools/deploy_guard.py``);
this module records them and checks the stacks against the record:

- ``KeyLock.load(path)`` reads the record (``keys.lock.json``; none yet is an empty record);
- ``KeyLock.pin(scope, environment)`` adds a validation to ``scope`` (a stage, say) that refuses, at
  synthesis, a stack under it that would drop or alter a pinned resource, or a pinned stack that is gone; new
  resources pass, until recorded;
- ``KeyLock.record(scope, environment)`` then ``save()`` is the one way the record changes: run it (after
  ``app.synth()``) when a change is meant, and review the record's diff.

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

from kmsecdh.key_identity import ALIAS, Identity, changed_identities, describe, identities, identity_changes

LOCK_FILE_NAME = "keys.lock.json"
_RECORD_NOTE = (
    "The identities of the keys each stack may never lose (kmsecdh_cdk.key_lock): synthesis refuses a change "
    "that would drop or alter one. Change this file only with the update command, and review its diff."
)


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
