"""The CDK app: one stage per environment of the `environments` context, checked by the cdk-nag packs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import App, Validations
from cdk_nag import (
    AwsSolutionsChecks,
    HIPAASecurityChecks,
    NIST80053R5Checks,
    PCIDSS321Checks,
    ServerlessChecks,
)

from stacks.config import CONTEXT_KEY, parse_environments
from stacks.stage import KmsEcdhStage

NAG_PACKS = (AwsSolutionsChecks, NIST80053R5Checks, HIPAASecurityChecks, PCIDSS321Checks, ServerlessChecks)


def create_app(*, outdir: str | None = None, context: Mapping[str, Any] | None = None) -> App:
    """Build the app; under the CDK CLI the context (cdk.json included) comes from the CLI."""
    app = App(outdir=outdir, context=dict(context) if context is not None else None)
    for pack in NAG_PACKS:
        Validations.of(app).add_plugins(pack(app))
    for config in parse_environments(app.node.try_get_context(CONTEXT_KEY)).values():
        KmsEcdhStage(app, config)
    return app
