"""Acknowledging scanner findings: a cdk-nag rule or a checkov check, each named with its reason."""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnResource, Validations
from constructs import IConstruct

# The packs that share rule names such as IAMNoInlinePolicy or CloudWatchLogGroupEncrypted.
COMPLIANCE_PACKS: tuple[str, ...] = ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321")
# Where checkov reads skips in a resource's template metadata.
CHECKOV_METADATA_KEY = "checkov"


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge cdk-nag ``rule`` (e.g. ``NIST.800.53.R5-IAMNoInlinePolicy``) on ``construct`` only.

    The id is qualified with its pack (``NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy``), the form the
    validation report names: CDK then lists the finding with this reason under ``suppressedViolations``
    instead of it disappearing as an unqualified (annotation) acknowledgment.
    """
    pack = rule.split("-", 1)[0]
    Validations.of(construct).acknowledge(Acknowledgment(id=f"{pack}::{rule}", reason=reason))


def skip_checkov(construct: IConstruct, check_id: str, reason: str) -> None:
    """Skip checkov check ``check_id`` (e.g. ``CKV_AWS_116``) on one resource, with the reason beside it.

    ``construct`` is the CloudFormation resource itself or an L2 construct whose default child it is: the
    skip is written to that resource's template metadata (``Metadata.checkov.skip``), where checkov reads
    it, so it covers exactly one resource and the reason travels with the template.
    """
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{construct.node.path}: a checkov skip belongs on a CloudFormation resource")
    metadata = resource.get_metadata(CHECKOV_METADATA_KEY) or {}
    skips = [*metadata.get("skip", []), {"id": check_id, "comment": reason}]
    resource.add_metadata(CHECKOV_METADATA_KEY, {**metadata, "skip": skips})
