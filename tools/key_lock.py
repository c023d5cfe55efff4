"""`make lock-keys [ENV=<name>]`: compare keys.lock.json with what cdk.json's environments synthesize, and
with ``--update`` write it, the one explicit way the record of the keys' identities changes.

The app is synthesized in this process, the named environments with the escape hatch
(``kmsecdh:allow-key-replacement``) since their record is what changes, the others checked as usual; then
each named environment's record becomes what its stage synthesized. Without ``--environment``, every
environment of cdk.json, and environments cdk.json no longer has leave the record. The output lists what
changes, one resource a line; review it (and the file's diff) before committing.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from devtools import PROJECT_ROOT
from kmsecdh.key_identity import describe, identity_changes
from kmsecdh_cdk.key_lock import KeyLock
from stacks.application import create_app
from stacks.config import CONTEXT_KEY
from stacks.key_lock import ALLOW_REPLACEMENT_CONTEXT_KEY, KEY_LOCK_FILE_CONTEXT_KEY
from stacks.stage import KmsEcdhStage

CDK_JSON = PROJECT_ROOT / "cdk.json"


def changes(before: KeyLock, after: KeyLock, environments: list[str]) -> list[str]:
    """One line per pinned resource that ``after`` adds, alters or drops, for ``environments``."""
    lines = []
    for environment in environments:
        old, new = before.pinned(environment), after.pinned(environment)
        for stack_name in sorted(set(old) | set(new)):
            pinned, recorded = old.get(stack_name, {}), new.get(stack_name, {})
            where = f"{environment} {stack_name}"
            for logical_id in sorted(set(recorded) - set(pinned)):
                lines.append(f"+ {where} {logical_id} {describe(recorded[logical_id])}")
            for logical_id, identity in pinned.items():
                if logical_id not in recorded:
                    lines.append(f"- {where} {logical_id} {describe(identity)}")
                elif recorded[logical_id] != identity:
                    changed = ", ".join(identity_changes(identity, recorded[logical_id]))
                    lines.append(f"~ {where} {logical_id} {describe(identity)}: {changed}")
    return lines


def synthesized_record(context: dict[str, Any], environments: list[str], lock_path: Path) -> KeyLock:
    """The record with ``environments`` rewritten from a synthesis of the app with ``context``."""
    context = {
        **context,
        KEY_LOCK_FILE_CONTEXT_KEY: str(lock_path),
        ALLOW_REPLACEMENT_CONTEXT_KEY: ",".join(environments),
    }
    with tempfile.TemporaryDirectory(prefix="kmsecdh-key-lock-") as outdir:
        app = create_app(outdir=outdir, context=context)
        app.synth()
    lock = KeyLock.load(lock_path)
    stages = {stage.node.id: stage for stage in app.node.children if isinstance(stage, KmsEcdhStage)}
    for environment in environments:
        lock.record(stages[environment], environment)
    return lock


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.key_lock", description=__doc__)
    parser.add_argument(
        "--environment", action="append", help="only this environment (repeatable; default: every one)"
    )
    parser.add_argument("--update", action="store_true", help="write the record (default: only show changes)")
    parser.add_argument("--lock-file", default="keys.lock.json", help="relative to the project [%(default)s]")
    args = parser.parse_args(argv)
    context = json.loads(CDK_JSON.read_text())["context"]
    configured = sorted(context[CONTEXT_KEY])
    environments = args.environment or configured
    unknown = sorted(set(environments) - set(configured))
    if unknown:
        print(
            f"key lock: no environment {unknown[0]!r} in cdk.json ({', '.join(configured)})", file=sys.stderr
        )
        return 2
    lock_path = PROJECT_ROOT / args.lock_file
    before = KeyLock.load(lock_path)
    after = synthesized_record(context, environments, lock_path)
    gone = [] if args.environment else [name for name in before.environments if name not in configured]
    for environment in gone:
        after.forget(environment)
    lines = changes(before, after, [*environments, *gone])
    for line in lines:
        print(line)
    if not lines:
        print(f"key lock: {args.lock_file} already records {', '.join(environments)}")
        return 0
    if not args.update:
        print(
            f"key lock: {len(lines)} change(s); run with --update (make lock-keys) to write {args.lock_file}"
        )
        return 1
    after.save()
    print(f"key lock: wrote {args.lock_file} ({len(lines)} change(s)); review its diff before committing")
    return 0


if __name__ == "__main__":
    sys.exit(main())
