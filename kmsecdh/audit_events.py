"""CloudTrail events that name a KMS key, and the derive function's invocations: who derived, who changed
what, what was refused.

``key_events`` reads every page of CloudTrail LookupEvents for the key's ARN (the ResourceName
KMS events carry) over a time window: DeriveSharedSecret, GetPublicKey, and the management
events (PutKeyPolicy, DisableKey, ScheduleKeyDeletion, CreateGrant, ...). LookupEvents covers the
last 90 days of management events in the client's Region.

LookupEvents never returns data events, and a Lambda ``Invoke`` is one: ``invocation_events`` reads the
function's invocations from the trail's CloudWatch Logs group with a CloudWatch Logs Insights query
(StartQuery, then GetQueryResults until the query completes, within a bounded wait).

``last_uses`` asks KMS GetKeyLastUsage, for each generation of an environment's keys, when it was last used
for a successful cryptographic operation: which retired or old generations nobody uses any more. KMS tracks
from ``TrackingStartDate`` (the later of the key's creation and the start of tracking), so "no use" means
"none since then"; for a key older than that, CloudTrail is the record of earlier use.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

_SINCE = re.compile(r"([1-9][0-9]{0,5})([mhd])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
LOOKUP_LIMIT = timedelta(days=90)

FUNCTION_ARN_PATTERN = re.compile(r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}")
# Logs Insights returns at most 10,000 rows per query.
MAX_INVOCATIONS = 10_000
QUERY_WAIT_SECONDS = 120.0
QUERY_POLL_SECONDS = 1.0
_QUERY_RUNNING = frozenset({"Scheduled", "Running"})
_QUERY_COMPLETE = "Complete"
_INSIGHTS_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
# The fields of a CloudTrail Invoke data event a KeyEvent needs (Insights flattens arrays as .0, .1, ...).
_INVOCATION_FIELDS = (
    "@timestamp",
    "eventName",
    "userIdentity.arn",
    "userIdentity.invokedBy",
    "sourceIPAddress",
    "errorCode",
    "errorMessage",
)


@dataclass(frozen=True)
class KeyEvent:
    """One CloudTrail event on the key, reduced to what an auditor scans for."""

    time: str
    event: str
    principal: str
    source_ip: str
    error: str

    def as_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass(frozen=True)
class KeyLastUse:
    """When one generation's key was last used (GetKeyLastUsage), beside what the stack says of it."""

    key_spec: str
    generation: str | None
    status: str
    current: bool
    alias: str
    arn: str
    last_used: str | None
    """ISO 8601 (UTC) of the last successful cryptographic operation, None when none since tracking_since."""
    operation: str | None
    tracking_since: str
    created_before_tracking: bool
    """The key existed before KMS tracked its use: an earlier use would show only in CloudTrail."""

    @property
    def last_used_text(self) -> str:
        if self.last_used is not None:
            return self.last_used
        return f"none since {self.tracking_since}" if self.created_before_tracking else "never"

    def as_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def last_uses(kms: Any, generations: list[dict[str, Any]]) -> list[KeyLastUse]:
    """GetKeyLastUsage for each entry of a ``KeyGenerations`` stack output (key_spec, generation, alias, arn,
    status, current), in its order."""
    return [_last_use(entry, kms.get_key_last_usage(KeyId=entry["arn"])) for entry in generations]


def _last_use(entry: dict[str, Any], response: dict[str, Any]) -> KeyLastUse:
    usage = response.get("KeyLastUsage") or {}
    tracking_since, created = response["TrackingStartDate"], response["KeyCreationDate"]
    used = usage.get("Timestamp")
    return KeyLastUse(
        key_spec=entry["key_spec"],
        generation=entry.get("generation"),
        status=entry["status"],
        current=bool(entry["current"]),
        alias=entry["alias"],
        arn=entry["arn"],
        last_used=_utc(used) if used is not None else None,
        operation=usage.get("Operation"),
        tracking_since=_utc(tracking_since),
        created_before_tracking=created < tracking_since,
    )


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


class InvocationQueryError(Exception):
    """The Logs Insights query for the invocations failed, was cancelled or did not finish in time."""


def parse_since(text: str) -> timedelta:
    """``30m``, ``24h`` or ``7d`` as a timedelta (at most 90 days, CloudTrail's lookup window)."""
    match = _SINCE.fullmatch(text.strip())
    if match is None:
        raise ValueError("expected a number and a unit: m (minutes), h (hours) or d (days), e.g. 24h")
    delta = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if delta > LOOKUP_LIMIT:
        raise ValueError("CloudTrail LookupEvents only covers the last 90 days")
    return delta


def key_events(
    cloudtrail: Any, key_arn: str, start: datetime, end: datetime | None = None
) -> Iterator[KeyEvent]:
    """Every event naming ``key_arn`` between ``start`` and ``end`` (now), newest first."""
    paginator = cloudtrail.get_paginator("lookup_events")
    pages = paginator.paginate(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": key_arn}],
        StartTime=start,
        EndTime=end or datetime.now(UTC),
    )
    for page in pages:
        for event in page.get("Events", []):
            yield to_key_event(event)


def to_key_event(event: dict[str, Any]) -> KeyEvent:
    """The KeyEvent of one LookupEvents entry; its CloudTrailEvent JSON gives identity, IP, error."""
    try:
        record = json.loads(event.get("CloudTrailEvent") or "{}")
    except ValueError:
        record = {}
    identity = record.get("userIdentity") or {}
    principal = identity.get("arn") or identity.get("invokedBy") or event.get("Username") or "-"
    error = record.get("errorCode") or ""
    if error and record.get("errorMessage"):
        error = f"{error}: {record['errorMessage']}"
    time = event.get("EventTime")
    return KeyEvent(
        time=time.astimezone(UTC).isoformat(timespec="seconds") if isinstance(time, datetime) else str(time),
        event=str(event.get("EventName") or record.get("eventName") or "-"),
        principal=str(principal),
        source_ip=str(record.get("sourceIPAddress") or "-"),
        error=str(error),
    )


def invocation_query(function_arn: str) -> str:
    """The Logs Insights query for the Invoke data events of ``function_arn``, newest first.

    A data event names the unqualified function ARN as its resource, also when an alias or version was
    invoked.
    """
    if not FUNCTION_ARN_PATTERN.fullmatch(function_arn):
        raise ValueError(f"not an unqualified Lambda function ARN: {function_arn!r}")
    return (
        f"fields {', '.join(_INVOCATION_FIELDS)}"
        ' | filter eventSource = "lambda.amazonaws.com" and eventName = "Invoke"'
        f' and resources.0.ARN = "{function_arn}"'
        f" | sort @timestamp desc | limit {MAX_INVOCATIONS}"
    )


def invocation_events(
    logs: Any,
    log_group_name: str,
    function_arn: str,
    start: datetime,
    end: datetime | None = None,
    *,
    wait_seconds: float = QUERY_WAIT_SECONDS,
    poll_seconds: float = QUERY_POLL_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[KeyEvent]:
    """Every invocation of ``function_arn`` recorded in ``log_group_name`` between ``start`` and ``end``.

    Polls GetQueryResults every ``poll_seconds`` for at most ``wait_seconds``; a query that fails, is
    cancelled or times out on the service side, or runs longer (then it is stopped), raises
    InvocationQueryError.
    """
    query_id = logs.start_query(
        logGroupName=log_group_name,
        startTime=int(start.timestamp()),
        endTime=int((end or datetime.now(UTC)).timestamp()),
        queryString=invocation_query(function_arn),
        limit=MAX_INVOCATIONS,
    )["queryId"]
    deadline = clock() + wait_seconds
    while True:
        response = logs.get_query_results(queryId=query_id)
        status = response.get("status")
        if status == _QUERY_COMPLETE:
            return [_invocation_event(row) for row in response.get("results", [])]
        if status not in _QUERY_RUNNING:
            raise InvocationQueryError(
                f"the CloudWatch Logs Insights query for the invocations of {function_arn} in "
                f"{log_group_name} ended with status {status}"
            )
        if clock() >= deadline:
            logs.stop_query(queryId=query_id)
            raise InvocationQueryError(
                f"the CloudWatch Logs Insights query for the invocations of {function_arn} in "
                f"{log_group_name} did not complete within {wait_seconds:g} s (stopped)"
            )
        sleep(poll_seconds)


def _invocation_event(row: list[dict[str, str]]) -> KeyEvent:
    """The KeyEvent of one Insights result row (a list of field/value pairs)."""
    fields = {cell["field"]: cell.get("value", "") for cell in row}
    timestamp = fields.get("@timestamp", "")
    try:
        time_text = (
            datetime.strptime(timestamp, _INSIGHTS_TIME_FORMAT)
            .replace(tzinfo=UTC)
            .isoformat(timespec="seconds")
        )
    except ValueError:
        time_text = timestamp or "-"
    error = fields.get("errorCode", "")
    if error and fields.get("errorMessage"):
        error = f"{error}: {fields['errorMessage']}"
    return KeyEvent(
        time=time_text,
        event=fields.get("eventName") or "Invoke",
        principal=fields.get("userIdentity.arn") or fields.get("userIdentity.invokedBy") or "-",
        source_ip=fields.get("sourceIPAddress") or "-",
        error=error,
    )
