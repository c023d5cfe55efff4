"""Every KMS action list the constructs grant, in one place, so a review reads one file.

No list holds a wildcard: a reviewer can see each action a principal gets.
"""

from __future__ import annotations

PUT_KEY_POLICY_ACTION = "kms:PutKeyPolicy"
SCHEDULE_KEY_DELETION_ACTION = "kms:ScheduleKeyDeletion"

# Management only: no cryptographic operation, no CreateGrant. The CloudFormation execution role
# needs these to create, update and delete the key and its alias.
KEY_ADMINISTRATION_ACTIONS: tuple[str, ...] = (
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
    PUT_KEY_POLICY_ACTION,
    "kms:GetKeyRotationStatus",
    "kms:UpdateKeyDescription",
    "kms:EnableKey",
    "kms:DisableKey",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ListResourceTags",
    "kms:CreateAlias",
    "kms:UpdateAlias",
    "kms:DeleteAlias",
    SCHEDULE_KEY_DELETION_ACTION,
    "kms:CancelKeyDeletion",
    "kms:ListGrants",
    "kms:RevokeGrant",
    # When the key was last used (kmsecdh audit --environment): KMS checks it in the key policy only.
    "kms:GetKeyLastUsage",
)

DERIVE_SHARED_SECRET_ACTION = "kms:DeriveSharedSecret"  # noqa: S105 (an action name, not a secret)

PUBLIC_KEY_READ_ACTIONS: tuple[str, ...] = (
    "kms:GetPublicKey",
    "kms:DescribeKey",
)

# Creating a replica of a multi-Region key: allowed in the primary key's policy to whoever creates replicas.
REPLICATE_KEY_ACTION = "kms:ReplicateKey"
# Moving a multi-Region key's primary to a replica's Region: no statement grants it.
UPDATE_PRIMARY_REGION_ACTION = "kms:UpdatePrimaryRegion"

DERIVE_ACTIONS: tuple[str, ...] = (DERIVE_SHARED_SECRET_ACTION, *PUBLIC_KEY_READ_ACTIONS)

KEY_AGREEMENT_ALGORITHM_CONDITION_KEY = "kms:KeyAgreementAlgorithm"
KEY_AGREEMENT_ALGORITHM = "ECDH"

# The derive function's dedicated log group key (symmetric). CloudWatch Logs encrypts events with it and
# decrypts them for readers; nobody else gets a cryptographic operation.
LOG_ENCRYPTION_ACTIONS: tuple[str, ...] = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:DescribeKey",
)

# Management of a symmetric key with automatic rotation: the key-agreement administration list plus
# the rotation switches CloudFormation sets.
SYMMETRIC_KEY_ADMINISTRATION_ACTIONS: tuple[str, ...] = (
    *KEY_ADMINISTRATION_ACTIONS,
    "kms:EnableKeyRotation",
    "kms:DisableKeyRotation",
)

# What a VPC-attached Lambda's execution role needs to manage the function's network interfaces (the
# actions of the AWS managed policy AWSLambdaVPCAccessExecutionRole, without its logs actions), split in
# two: the describe actions support no resource-level permission; the others change network interfaces
# and are limited to the function's VPC with the ec2:Vpc condition key.
LAMBDA_VPC_DESCRIBE_ACTIONS: tuple[str, ...] = (
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
)
LAMBDA_VPC_NETWORK_INTERFACE_ACTIONS: tuple[str, ...] = (
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)
VPC_CONDITION_KEY = "ec2:Vpc"

# The derive function's environment key. Whoever configures the function (the CloudFormation execution
# role) needs these for Lambda to encrypt the variables and create its grant on the key; the function's
# role decrypts them when an execution environment starts.
LAMBDA_ENVIRONMENT_ENCRYPTION_ACTIONS: tuple[str, ...] = ("kms:Encrypt", "kms:CreateGrant")
LAMBDA_ENVIRONMENT_DECRYPTION_ACTION = "kms:Decrypt"

# Writing to a log group: what the isolated network's Logs endpoint admits for the derive function's group.
LOG_DELIVERY_ACTIONS: tuple[str, ...] = ("logs:CreateLogStream", "logs:PutLogEvents")

# The audit construct's keys (kmsecdh_cdk/audit/keys.py). CloudTrail (through S3) asks for a data key per log
# file and checks the key when the trail is created or updated.
CLOUDTRAIL_ENCRYPTION_ACTION = "kms:GenerateDataKey"
CLOUDTRAIL_DESCRIBE_KEY_ACTION = "kms:DescribeKey"
# CloudTrail checks the bucket's ACL and writes the log files (the trail bucket's policy).
CLOUDTRAIL_BUCKET_ACL_CHECK_ACTION = "s3:GetBucketAcl"
CLOUDTRAIL_LOG_DELIVERY_ACTION = "s3:PutObject"
# What could shorten how long the trail's buckets keep log files, or hide that it happened: the audit's bucket
# policies deny these to everyone but the CloudFormation execution role (bypassing governance retention is an
# object action; the others act on the bucket).
TRAIL_BUCKET_PROTECTED_ACTIONS: tuple[str, ...] = (
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketVersioning",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutBucketLogging",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:BypassGovernanceRetention",
)
# Readers of the trail's log files decrypt them through S3.
CLOUDTRAIL_LOG_DECRYPTION_ACTION = "kms:Decrypt"
# CloudWatch alarms publishing to the KMS-encrypted alarm topic.
ALARM_TOPIC_ENCRYPTION_ACTIONS: tuple[str, ...] = ("kms:GenerateDataKey", "kms:Decrypt")
# The audit's heartbeat: EventBridge Scheduler puts one SSM parameter (a harmless, logged write).
AUDIT_HEARTBEAT_ACTION = "ssm:PutParameter"

# The public-key directory (kmsecdh_cdk.public_key_directory): its signing key signs ES384 only, its bucket
# takes and serves the one directory object.
SIGN_ACTION = "kms:Sign"
SIGNING_ALGORITHM_CONDITION_KEY = "kms:SigningAlgorithm"
DIRECTORY_SIGNING_ALGORITHM = "ECDSA_SHA_384"
SIGNATURE_VERIFICATION_ACTIONS: tuple[str, ...] = ("kms:GetPublicKey", "kms:Verify", "kms:DescribeKey")
DIRECTORY_PUBLISH_ACTION = "s3:PutObject"
DIRECTORY_READ_ACTIONS: tuple[str, ...] = ("s3:GetObject", "s3:GetObjectVersion")
# S3 conditional writes: the If-Match and If-None-Match headers of a PutObject (absent: the key is null).
CONDITIONAL_WRITE_CONDITION_KEYS: tuple[str, ...] = ("s3:if-match", "s3:if-none-match")

# The pipeline's publish step assumes the environment's publisher role.
ASSUME_ROLE_ACTION = "sts:AssumeRole"

# The organisation guardrails (kmsecdh_cdk.guardrails): what service control policies refuse on the
# project's resources to everyone but their callers (invoke) or their deployers (every change). Wildcards
# stay within one verb of one service, so a reader can still list what they match.
FUNCTION_INVOKE_ACTIONS: tuple[str, ...] = (
    "lambda:InvokeFunction",
    "lambda:InvokeFunctionUrl",
    "lambda:InvokeAsync",
)
FUNCTION_CHANGE_ACTIONS: tuple[str, ...] = (
    "lambda:AddPermission",
    "lambda:RemovePermission",
    "lambda:Create*",
    "lambda:Delete*",
    "lambda:Put*",
    "lambda:Update*",
    "lambda:PublishVersion",
    "lambda:TagResource",
    "lambda:UntagResource",
)
ROLE_CHANGE_ACTIONS: tuple[str, ...] = (
    "iam:PassRole",
    "iam:CreateRole",
    "iam:DeleteRole",
    "iam:UpdateRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
    "iam:TagRole",
    "iam:UntagRole",
)
# A key's policy, tags, replication and state; CreateGrant too, though no key policy grants it.
KEY_CHANGE_ACTIONS: tuple[str, ...] = (
    PUT_KEY_POLICY_ACTION,
    "kms:TagResource",
    "kms:UntagResource",
    REPLICATE_KEY_ACTION,
    UPDATE_PRIMARY_REGION_ACTION,
    "kms:EnableKey",
    "kms:DisableKey",
    SCHEDULE_KEY_DELETION_ACTION,
    "kms:CancelKeyDeletion",
    "kms:UpdateKeyDescription",
    "kms:CreateGrant",
)
ALIAS_CHANGE_ACTIONS: tuple[str, ...] = ("kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias")
TRAIL_CHANGE_ACTIONS: tuple[str, ...] = (
    "cloudtrail:StopLogging",
    "cloudtrail:DeleteTrail",
    "cloudtrail:UpdateTrail",
    "cloudtrail:PutEventSelectors",
    "cloudtrail:PutInsightSelectors",
)
AUDIT_LOG_GROUP_CHANGE_ACTIONS: tuple[str, ...] = (
    "logs:DeleteLogGroup",
    "logs:PutRetentionPolicy",
    "logs:DeleteRetentionPolicy",
    "logs:AssociateKmsKey",
    "logs:DisassociateKmsKey",
    "logs:PutMetricFilter",
    "logs:DeleteMetricFilter",
)
ALARM_CHANGE_ACTIONS: tuple[str, ...] = (
    "cloudwatch:DeleteAlarms",
    "cloudwatch:DisableAlarmActions",
    "cloudwatch:PutMetricAlarm",
)
ALARM_TOPIC_CHANGE_ACTIONS: tuple[str, ...] = (
    "sns:DeleteTopic",
    "sns:SetTopicAttributes",
    "sns:Unsubscribe",
    "sns:RemovePermission",
    "sns:AddPermission",
)
# The resource control policy: the cryptographic operations a principal outside the organisation never gets.
OUTSIDE_ORGANIZATION_DENIED_ACTIONS: tuple[str, ...] = (DERIVE_SHARED_SECRET_ACTION, SIGN_ACTION)
