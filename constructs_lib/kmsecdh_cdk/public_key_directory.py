"""Where an environment publishes its signed public-key directory (``kmsecdh.directory``): a signing key, a
bucket and a parameter.

* The signing key: a SIGN_VERIFY KMS key (ECC_NIST_P384, the ES384 of the JWS), with an explicit key policy
  like the key-agreement keys' (no ``kms:*``, no grant): ``KeyAdministration``, ``AllowDirectorySign`` (the
  publishers, ``kms:Sign`` with ``ECDSA_SHA_384`` only), ``AllowSignatureVerification`` (publishers and
  readers: ``kms:GetPublicKey``, ``kms:Verify``, ``kms:DescribeKey``), ``DenySignToOthers`` (``kms:Sign``
  denied to everyone but the publishers), ``DenyPolicyLockoutBypass``, ``DenyShortDeletionWindow``.
* The bucket: versioned (every published directory stays retrievable), TLS only, public access blocked,
  SSE-S3; its policy lets the publishers put and the readers get the one object ``directory.jws``, and
  denies everyone a put of it without ``If-Match`` or ``If-None-Match`` (``DenyUnconditionalDirectoryWrite``):
  each publication names the one it replaces, so that of two racing publishers one fails.
* The SSM parameter: the same JWS, for readers in the account (parameters have no resource policy: give
  readers ``ssm:GetParameter`` on it in their IAM policy).

Publishers also need ``kms:GetPublicKey`` on the key-agreement keys (the stack makes them public-key readers)
and ``cloudformation:DescribeStacks`` on the environment's stacks in their own IAM policy.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from kmsecdh_cdk import iam_actions, key_policy
from kmsecdh_cdk.acknowledgments import COMPLIANCE_PACKS, acknowledge, skip_checkov
from kmsecdh_cdk.errors import KmsEcdhValidationError, validating
from kmsecdh_cdk.principals import exact_principal_arn

DIRECTORY_OBJECT_KEY = "directory.jws"
SIGNING_KEY_SPEC = kms.KeySpec.ECC_NIST_P384
# The placeholder CloudFormation stores until the first publish (a parameter cannot be empty).
UNPUBLISHED = "unpublished"
SIGNING_ALGORITHM = iam_actions.SIGNING_ALGORITHM_CONDITION_KEY


class PublicKeyDirectory(Construct):
    """The signing key, bucket and parameter of an environment's public-key directory.

    :param publishers: exact role or user ARNs that sign and publish (never an account root, ``*`` or ``?``).
    :param readers: principals that may read the directory and verify its signature.
    :param reader_organization_id: every principal of this AWS Organization may read and verify too.
    :param parameter_name: the SSM parameter's name (``/...``).
    :param signing_key_alias_name: an alias (``alias/...``) naming the signing key; default none. Policies of
        the organisation name a key by its aliases (``kms:ResourceAliases``), since its ARN is only known
        once it exists.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        publishers: Sequence[str],
        readers: Sequence[str] = (),
        reader_organization_id: str | None = None,
        administrators: Sequence[str] = (),
        parameter_name: str,
        pending_window: Duration = Duration.days(30),  # noqa: B008 (immutable)
        minimum_deletion_window_days: int = 30,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        signing_key_alias_name: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        if not publishers:
            raise KmsEcdhValidationError(self, "PublicKeyDirectory needs at least one publisher")
        with validating(self):
            publisher_arns = [exact_principal_arn(iam.ArnPrincipal(arn)) for arn in publishers]
            key_policy.check_pending_windows(pending_window.to_days(), minimum_deletion_window_days)
        verifiers = [iam.ArnPrincipal(arn) for arn in dict.fromkeys([*publisher_arns, *readers])]
        self.signing_key = kms.Key(
            self,
            "SigningKey",
            key_spec=SIGNING_KEY_SPEC,
            key_usage=kms.KeyUsage.SIGN_VERIFY,
            description="kmsecdh public-key directory: signs the directory (ES384)",
            enable_key_rotation=False,
            pending_window=pending_window,
            removal_policy=removal_policy,
            policy=iam.PolicyDocument(
                statements=[
                    key_policy.key_administration(
                        [
                            *(iam.ArnPrincipal(arn) for arn in administrators),
                            iam.ArnPrincipal(key_policy.cloudformation_execution_role_arn(self)),
                        ]
                    ),
                    key_policy.deny_policy_lockout_bypass(),
                    key_policy.deny_short_deletion_window(minimum_deletion_window_days),
                    iam.PolicyStatement(
                        sid="AllowDirectorySign",
                        principals=[iam.ArnPrincipal(arn) for arn in publisher_arns],
                        actions=[iam_actions.SIGN_ACTION],
                        resources=["*"],
                        conditions={
                            "StringEquals": {SIGNING_ALGORITHM: iam_actions.DIRECTORY_SIGNING_ALGORITHM}
                        },
                    ),
                    iam.PolicyStatement(
                        sid="DenySignToOthers",
                        effect=iam.Effect.DENY,
                        principals=[iam.AnyPrincipal()],
                        actions=[iam_actions.SIGN_ACTION],
                        resources=["*"],
                        conditions={"ArnNotEquals": {"aws:PrincipalArn": publisher_arns}},
                    ),
                    iam.PolicyStatement(
                        sid="AllowSignatureVerification",
                        principals=verifiers,
                        actions=list(iam_actions.SIGNATURE_VERIFICATION_ACTIONS),
                        resources=["*"],
                    ),
                    *self._organization_verification(reader_organization_id),
                ]
            ),
        )
        self.signing_key_alias = (
            kms.Alias(self, "SigningKeyAlias", alias_name=signing_key_alias_name, target_key=self.signing_key)
            if signing_key_alias_name is not None
            else None
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            # S3-managed: the object is public keys under a signature; readers in other accounts of the
            # organisation would otherwise need kms:Decrypt on a key of this account.
            encryption=s3.BucketEncryption.S3_MANAGED,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=removal_policy,
        )
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowDirectoryPublish",
                principals=[iam.ArnPrincipal(arn) for arn in publisher_arns],
                actions=[iam_actions.DIRECTORY_PUBLISH_ACTION],
                resources=[self.bucket.arn_for_objects(DIRECTORY_OBJECT_KEY)],
            )
        )
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DenyUnconditionalDirectoryWrite",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=[iam_actions.DIRECTORY_PUBLISH_ACTION],
                resources=[self.bucket.arn_for_objects(DIRECTORY_OBJECT_KEY)],
                # Both headers absent: the write does not say which directory it replaces.
                conditions={"Null": dict.fromkeys(iam_actions.CONDITIONAL_WRITE_CONDITION_KEYS, "true")},
            )
        )
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowDirectoryRead",
                principals=verifiers,
                actions=list(iam_actions.DIRECTORY_READ_ACTIONS),
                resources=[self.bucket.arn_for_objects(DIRECTORY_OBJECT_KEY)],
            )
        )
        if reader_organization_id is not None:
            self.bucket.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="AllowOrganizationDirectoryRead",
                    principals=[iam.AnyPrincipal()],
                    actions=list(iam_actions.DIRECTORY_READ_ACTIONS),
                    resources=[self.bucket.arn_for_objects(DIRECTORY_OBJECT_KEY)],
                    conditions={
                        "StringEquals": {key_policy.PRINCIPAL_ORG_ID_CONDITION_KEY: reader_organization_id}
                    },
                )
            )
        self.parameter = ssm.StringParameter(
            self,
            "Parameter",
            parameter_name=parameter_name,
            string_value=UNPUBLISHED,
            description="kmsecdh public-key directory: the signed JWK Set (compact JWS)",
            # A directory of several generations of three specs outgrows a standard parameter's 4 KB.
            tier=ssm.ParameterTier.ADVANCED,
        )
        self._acknowledge_findings()

    @staticmethod
    def _organization_verification(organization_id: str | None) -> list[iam.PolicyStatement]:
        if organization_id is None:
            return []
        return [
            iam.PolicyStatement(
                sid="AllowOrganizationSignatureVerification",
                principals=[iam.AnyPrincipal()],
                actions=list(iam_actions.SIGNATURE_VERIFICATION_ACTIONS),
                resources=["*"],
                conditions={"StringEquals": {key_policy.PRINCIPAL_ORG_ID_CONDITION_KEY: organization_id}},
            )
        ]

    def _acknowledge_findings(self) -> None:
        """Acknowledge, on the narrowest construct, the findings this design causes on purpose."""
        logging_reason = (
            "The bucket holds one signed document of public keys, meant to be read; its writes and reads "
            "by the publishers are KMS Sign and S3 API calls in CloudTrail, and an access-log bucket of its "
            "own would hold nothing worth more than the document."
        )
        acknowledge(self.bucket, "AwsSolutions-S1", logging_reason)
        skip_checkov(self.bucket, "CKV_AWS_18", logging_reason)
        for pack in COMPLIANCE_PACKS:
            acknowledge(self.bucket, f"{pack}-S3BucketLoggingEnabled", logging_reason)
            acknowledge(
                self.bucket,
                f"{pack}-S3BucketReplicationEnabled",
                "The directory is rebuilt from KMS by kmsecdh directory publish at any time and every "
                "version is kept; a replica would need a bucket in a second Region this stack does not own.",
            )
            acknowledge(
                self.bucket,
                f"{pack}-S3DefaultEncryptionKMS",
                "Public keys under a signature: SSE-S3 lets readers of other accounts of the organisation "
                "read it without kms:Decrypt on a key of this account: the signature, not secrecy, protects "
                "it.",
            )
