"""The CloudWatch Logs metric filter patterns of the audit: small pure functions, one per alarm.

No construct code lives here, so each pattern can be read, tested against CloudTrail event samples
(``tests/infra/cloudtrail_samples``) and run through CloudWatch Logs ``TestMetricFilter`` on its own.
Arguments may be CDK tokens: they are strings (``${Token[...]}``) until synthesis, and
``estimated_pattern_length`` counts each at ``TOKEN_LENGTH_BOUND``.

Who called: for a Lambda function (or any role session) CloudTrail records ``userIdentity.type =
AssumedRole``, ``userIdentity.arn = arn:<partition>:sts::<account>:assumed-role/<role name>/<session>`` (a
function's session is its function name) and the role itself, path included, as
``userIdentity.sessionContext.sessionIssuer.arn``; that role ARN is what IAM's ``aws:PrincipalArn`` sees,
so roles are matched there. IAM users and the account root have no session issuer; they are matched on
``userIdentity.arn``.

CloudWatch Logs semantics the patterns rely on: a comparison with a property the event does not have is
false, ``=`` and ``!=`` alike (hence the explicit ``NOT EXISTS`` for a missing session issuer); ``*`` in a
quoted value matches any characters.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import Token

MAX_FILTER_PATTERN_LENGTH = 1024
# An unresolved token is counted at this length when checking the pattern limit: a KMS key ARN (36-character
# key id), a CloudFormation-made role ARN or name (root path, name of at most 64 characters), a function
# name (at most 64) or ARN, in any partition and Region, fits.
TOKEN_LENGTH_BOUND = 128

_TOKEN = re.compile(r"\$\{Token\[[^\]]+\]\}")
_SESSION_ISSUER = "$.userIdentity.sessionContext.sessionIssuer.arn"
_KMS_EVENT_SOURCE = '($.eventSource = "kms.amazonaws.com")'
_LAMBDA_EVENT_SOURCE = '($.eventSource = "lambda.amazonaws.com")'
_IAM_EVENT_SOURCE = '($.eventSource = "iam.amazonaws.com")'

# Lambda's management event names carry the API version they were called with (UpdateFunctionCode20150331v2,
# PutFunctionConcurrency20171031, ...), so each family is matched by prefix. The prefixes cover: code and
# configuration (UpdateFunctionCode*, UpdateFunctionConfiguration*, and the URL, event-invoke and other
# UpdateFunction* settings), resource-policy permissions (AddPermission*, RemovePermission*), a function URL
# (CreateFunctionUrlConfig*, which can open the function to callers outside IAM), reserved concurrency and
# the other per-function settings (PutFunction*: PutFunctionConcurrency, PutFunctionCodeSigningConfig, ...),
# and deletion of the function or of one of its settings (DeleteFunction*: DeleteFunction,
# DeleteFunctionConcurrency, DeleteFunctionUrlConfig, ...).
FUNCTION_CHANGE_EVENT_PREFIXES: tuple[str, ...] = (
    "UpdateFunction",
    "AddPermission",
    "RemovePermission",
    "CreateFunctionUrlConfig",
    "PutFunction",
    "DeleteFunction",
)
# IAM (a global service: a multi-Region trail with global service events delivers these) calls that change
# what a role may do or who may assume it, or delete it. IAM event names carry no version suffix.
ROLE_CHANGE_EVENT_NAMES: tuple[str, ...] = (
    "PutRolePolicy",
    "DeleteRolePolicy",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "UpdateAssumeRolePolicy",
    "PutRolePermissionsBoundary",
    "DeleteRolePermissionsBoundary",
    "DeleteRole",
)
ALIAS_CHANGE_EVENT_NAMES: tuple[str, ...] = ("CreateAlias", "UpdateAlias", "DeleteAlias")
# KMS's error codes for a call on a key that cannot be used in its state: disabled (DisabledException), or
# pending deletion, pending import or unavailable (KMSInvalidStateException).
UNUSABLE_KEY_ERROR_CODES: tuple[str, ...] = ("DisabledException", "KMSInvalidStateException")


def key_disabled_or_deletion_scheduled_pattern() -> str:
    """The CIS AWS Foundations Benchmark pattern, verbatim: any key of the account."""
    return (
        "{($.eventSource = kms.amazonaws.com) && "
        "(($.eventName=DisableKey)||($.eventName=ScheduleKeyDeletion))}"
    )


def key_policy_or_grant_changed_pattern(key_arn: str) -> str:
    return _pattern(
        _KMS_EVENT_SOURCE,
        _any_equal("$.eventName", ("PutKeyPolicy", "CreateGrant")),
        f'($.resources[0].ARN = "{key_arn}")',
    )


def derive_by_unallowed_principal_pattern(key_arn: str, allowed_deriver_arns: Sequence[str]) -> str:
    """DeriveSharedSecret on ``key_arn`` by anyone but ``allowed_deriver_arns``."""
    return _pattern(
        _KMS_EVENT_SOURCE,
        '($.eventName = "DeriveSharedSecret")',
        f'($.resources[0].ARN = "{key_arn}")',
        *_caller_not_in(allowed_deriver_arns),
    )


def derive_on_unusable_key_pattern(key_arn: str) -> str:
    """DeriveSharedSecret on ``key_arn`` refused because the key is disabled or pending deletion: someone
    still uses a generation that was taken out of service (or a key disabled by hand)."""
    return _pattern(
        _KMS_EVENT_SOURCE,
        '($.eventName = "DeriveSharedSecret")',
        _any_equal("$.errorCode", UNUSABLE_KEY_ERROR_CODES),
        _names_key(key_arn),
    )


def retired_key_used_pattern(key_arn: str) -> str:
    """Any DeriveSharedSecret on a retired generation's key, refused or not: the stack disabled it, so one
    that succeeds means the key was enabled again outside the stack, and one that fails means a peer or an
    application still uses the retired key."""
    return _pattern(_KMS_EVENT_SOURCE, '($.eventName = "DeriveSharedSecret")', _names_key(key_arn))


def key_access_denied_pattern(key_arn: str) -> str:
    """A denied KMS call naming the key: in the event's resources, or by key ARN in the request."""
    return _pattern(
        _KMS_EVENT_SOURCE,
        '($.errorCode = "AccessDenied*")',
        _names_key(key_arn),
    )


def function_invoked_by_unallowed_principal_pattern(function_arn: str, caller_arns: Sequence[str]) -> str:
    """A Lambda ``Invoke`` data event on the function by anyone but ``caller_arns``.

    The data event names the unqualified function ARN as its resource, also when an alias or version was
    invoked. With no callers, every invocation matches: nobody is meant to invoke the function.
    """
    return _pattern(
        _LAMBDA_EVENT_SOURCE,
        '($.eventName = "Invoke")',
        f'($.resources[0].ARN = "{function_arn}")',
        *_caller_not_in(caller_arns),
    )


def function_changed_pattern(function_arn: str, function_name: str) -> str:
    """A management call that changes or deletes the function (see ``FUNCTION_CHANGE_EVENT_PREFIXES``).

    ``requestParameters.functionName`` holds what the caller passed: the name, the ARN (qualified with a
    version or alias for some calls), or a partial ARN ``<account>:function:<name>``.
    """
    name = "$.requestParameters.functionName"
    return _pattern(
        _LAMBDA_EVENT_SOURCE,
        _any_equal("$.eventName", tuple(f"{prefix}*" for prefix in FUNCTION_CHANGE_EVENT_PREFIXES)),
        _any_equal(name, (function_name, f"*:function:{function_name}", f"{function_arn}:*")),
    )


def role_changed_pattern(role_name: str) -> str:
    """A change to the role's policies, permissions boundary or trust policy, or its deletion."""
    return _pattern(
        _IAM_EVENT_SOURCE,
        _any_equal("$.eventName", ROLE_CHANGE_EVENT_NAMES),
        f'($.requestParameters.roleName = "{role_name}")',
    )


def alias_changed_pattern(alias_name: str) -> str:
    """CreateAlias, UpdateAlias or DeleteAlias of ``alias_name`` (``alias/...``)."""
    return _pattern(
        _KMS_EVENT_SOURCE,
        _any_equal("$.eventName", ALIAS_CHANGE_EVENT_NAMES),
        f'($.requestParameters.aliasName = "{alias_name}")',
    )


def derive_outside_function_pattern(role_arn: str, function_session_arn: str) -> str:
    """DeriveSharedSecret with the derive role's credentials from any session but the function's own.

    ``function_session_arn`` is ``arn:<partition>:sts::<account>:assumed-role/<role name>/<function
    name>``: whoever else assumes the role (or reuses credentials taken from the function) shows another.
    """
    return _pattern(
        _KMS_EVENT_SOURCE,
        '($.eventName = "DeriveSharedSecret")',
        f'({_SESSION_ISSUER} = "{role_arn}")',
        f'($.userIdentity.arn != "{function_session_arn}")',
    )


def estimated_pattern_length(pattern: str) -> int:
    """The pattern's length once deployed, counting each unresolved token at ``TOKEN_LENGTH_BOUND``."""
    tokens = _TOKEN.findall(pattern)
    return len(_TOKEN.sub("", pattern)) + TOKEN_LENGTH_BOUND * len(tokens)


def _names_key(key_arn: str) -> str:
    """The event is about ``key_arn``: in its resources, or by key ARN in the request (a refused call may
    lack the resource)."""
    return f'(($.resources[0].ARN = "{key_arn}") || ($.requestParameters.keyId = "{key_arn}"))'


def _pattern(*conditions: str) -> str:
    return "{ " + " && ".join(conditions) + " }"


def _any_equal(selector: str, values: Sequence[str]) -> str:
    return "(" + " || ".join(f'({selector} = "{value}")' for value in values) + ")"


def _caller_not_in(allowed_arns: Sequence[str]) -> list[str]:
    """Conditions true when the caller is none of ``allowed_arns``.

    Role ARNs (and unresolved tokens, which are the roles CDK makes) are compared with the session issuer;
    other principals (users, the account root) with ``userIdentity.arn``. Each test also passes a caller
    without the compared property (a user has no session issuer, an AWS service acting on its own, such as
    an EventBridge rule invoking a function, has no ``userIdentity.arn``), since a comparison with an absent
    property is false.
    """
    roles = [arn for arn in allowed_arns if _is_role(arn)]
    others = [arn for arn in allowed_arns if not _is_role(arn)]
    return [
        _none_of(selector, arns)
        for selector, arns in (("$.userIdentity.arn", others), (_SESSION_ISSUER, roles))
        if arns
    ]


def _none_of(selector: str, values: Sequence[str]) -> str:
    """True when ``selector`` is absent or differs from every one of ``values``."""
    checks = " && ".join(f'({selector} != "{value}")' for value in values)
    return f"(({selector} NOT EXISTS) || ({checks}))"


def _is_role(arn: str) -> bool:
    return Token.is_unresolved(arn) or ":role/" in arn
