"""Acknowledging cdk-nag findings: one helper, so each acknowledgment names its rule and its reason."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct

# The packs that share rule names such as IAMNoInlinePolicy or CloudWatchLogGroupEncrypted.
COMPLIANCE_PACKS: tuple[str, ...] = ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321")


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge cdk-nag ``rule`` (e.g. ``NIST.800.53.R5-IAMNoInlinePolicy``) on ``construct`` only.

    The id is qualified with its pack (``NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy``), the form the
    validation report names: CDK then lists the finding with this reason under ``suppressedViolations``
    instead of it disappearing as an unqualified (annotation) acknowledgment.
    """
    pack = rule.split("-", 1)[0]
    Validations.of(construct).acknowledge(Acknowledgment(id=f"{pack}::{rule}", reason=reason))
