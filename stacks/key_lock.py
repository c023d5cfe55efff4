"""The key identity lock of the app's environments (``kmsecdh_cdk.key_lock``), and its escape hatch.

The record is one file per app, ``keys.lock.json`` next to cdk.json: cdk.json holds every environment of the
app, so one file reviews like it, in one diff, and ``make lock-keys ENV=<name>`` rewrites only that
environment's section. Context values (``-c`` or cdk.json):

- ``kmsecdh:key-lock-file``: the record's path [``keys.lock.json``, relative to the app's directory];
- ``kmsecdh:allow-key-replacement``: environments whose stacks are not checked against the record, comma
  separated: the escape hatch for a replacement meant on purpose. The deploy guard
  (``tools/deploy_guard.py``) still refuses it against the deployed stacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from aws_cdk import App, Stack

from kmsecdh_cdk.key_lock import LOCK_FILE_NAME, KeyLock, KeyLockViolation
from stacks.config import EnvironmentConfigError
from stacks.stage import KmsEcdhStage

KEY_LOCK_FILE_CONTEXT_KEY = "kmsecdh:key-lock-file"
ALLOW_REPLACEMENT_CONTEXT_KEY = "kmsecdh:allow-key-replacement"


def update_command(environment: str) -> str:
    return f"make lock-keys ENV={environment}"


def key_lock_of(app: App) -> KeyLock:
    return KeyLock.load(Path(app.node.try_get_context(KEY_LOCK_FILE_CONTEXT_KEY) or LOCK_FILE_NAME))


def allowed_replacements(context: object, environments: Mapping[str, object]) -> frozenset[str]:
    """The environments named by ``kmsecdh:allow-key-replacement`` (a comma-separated string or a list)."""
    if context is None:
        return frozenset()
    names = context.split(",") if isinstance(context, str) else context
    if not isinstance(names, list | tuple) or not all(isinstance(name, str) for name in names):
        raise EnvironmentConfigError(
            None, None, f"context {ALLOW_REPLACEMENT_CONTEXT_KEY} must name environments, got {context!r}"
        )
    unknown = sorted(set(names) - set(environments))
    if unknown:
        raise EnvironmentConfigError(
            None, None, f"context {ALLOW_REPLACEMENT_CONTEXT_KEY} names no environment {unknown[0]!r}"
        )
    return frozenset(names)


def pin_environments(app: App, stages: Mapping[str, KmsEcdhStage]) -> KeyLock:
    """Check each stage against its environment's record at synthesis, but those the escape hatch names."""
    lock = key_lock_of(app)
    allowed = allowed_replacements(app.node.try_get_context(ALLOW_REPLACEMENT_CONTEXT_KEY), stages)
    for name, stage in stages.items():
        if name not in allowed:
            lock.pin(stage, name, update_command=update_command(name), advice=_GenerationAdvice(stage))
    return lock


class _GenerationAdvice:
    """The configuration's way for a violation of a key-agreement key: its generations."""

    def __init__(self, stage: KmsEcdhStage) -> None:
        self._stage = stage

    def __call__(self, violation: KeyLockViolation) -> str | None:
        if not violation.is_key or violation.pinned.get("KeyUsage", "KEY_AGREEMENT") != "KEY_AGREEMENT":
            return None
        if violation.current is None:
            return (
                "a key spec in use stays in key_specs and retires through key_generations (after "
                "retire_after the key is disabled, never deleted), and a generation stays listed once retired"
            )
        generation = self._generations().get((violation.stack_name, violation.logical_id))
        if generation is None:
            return None
        return (
            f"environments.{self._stage.config.name}.{generation}: a generation keeps its key's MultiRegion "
            "for good; add a new generation with the setting you want (multi_region) and retire this one "
            "with retire_after: peers move over by the directory and kids while both derive"
        )

    def _generations(self) -> dict[tuple[str, str], str]:
        """(stack name, key logical id) -> where the configuration defines that key's generation."""
        config = self._stage.config
        located = {}
        for stack in (self._stage.key_agreement, *self._stage.replicas):
            for generation_key in stack.generation_keys:
                key_spec, generation = generation_key.key_spec, generation_key.generation
                if generation.name is None:
                    where = f"key_specs {key_spec} (its one key, no key_generations entry)"
                else:
                    index = config.generations(key_spec).index(generation)
                    where = f"key_generations.{key_spec}[{index}] ({generation.name!r})"
                resource = generation_key.key.key_resource
                located[(stack.stack_name, Stack.of(resource).resolve(resource.logical_id))] = where
        return located
