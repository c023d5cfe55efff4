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
_CLOUDTRAIL_EVENT_SOURCE = '($.eventSource = "cloudtrail.amazonaws.com")'
_LOGS_EVENT_SOURCE = '($.eventSource = "logs.amazonaws.com")'
_CLOUDWATCH_EVENT_SOURCE = '($.eventSource = "monitoring.amazonaws.com")'
_SNS_EVENT_SOURCE = '($.eventSource = "sns.amazonaws.com")'
_SSM_EVENT_SOURCE = '($.eventSource = "ssm.amazonaws.com")'
_KEY_ID_IN_REQUEST = "$.requestParameters.keyId"

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
# A multi-Region key gets a replica (with a key policy of the caller's choosing) or another primary Region.
KEY_REPLICATION_EVENT_NAMES: tuple[str, ...] = ("ReplicateKey", "UpdatePrimaryRegion")
# Calls that stop a trail or change what it records (PutEventSelectors sets basic and advanced selectors
# alike).
TRAIL_CHANGE_EVENT_NAMES: tuple[str, ...] = ("StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors")
# Calls that delete the audit's log group, its metric filters, or the events it holds (a shorter retention).
LOG_GROUP_CHANGE_EVENT_NAMES: tuple[str, ...] = (
    "DeleteLogGroup",
    "DeleteMetricFilter",
    "PutMetricFilter",
    "PutRetentionPolicy",
)
# Calls that silence alarms: named in a list (requestParameters.alarmNames, which a filter cannot search), so
# matched on any alarm of the account.
ALARM_SILENCING_EVENT_NAMES: tuple[str, ...] = ("DeleteAlarms", "DisableAlarmActions")
# PutMetricAlarm names one alarm (requestParameters.alarmName) and can disable its actions or change it.
ALARM_REPLACEMENT_EVENT_NAME = "PutMetricAlarm"
# Calls on the alarm topic (requestParameters.topicArn): its policy or encryption changed
# (SetTopicAttributes), CloudWatch's permission removed, the topic deleted.
TOPIC_CHANGE_EVENT_NAMES: tuple[str, ...] = ("SetTopicAttributes", "RemovePermission", "DeleteTopic")
# Calls on one of its subscriptions (requestParameters.subscriptionArn, ``<topic ARN>:<id>``).
SUBSCRIPTION_CHANGE_EVENT_NAMES: tuple[str, ...] = ("Unsubscribe", "SetSubscriptionAttributes")
# Calls that stop a key of the audit itself (the trail's, the topic's) from working, or hand it to others.
AUDIT_KEY_CHANGE_EVENT_NAMES: tuple[str, ...] = ("DisableKey", "ScheduleKeyDeletion", "PutKeyPolicy")
# The directory signing key: its policy, a grant, or its state.
SIGNING_KEY_CHANGE_EVENT_NAMES: tuple[str, ...] = (
    "PutKeyPolicy",
    "CreateGrant",
    "DisableKey",
    "EnableKey",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
)
# The Lambda calls that set a function's execution role (requestParameters.role), versioned like the others.
ROLE_SETTING_EVENT_PREFIXES: tuple[str, ...] = ("CreateFunction", "UpdateFunctionConfiguration")
# KMS's error codes for a call on a key that cannot be used in its state: disabled (DisabledException), or
# pending deletion, pending import or unavailable (KMSInvalidStateException).
UNUSABLE_KEY_ERROR_CODES: tuple[str, ...] = ("DisabledException", "KMSInvalidStateException")


def key_disabled_or_deletion_scheduled_pattern() -> str:
    """The CIS AWS Foundations Benchmark pattern, verbatim: any key of the account."""
    return (
        "{($.eventSource = kms.amazonaws.com) && "
        "(($.eventName=DisableKey)||($.eventName=ScheduleKeyDeletion))}"
    )


def key_policy_or_grant_changed_pattern(key_id: str) -> str:
    """PutKeyPolicy or CreateGrant (attempts included) on the key in any Region. Both calls take only a key
    id or key ARN, never an alias."""
    return _pattern(
        _KMS_EVENT_SOURCE,
        _any_equal("$.eventName", ("PutKeyPolicy", "CreateGrant")),
        _names_key(key_id),
    )


def key_replication_pattern(key_id: str) -> str:
    """ReplicateKey or UpdatePrimaryRegion of the multi-Region key, attempts included: a new replica carries
    the key policy its creator chose, and none of the primary's denies travel with it."""
    return _pattern(
        _KMS_EVENT_SOURCE,
        _any_equal("$.eventName", KEY_REPLICATION_EVENT_NAMES),
        _names_key(key_id),
    )


def derive_by_unallowed_principal_pattern(key_id: str, allowed_deriver_arns: Sequence[str]) -> str:
    """DeriveSharedSecret on the key in any Region (a replica keeps the primary's key id) by anyone but
    ``allowed_deriver_arns``. A refused derive, which may lack the resource, is ``key_access_denied``'s."""
    return _operation_by_unallowed_principal(
        '($.eventName = "DeriveSharedSecret")', _key_resource(key_id), allowed_deriver_arns
    )


def derive_on_unusable_key_pattern(key_id: str) -> str:
    """DeriveSharedSecret on the key refused because it is disabled or pending deletion: someone still uses
    a generation that was taken out of service (or a key disabled by hand)."""
    return _pattern(
        _KMS_EVENT_SOURCE,
        '($.eventName = "DeriveSharedSecret")',
        _any_equal("$.errorCode", UNUSABLE_KEY_ERROR_CODES),
        _names_key(key_id),
    )


def retired_key_used_pattern(key_id: str) -> str:
    """Any DeriveSharedSecret on a retired generation's key, refused or not: the stack disabled it, so one
    that succeeds means the key was enabled again outside the stack, and one that fails means a peer or an
    application still uses the retired key."""
    return _pattern(_KMS_EVENT_SOURCE, '($.eventName = "DeriveSharedSecret")', _names_key(key_id))


def key_access_denied_pattern(key_id: str) -> str:
    """A denied KMS call naming the key in any Region: in the event's resources, or by key id or key ARN in
    the request (``alias_access_denied_pattern`` covers requests by alias)."""
    return _pattern(_KMS_EVENT_SOURCE, '($.errorCode = "AccessDenied*")', _names_key(key_id))


def alias_access_denied_pattern(alias_name: str) -> str:
    """A denied KMS call naming the key by ``alias_name`` (``alias/...``) or by its alias ARN, in any Region
    (a replica Region has the same aliases)."""
    return _pattern(
        _KMS_EVENT_SOURCE,
        '($.errorCode = "AccessDenied*")',
        _any_equal(_KEY_ID_IN_REQUEST, (alias_name, f"*:{alias_name}")),
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


def role_passed_to_function_pattern(role_arn: str) -> str:
    """A function created, or reconfigured, with ``role_arn`` as its execution role, in any Region and
    whatever its name: Lambda names the role's session after the function, so a function of the derive
    function's name elsewhere would derive with a session ``derive_outside_function`` cannot tell apart."""
    return _pattern(
        _LAMBDA_EVENT_SOURCE,
        _any_equal("$.eventName", tuple(f"{prefix}*" for prefix in ROLE_SETTING_EVENT_PREFIXES)),
        f'($.requestParameters.role = "{role_arn}")',
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


def trail_changed_pattern() -> str:
    """Any trail of the account stopped, deleted, updated or given other event selectors (basic or
    advanced). Any trail, not only the audit's: a trail is named by name or ARN, and in an account that holds
    the keys every trail change deserves a look."""
    return _pattern(_CLOUDTRAIL_EVENT_SOURCE, _any_equal("$.eventName", TRAIL_CHANGE_EVENT_NAMES))


def audit_log_group_changed_pattern(log_group_name: str) -> str:
    """The audit's log group deleted, a metric filter on it deleted or put, or its retention changed."""
    return _pattern(
        _LOGS_EVENT_SOURCE,
        _any_equal("$.eventName", LOG_GROUP_CHANGE_EVENT_NAMES),
        f'($.requestParameters.logGroupName = "{log_group_name}")',
    )


def alarms_changed_pattern(alarm_name_prefix: str) -> str:
    """Any alarm of the account deleted or its actions disabled (``ALARM_SILENCING_EVENT_NAMES``), or an
    alarm whose name starts with ``alarm_name_prefix`` (the audit's) put again, which can disable its
    actions or change what it watches."""
    return _pattern(
        _CLOUDWATCH_EVENT_SOURCE,
        "("
        + _any_equal("$.eventName", ALARM_SILENCING_EVENT_NAMES)
        + f' || (($.eventName = "{ALARM_REPLACEMENT_EVENT_NAME}") && '
        f'($.requestParameters.alarmName = "{alarm_name_prefix}*"))' + ")",
    )


def alarm_topic_changed_pattern(topic_arn: str) -> str:
    """The alarm topic's attributes (policy, key) set, a permission removed or the topic deleted; one of
    its subscriptions removed or its attributes (a filter policy, delivery) set."""
    on_topic = (
        "("
        + _any_equal("$.eventName", TOPIC_CHANGE_EVENT_NAMES)
        + f' && ($.requestParameters.topicArn = "{topic_arn}"))'
    )
    on_subscription = (
        "("
        + _any_equal("$.eventName", SUBSCRIPTION_CHANGE_EVENT_NAMES)
        + f' && ($.requestParameters.subscriptionArn = "{topic_arn}:*"))'
    )
    return _pattern(_SNS_EVENT_SOURCE, f"({on_topic} || {on_subscription})")


def audit_key_changed_pattern(key_id: str) -> str:
    """A key of the audit itself (the trail's, the topic's) disabled, scheduled for deletion or given
    another policy. Disabling the trail key stops delivery, so this event may be the last one delivered:
    the heartbeat tells when nothing arrives any more."""
    return _pattern(
        _KMS_EVENT_SOURCE,
        _any_equal("$.eventName", AUDIT_KEY_CHANGE_EVENT_NAMES),
        _names_key(key_id),
    )


def heartbeat_pattern(parameter_name: str, role_arn: str) -> str:
    """The heartbeat: SSM PutParameter of ``parameter_name`` by a session of ``role_arn`` (the schedule's
    role), refused or not: the record arriving is what proves delivery."""
    return _pattern(
        _SSM_EVENT_SOURCE,
        '($.eventName = "PutParameter")',
        f'($.requestParameters.name = "{parameter_name}")',
        f'({_SESSION_ISSUER} = "{role_arn}")',
    )


def signing_key_changed_pattern(key_id: str) -> str:
    """The directory signing key's policy replaced, a grant created, or its state changed (disabled,
    enabled, deletion scheduled or cancelled)."""
    return _pattern(
        _KMS_EVENT_SOURCE,
        _any_equal("$.eventName", SIGNING_KEY_CHANGE_EVENT_NAMES),
        _names_key(key_id),
    )


def sign_by_unallowed_principal_pattern(key_id: str, signer_arns: Sequence[str]) -> str:
    """Sign with the key by anyone but ``signer_arns`` (the publishers), refused or not: the key policy
    denies it to everyone else, so each one is an attempt to sign a directory."""
    return _operation_by_unallowed_principal('($.eventName = "Sign")', _names_key(key_id), signer_arns)


def estimated_pattern_length(pattern: str) -> int:
    """The pattern's length once deployed, counting each unresolved token at ``TOKEN_LENGTH_BOUND``."""
    tokens = _TOKEN.findall(pattern)
    return len(_TOKEN.sub("", pattern)) + TOKEN_LENGTH_BOUND * len(tokens)


def _key_resource(key_id: str) -> str:
    """The event's resource is the key of ``key_id``, in any Region and account: a multi-Region key and its
    replicas share the ``mrk-`` id, and a key id is unique."""
    return f'($.resources[0].ARN = "*:key/{key_id}")'


def _names_key(key_id: str) -> str:
    """The event is about the key of ``key_id``, in any Region: in its resources, or in the request by key
    id or key ARN (a refused call may lack the resource)."""
    return f"({_key_resource(key_id)} || " + _any_equal(_KEY_ID_IN_REQUEST, (key_id, f"*:key/{key_id}")) + ")"


def _operation_by_unallowed_principal(
    event_name: str, key_condition: str, allowed_arns: Sequence[str]
) -> str:
    return _pattern(_KMS_EVENT_SOURCE, event_name, key_condition, *_caller_not_in(allowed_arns))


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
