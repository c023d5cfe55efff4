"""CloudTrail auditing of the key-agreement keys and the derive function: a trail (or an organisation
trail's log group) and alarms.

Two trail modes:

* create (``existing_log_group_name=None``): a multi-Region trail with log file validation, every management
  event (read and write, no event source excluded, so KMS and the global IAM events are in) and the Lambda
  ``Invoke`` data events of the derive functions only (advanced event selectors on their ARNs, so data
  event charges stay with those invocations), log files encrypted with a dedicated rotating KMS key, an S3
  bucket (public access blocked, TLS only, versioned, access-logged to a second bucket, expiring after
  ``bucket_retention``) and delivery to an encrypted CloudWatch Logs group.
* existing: the log group of an organisation trail, by name; no trail is created. That trail must record
  what the filters below read, the derive functions' ``Invoke`` data events included: nothing here can
  check it.

On that log group, metric filters (patterns in ``kmsecdh_cdk.audit.patterns``) feed one alarm per kind of
event, each firing on one or more matching events in five minutes and publishing to a KMS-encrypted SNS
topic. Keys are matched by key id in every Region (a multi-Region key's replicas keep its ``mrk-`` id), so a
replica made anywhere is watched too:

* ``KeyDisabledOrDeletionScheduled``: DisableKey / ScheduleKeyDeletion on any key of the account (CIS 4.7)
* ``KeyPolicyOrGrantChanged``: PutKeyPolicy / CreateGrant on one of ``key_ids``
* ``KeyReplicatedOrPrimaryRegionChanged``: ReplicateKey / UpdatePrimaryRegion of one of ``key_ids``
* ``DeriveByUnallowedPrincipal``: DeriveSharedSecret on one of ``key_ids`` by a principal not in
  ``allowed_deriver_arns``
* ``KeyAccessDenied``: an AccessDenied* error of a KMS call naming one of ``key_ids`` (resource, key id,
  key ARN) or one of ``alias_names`` (alias name, alias ARN)
* ``KeyAliasChanged``: CreateAlias / UpdateAlias / DeleteAlias of one of ``alias_names``
* ``RetiredOrDisabledKeyUsed``: DeriveSharedSecret refused on one of ``key_ids`` because it is disabled or
  pending deletion, or any DeriveSharedSecret on one of ``retired_key_ids``
* ``AuditLayerChanged``: the audit itself switched off or bent: a trail of the account stopped, deleted,
  updated or given other event selectors; the log group deleted, a metric filter on it deleted or put, its
  retention changed; an alarm of the account deleted or its actions disabled, one of these alarms put again;
  the topic's attributes set, a permission removed, the topic deleted, a subscription removed or changed; the
  trail key or the topic key disabled, scheduled for deletion or given another policy
* ``AuditHeartbeat``: an EventBridge Scheduler schedule puts an SSM parameter every few minutes; its
  CloudTrail record counted here proves the trail still delivers, and the alarm fires when none arrives
  (missing data is breaching: a dead pipeline must not look like a quiet one)

for each of ``derive_functions``:

* ``DeriveFunctionInvokedByUnallowedPrincipal``: Invoke by a principal not in its ``caller_arns``
* ``DeriveFunctionChanged``: its code, configuration, permissions, URL, concurrency changed, or deleted
* ``DeriveRoleChanged``: its role's policies, permissions boundary or trust policy changed, or role deleted
* ``DeriveRolePassedToFunction``: a function created or reconfigured with its role, in any Region
* ``DeriveOutsideFunction``: DeriveSharedSecret with its role's credentials outside the function's session

and for the ``signing_key`` of a public-key directory:

* ``DirectorySigningKeyChanged``: its policy replaced, a grant created, or its state changed
* ``DirectorySignByUnallowedPrincipal``: Sign with it by anyone but its signers

Filters for keys, aliases, functions and audit resources come one per resource (all feeding the same
metric) so a pattern never grows with their number; CloudWatch Logs refuses patterns over 1024 characters,
and a list of principals that could exceed it is rejected at construct time.

The package, one module per part: ``construct`` (``KeyUsageAudit``, composing the others), ``trail`` (the
trail, its buckets, Object Lock and its key), ``topic`` (the alarm topic and its key), ``heartbeat`` (the
schedule and its alarm), ``alarms``, ``events`` (the catalogue: ``AuditedEvent``, ``AuditedFunction``,
``AuditedSigningKey``), ``filters`` (which patterns each event gets), ``patterns`` (the patterns themselves,
pure functions with no construct code) and ``keys`` (the audit's own keys).
"""

from kmsecdh_cdk.audit.construct import KeyUsageAudit
from kmsecdh_cdk.audit.events import AUDITED_EVENTS, AuditedEvent, AuditedFunction, AuditedSigningKey

__all__ = ["AUDITED_EVENTS", "AuditedEvent", "AuditedFunction", "AuditedSigningKey", "KeyUsageAudit"]
