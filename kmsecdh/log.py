"""One structured JSON log line per invocation of the derive function.

The line carries what an operator needs to follow a call (request id, action, key ARN, number of
peers, outcome, error codes, duration) and to tell which peer a derive served: the SHA-256 of each
peer public key's DER SubjectPublicKeyInfo and of the FixedInfo, as lower-case hex. Nothing a caller
sent or KMS returned is logged as such: never the shared secret Z, a derived key, a private key, a
peer key or the raw event.

Where the line goes: by default to the ``kmsecdh.invocation`` logger, so an application that serves
invocations in-process (the demo, tests) decides what to do with it. The Lambda entry point calls
``configure_logging()``, after which the line is written straight to stdout as bare JSON: it is the
function's only output, and going through ``logging`` (caller lookup, a LogRecord, handler locks)
cost more than the rest of a warm derive's own work (see docs/performance.md).
With the function's JSON log format, Lambda reads the ``level`` key of a JSON line on stdout, so
application log-level filtering applies to it, and adds the timestamp.

The same line carries the function's metrics in CloudWatch Embedded Metric Format (EMF): CloudWatch Logs
extracts them from the log event, so they cost no API call and no latency, and the function still writes
one line per invocation. In namespace ``METRIC_NAMESPACE``, each with the dimension ``FunctionName``:
``Derives`` (peers served a result, also by ``KeySpec`` and ``Kdf``), ``Peers`` (per derive invocation),
``<code>Errors`` (one metric per contract error code: a batch may fail with several codes in one line, and
an EMF dimension holds one value per line) and ``<operation>Latency`` (each KMS call's milliseconds). Every
dimension value is a function name, a key spec, a KDF id or ``none``: never a key, a fingerprint or
anything a caller sent. Only the Lambda entry point turns the metrics on (``configure_logging``, with the
function name Lambda sets); a line the function's log level drops (INFO lines at WARN and above) takes its
figures with it.

What other libraries log: botocore writes the parameters and body of every AWS request, the headers
and body of every response, and the canonical request it signs (session token included) as DEBUG
records of ``AWS_WIRE_LOGGERS``; a DeriveSharedSecret response body holds the shared secret Z. An
operator can put any logger at DEBUG (Lambda's JSON log format sets the root logger to the
function's application log level), so ``drop_aws_wire_records`` gives those loggers a filter that
drops their records below INFO. A logger's own filters run before any handler sees a record, at
every level, so no handler, formatter or level set later lets the record through. Importing the
``kmsecdh`` package installs it.
"""

from __future__ import annotations

import functools
import hashlib
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

METRIC_NAMESPACE = "kmsecdh/derive"
FUNCTION_NAME_DIMENSION = "FunctionName"
KEY_SPEC_DIMENSION = "KeySpec"
KDF_DIMENSION = "Kdf"
NO_KDF = "none"
"""The ``Kdf`` dimension of a derive that returns the raw shared secret (``output: shared_secret``)."""
DERIVES_METRIC = "Derives"
PEERS_METRIC = "Peers"
EMF_MAX_VALUES = 100
"""EMF takes at most 100 values per metric in one event."""


def error_metric(code: str) -> str:
    """The metric counting ``code`` (a contract error code), e.g. ``KmsThrottledErrors``."""
    return f"{code}Errors"


def latency_metric(operation: str) -> str:
    """The metric of one KMS operation's call latency, e.g. ``DeriveSharedSecretLatency``."""
    return f"{operation}Latency"


# The botocore loggers whose DEBUG records carry request or response contents or signing material.
AWS_WIRE_LOGGERS: tuple[str, ...] = (
    "botocore.endpoint",  # "Making request ... with params", "Sending http request": request bodies
    "botocore.parsers",  # "Response headers", "Response body": Z in a DeriveSharedSecret response
    "botocore.awsrequest",  # "Rewinding stream": a request body again on retries
    "botocore.auth",  # "CanonicalRequest": every signed header, the session token among them
)

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
_function_name: str | None = None
"""The ``FunctionName`` dimension of the metrics; None (outside the Lambda entry point) writes none."""


def sha256_hex(data: bytes) -> str:
    """A peer key's or a FixedInfo's fingerprint in the line: ``openssl dgst -sha256`` of the same bytes."""
    return hashlib.sha256(data).hexdigest()


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
        "fixed_info_sha256",
        "internal_error",
        "kdf",
        "key_arn",
        "key_spec",
        "kms_latencies_ms",
        "outcome",
        "peer_error_codes",
        "peer_key_sha256",
        "peers",
        "request_id",
    )

    def __init__(self, request_id: str | None) -> None:
        self.request_id = request_id
        self.action: str | None = None
        self.key_arn: str | None = None
        self.key_spec: str | None = None
        self.kdf: str | None = None
        """A derive's KDF id, or NO_KDF for the raw shared secret."""
        self.kms_latencies_ms: dict[str, list[float]] = {}
        self.peers = 0
        self.peer_key_sha256: list[str | None] = []
        self.fixed_info_sha256: str | None = None
        self.peer_error_codes: dict[str, int] = {}
        self.outcome = OUTCOME_SUCCESS
        self.error_code: str | None = None
        self.internal_error: str | None = None
        self._started = 0.0

    def served_peers(self, peer_public_keys_der: list[bytes | None]) -> None:
        """Fingerprint a derive's peers in request order: each one's DER SPKI, None where it did not parse.

        ``peers`` is set apart, from the request, so a single peer whose key fails to load still counts."""
        self.peer_key_sha256 = [None if der is None else sha256_hex(der) for der in peer_public_keys_der]

    def used_fixed_info(self, fixed_info: bytes) -> None:
        self.fixed_info_sha256 = sha256_hex(fixed_info)

    def peer_failed(self, code: str) -> None:
        self.peer_error_codes[code] = self.peer_error_codes.get(code, 0) + 1

    def kms_call_took(self, operation: str, milliseconds: float) -> None:
        """One KMS call's latency; a batch's threads call it concurrently (dict.setdefault and list.append
        are atomic)."""
        self.kms_latencies_ms.setdefault(operation, []).append(milliseconds)

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
            "peer_key_sha256": self.peer_key_sha256,
            "fixed_info_sha256": self.fixed_info_sha256,
            "outcome": outcome,
            "error_code": self.error_code,
            "peer_error_codes": dict(sorted(self.peer_error_codes.items())),
            "duration_ms": round(duration_ms, 1),
        }
        if self.internal_error is not None:
            line["internal_error"] = self.internal_error
        text = _encoder.encode(line)
        metrics = self._metrics(_function_name) if _function_name is not None else None
        return level, text if metrics is None else f"{text[:-1]},{metrics}}}"

    def _metrics(self, function_name: str) -> str | None:
        """The EMF members as JSON text to close the line with: the ``_aws`` metadata and, beside it, each
        metric's and dimension's value; None when the invocation has no figure (an exception outside the
        contract, which handle_invocation never lets out). The directives depend only on which metrics the
        line has, so their text is built once per set."""
        values: dict[str, object] = {FUNCTION_NAME_DIMENSION: function_name}
        units: list[tuple[str, str]] = []
        if self.action == "derive" and self.peers:
            values[PEERS_METRIC] = self.peers
            units.append((PEERS_METRIC, "Count"))
        for operation, latencies in self.kms_latencies_ms.items():
            name = latency_metric(operation)
            values[name] = [round(latency, 1) for latency in latencies[:EMF_MAX_VALUES]]
            units.append((name, "Milliseconds"))
        if self.peer_error_codes or self.error_code is not None:
            errors = dict(self.peer_error_codes)
            if self.error_code is not None:
                errors[self.error_code] = errors.get(self.error_code, 0) + 1
            for code, count in sorted(errors.items()):
                values[error_metric(code)] = count
                units.append((error_metric(code), "Count"))
        by_key_spec_and_kdf = self.action == "derive" and self.key_spec is not None and self.kdf is not None
        if by_key_spec_and_kdf:
            failed = self.peers if self.error_code is not None else sum(self.peer_error_codes.values())
            values[KEY_SPEC_DIMENSION], values[KDF_DIMENSION] = self.key_spec, self.kdf
            values[DERIVES_METRIC] = self.peers - failed
        if not units and not by_key_spec_and_kdf:
            return None
        directives = _directives_json(tuple(units), by_key_spec_and_kdf)
        metadata = f'"_aws":{{"Timestamp":{int(time.time() * 1000)},"CloudWatchMetrics":{directives}}}'
        return f"{metadata},{_encoder.encode(values)[1:-1]}"

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


@functools.lru_cache(maxsize=64)
def _directives_json(units: tuple[tuple[str, str], ...], by_key_spec_and_kdf: bool) -> str:
    """The EMF directives of a line: ``units`` (metric name, unit) by function, and ``Derives`` also by key
    spec and KDF."""
    directives = [_directive([FUNCTION_NAME_DIMENSION], units)] if units else []
    if by_key_spec_and_kdf:
        dimensions = [FUNCTION_NAME_DIMENSION, KEY_SPEC_DIMENSION, KDF_DIMENSION]
        directives.append(_directive(dimensions, ((DERIVES_METRIC, "Count"),)))
    return _encoder.encode(directives)


def _directive(dimensions: list[str], units: tuple[tuple[str, str], ...]) -> dict[str, object]:
    return {
        "Namespace": METRIC_NAMESPACE,
        "Dimensions": [dimensions],
        "Metrics": [{"Name": name, "Unit": unit} for name, unit in units],
    }


def configure_logging(function_name: str | None = None) -> None:
    """Write the invocation lines straight to stdout as bare JSON, for the Lambda runtime; idempotent.

    The runtime's root handler would prefix each line with level, time and request id, which breaks
    JSON parsing in CloudWatch Logs Insights, so the lines bypass ``logging`` altogether. With
    ``function_name`` (the Lambda entry point passes ``AWS_LAMBDA_FUNCTION_NAME``) each line also carries
    the function's metrics in Embedded Metric Format, that name as their ``FunctionName`` dimension.
    """
    global _write_line, _function_name
    _write_line = _to_stdout
    _function_name = function_name or None


class _BelowInfoFilter(logging.Filter):
    """Lets a record pass only at INFO or above."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.INFO


_WIRE_RECORD_FILTER = _BelowInfoFilter()


def drop_aws_wire_records() -> None:
    """Drop the DEBUG records of ``AWS_WIRE_LOGGERS`` in this process, whatever any level says; idempotent.

    The loggers need not exist yet: botocore's modules get these same logger objects when imported.
    """
    for name in AWS_WIRE_LOGGERS:
        logging.getLogger(name).addFilter(_WIRE_RECORD_FILTER)
