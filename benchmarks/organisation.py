"""Environments at organisation scale, generated from the examples in cdk.json (no feature hard-coded).

The examples come first, verbatim and under their own names (so any other section of cdk.json that names
them still resolves); the rest cycle through the examples in cdk.json's order, each a copy of its example
with a new name, a new account (four environments per account) and a new home Region where the example
pins one, and the account in every ARN and the replica Regions moved with it. Whatever fields the examples
use (today's and any added later: replica Regions, organisation readers, ...) are therefore used by every
generated environment of that example. An environment-agnostic example stays agnostic: that is a feature too.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ENVIRONMENTS_KEY = "environments"
# Commercial Regions that offer every service the stacks use; home and replica Regions are drawn in turn.
REGIONS = (
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "eu-north-1",
    "eu-west-2",
    "ap-southeast-2",
    "ap-northeast-1",
    "ca-central-1",
)
ENVIRONMENTS_PER_ACCOUNT = 4
FIRST_ACCOUNT = 200_000_000_000
# The account field of an IAM, STS or other ARN: arn:<partition>:<service>:<region>:<account>:...
_ARN_ACCOUNT = re.compile(r"(arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:)(\d{12})(:)")


def example_environments(settings: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The ``environments`` context of a parsed cdk.json, in its order."""
    return dict(settings["context"][ENVIRONMENTS_KEY])


def generate(examples: Mapping[str, Mapping[str, Any]], count: int) -> dict[str, dict[str, Any]]:
    """``count`` environments: the examples, then copies of them in turn with account and Region varied."""
    if count < len(examples):
        raise ValueError(f"{count} environments cannot hold the {len(examples)} examples")
    environments = {name: copy.deepcopy(dict(entry)) for name, entry in examples.items()}
    names = list(examples)
    for index in range(len(examples), count):
        example = names[index % len(names)]
        name = f"{example[:14]}-{index:03d}"
        environments[name] = _variant(examples[example], index)
    return environments


def _variant(example: Mapping[str, Any], index: int) -> dict[str, Any]:
    account = f"{FIRST_ACCOUNT + index // ENVIRONMENTS_PER_ACCOUNT:012d}"
    entry = _with_account(copy.deepcopy(dict(example)), account)
    if "account" in entry:
        entry["account"] = account
    if "region" in entry:
        home = index % len(REGIONS)
        entry["region"] = REGIONS[home]
        if "replica_regions" in entry:
            replicas = len(entry["replica_regions"])
            entry["replica_regions"] = [
                REGIONS[(home + offset) % len(REGIONS)] for offset in range(1, replicas + 1)
            ]
    return entry


def _with_account(value: Any, account: str) -> Any:
    """``value`` with the account of every ARN in it replaced by ``account``."""
    if isinstance(value, str):
        return _ARN_ACCOUNT.sub(lambda match: f"{match.group(1)}{account}{match.group(3)}", value)
    if isinstance(value, list):
        return [_with_account(item, account) for item in value]
    if isinstance(value, dict):
        return {key: _with_account(item, account) for key, item in value.items()}
    return value


def write_app_settings(
    directory: Path, environments: Mapping[str, Any], app_command: str, project_settings: Path
) -> Path:
    """A cdk.json in ``directory``: the project's settings (feature flags, other context, the same CLI
    behaviour) with ``environments`` replaced and the app started by ``app_command``."""
    settings = json.loads(project_settings.read_text())
    settings["app"] = app_command
    settings["context"][ENVIRONMENTS_KEY] = dict(environments)
    path = directory / "cdk.json"
    path.write_text(json.dumps(settings, indent=2))
    return path
