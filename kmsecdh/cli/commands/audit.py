"""``audit``: CloudTrail events on a KMS key and the derive function's invocations, or when each generation of
an environment's keys was last used (kmsecdh.audit_events)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

from kmsecdh.audit_events import (
    FUNCTION_ARN_PATTERN,
    KeyEvent,
    KeyLastUse,
    invocation_events,
    key_events,
    last_uses,
    parse_since,
)
from kmsecdh.cli import aws
from kmsecdh.cli.commands.directory import KEY_GENERATIONS_OUTPUT, _json_output, key_agreement_stack
from kmsecdh.cli.errors import EXIT_OK, UsageError
from kmsecdh.cli.options.audit import DEFAULT_SINCE
from kmsecdh.contract import KEY_ARN_PATTERN

_AUDIT_COLUMNS = ("time", "event", "principal", "source_ip", "error")
_LAST_USE_COLUMNS = ("key_spec", "generation", "status", "current", "last_used", "operation", "alias")


def audit(args: argparse.Namespace) -> int:
    if args.environment is not None:
        return _last_uses(args)
    if args.replica_region is not None:
        raise UsageError("kmsecdh audit", "--replica-region goes with --environment")
    if (args.function is None) != (args.log_group is None):
        raise UsageError("kmsecdh audit", "--function and --log-group go together")
    key_arn = _key_arn(args.key_id)
    start = datetime.now(UTC) - (args.since if args.since is not None else parse_since(DEFAULT_SINCE))
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


def _last_uses(args: argparse.Namespace) -> int:
    """Every generation of the environment's keys (the key-agreement stack's KeyGenerations output), with
    when KMS last saw it used."""
    events_only = {"--function": args.function, "--log-group": args.log_group, "--since": args.since}
    given = [option for option, value in events_only.items() if value is not None]
    if given:
        raise UsageError("kmsecdh audit", f"{', '.join(given)} go with --key-id, not --environment")
    # A replica Region's keys track their use on their own; their stack is that Region's.
    region = args.replica_region
    stack = key_agreement_stack(args.environment) + (f"-{region}" if region else "")
    cloudformation = aws.aws_client("cloudformation", region_name=region)
    generations = _json_output(cloudformation, stack, KEY_GENERATIONS_OUTPUT)
    uses = last_uses(aws.aws_client("kms", region_name=region), generations)
    if args.json:
        for use in uses:
            print(use.as_json())
        return EXIT_OK
    _print_rows(_LAST_USE_COLUMNS, [_last_use_row(use) for use in uses])
    print(f"{len(uses)} keys of {stack}; GetKeyLastUsage counts successful operations only", file=sys.stderr)
    return EXIT_OK


def _last_use_row(use: KeyLastUse) -> tuple[str, ...]:
    cells = {
        "generation": use.generation or "-",
        "current": "yes" if use.current else "no",
        "last_used": use.last_used_text,
        "operation": use.operation or "-",
    }
    return tuple(cells.get(column) or str(getattr(use, column)) for column in _LAST_USE_COLUMNS)


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
    _print_rows(
        _AUDIT_COLUMNS,
        [tuple(getattr(event, column) or "-" for column in _AUDIT_COLUMNS) for event in events],
    )


def _print_rows(columns: tuple[str, ...], cells: list[tuple[str, ...]]) -> None:
    rows = [tuple(column.upper() for column in columns), *cells]
    widths = [max(len(row[index]) for row in rows) for index in range(len(columns))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
