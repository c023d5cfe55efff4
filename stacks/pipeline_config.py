"""The optional `pipeline` context of cdk.json, parsed and validated before any construct is built.

Every problem is one ``PipelineConfigError`` naming the field, e.g.
``pipeline.waves: environment 'qa' is not in environments``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from stacks.config import EnvironmentConfig
from stacks.config_readers import ACCOUNT_PATTERN, REGION_PATTERN, SectionError, required_text, section

PIPELINE_CONTEXT_KEY = "pipeline"

# An AWS CodeConnections (formerly CodeStar Connections) connection: how CodePipeline reads the repository.
CONNECTION_ARN_PATTERN = re.compile(
    r"arn:aws(-[a-z]+)*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection/[0-9a-f-]{36}"
)
REPOSITORY_PATTERN = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
BRANCH_PATTERN = re.compile(r"[\w./-]{1,255}")
FIELDS = ("account", "region", "connection_arn", "repository", "branch", "waves", "manual_approval")


class PipelineConfigError(SectionError):
    """A bad `pipeline` entry in cdk.json; str() names the field."""

    SECTION = PIPELINE_CONTEXT_KEY


@dataclass(frozen=True)
class PipelineConfig:
    """Where the pipeline runs, what it builds, and the environments it deploys, wave after wave.

    :param waves: environment names per wave, in deployment order; the environments of one wave deploy in
        parallel, a wave starts when the previous one has succeeded.
    :param manual_approval: environments deployed only after someone approves in CodePipeline.
    """

    account: str
    region: str
    connection_arn: str
    repository: str
    branch: str
    waves: tuple[tuple[str, ...], ...]
    manual_approval: tuple[str, ...] = ()

    @property
    def environments(self) -> tuple[str, ...]:
        """Every environment the pipeline deploys, in order."""
        return tuple(name for wave in self.waves for name in wave)


def _check_approvals_guard_their_keys(
    waves: list[list[str]], approvals: list[str], environments: Mapping[str, EnvironmentConfig]
) -> None:
    """Refuse an approval that another environment's deployment walks around.

    Where two environments share account, Region and bootstrap qualifier, they deploy through the same
    CloudFormation execution role, which administers (and may replicate) the keys of both. An environment
    deployed before the approval (in an earlier wave) or beside it (in the same wave, not waiting for it)
    could then change the approved environment's keys unapproved.
    """
    for index, wave in enumerate(waves):
        unapproved_before = [(other, "in an earlier wave") for earlier in waves[:index] for other in earlier]
        for name in (name for name in wave if name in approvals):
            beside = [(other, "in the same wave, not waiting for it") for other in wave if other != name]
            for other, when in unapproved_before + beside:
                shared = set(environments[name].deploy_targets) & set(environments[other].deploy_targets)
                if not shared:
                    continue
                account, region, qualifier = min(shared)
                raise PipelineConfigError(
                    "manual_approval",
                    f"environment {name!r} waits for a manual approval, but {other!r}, deployed {when}, "
                    f"shares its account {account}, Region {region} and bootstrap qualifier "
                    f"{qualifier or 'default'}: {other!r} deploys through the same CloudFormation execution "
                    f"role, which administers the keys of {name!r}, so the approval would not guard them; "
                    f"give {name!r} an account of its own (or at least a bootstrap_qualifier of its own)",
                )


def parse_pipeline(context: object, environments: Mapping[str, EnvironmentConfig]) -> PipelineConfig:
    """Parse the `pipeline` context value against the already parsed `environments`."""
    context = section(context, FIELDS, PipelineConfigError)

    def text(field: str, pattern: re.Pattern[str], what: str) -> str:
        return required_text(context, field, pattern, what, PipelineConfigError)

    account = text("account", ACCOUNT_PATTERN, "the pipeline's 12-digit AWS account id")
    region = text("region", REGION_PATTERN, "the pipeline's AWS Region")
    connection_arn = text(
        "connection_arn",
        CONNECTION_ARN_PATTERN,
        "an AWS CodeConnections connection ARN (arn:aws:codeconnections:<region>:<account>:connection/<id>)",
    )
    repository = text("repository", REPOSITORY_PATTERN, "the repository as owner/name")
    branch = text("branch", BRANCH_PATTERN, "the branch to build")

    waves = context.get("waves")
    if not isinstance(waves, list) or not waves or not all(isinstance(wave, list) and wave for wave in waves):
        raise PipelineConfigError(
            "waves", f"must be a non-empty list of non-empty lists of environments, got {waves!r}"
        )
    seen: list[str] = []
    for wave in waves:
        for name in wave:
            if name not in environments:
                raise PipelineConfigError("waves", f"environment {name!r} is not in environments")
            if name in seen:
                raise PipelineConfigError("waves", f"environment {name!r} is deployed twice")
            config = environments[name]
            if config.account is None or config.region is None:
                raise PipelineConfigError(
                    "waves",
                    f"environment {name!r} has no account and region: the pipeline deploys each environment "
                    "to its own account and Region (an environment-agnostic one would land in the pipeline's "
                    "account)",
                )
            seen.append(name)

    approvals = context.get("manual_approval", [])
    if not isinstance(approvals, list) or not all(isinstance(name, str) for name in approvals):
        raise PipelineConfigError(
            "manual_approval", f"must be a list of environment names, got {approvals!r}"
        )
    for name in approvals:
        if name not in seen:
            raise PipelineConfigError("manual_approval", f"environment {name!r} is not in any wave")
    if len(set(approvals)) != len(approvals):
        raise PipelineConfigError("manual_approval", "lists an environment twice")
    _check_approvals_guard_their_keys(waves, approvals, environments)

    return PipelineConfig(
        account=account,
        region=region,
        connection_arn=connection_arn,
        repository=repository,
        branch=branch,
        waves=tuple(tuple(wave) for wave in waves),
        manual_approval=tuple(approvals),
    )
