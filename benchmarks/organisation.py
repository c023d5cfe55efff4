"""Environments at organisation scale, generated from the examples in cdk.json (no feature hard-coded).

The examples come first, verbatim and under their own names (so any other section of cdk.json that names
them still resolves); the rest cycle through the examples in cdk.json's order, each a copy of its example
with a new name, a new account (four environments per account) and a new home Region where the example
pins one, and the account in every ARN and the replica Regions moved with it. Whatever fields the examples
use (today's and any added later: replica Regions, organisation readers, ...) are therefore used by every
generated environment of that example. An environment-agnostic example stays agnostic: that is a feature too.

The app's sections that name environments keep naming the examples only: one ``pipeline`` stack cannot
deploy a hundred environments (each stage it deploys adds about eight resources, roles, policies and CodeBuild
projects, and CloudFormation takes at most 500 in a stack: 551 with the copies of the waves' examples), nor
can one ``guardrails`` section guard them (their service control policies would take 78 documents of at most
5,120 characters, and a target takes 4 beside AWS's full-access policy). An organisation that size runs
several pipelines and guardrails sections; the generated context keeps cdk.json's (``guardrails_for`` spells
out whom it guards, as its default is every environment).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ENVIRONMENTS_KEY = "environments"
GUARDRAILS_KEY = "guardrails"
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
    return generate_with_origins(examples, count)[0]


def generate_with_origins(
    examples: Mapping[str, Mapping[str, Any]], count: int
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """``generate``'s environments, and the example each one is (a copy of), by name."""
    if count < len(examples):
        raise ValueError(f"{count} environments cannot hold the {len(examples)} examples")
    environments = {name: copy.deepcopy(dict(entry)) for name, entry in examples.items()}
    origins = {name: name for name in examples}
    names = list(examples)
    for index in range(len(examples), count):
        example = names[index % len(names)]
        # No hyphen before the number: the guardrails name an environment's resources kmsecdh-<name>-*,
        # which must not match another environment's (kmsecdh-dev-* would match dev-003's).
        name = f"{example[:14]}{index:03d}"
        environments[name] = _variant(examples[example], index)
        origins[name] = example
    return environments, origins


def guardrails_for(guardrails: Mapping[str, Any], examples: Mapping[str, Any]) -> dict[str, Any]:
    """The ``guardrails`` section guarding what it guards among the examples: the environments it names, or
    (none named: every environment) all of the examples."""
    return {**copy.deepcopy(dict(guardrails)), "environments": list(guardrails.get("environments", examples))}


def context_for(settings: Mapping[str, Any], count: int) -> dict[str, Any]:
    """The context entries for ``count`` environments generated from ``settings``' examples; the pipeline
    section (left as it is) deploys the examples it names, the guardrails section, if any, guards the
    examples."""
    examples = example_environments(settings)
    context: dict[str, Any] = {ENVIRONMENTS_KEY: generate(examples, count)}
    guardrails = settings["context"].get(GUARDRAILS_KEY)
    if guardrails is not None:
        context[GUARDRAILS_KEY] = guardrails_for(guardrails, examples)
    return context


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
    directory: Path, context: Mapping[str, Any], app_command: str, project_settings: Path
) -> Path:
    """A cdk.json in ``directory``: the project's settings (feature flags, other context, the same CLI
    behaviour) with the entries of ``context`` replaced (None removes one) and the app started by
    ``app_command``."""
    settings = json.loads(project_settings.read_text())
    settings["app"] = app_command
    for key, value in context.items():
        if value is None:
            settings["context"].pop(key, None)
        else:
            settings["context"][key] = value
    path = directory / "cdk.json"
    path.write_text(json.dumps(settings, indent=2))
    return path
