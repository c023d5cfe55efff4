"""One structured JSON log line per invocation of the derive function.

The line carries what an operator needs to follow a call (request id, action, key ARN, number of
peers, outcome, error codes, duration) and nothing a caller sent or KMS returned: never the shared
secret Z, a derived key, a private key, a peer key or the raw event.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from kmsecdh.errors import DeriveError

LOGGER_NAME = "kmsecdh.invocation"

OUTCOME_SUCCESS = "success"
OUTCOME_PARTIAL = "partial"
"""A batch where some peers failed and others succeeded."""
OUTCOME_ERROR = "error"

_logger = logging.getLogger(LOGGER_NAME)


@dataclass
class InvocationRecord:
    """What one invocation did; filled in as the request is served, logged once at the end."""

    request_id: str | None
    action: str | None = None
    key_arn: str | None = None
    peers: int = 0
    peer_error_codes: Counter[str] = field(default_factory=Counter)
    outcome: str = OUTCOME_SUCCESS
    error_code: str | None = None
    internal_error: str | None = None
    """Class name of an unexpected exception (a bug), reported to the caller as a DeriveError."""

    @property
    def level(self) -> int:
        return logging.INFO if self.final_outcome == OUTCOME_SUCCESS else logging.WARNING

    def peer_failed(self, code: str) -> None:
        self.peer_error_codes[code] += 1

    @property
    def final_outcome(self) -> str:
        """The outcome, where a batch whose peers failed counts as partial (some) or error (all)."""
        if self.outcome != OUTCOME_SUCCESS or not self.peer_error_codes:
            return self.outcome
        return OUTCOME_ERROR if sum(self.peer_error_codes.values()) == self.peers else OUTCOME_PARTIAL

    def as_json(self, duration_ms: float) -> str:
        outcome = self.final_outcome
        line = {
            "level": logging.getLevelName(self.level),
            "message": "kmsecdh invocation",
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
        return json.dumps(line, separators=(",", ":"))


@contextmanager
def logged_invocation(request_id: str | None) -> Iterator[InvocationRecord]:
    """Time the block and log its InvocationRecord once, whether it returns or raises a DeriveError."""
    record = InvocationRecord(request_id=request_id)
    started = time.perf_counter()
    try:
        yield record
    except DeriveError as error:
        record.outcome = OUTCOME_ERROR
        record.error_code = error.code
        raise
    finally:
        _logger.log(record.level, record.as_json((time.perf_counter() - started) * 1000))


class _StdoutHandler(logging.Handler):
    """Writes each record to the current ``sys.stdout``, which the Lambda runtime sends to CloudWatch."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(self.format(record) + "\n")
            sys.stdout.flush()
        except Exception:
            self.handleError(record)


def configure_logging() -> None:
    """Send the invocation lines to stdout as bare JSON (no runtime prefix); idempotent.

    The Lambda runtime's root handler would prefix each line with level, time and request id,
    which breaks JSON parsing in CloudWatch Logs Insights, so this logger does not propagate.
    """
    if any(isinstance(handler, _StdoutHandler) for handler in _logger.handlers):
        return
    handler = _StdoutHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    _logger.addHandler(handler)
    _logger.setLevel(logging.INFO)
    _logger.propagate = False
