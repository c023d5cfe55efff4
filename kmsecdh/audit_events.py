"""CloudTrail events that name a KMS key: who derived with it, who changed it, what was refused.

``key_events`` reads every page of CloudTrail LookupEvents for the key's ARN (the ResourceName
KMS events carry) over a time window: DeriveSharedSecret, GetPublicKey, and the management
events (PutKeyPolicy, DisableKey, ScheduleKeyDeletion, CreateGrant, ...). LookupEvents covers the
last 90 days of management events in the client's Region.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

_SINCE = re.compile(r"([1-9][0-9]{0,5})([mhd])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
LOOKUP_LIMIT = timedelta(days=90)


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
