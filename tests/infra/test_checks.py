"""The synthesized app passes every check: cdk-nag packs (report read, not exit codes), cfn-lint and
checkov, and the lists of cdk-nag acknowledgments and checkov skips are exactly the reviewed ones below, so
a new one is a visible diff."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.infra.conftest import PROJECT_ROOT, SynthesizedApp, SynthesizedStack
from tools.checkov import CheckovError, failed_checks, failures_in_report
from tools.synth import unacknowledged_findings

CFN_LINT = Path(sys.executable).parent / "cfn-lint"
ENVIRONMENTS = ("dev", "prod", "staging")

# Every acknowledgment in the cloud assembly: (construct path below the stage, rule) -> environments.
# The rule is the id without its "<pack>::" qualifier; the reasons live next to the constructs.
EXPECTED_ACKNOWLEDGMENTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("Audit/KeyUsageAudit/AccessLogBucket", "HIPAA.Security-S3BucketReplicationEnabled"): ("dev", "prod"),
    ("Audit/KeyUsageAudit/AccessLogBucket", "HIPAA.Security-S3DefaultEncryptionKMS"): ("dev", "prod"),
    ("Audit/KeyUsageAudit/AccessLogBucket", "NIST.800.53.R5-S3BucketReplicationEnabled"): ("dev", "prod"),
    ("Audit/KeyUsageAudit/AccessLogBucket", "NIST.800.53.R5-S3DefaultEncryptionKMS"): ("dev", "prod"),
    ("Audit/KeyUsageAudit/AccessLogBucket", "PCI.DSS.321-S3BucketReplicationEnabled"): ("dev", "prod"),
    ("Audit/KeyUsageAudit/AccessLogBucket", "PCI.DSS.321-S3DefaultEncryptionKMS"): ("dev", "prod"),
    ("Audit/KeyUsageAudit/AlarmTopic/security-alerts@example.com", "Serverless-SNSRedrivePolicy"): (
        "prod",
        "staging",
    ),
    # the audit heartbeat's role (EventBridge Scheduler puts one SSM parameter), in every trail mode
    ("Audit/KeyUsageAudit/HeartbeatRole/DefaultPolicy", "HIPAA.Security-IAMNoInlinePolicy"): ENVIRONMENTS,
    ("Audit/KeyUsageAudit/HeartbeatRole/DefaultPolicy", "NIST.800.53.R5-IAMNoInlinePolicy"): ENVIRONMENTS,
    ("Audit/KeyUsageAudit/HeartbeatRole/DefaultPolicy", "PCI.DSS.321-IAMNoInlinePolicy"): ENVIRONMENTS,
    ("Audit/KeyUsageAudit/Trail/LogsRole/DefaultPolicy", "HIPAA.Security-IAMNoInlinePolicy"): ("dev", "prod"),
    ("Audit/KeyUsageAudit/Trail/LogsRole/DefaultPolicy", "NIST.800.53.R5-IAMNoInlinePolicy"): ("dev", "prod"),
    ("Audit/KeyUsageAudit/Trail/LogsRole/DefaultPolicy", "PCI.DSS.321-IAMNoInlinePolicy"): ("dev", "prod"),
    ("Audit/KeyUsageAudit/TrailBucket", "HIPAA.Security-S3BucketReplicationEnabled"): ("dev", "prod"),
    ("Audit/KeyUsageAudit/TrailBucket", "HIPAA.Security-S3DefaultEncryptionKMS"): ("dev", "prod"),
    ("Audit/KeyUsageAudit/TrailBucket", "NIST.800.53.R5-S3BucketReplicationEnabled"): ("dev", "prod"),
    ("Audit/KeyUsageAudit/TrailBucket", "NIST.800.53.R5-S3DefaultEncryptionKMS"): ("dev", "prod"),
    ("Audit/KeyUsageAudit/TrailBucket", "PCI.DSS.321-S3BucketReplicationEnabled"): ("dev", "prod"),
    ("Audit/KeyUsageAudit/TrailBucket", "PCI.DSS.321-S3DefaultEncryptionKMS"): ("dev", "prod"),
    ("KeyAgreement/Derive/Function", "HIPAA.Security-LambdaDLQ"): ("dev", "prod", "staging"),
    ("KeyAgreement/Derive/Function", "HIPAA.Security-LambdaInsideVPC"): ("dev", "staging"),
    ("KeyAgreement/Derive/Function", "NIST.800.53.R5-LambdaDLQ"): ("dev", "prod", "staging"),
    ("KeyAgreement/Derive/Function", "NIST.800.53.R5-LambdaInsideVPC"): ("dev", "staging"),
    ("KeyAgreement/Derive/Function", "PCI.DSS.321-LambdaInsideVPC"): ("dev", "staging"),
    ("KeyAgreement/Derive/Function", "Serverless-LambdaDLQ"): ("dev", "prod", "staging"),
    ("KeyAgreement/Derive/Role/DefaultPolicy", "AwsSolutions-IAM5[Resource::*]"): ("dev", "prod", "staging"),
    ("KeyAgreement/Derive/Role/DefaultPolicy", "HIPAA.Security-IAMNoInlinePolicy"): (
        "dev",
        "prod",
        "staging",
    ),
    ("KeyAgreement/Derive/Role/DefaultPolicy", "NIST.800.53.R5-IAMNoInlinePolicy"): (
        "dev",
        "prod",
        "staging",
    ),
    ("KeyAgreement/Derive/Role/DefaultPolicy", "PCI.DSS.321-IAMNoInlinePolicy"): ("dev", "prod", "staging"),
    ("KeyAgreement/Network/Vpc/FlowLog", "F3002"): ("prod",),
    ("KeyAgreement/Network/Vpc/FlowLog", "F3003"): ("prod",),
    ("KeyAgreement/Network/Vpc/FlowLog/IAMRole/DefaultPolicy", "HIPAA.Security-IAMNoInlinePolicy"): ("prod",),
    ("KeyAgreement/Network/Vpc/FlowLog/IAMRole/DefaultPolicy", "NIST.800.53.R5-IAMNoInlinePolicy"): ("prod",),
    ("KeyAgreement/Network/Vpc/FlowLog/IAMRole/DefaultPolicy", "PCI.DSS.321-IAMNoInlinePolicy"): ("prod",),
    # prod's replica Region (eu-west-1): the same acknowledgments as its home Region
    ("KeyAgreement-eu-west-1/Derive/Function", "HIPAA.Security-LambdaDLQ"): ("prod",),
    ("KeyAgreement-eu-west-1/Derive/Function", "NIST.800.53.R5-LambdaDLQ"): ("prod",),
    ("KeyAgreement-eu-west-1/Derive/Function", "Serverless-LambdaDLQ"): ("prod",),
    ("KeyAgreement-eu-west-1/Derive/Role/DefaultPolicy", "AwsSolutions-IAM5[Resource::*]"): ("prod",),
    ("KeyAgreement-eu-west-1/Derive/Role/DefaultPolicy", "HIPAA.Security-IAMNoInlinePolicy"): ("prod",),
    ("KeyAgreement-eu-west-1/Derive/Role/DefaultPolicy", "NIST.800.53.R5-IAMNoInlinePolicy"): ("prod",),
    ("KeyAgreement-eu-west-1/Derive/Role/DefaultPolicy", "PCI.DSS.321-IAMNoInlinePolicy"): ("prod",),
    ("KeyAgreement-eu-west-1/Network/Vpc/FlowLog", "F3002"): ("prod",),
    ("KeyAgreement-eu-west-1/Network/Vpc/FlowLog", "F3003"): ("prod",),
    (
        "KeyAgreement-eu-west-1/Network/Vpc/FlowLog/IAMRole/DefaultPolicy",
        "HIPAA.Security-IAMNoInlinePolicy",
    ): ("prod",),
    (
        "KeyAgreement-eu-west-1/Network/Vpc/FlowLog/IAMRole/DefaultPolicy",
        "NIST.800.53.R5-IAMNoInlinePolicy",
    ): ("prod",),
    ("KeyAgreement-eu-west-1/Network/Vpc/FlowLog/IAMRole/DefaultPolicy", "PCI.DSS.321-IAMNoInlinePolicy"): (
        "prod",
    ),
    # the public-key directory's bucket (environments with directory_publisher_arns)
    ("Directory/Directory/Bucket", "AwsSolutions-S1"): ("dev", "prod"),
    ("Directory/Directory/Bucket", "HIPAA.Security-S3BucketLoggingEnabled"): ("dev", "prod"),
    ("Directory/Directory/Bucket", "HIPAA.Security-S3BucketReplicationEnabled"): ("dev", "prod"),
    ("Directory/Directory/Bucket", "HIPAA.Security-S3DefaultEncryptionKMS"): ("dev", "prod"),
    ("Directory/Directory/Bucket", "NIST.800.53.R5-S3BucketLoggingEnabled"): ("dev", "prod"),
    ("Directory/Directory/Bucket", "NIST.800.53.R5-S3BucketReplicationEnabled"): ("dev", "prod"),
    ("Directory/Directory/Bucket", "NIST.800.53.R5-S3DefaultEncryptionKMS"): ("dev", "prod"),
    ("Directory/Directory/Bucket", "PCI.DSS.321-S3BucketLoggingEnabled"): ("dev", "prod"),
    ("Directory/Directory/Bucket", "PCI.DSS.321-S3BucketReplicationEnabled"): ("dev", "prod"),
    ("Directory/Directory/Bucket", "PCI.DSS.321-S3DefaultEncryptionKMS"): ("dev", "prod"),
}

# The pipeline's acknowledgments: (construct path below its stack, rule) -> the stack outside the stages
# (``Pipeline``, or CodePipeline's support stack of another Region). CDK Pipelines' generated policies carry
# one AwsSolutions-IAM5 acknowledgment per wildcard finding (stacks.pipeline_stack.wildcard_findings).
EXPECTED_PIPELINE_ACKNOWLEDGMENTS: dict[tuple[str, str], tuple[str, ...]] = {
    # the deploy guard's CodeBuild step before each key stack's deployment (stacks/pipeline_stack.py)
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-directory.DeployGuard-kmsecdh-prod-directory/DeployGuard-kmsecdh-prod-directory/Resource",
        "HIPAA.Security-CodeBuildProjectSourceRepoUrl",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-directory.DeployGuard-kmsecdh-prod-directory/DeployGuard-kmsecdh-prod-directory/Resource",
        "PCI.DSS.321-CodeBuildProjectSourceRepoUrl",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-directory.DeployGuard-kmsecdh-prod-directory/DeployGuard-kmsecdh-prod-directory/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-directory.DeployGuard-kmsecdh-prod-directory/DeployGuard-kmsecdh-prod-directory/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Action::kms:ReEncrypt*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-directory.DeployGuard-kmsecdh-prod-directory/DeployGuard-kmsecdh-prod-directory/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Action::s3:GetBucket*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-directory.DeployGuard-kmsecdh-prod-directory/DeployGuard-kmsecdh-prod-directory/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Action::s3:GetObject*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-directory.DeployGuard-kmsecdh-prod-directory/DeployGuard-kmsecdh-prod-directory/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Action::s3:List*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-directory.DeployGuard-kmsecdh-prod-directory/DeployGuard-kmsecdh-prod-directory/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Resource::<PipelineArtifactsBucketAEA9A052.Arn>/*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-directory.DeployGuard-kmsecdh-prod-directory/DeployGuard-kmsecdh-prod-directory/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Resource::arn:aws:codebuild:eu-west-1:222222222222:report-group/<PipelineprodkmsecdhproddirectoryDeployGuardkmsecdhproddirectoryAC66C576>-*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-directory.DeployGuard-kmsecdh-prod-directory/DeployGuard-kmsecdh-prod-directory/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Resource::arn:aws:logs:eu-west-1:222222222222:log-group:/aws/codebuild/<PipelineprodkmsecdhproddirectoryDeployGuardkmsecdhproddirectoryAC66C576>:*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-directory.DeployGuard-kmsecdh-prod-directory/DeployGuard-kmsecdh-prod-directory/Role/DefaultPolicy",
        "HIPAA.Security-IAMNoInlinePolicy",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-directory.DeployGuard-kmsecdh-prod-directory/DeployGuard-kmsecdh-prod-directory/Role/DefaultPolicy",
        "NIST.800.53.R5-IAMNoInlinePolicy",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-directory.DeployGuard-kmsecdh-prod-directory/DeployGuard-kmsecdh-prod-directory/Role/DefaultPolicy",
        "PCI.DSS.321-IAMNoInlinePolicy",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-key-agreement-eu-west-1.DeployGuard-kmsecdh-prod-key-agreement-eu-west-1/DeployGuard-kmsecdh-prod-key-agreement-eu-west-1/Resource",
        "HIPAA.Security-CodeBuildProjectSourceRepoUrl",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-key-agreement-eu-west-1.DeployGuard-kmsecdh-prod-key-agreement-eu-west-1/DeployGuard-kmsecdh-prod-key-agreement-eu-west-1/Resource",
        "PCI.DSS.321-CodeBuildProjectSourceRepoUrl",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-key-agreement-eu-west-1.DeployGuard-kmsecdh-prod-key-agreement-eu-west-1/DeployGuard-kmsecdh-prod-key-agreement-eu-west-1/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-key-agreement-eu-west-1.DeployGuard-kmsecdh-prod-key-agreement-eu-west-1/DeployGuard-kmsecdh-prod-key-agreement-eu-west-1/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Action::kms:ReEncrypt*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-key-agreement-eu-west-1.DeployGuard-kmsecdh-prod-key-agreement-eu-west-1/DeployGuard-kmsecdh-prod-key-agreement-eu-west-1/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Action::s3:GetBucket*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-key-agreement-eu-west-1.DeployGuard-kmsecdh-prod-key-agreement-eu-west-1/DeployGuard-kmsecdh-prod-key-agreement-eu-west-1/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Action::s3:GetObject*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-key-agreement-eu-west-1.DeployGuard-kmsecdh-prod-key-agreement-eu-west-1/DeployGuard-kmsecdh-prod-key-agreement-eu-west-1/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Action::s3:List*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-key-agreement-eu-west-1.DeployGuard-kmsecdh-prod-key-agreement-eu-west-1/DeployGuard-kmsecdh-prod-key-agreement-eu-west-1/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Resource::<PipelineArtifactsBucketAEA9A052.Arn>/*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-key-agreement-eu-west-1.DeployGuard-kmsecdh-prod-key-agreement-eu-west-1/DeployGuard-kmsecdh-prod-key-agreement-eu-west-1/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Resource::arn:aws:codebuild:eu-west-1:222222222222:report-group/<Pipelineprodkmsecdhprodkeyagreementeuwest1DeployGuardkmsecdhprodkeyagreementeuwest19B9A002D>-*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-key-agreement-eu-west-1.DeployGuard-kmsecdh-prod-key-agreement-eu-west-1/DeployGuard-kmsecdh-prod-key-agreement-eu-west-1/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Resource::arn:aws:logs:eu-west-1:222222222222:log-group:/aws/codebuild/<Pipelineprodkmsecdhprodkeyagreementeuwest1DeployGuardkmsecdhprodkeyagreementeuwest19B9A002D>:*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-key-agreement-eu-west-1.DeployGuard-kmsecdh-prod-key-agreement-eu-west-1/DeployGuard-kmsecdh-prod-key-agreement-eu-west-1/Role/DefaultPolicy",
        "HIPAA.Security-IAMNoInlinePolicy",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-key-agreement-eu-west-1.DeployGuard-kmsecdh-prod-key-agreement-eu-west-1/DeployGuard-kmsecdh-prod-key-agreement-eu-west-1/Role/DefaultPolicy",
        "NIST.800.53.R5-IAMNoInlinePolicy",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-key-agreement-eu-west-1.DeployGuard-kmsecdh-prod-key-agreement-eu-west-1/DeployGuard-kmsecdh-prod-key-agreement-eu-west-1/Role/DefaultPolicy",
        "PCI.DSS.321-IAMNoInlinePolicy",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-key-agreement.DeployGuard-kmsecdh-prod-key-agreement/DeployGuard-kmsecdh-prod-key-agreement/Resource",
        "HIPAA.Security-CodeBuildProjectSourceRepoUrl",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-key-agreement.DeployGuard-kmsecdh-prod-key-agreement/DeployGuard-kmsecdh-prod-key-agreement/Resource",
        "PCI.DSS.321-CodeBuildProjectSourceRepoUrl",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-key-agreement.DeployGuard-kmsecdh-prod-key-agreement/DeployGuard-kmsecdh-prod-key-agreement/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-key-agreement.DeployGuard-kmsecdh-prod-key-agreement/DeployGuard-kmsecdh-prod-key-agreement/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Action::kms:ReEncrypt*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-key-agreement.DeployGuard-kmsecdh-prod-key-agreement/DeployGuard-kmsecdh-prod-key-agreement/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Action::s3:GetBucket*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-key-agreement.DeployGuard-kmsecdh-prod-key-agreement/DeployGuard-kmsecdh-prod-key-agreement/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Action::s3:GetObject*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-key-agreement.DeployGuard-kmsecdh-prod-key-agreement/DeployGuard-kmsecdh-prod-key-agreement/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Action::s3:List*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-key-agreement.DeployGuard-kmsecdh-prod-key-agreement/DeployGuard-kmsecdh-prod-key-agreement/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Resource::<PipelineArtifactsBucketAEA9A052.Arn>/*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-key-agreement.DeployGuard-kmsecdh-prod-key-agreement/DeployGuard-kmsecdh-prod-key-agreement/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Resource::arn:aws:codebuild:eu-west-1:222222222222:report-group/<PipelineprodkmsecdhprodkeyagreementDeployGuardkmsecdhprodkeyagreementE758F582>-*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-key-agreement.DeployGuard-kmsecdh-prod-key-agreement/DeployGuard-kmsecdh-prod-key-agreement/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Resource::arn:aws:logs:eu-west-1:222222222222:log-group:/aws/codebuild/<PipelineprodkmsecdhprodkeyagreementDeployGuardkmsecdhprodkeyagreementE758F582>:*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-key-agreement.DeployGuard-kmsecdh-prod-key-agreement/DeployGuard-kmsecdh-prod-key-agreement/Role/DefaultPolicy",
        "HIPAA.Security-IAMNoInlinePolicy",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-key-agreement.DeployGuard-kmsecdh-prod-key-agreement/DeployGuard-kmsecdh-prod-key-agreement/Role/DefaultPolicy",
        "NIST.800.53.R5-IAMNoInlinePolicy",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/kmsecdh-prod-key-agreement.DeployGuard-kmsecdh-prod-key-agreement/DeployGuard-kmsecdh-prod-key-agreement/Role/DefaultPolicy",
        "PCI.DSS.321-IAMNoInlinePolicy",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/staging/kmsecdh-staging-key-agreement.DeployGuard-kmsecdh-staging-key-agreement/DeployGuard-kmsecdh-staging-key-agreement/Resource",
        "HIPAA.Security-CodeBuildProjectSourceRepoUrl",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/staging/kmsecdh-staging-key-agreement.DeployGuard-kmsecdh-staging-key-agreement/DeployGuard-kmsecdh-staging-key-agreement/Resource",
        "PCI.DSS.321-CodeBuildProjectSourceRepoUrl",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/staging/kmsecdh-staging-key-agreement.DeployGuard-kmsecdh-staging-key-agreement/DeployGuard-kmsecdh-staging-key-agreement/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/staging/kmsecdh-staging-key-agreement.DeployGuard-kmsecdh-staging-key-agreement/DeployGuard-kmsecdh-staging-key-agreement/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Action::kms:ReEncrypt*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/staging/kmsecdh-staging-key-agreement.DeployGuard-kmsecdh-staging-key-agreement/DeployGuard-kmsecdh-staging-key-agreement/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Action::s3:GetBucket*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/staging/kmsecdh-staging-key-agreement.DeployGuard-kmsecdh-staging-key-agreement/DeployGuard-kmsecdh-staging-key-agreement/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Action::s3:GetObject*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/staging/kmsecdh-staging-key-agreement.DeployGuard-kmsecdh-staging-key-agreement/DeployGuard-kmsecdh-staging-key-agreement/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Action::s3:List*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/staging/kmsecdh-staging-key-agreement.DeployGuard-kmsecdh-staging-key-agreement/DeployGuard-kmsecdh-staging-key-agreement/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Resource::<PipelineArtifactsBucketAEA9A052.Arn>/*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/staging/kmsecdh-staging-key-agreement.DeployGuard-kmsecdh-staging-key-agreement/DeployGuard-kmsecdh-staging-key-agreement/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Resource::arn:aws:codebuild:eu-west-1:222222222222:report-group/<PipelinestagingkmsecdhstagingkeyagreementDeployGuardkmsecdhstagingkeyagreement73D4DA15>-*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/staging/kmsecdh-staging-key-agreement.DeployGuard-kmsecdh-staging-key-agreement/DeployGuard-kmsecdh-staging-key-agreement/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Resource::arn:aws:logs:eu-west-1:222222222222:log-group:/aws/codebuild/<PipelinestagingkmsecdhstagingkeyagreementDeployGuardkmsecdhstagingkeyagreement73D4DA15>:*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/staging/kmsecdh-staging-key-agreement.DeployGuard-kmsecdh-staging-key-agreement/DeployGuard-kmsecdh-staging-key-agreement/Role/DefaultPolicy",
        "HIPAA.Security-IAMNoInlinePolicy",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/staging/kmsecdh-staging-key-agreement.DeployGuard-kmsecdh-staging-key-agreement/DeployGuard-kmsecdh-staging-key-agreement/Role/DefaultPolicy",
        "NIST.800.53.R5-IAMNoInlinePolicy",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/staging/kmsecdh-staging-key-agreement.DeployGuard-kmsecdh-staging-key-agreement/DeployGuard-kmsecdh-staging-key-agreement/Role/DefaultPolicy",
        "PCI.DSS.321-IAMNoInlinePolicy",
    ): ("Pipeline",),
    ("Default/CrossRegionCodePipelineReplicationBucket", "AwsSolutions-S1"): (
        "cross-region-stack-222222222222:eu-central-1",
    ),
    ("Default/CrossRegionCodePipelineReplicationBucket", "HIPAA.Security-S3BucketLoggingEnabled"): (
        "cross-region-stack-222222222222:eu-central-1",
    ),
    ("Default/CrossRegionCodePipelineReplicationBucket", "HIPAA.Security-S3BucketReplicationEnabled"): (
        "cross-region-stack-222222222222:eu-central-1",
    ),
    ("Default/CrossRegionCodePipelineReplicationBucket", "HIPAA.Security-S3BucketVersioningEnabled"): (
        "cross-region-stack-222222222222:eu-central-1",
    ),
    ("Default/CrossRegionCodePipelineReplicationBucket", "NIST.800.53.R5-S3BucketLoggingEnabled"): (
        "cross-region-stack-222222222222:eu-central-1",
    ),
    ("Default/CrossRegionCodePipelineReplicationBucket", "NIST.800.53.R5-S3BucketReplicationEnabled"): (
        "cross-region-stack-222222222222:eu-central-1",
    ),
    ("Default/CrossRegionCodePipelineReplicationBucket", "NIST.800.53.R5-S3BucketVersioningEnabled"): (
        "cross-region-stack-222222222222:eu-central-1",
    ),
    ("Default/CrossRegionCodePipelineReplicationBucket", "PCI.DSS.321-S3BucketLoggingEnabled"): (
        "cross-region-stack-222222222222:eu-central-1",
    ),
    ("Default/CrossRegionCodePipelineReplicationBucket", "PCI.DSS.321-S3BucketReplicationEnabled"): (
        "cross-region-stack-222222222222:eu-central-1",
    ),
    ("Default/CrossRegionCodePipelineReplicationBucket", "PCI.DSS.321-S3BucketVersioningEnabled"): (
        "cross-region-stack-222222222222:eu-central-1",
    ),
    ("Pipeline/Assets/FileAsset/Resource", "HIPAA.Security-CodeBuildProjectSourceRepoUrl"): ("Pipeline",),
    ("Pipeline/Assets/FileAsset/Resource", "PCI.DSS.321-CodeBuildProjectSourceRepoUrl"): ("Pipeline",),
    ("Pipeline/Assets/FileRole/DefaultPolicy", "AwsSolutions-IAM5[Action::s3:GetBucket*]"): ("Pipeline",),
    ("Pipeline/Assets/FileRole/DefaultPolicy", "AwsSolutions-IAM5[Action::s3:GetObject*]"): ("Pipeline",),
    ("Pipeline/Assets/FileRole/DefaultPolicy", "AwsSolutions-IAM5[Action::s3:List*]"): ("Pipeline",),
    ("Pipeline/Assets/FileRole/DefaultPolicy", "AwsSolutions-IAM5[Resource::*]"): ("Pipeline",),
    (
        "Pipeline/Assets/FileRole/DefaultPolicy",
        "AwsSolutions-IAM5[Resource::<PipelineArtifactsBucketAEA9A052.Arn>/*]",
    ): ("Pipeline",),
    (
        "Pipeline/Assets/FileRole/DefaultPolicy",
        "AwsSolutions-IAM5[Resource::arn:aws:codebuild:eu-west-1:222222222222:report-group/*]",
    ): ("Pipeline",),
    (
        "Pipeline/Assets/FileRole/DefaultPolicy",
        "AwsSolutions-IAM5[Resource::arn:aws:logs:eu-west-1:222222222222:log-group:/aws/codebuild/*]",
    ): ("Pipeline",),
    ("Pipeline/Assets/FileRole/DefaultPolicy", "HIPAA.Security-IAMNoInlinePolicy"): ("Pipeline",),
    ("Pipeline/Assets/FileRole/DefaultPolicy", "NIST.800.53.R5-IAMNoInlinePolicy"): ("Pipeline",),
    ("Pipeline/Assets/FileRole/DefaultPolicy", "PCI.DSS.321-IAMNoInlinePolicy"): ("Pipeline",),
    ("Pipeline/CodeBuildActionRole/DefaultPolicy", "HIPAA.Security-IAMNoInlinePolicy"): ("Pipeline",),
    ("Pipeline/CodeBuildActionRole/DefaultPolicy", "NIST.800.53.R5-IAMNoInlinePolicy"): ("Pipeline",),
    ("Pipeline/CodeBuildActionRole/DefaultPolicy", "PCI.DSS.321-IAMNoInlinePolicy"): ("Pipeline",),
    ("Pipeline/Pipeline/ArtifactsBucket", "AwsSolutions-S1"): ("Pipeline",),
    ("Pipeline/Pipeline/ArtifactsBucket", "HIPAA.Security-S3BucketLoggingEnabled"): ("Pipeline",),
    ("Pipeline/Pipeline/ArtifactsBucket", "HIPAA.Security-S3BucketReplicationEnabled"): ("Pipeline",),
    ("Pipeline/Pipeline/ArtifactsBucket", "HIPAA.Security-S3BucketVersioningEnabled"): ("Pipeline",),
    ("Pipeline/Pipeline/ArtifactsBucket", "NIST.800.53.R5-S3BucketLoggingEnabled"): ("Pipeline",),
    ("Pipeline/Pipeline/ArtifactsBucket", "NIST.800.53.R5-S3BucketReplicationEnabled"): ("Pipeline",),
    ("Pipeline/Pipeline/ArtifactsBucket", "NIST.800.53.R5-S3BucketVersioningEnabled"): ("Pipeline",),
    ("Pipeline/Pipeline/ArtifactsBucket", "PCI.DSS.321-S3BucketLoggingEnabled"): ("Pipeline",),
    ("Pipeline/Pipeline/ArtifactsBucket", "PCI.DSS.321-S3BucketReplicationEnabled"): ("Pipeline",),
    ("Pipeline/Pipeline/ArtifactsBucket", "PCI.DSS.321-S3BucketVersioningEnabled"): ("Pipeline",),
    (
        "Pipeline/Pipeline/Build/Synth/CdkBuildProject/Resource",
        "HIPAA.Security-CodeBuildProjectSourceRepoUrl",
    ): ("Pipeline",),
    ("Pipeline/Pipeline/Build/Synth/CdkBuildProject/Resource", "PCI.DSS.321-CodeBuildProjectSourceRepoUrl"): (
        "Pipeline",
    ),
    (
        "Pipeline/Pipeline/Build/Synth/CdkBuildProject/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/Build/Synth/CdkBuildProject/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Action::kms:ReEncrypt*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/Build/Synth/CdkBuildProject/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Action::s3:Abort*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/Build/Synth/CdkBuildProject/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Action::s3:DeleteObject*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/Build/Synth/CdkBuildProject/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Action::s3:GetBucket*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/Build/Synth/CdkBuildProject/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Action::s3:GetObject*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/Build/Synth/CdkBuildProject/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Action::s3:List*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/Build/Synth/CdkBuildProject/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Resource::<PipelineArtifactsBucketAEA9A052.Arn>/*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/Build/Synth/CdkBuildProject/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Resource::arn:aws:codebuild:eu-west-1:222222222222:report-group/<PipelineBuildSynthCdkBuildProject6BEFA8E6>-*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/Build/Synth/CdkBuildProject/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Resource::arn:aws:logs:eu-west-1:222222222222:log-group:/aws/codebuild/<PipelineBuildSynthCdkBuildProject6BEFA8E6>:*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/Build/Synth/CdkBuildProject/Role/DefaultPolicy",
        "HIPAA.Security-IAMNoInlinePolicy",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/Build/Synth/CdkBuildProject/Role/DefaultPolicy",
        "NIST.800.53.R5-IAMNoInlinePolicy",
    ): ("Pipeline",),
    ("Pipeline/Pipeline/Build/Synth/CdkBuildProject/Role/DefaultPolicy", "PCI.DSS.321-IAMNoInlinePolicy"): (
        "Pipeline",
    ),
    ("Pipeline/Pipeline/Role/DefaultPolicy", "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]"): (
        "Pipeline",
    ),
    ("Pipeline/Pipeline/Role/DefaultPolicy", "AwsSolutions-IAM5[Action::kms:ReEncrypt*]"): ("Pipeline",),
    ("Pipeline/Pipeline/Role/DefaultPolicy", "AwsSolutions-IAM5[Action::s3:Abort*]"): ("Pipeline",),
    ("Pipeline/Pipeline/Role/DefaultPolicy", "AwsSolutions-IAM5[Action::s3:DeleteObject*]"): ("Pipeline",),
    ("Pipeline/Pipeline/Role/DefaultPolicy", "AwsSolutions-IAM5[Action::s3:GetBucket*]"): ("Pipeline",),
    ("Pipeline/Pipeline/Role/DefaultPolicy", "AwsSolutions-IAM5[Action::s3:GetObject*]"): ("Pipeline",),
    ("Pipeline/Pipeline/Role/DefaultPolicy", "AwsSolutions-IAM5[Action::s3:List*]"): ("Pipeline",),
    ("Pipeline/Pipeline/Role/DefaultPolicy", "AwsSolutions-IAM5[Resource::*]"): ("Pipeline",),
    (
        "Pipeline/Pipeline/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Resource::<PipelineArtifactsBucketAEA9A052.Arn>/*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Resource::arn:aws:s3:::kmsecdh-pipeline-support-eplicationbucket25f93a6376d1926c42e3/*]",
    ): ("Pipeline",),
    ("Pipeline/Pipeline/Role/DefaultPolicy", "HIPAA.Security-IAMNoInlinePolicy"): ("Pipeline",),
    ("Pipeline/Pipeline/Role/DefaultPolicy", "NIST.800.53.R5-IAMNoInlinePolicy"): ("Pipeline",),
    ("Pipeline/Pipeline/Role/DefaultPolicy", "PCI.DSS.321-IAMNoInlinePolicy"): ("Pipeline",),
    (
        "Pipeline/Pipeline/Source/example-org_kmsecdh/CodePipelineActionRole/DefaultPolicy",
        "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/Source/example-org_kmsecdh/CodePipelineActionRole/DefaultPolicy",
        "AwsSolutions-IAM5[Action::kms:ReEncrypt*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/Source/example-org_kmsecdh/CodePipelineActionRole/DefaultPolicy",
        "AwsSolutions-IAM5[Action::s3:Abort*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/Source/example-org_kmsecdh/CodePipelineActionRole/DefaultPolicy",
        "AwsSolutions-IAM5[Action::s3:DeleteObject*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/Source/example-org_kmsecdh/CodePipelineActionRole/DefaultPolicy",
        "AwsSolutions-IAM5[Action::s3:GetBucket*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/Source/example-org_kmsecdh/CodePipelineActionRole/DefaultPolicy",
        "AwsSolutions-IAM5[Action::s3:GetObject*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/Source/example-org_kmsecdh/CodePipelineActionRole/DefaultPolicy",
        "AwsSolutions-IAM5[Action::s3:List*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/Source/example-org_kmsecdh/CodePipelineActionRole/DefaultPolicy",
        "AwsSolutions-IAM5[Resource::<PipelineArtifactsBucketAEA9A052.Arn>/*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/Source/example-org_kmsecdh/CodePipelineActionRole/DefaultPolicy",
        "HIPAA.Security-IAMNoInlinePolicy",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/Source/example-org_kmsecdh/CodePipelineActionRole/DefaultPolicy",
        "NIST.800.53.R5-IAMNoInlinePolicy",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/Source/example-org_kmsecdh/CodePipelineActionRole/DefaultPolicy",
        "PCI.DSS.321-IAMNoInlinePolicy",
    ): ("Pipeline",),
    ("Pipeline/UpdatePipeline/SelfMutation/Resource", "HIPAA.Security-CodeBuildProjectSourceRepoUrl"): (
        "Pipeline",
    ),
    ("Pipeline/UpdatePipeline/SelfMutation/Resource", "PCI.DSS.321-CodeBuildProjectSourceRepoUrl"): (
        "Pipeline",
    ),
    (
        "Pipeline/UpdatePipeline/SelfMutation/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
    ): ("Pipeline",),
    (
        "Pipeline/UpdatePipeline/SelfMutation/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Action::kms:ReEncrypt*]",
    ): ("Pipeline",),
    ("Pipeline/UpdatePipeline/SelfMutation/Role/DefaultPolicy", "AwsSolutions-IAM5[Action::s3:GetBucket*]"): (
        "Pipeline",
    ),
    ("Pipeline/UpdatePipeline/SelfMutation/Role/DefaultPolicy", "AwsSolutions-IAM5[Action::s3:GetObject*]"): (
        "Pipeline",
    ),
    ("Pipeline/UpdatePipeline/SelfMutation/Role/DefaultPolicy", "AwsSolutions-IAM5[Action::s3:List*]"): (
        "Pipeline",
    ),
    ("Pipeline/UpdatePipeline/SelfMutation/Role/DefaultPolicy", "AwsSolutions-IAM5[Resource::*]"): (
        "Pipeline",
    ),
    (
        "Pipeline/UpdatePipeline/SelfMutation/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Resource::<PipelineArtifactsBucketAEA9A052.Arn>/*]",
    ): ("Pipeline",),
    (
        "Pipeline/UpdatePipeline/SelfMutation/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Resource::arn:*:iam::222222222222:role/*]",
    ): ("Pipeline",),
    (
        "Pipeline/UpdatePipeline/SelfMutation/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Resource::arn:aws:codebuild:eu-west-1:222222222222:report-group/<PipelineUpdatePipelineSelfMutationDAA41400>-*]",
    ): ("Pipeline",),
    (
        "Pipeline/UpdatePipeline/SelfMutation/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Resource::arn:aws:logs:eu-west-1:222222222222:log-group:/aws/codebuild/<PipelineUpdatePipelineSelfMutationDAA41400>:*]",
    ): ("Pipeline",),
    ("Pipeline/UpdatePipeline/SelfMutation/Role/DefaultPolicy", "HIPAA.Security-IAMNoInlinePolicy"): (
        "Pipeline",
    ),
    ("Pipeline/UpdatePipeline/SelfMutation/Role/DefaultPolicy", "NIST.800.53.R5-IAMNoInlinePolicy"): (
        "Pipeline",
    ),
    ("Pipeline/UpdatePipeline/SelfMutation/Role/DefaultPolicy", "PCI.DSS.321-IAMNoInlinePolicy"): (
        "Pipeline",
    ),
    # the publish step after prod's deployment: a CodeBuild project of CDK Pipelines, like the synth step
    (
        "Pipeline/Pipeline/prod/PublishDirectory-prod/PublishDirectory-prod/Resource",
        "HIPAA.Security-CodeBuildProjectSourceRepoUrl",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/PublishDirectory-prod/PublishDirectory-prod/Resource",
        "PCI.DSS.321-CodeBuildProjectSourceRepoUrl",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/PublishDirectory-prod/PublishDirectory-prod/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/PublishDirectory-prod/PublishDirectory-prod/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Action::kms:ReEncrypt*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/PublishDirectory-prod/PublishDirectory-prod/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Action::s3:GetBucket*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/PublishDirectory-prod/PublishDirectory-prod/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Action::s3:GetObject*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/PublishDirectory-prod/PublishDirectory-prod/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Action::s3:List*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/PublishDirectory-prod/PublishDirectory-prod/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Resource::<PipelineArtifactsBucketAEA9A052.Arn>/*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/PublishDirectory-prod/PublishDirectory-prod/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Resource::arn:aws:codebuild:eu-west-1:222222222222:report-group/<PipelineprodPublishDirectoryprod941FEA36>-*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/PublishDirectory-prod/PublishDirectory-prod/Role/DefaultPolicy",
        "AwsSolutions-IAM5[Resource::arn:aws:logs:eu-west-1:222222222222:log-group:/aws/codebuild/<PipelineprodPublishDirectoryprod941FEA36>:*]",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/PublishDirectory-prod/PublishDirectory-prod/Role/DefaultPolicy",
        "HIPAA.Security-IAMNoInlinePolicy",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/PublishDirectory-prod/PublishDirectory-prod/Role/DefaultPolicy",
        "NIST.800.53.R5-IAMNoInlinePolicy",
    ): ("Pipeline",),
    (
        "Pipeline/Pipeline/prod/PublishDirectory-prod/PublishDirectory-prod/Role/DefaultPolicy",
        "PCI.DSS.321-IAMNoInlinePolicy",
    ): ("Pipeline",),
}

# Every checkov skip in the templates: (resource's construct path below the stage, check id) -> environments.
# The reasons live next to the constructs (kmsecdh_cdk.acknowledgments.skip_checkov).
EXPECTED_CHECKOV_SKIPS: dict[tuple[str, str], tuple[str, ...]] = {
    ("Audit/KeyUsageAudit/AccessLogBucket", "CKV_AWS_18"): ("dev", "prod"),
    ("KeyAgreement/Custom::VpcRestrictDefaultSGCustomResourceProvider/Handler", "CKV_AWS_115"): ("prod",),
    ("KeyAgreement/Custom::VpcRestrictDefaultSGCustomResourceProvider/Handler", "CKV_AWS_116"): ("prod",),
    ("KeyAgreement/Custom::VpcRestrictDefaultSGCustomResourceProvider/Handler", "CKV_AWS_117"): ("prod",),
    ("KeyAgreement/Derive/Function", "CKV_AWS_116"): ("dev", "prod", "staging"),
    ("KeyAgreement/Derive/Function", "CKV_AWS_117"): ("dev", "staging"),
    # the organisation-wide public-key readers: Principal * under aws:PrincipalOrgID
    ("KeyAgreement/P256/Key", "CKV_AWS_33"): ("staging",),
    # the public-key directory's bucket: a signed public document, no access-log bucket of its own
    ("Directory/Directory/Bucket", "CKV_AWS_18"): ("dev", "prod"),
    # the generation of the P-256 key the staging example rotates to
    ("KeyAgreement/P256-2026-11/Key", "CKV_AWS_33"): ("staging",),
    ("KeyAgreement/P384/Key", "CKV_AWS_33"): ("staging",),
    # prod's replica Region (eu-west-1): the same skips as its home Region
    ("KeyAgreement-eu-west-1/Custom::VpcRestrictDefaultSGCustomResourceProvider/Handler", "CKV_AWS_115"): (
        "prod",
    ),
    ("KeyAgreement-eu-west-1/Custom::VpcRestrictDefaultSGCustomResourceProvider/Handler", "CKV_AWS_116"): (
        "prod",
    ),
    ("KeyAgreement-eu-west-1/Custom::VpcRestrictDefaultSGCustomResourceProvider/Handler", "CKV_AWS_117"): (
        "prod",
    ),
    ("KeyAgreement-eu-west-1/Derive/Function", "CKV_AWS_116"): ("prod",),
    # the pipeline (stacks.pipeline_stack): CodePipeline's artifact buckets, two generated policies
    ("Default/CrossRegionCodePipelineReplicationBucket", "CKV_AWS_18"): (
        "cross-region-stack-222222222222:eu-central-1",
    ),
    ("Default/CrossRegionCodePipelineReplicationBucket", "CKV_AWS_21"): (
        "cross-region-stack-222222222222:eu-central-1",
    ),
    ("Pipeline/Assets/FileRole/DefaultPolicy", "CKV_AWS_111"): ("Pipeline",),
    ("Pipeline/Pipeline/ArtifactsBucket", "CKV_AWS_18"): ("Pipeline",),
    ("Pipeline/Pipeline/ArtifactsBucket", "CKV_AWS_21"): ("Pipeline",),
    ("Pipeline/Pipeline/Role/DefaultPolicy", "CKV_AWS_111"): ("Pipeline",),
}


def test_synthesis_raised_nothing(synthesized_app: SynthesizedApp) -> None:
    assert synthesized_app.synth_error is None, unacknowledged_findings(synthesized_app.report)


def test_no_unacknowledged_finding_in_the_validation_report(synthesized_app: SynthesizedApp) -> None:
    assert unacknowledged_findings(synthesized_app.report) == []


def test_every_acknowledgment_has_a_reason_and_a_construct(synthesized_app: SynthesizedApp) -> None:
    assert synthesized_app.acknowledgments
    for acknowledgment in synthesized_app.acknowledgments:
        assert len(acknowledgment.reason.split()) >= 5, acknowledgment
        # Attached below a stack, never on a whole stage or app.
        assert acknowledgment.path.count("/") >= 3 or acknowledgment.rule_id.startswith("CloudFormation-"), (
            acknowledgment
        )


def test_nag_acknowledgments_use_pack_qualified_ids(synthesized_app: SynthesizedApp) -> None:
    for acknowledgment in synthesized_app.acknowledgments:
        pack = acknowledgment.rule_id.split("::", 1)[0]
        if pack == "Annotation":
            pytest.fail(f"unqualified acknowledgment {acknowledgment}: use kmsecdh_cdk.acknowledgments")


def test_acknowledgments_are_exactly_the_reviewed_list(synthesized_app: SynthesizedApp) -> None:
    found: dict[tuple[str, str], list[str]] = {}
    for acknowledgment in synthesized_app.acknowledgments:
        environment, path = acknowledgment.path.lstrip("/").split("/", 1)
        rule = acknowledgment.rule_id.split("::", 1)[-1]
        found.setdefault((path, rule), []).append(environment)
    assert {key: tuple(sorted(environments)) for key, environments in found.items()} == {
        **EXPECTED_ACKNOWLEDGMENTS,
        **EXPECTED_PIPELINE_ACKNOWLEDGMENTS,
    }


def test_suppressed_findings_carry_their_acknowledgment(synthesized_app: SynthesizedApp) -> None:
    reasons = {(a.path.lstrip("/"), a.rule_id): a.reason for a in synthesized_app.acknowledgments}
    for plugin in synthesized_app.report["pluginReports"]:
        for suppressed in plugin.get("suppressedViolations", []):
            assert (
                reasons[(suppressed["acknowledgedAt"], suppressed["acknowledgedId"])] == suppressed["reason"]
            )


def test_unacknowledged_findings_readsfailures_in_report() -> None:
    report: dict[str, Any] = {
        "pluginReports": [
            {"pluginName": "AwsSolutions", "conclusion": "success", "violations": []},
            {
                "pluginName": "NIST.800.53.R5",
                "conclusion": "failure",
                "violations": [
                    {
                        "ruleName": "NIST.800.53.R5-IAMNoInlinePolicy",
                        "description": "inline policy",
                        "violatingConstructs": [{"constructPath": "dev/KeyAgreement/Role"}],
                    }
                ],
            },
            {"pluginName": "Serverless", "conclusion": "failure", "violations": []},
        ]
    }
    assert unacknowledged_findings(report) == [
        "NIST.800.53.R5: NIST.800.53.R5-IAMNoInlinePolicy at dev/KeyAgreement/Role: inline policy",
        "Serverless: conclusion 'failure'",
    ]


def test_cfn_lint_finds_nothing_in_any_template(synthesized_app: SynthesizedApp) -> None:
    templates = [str(path) for path in synthesized_app.every_template()]
    completed = subprocess.run(
        [str(CFN_LINT), "--format", "json", *templates],
        cwd=PROJECT_ROOT,  # picks up .cfnlintrc
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.stderr == ""
    assert json.loads(completed.stdout) == []


def test_checkov_finds_no_failed_check_in_any_template(synthesized_app: SynthesizedApp) -> None:
    assert len(synthesized_app.every_template()) > len(list(synthesized_app.all_stacks()))  # the pipeline's
    assert failed_checks(synthesized_app.every_template()) == []


def construct_paths(
    synthesized_app: SynthesizedApp, environment: str | None, artifact_id: str
) -> dict[str, str]:
    """Logical id -> construct path below the stage, or below the stack for one outside the stages
    (``environment`` None), an L2's ``/Resource`` left off; from the assembly's metadata of one stack (stacks
    of one stage in several Regions repeat logical ids)."""
    directory = synthesized_app.outdir / f"assembly-{environment}" if environment else synthesized_app.outdir
    paths = {}
    for path, entries in json.loads((directory / f"{artifact_id}.metadata.json").read_text()).items():
        for entry in entries:
            if entry["type"] == "aws:cdk:logicalId":
                paths[entry["data"]] = path.split("/", 2)[2].removesuffix("/Resource")
    return paths


def test_checkov_skips_are_exactly_the_reviewed_list(synthesized_app: SynthesizedApp) -> None:
    found: dict[tuple[str, str], list[str]] = {}
    # a stack outside the stages (the pipeline, its support stacks) is listed under its own id
    stacks: list[tuple[str | None, str, SynthesizedStack]] = [
        *((environment, environment, stack) for environment, stack in synthesized_app.all_stacks()),
        *((None, stack_id, stack) for stack_id, stack in synthesized_app.root_stacks.items()),
    ]
    for environment, label, stack in stacks:
        paths = construct_paths(synthesized_app, environment, stack.artifact_id)
        for logical_id, resource in stack.raw["Resources"].items():
            for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
                assert set(skip) == {"id", "comment"}, skip
                assert len(skip["comment"].split()) >= 5, skip
                found.setdefault((paths[logical_id], skip["id"]), []).append(label)
    assert {key: tuple(sorted(environments)) for key, environments in found.items()} == EXPECTED_CHECKOV_SKIPS


def checkov_report(
    failed: list[dict[str, str]], resource_count: int = 3, parsing_errors: int = 0
) -> dict[str, Any]:
    return {
        "check_type": "cloudformation",
        "results": {"failed_checks": failed},
        "summary": {"resource_count": resource_count, "parsing_errors": parsing_errors},
    }


def test_checkovfailures_in_report_are_read_from_its_report() -> None:
    failed = {
        "check_id": "CKV_AWS_18",
        "check_name": "Ensure the S3 bucket has access logging enabled",
        "resource": "AWS::S3::Bucket.Logs",
        "file_path": "/assembly-dev/devAudit.template.json",
    }
    assert failures_in_report([checkov_report([failed]), checkov_report([])], template_count=2) == [
        "CKV_AWS_18 Ensure the S3 bucket has access logging enabled: AWS::S3::Bucket.Logs in "
        "devAudit.template.json"
    ]


@pytest.mark.parametrize(
    ("report", "message"),
    [
        (checkov_report([], parsing_errors=1), "could not parse 1 template"),
        (checkov_report([], resource_count=0), "scanned no resource"),
    ],
)
def test_checkov_that_read_nothing_is_an_error(report: dict[str, Any], message: str) -> None:
    with pytest.raises(CheckovError, match=message):
        failures_in_report(report, template_count=1)
