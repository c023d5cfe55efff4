"""Errors of the command line and the one line each becomes on stderr.

Exit codes: 2 for usage errors (bad option, bad option value), 1 for everything that went wrong
while running (missing file, invalid key, AWS error, tampered message).
"""

from __future__ import annotations

import sys

from kmsecdh.errors import DeriveError

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """A command line that cannot be run as given; ``prog`` names the (sub)command."""

    def __init__(self, prog: str, message: str) -> None:
        super().__init__(message)
        self.prog = prog


class CommandError(Exception):
    """A command failed for a reason its message explains (file, key or AWS trouble)."""


class MissingExtra(CommandError):
    """The command needs a package of one of kmsecdh's extras, which is not installed."""


def describe(error: BaseException) -> tuple[int, str]:
    """The exit code and the one-line message for an error a command raised."""
    if isinstance(error, UsageError):
        return EXIT_USAGE, f"{error.prog}: usage error: {error} (see {error.prog} --help)"
    if isinstance(error, DeriveError):
        return EXIT_RUNTIME, f"kmsecdh: {error.code}: {error}"
    aws_line = _describe_aws_error(error)
    if aws_line is not None:
        return EXIT_RUNTIME, aws_line
    if isinstance(error, OSError):
        where = f" {error.filename}" if error.filename else ""
        return EXIT_RUNTIME, f"kmsecdh: file error:{where}: {error.strerror or error}"
    if isinstance(error, MissingExtra):
        return EXIT_RUNTIME, f"kmsecdh: {error}"
    return EXIT_RUNTIME, f"kmsecdh: error: {error}"


def _describe_aws_error(error: BaseException) -> str | None:
    """The line for a botocore error; None for anything else. botocore is looked at only when a command
    already imported it (an error cannot be of a class never imported), so describing stays cheap."""
    if "botocore.exceptions" not in sys.modules:
        return None
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        operation = getattr(error, "operation_name", "AWS call")
        return (
            f"kmsecdh: AWS {operation} failed: {details.get('Code', 'Unknown')}: "
            f"{details.get('Message') or 'no message'}"
        )
    if isinstance(error, BotoCoreError):
        return f"kmsecdh: AWS error: {error}"
    return None
