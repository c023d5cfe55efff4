"""``audit``: CloudTrail events on a KMS key and the derive function's invocations (kmsecdh.audit_events)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

from kmsecdh.audit_events import FUNCTION_ARN_PATTERN, KeyEvent, invocation_events, key_events
from kmsecdh.cli import aws
from kmsecdh.cli.errors import EXIT_OK, UsageError
from kmsecdh.contract import KEY_ARN_PATTERN

_AUDIT_COLUMNS = ("time", "event", "principal", "source_ip", "error")


def audit(args: argparse.Namespace) -> int:
    if (args.function is None) != (args.log_group is None):
        raise UsageError("kmsecdh audit", "--function and --log-group go together")
    key_arn = _key_arn(args.key_id)
    start = datetime.now(UTC) - args.since
    events: Iterable[KeyEvent] = key_events(aws.aws_client("cloudtrail"), key_arn, start)
    subject = key_arn
    if args.function is not None:
        function_arn = _function_arn(args.function)
        invocations = invocation_events(aws.aws_client("logs"), args.log_group, function_arn, start)
        # Both lists are newest first; the times are ISO 8601 in UTC, so they sort as text.
        events = sorted([*events, *invocations], key=lambda event: event.time, reverse=True)
        subject = f"{key_arn} and invocations of {function_arn}"
    if args.json:
        for event in events:
            print(event.as_json())
        return EXIT_OK
    rows = list(events)
    _print_table(rows)
    print(f"{len(rows)} events on {subject} since {start.isoformat(timespec='seconds')}", file=sys.stderr)
    return EXIT_OK


def _key_arn(key_id: str) -> str:
    """CloudTrail names KMS keys by ARN: resolve an alias or key id with DescribeKey."""
    if KEY_ARN_PATTERN.fullmatch(key_id):
        return key_id
    return aws.aws_client("kms").describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]


def _function_arn(function: str) -> str:
    """Invocation data events name the unqualified function ARN: resolve a name with Lambda."""
    if FUNCTION_ARN_PATTERN.fullmatch(function):
        return function
    arn = aws.aws_client("lambda").get_function_configuration(FunctionName=function)["FunctionArn"]
    return ":".join(arn.split(":")[:7])  # without a version or alias qualifier


def _print_table(events: list[KeyEvent]) -> None:
    rows = [tuple(column.upper() for column in _AUDIT_COLUMNS)]
    rows += [tuple(getattr(event, column) or "-" for column in _AUDIT_COLUMNS) for event in events]
    widths = [max(len(row[index]) for row in rows) for index in range(len(_AUDIT_COLUMNS))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
