"""Every KMS action list the constructs grant, in one place, so a review reads one file.

No list holds a wildcard: a reviewer can see each action a principal gets.
"""

from __future__ import annotations

# Management only: no cryptographic operation, no CreateGrant. The CloudFormation execution role
# needs these to create, update and delete the key and its alias.
KEY_ADMINISTRATION_ACTIONS: tuple[str, ...] = (
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
    "kms:PutKeyPolicy",
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
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:ListGrants",
    "kms:RevokeGrant",
)

DERIVE_SHARED_SECRET_ACTION = "kms:DeriveSharedSecret"

PUBLIC_KEY_READ_ACTIONS: tuple[str, ...] = (
    "kms:GetPublicKey",
    "kms:DescribeKey",
)

DERIVE_ACTIONS: tuple[str, ...] = (DERIVE_SHARED_SECRET_ACTION, *PUBLIC_KEY_READ_ACTIONS)

KEY_AGREEMENT_ALGORITHM_CONDITION_KEY = "kms:KeyAgreementAlgorithm"
KEY_AGREEMENT_ALGORITHM = "ECDH"
