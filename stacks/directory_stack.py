"""The environment's public-key directory: its signing key, bucket and parameter (``kmsecdh directory``).

A stack of its own: it holds no key-agreement key and nothing the function needs, and the publishers read the
key stack's ``KeyGenerations`` output when they publish, so neither stack refers to the other.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Stack
from constructs import Construct

from kmsecdh_cdk.public_key_directory import PublicKeyDirectory
from stacks.config import EnvironmentConfig


def directory_signing_key_alias_name(config: EnvironmentConfig) -> str:
    """``alias/kmsecdh-<environment>-directory``: the organisation guardrails name the key by it."""
    return f"{config.key_alias_prefix}directory"


class DirectoryStack(Stack):
    def __init__(self, scope: Construct, id: str, *, config: EnvironmentConfig, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)
        self.directory = PublicKeyDirectory(
            self,
            "Directory",
            publishers=config.directory_publisher_arns,
            readers=config.public_key_reader_arns,
            reader_organization_id=config.public_key_reader_organization_id,
            administrators=config.admin_arns,
            parameter_name=f"/kmsecdh/{config.name}/directory",
            pending_window=Duration.days(config.pending_window_days),
            minimum_deletion_window_days=config.minimum_deletion_window_days,
            removal_policy=config.cdk_removal_policy,
            signing_key_alias_name=directory_signing_key_alias_name(config),
        )
        # The names kmsecdh directory publish and fetch read (kmsecdh/cli/commands/directory.py).
        CfnOutput(
            self,
            "DirectorySigningKeyArn",
            value=self.directory.signing_key.key_arn,
            description="Signs the directory (ES384); readers pin its public key (GetPublicKey)",
        )
        CfnOutput(self, "DirectoryBucketName", value=self.directory.bucket.bucket_name)
        CfnOutput(self, "DirectoryParameterName", value=self.directory.parameter.parameter_name)
        CfnOutput(
            self,
            "DirectoryMaxAgeDays",
            value=str(config.directory_max_age_days),
            description="How long a published directory stays valid (its exp): republish within it",
        )
