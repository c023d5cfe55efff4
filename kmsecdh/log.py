"""One structured JSON log line per invocation of the derive function.

The line carries what an operator needs to follow a call (request id, action, key ARN, number of
peers, outcome, error codes, duration) and nothing a caller sent or KMS returned: never the shared
secret Z, a derived key, a private key, a peer key or the raw event.

Where the line goes: by default to the ``kmsecdh.invocation`` logger, so an application that serves
invocations in-process (the demo, tests) decides what to do with it. The Lambda entry point calls
``configure_logging()``, after which the line is written straight to stdout as bare JSON: it is the
function's only output, and going through ``logging`` (caller lookup, a LogRecord, handler locks)
cost more than the rest of a warm derive's own work (see the Performance section of the README).
With the function's JSON log format, Lambda reads the ``level`` key of a JSON line on stdout, so
application log-level filtering applies to it, and adds the timestamp.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from types import TracebackType

from kmsecdh.errors import DeriveError

LOGGER_NAME = "kmsecdh.invocation"
MESSAGE = "kmsecdh invocation"

OUTCOME_SUCCESS = "success"
OUTCOME_PARTIAL = "partial"
"""A batch where some peers failed and others succeeded."""
OUTCOME_ERROR = "error"

_logger = logging.getLogger(LOGGER_NAME)
_encoder = json.JSONEncoder(separators=(",", ":"))


def _to_logger(level: int, line: str) -> None:
    _logger.log(level, line)


def _to_stdout(level: int, line: str) -> None:
    # Looked up per line: the runtime, pytest and the benchmarks may each swap sys.stdout.
    stdout = sys.stdout
    try:
        stdout.write(line + "\n")
        stdout.flush()
    except (OSError, ValueError):
        # A line stdout refuses must not fail the invocation: logging has a policy for broken outputs.
        _to_logger(level, line)


_write_line: Callable[[int, str], None] = _to_logger


class InvocationRecord:
    """What one invocation did: a context manager that times its block and writes one line on exit.

    Filled in as the request is served; a DeriveError leaving the block sets the outcome and error
    code (and propagates); the line is written whether the block returns or raises.
    ``internal_error`` is the class name of an unexpected exception (a bug), which the caller sees
    as a DeriveError.
    """

    __slots__ = (
        "_started",
        "action",
        "error_code",
        "internal_error",
        "key_arn",
        "outcome",
        "peer_error_codes",
        "peers",
        "request_id",
    )

    def __init__(self, request_id: str | None) -> None:
        self.request_id = request_id
        self.action: str | None = None
        self.key_arn: str | None = None
        self.peers = 0
        self.peer_error_codes: dict[str, int] = {}
        self.outcome = OUTCOME_SUCCESS
        self.error_code: str | None = None
        self.internal_error: str | None = None
        self._started = 0.0

    def peer_failed(self, code: str) -> None:
        self.peer_error_codes[code] = self.peer_error_codes.get(code, 0) + 1

    @property
    def final_outcome(self) -> str:
        """The outcome, where a batch whose peers failed counts as partial (some) or error (all)."""
        if self.outcome != OUTCOME_SUCCESS or not self.peer_error_codes:
            return self.outcome
        return OUTCOME_ERROR if sum(self.peer_error_codes.values()) == self.peers else OUTCOME_PARTIAL

    def as_json(self, duration_ms: float) -> tuple[int, str]:
        """The line's level and its JSON text."""
        outcome = self.final_outcome
        level = logging.INFO if outcome == OUTCOME_SUCCESS else logging.WARNING
        line = {
            "level": logging.getLevelName(level),
            "message": MESSAGE,
            "request_id": self.request_id,
            "action": self.action,
            "key_arn": self.key_arn,
            "peers": self.peers,
            "outcome": outcome,
            "error_code": self.error_code,
            "peer_error_codes": dict(sorted(self.peer_error_codes.items())),
            "duration_ms": round(duration_ms, 1),
        }
        if self.internal_error is not None:
            line["internal_error"] = self.internal_error
        return level, _encoder.encode(line)

    def __enter__(self) -> InvocationRecord:
        self._started = time.perf_counter()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _tb: TracebackType | None
    ) -> None:
        if isinstance(error, DeriveError):
            self.outcome = OUTCOME_ERROR
            self.error_code = error.code
        _write_line(*self.as_json((time.perf_counter() - self._started) * 1000))


def configure_logging() -> None:
    """Write the invocation lines straight to stdout as bare JSON, for the Lambda runtime; idempotent.

    The runtime's root handler would prefix each line with level, time and request id, which breaks
    JSON parsing in CloudWatch Logs Insights, so the lines bypass ``logging`` altogether.
    """
    global _write_line
    _write_line = _to_stdout
