"""The CDK app: one stage per environment of the `environments` context and, with a `pipeline` context, the
pipeline that deploys them, with a `guardrails` context the organisation policies guarding them; checked by
cdk-nag's packs, the construct library's ``KmsEcdhChecks`` and the key identity lock."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import App, Environment, Validations
from cdk_nag import (
    AwsSolutionsChecks,
    HIPAASecurityChecks,
    NIST80053R5Checks,
    PCIDSS321Checks,
    ServerlessChecks,
)

from kmsecdh_cdk.nag_pack import KmsEcdhChecks
from stacks.config import CONTEXT_KEY, TODAY_CONTEXT_KEY, parse_environments, parse_today
from stacks.guardrails_config import GUARDRAILS_CONTEXT_KEY, parse_guardrails
from stacks.guardrails_stack import GuardrailsStack
from stacks.key_lock import pin_environments
from stacks.pipeline_config import PIPELINE_CONTEXT_KEY, parse_pipeline
from stacks.pipeline_stack import PipelineStack
from stacks.stage import KmsEcdhStage

# cdk-nag's packs, and the construct library's own for key-agreement keys and what can derive with them.
NAG_PACKS = (
    AwsSolutionsChecks,
    NIST80053R5Checks,
    HIPAASecurityChecks,
    PCIDSS321Checks,
    ServerlessChecks,
    KmsEcdhChecks,
)


def create_app(*, outdir: str | None = None, context: Mapping[str, Any] | None = None) -> App:
    """Build the app; under the CDK CLI the context (cdk.json included) comes from the CLI."""
    app = App(outdir=outdir, context=dict(context) if context is not None else None)
    for pack in NAG_PACKS:
        Validations.of(app).add_plugins(pack(app))
    today = parse_today(app.node.try_get_context(TODAY_CONTEXT_KEY))
    environments = parse_environments(app.node.try_get_context(CONTEXT_KEY), today)
    pipeline_context = app.node.try_get_context(PIPELINE_CONTEXT_KEY)
    pipeline = parse_pipeline(pipeline_context, environments) if pipeline_context is not None else None
    guardrails_context = app.node.try_get_context(GUARDRAILS_CONTEXT_KEY)
    guardrails = (
        parse_guardrails(guardrails_context, environments) if guardrails_context is not None else None
    )
    stages = {name: KmsEcdhStage(app, config) for name, config in environments.items()}
    # Synthesis refuses what would drop or alter a key of keys.lock.json (stacks/key_lock.py).
    pin_environments(app, stages)
    if pipeline is not None:
        PipelineStack(
            app,
            "Pipeline",
            config=pipeline,
            stages={name: stages[name] for name in pipeline.environments},
            environments=environments,
            env=Environment(account=pipeline.account, region=pipeline.region),
            stack_name="kmsecdh-pipeline",
            description="kmsecdh: the pipeline deploying the environments of cdk.json in waves",
            termination_protection=True,
            tags={"project": "kmsecdh", "environment": "pipeline"},
        )
    if guardrails is not None:
        GuardrailsStack(
            app,
            "Guardrails",
            config=guardrails,
            stages=stages,
            env=Environment(account=guardrails.account, region=guardrails.region),
            stack_name="kmsecdh-guardrails",
            description="kmsecdh: organisation policies guarding the environments' resources "
            "(docs/guardrails.md)",
            termination_protection=True,
            tags={"project": "kmsecdh", "environment": "guardrails"},
        )
    return app
