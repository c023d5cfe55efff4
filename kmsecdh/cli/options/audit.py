"""Options of ``audit`` (``kmsecdh.cli.commands.audit``: CloudTrail, CloudWatch Logs, GetKeyLastUsage)."""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from kmsecdh.cli.options.common import add_command

DEFAULT_SINCE = "24h"


def _since(text: str) -> timedelta:
    from kmsecdh.audit_events import parse_since  # only audit takes --since

    try:
        return parse_since(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_audit(subcommands: Any) -> None:
    audit = add_command(
        subcommands,
        "audit",
        "audit:audit",
        help="CloudTrail events on a KMS key (DeriveSharedSecret, management events) and who invoked the "
        "derive function; or when each generation of an environment's keys was last used",
        description="With --key-id, list CloudTrail LookupEvents naming the key: time, event, principal, "
        "source IP, error; with --function and --log-group, also the function's Invoke data events, read "
        "from the trail's CloudWatch Logs group with a Logs Insights query (LookupEvents returns no data "
        "events). With --environment, list every generation of the environment's keys (the KeyGenerations "
        "output of kmsecdh-<environment>-key-agreement) with when KMS last saw it used (GetKeyLastUsage): "
        "which generations can be retired.",
    )
    subject = audit.add_mutually_exclusive_group(required=True)
    subject.add_argument("--key-id", metavar="ID", help="key ARN, key id or alias")
    subject.add_argument(
        "--environment", metavar="NAME", help="an environment of cdk.json: last use of each key generation"
    )
    audit.add_argument(
        "--replica-region",
        metavar="REGION",
        help="with --environment: that replica Region's keys (kmsecdh-<environment>-key-agreement-<region>)",
    )
    audit.add_argument("--function", metavar="NAME", help="derive function name or ARN (with --log-group)")
    audit.add_argument(
        "--log-group", metavar="NAME", help="CloudWatch Logs group the trail delivers to (with --function)"
    )
    audit.add_argument("--since", type=_since, metavar="N{m,h,d}", help=f"default: {DEFAULT_SINCE}")
    audit.add_argument("--json", action="store_true", help="JSON lines instead of a table")
