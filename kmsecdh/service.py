"""The derive function's logic: configuration, key resolution, KMS calls, the KDF, errors and the log line.

``handle_invocation`` serves one invocation event end to end and raises only DeriveError subclasses;
the Lambda entry point and the command line both call it. Order of work, so that nothing reaches KMS
unless the request is sound: parse the event (``kmsecdh.contract``), read the configuration, resolve
the key among the configured ones, load and validate every peer key on that key's curve, then call KMS.

The KMS client is created once per container, lazily, with boto3's usual endpoint, region and
credential settings (``AWS_ENDPOINT_URL`` included) and these limits:

* standard retry mode, 3 attempts in all (2 retries with jittered exponential backoff of at most 1 s
  and 2 s); throttling that outlasts them is reported as KmsThrottled;
* connect timeout 1 s, read timeout 3 s: one KMS call gives up after at most about 3 x 4 s + 3 s = 15 s,
  half of the 30 s function timeout the constructs should set (DeriveSharedSecret normally answers
  in milliseconds);
* a batch runs at most BATCH_CONCURRENCY KMS calls at once, and the connection pool matches it;
* a batch starts a peer's KMS call only while the Lambda context says at least
  BATCH_TIME_RESERVE_SECONDS remain, time for that call's worst case and the reply: a slow KMS
  then costs the peers not yet started (each reported as KmsUnavailable, to retry) instead of a
  function timeout that loses every result of the batch.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from kmsecdh.contract import (
    ALLOW_RAW_SECRET_VARIABLE,
    DEFAULT_KEY_VARIABLE,
    KEY_ARN_PATTERN,
    KEYS_VARIABLE,
    DeriveRequest,
    Output,
    PublicKeyRequest,
    parse_request,
)
from kmsecdh.encoding import b64encode
from kmsecdh.errors import (
    AccessDenied,
    DeriveError,
    InvalidPublicKey,
    InvalidRequest,
    KeyNotAllowed,
    KeyUnavailable,
    KmsThrottled,
    KmsUnavailable,
)
from kmsecdh.jwk import public_jwk
from kmsecdh.kdf import derive_key
from kmsecdh.keys import (
    KEY_AGREEMENT,
    KEY_SPECS,
    load_peer_public_key,
    load_peer_public_key_der,
    public_key_der,
    public_key_pem,
)
from kmsecdh.log import NO_KDF, InvocationRecord

KMS_CONNECT_TIMEOUT_SECONDS = 1
KMS_READ_TIMEOUT_SECONDS = 3
KMS_MAX_ATTEMPTS = 3
BATCH_CONCURRENCY = 8
_KMS_MAX_BACKOFF_SECONDS = 1 + 2  # standard retry mode, before the 2nd and the 3rd attempt
BATCH_TIME_RESERVE_SECONDS = (
    KMS_MAX_ATTEMPTS * (KMS_CONNECT_TIMEOUT_SECONDS + KMS_READ_TIMEOUT_SECONDS) + _KMS_MAX_BACKOFF_SECONDS + 1
)
"""The worst case of one KMS call (3 x 4 s of timeouts and 3 s of backoff) and a second to reply."""

KEY_AGREEMENT_ALGORITHM = "ECDH"

_ALIAS_NAME = re.compile(r"alias/[A-Za-z0-9/_-]{1,250}")
# An RFC 7638 thumbprint as kmsecdh.jwk writes a kid: SHA-256, base64url without padding. No alias name
# (alias/...), key id (36 characters) or ARN (arn:...) has this form, so a key_id of it is a kid.
_KID = re.compile(r"[A-Za-z0-9_-]{43}")
_TRUE, _FALSE = "true", "false"


# --- configuration -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfiguredKey:
    """A KMS key this function may use: its alias name, ARN and key spec."""

    alias: str
    arn: str
    key_spec: str

    @property
    def key_id(self) -> str:
        return self.arn.rsplit("/", 1)[1]

    @property
    def identifiers(self) -> tuple[str, ...]:
        """Every ``key_id`` a request may name this key by: alias name or ARN, key id, key ARN."""
        alias_arn = f"{self.arn.rsplit(':', 1)[0]}:{self.alias}"
        return (self.alias, alias_arn, self.key_id, self.arn)


@dataclass(frozen=True)
class Configuration:
    """The function's configuration, read from its environment variables."""

    keys: tuple[ConfiguredKey, ...]
    default_alias: str
    allow_raw_secret: bool

    def resolve(
        self, key_id: str | None, kid_of: Callable[[ConfiguredKey], str] | None = None
    ) -> ConfiguredKey:
        """The configured key named by ``key_id`` (the default key when None), else KeyNotAllowed.

        With ``kid_of`` (a key's RFC 7638 thumbprint, from its public key), a ``key_id`` that has the form
        of a kid is looked up among the configured keys' kids, in configuration order.
        """
        try:
            return self._keys_by_identifier[self.default_alias if key_id is None else key_id]
        except (KeyError, TypeError):
            pass
        if kid_of is not None and isinstance(key_id, str) and _KID.fullmatch(key_id):
            for key in self.keys:
                if kid_of(key) == key_id:
                    return key
        raise KeyNotAllowed("key_id is not an alias name, key id, ARN or kid of a key this function may use")

    @functools.cached_property
    def _keys_by_identifier(self) -> dict[str, ConfiguredKey]:
        # Earlier keys win, as a search in configuration order would (identifiers rarely collide).
        return {identifier: key for key in reversed(self.keys) for identifier in key.identifiers}

    def as_environment(self) -> dict[str, str]:
        """The environment variables load_configuration reads back as this configuration.

        For callers that run handle_invocation in-process (the demo, benchmarks, tests); the
        constructs write the same variables for the deployed function.
        """
        return {
            KEYS_VARIABLE: json.dumps(
                {key.alias: {"arn": key.arn, "key_spec": key.key_spec} for key in self.keys}
            ),
            DEFAULT_KEY_VARIABLE: self.default_alias,
            ALLOW_RAW_SECRET_VARIABLE: _TRUE if self.allow_raw_secret else _FALSE,
        }


def _configuration_error(message: str) -> KeyNotAllowed:
    # A misconfigured function may use no key at all; the message tells the operator what to fix.
    return KeyNotAllowed(f"function configuration: {message}")


def load_configuration(environ: Mapping[str, str] | None = None) -> Configuration:
    """Parse and validate KMSECDH_KEYS, KMSECDH_DEFAULT_KEY and KMSECDH_ALLOW_RAW_SECRET.

    Any problem raises KeyNotAllowed naming the variable: no key may be used until it is fixed.
    The variables are read on every call, but parsed once per distinct set of values: a warm
    container does not re-parse the same JSON on each invocation.
    """
    environ = os.environ if environ is None else environ
    return _parse_configuration(
        environ.get(KEYS_VARIABLE, ""),
        environ.get(DEFAULT_KEY_VARIABLE, ""),
        environ.get(ALLOW_RAW_SECRET_VARIABLE, _FALSE),
    )


@functools.lru_cache(maxsize=8)
def _parse_configuration(keys_json: str, default_alias: str, allow_raw_text: str) -> Configuration:
    try:
        entries = json.loads(keys_json)
    except ValueError:
        raise _configuration_error(f"{KEYS_VARIABLE} is not set or not JSON") from None
    if not isinstance(entries, dict) or not entries:
        raise _configuration_error(f"{KEYS_VARIABLE} must be a non-empty JSON object")
    keys = tuple(_configured_key(alias, entry) for alias, entry in entries.items())
    if default_alias not in entries:
        raise _configuration_error(
            f"{DEFAULT_KEY_VARIABLE} must be one of the alias names in {KEYS_VARIABLE}"
        )
    allow_raw = allow_raw_text.strip().lower()
    if allow_raw not in (_TRUE, _FALSE):
        raise _configuration_error(f"{ALLOW_RAW_SECRET_VARIABLE} must be 'true' or 'false'")
    return Configuration(keys=keys, default_alias=default_alias, allow_raw_secret=allow_raw == _TRUE)


def _configured_key(alias: str, entry: object) -> ConfiguredKey:
    if not _ALIAS_NAME.fullmatch(alias) or alias.startswith("alias/aws/"):
        raise _configuration_error(f"{KEYS_VARIABLE} names must be customer alias names (alias/...)")
    if not isinstance(entry, dict) or set(entry) != {"arn", "key_spec"}:
        raise _configuration_error(f"{KEYS_VARIABLE}[{alias}] must be an object with arn and key_spec")
    arn, key_spec = entry["arn"], entry["key_spec"]
    if not isinstance(arn, str) or not KEY_ARN_PATTERN.fullmatch(arn):
        raise _configuration_error(f"{KEYS_VARIABLE}[{alias}].arn must be a KMS key ARN")
    if key_spec not in KEY_SPECS:
        raise _configuration_error(f"{KEYS_VARIABLE}[{alias}].key_spec must be one of {', '.join(KEY_SPECS)}")
    return ConfiguredKey(alias=alias, arn=arn, key_spec=key_spec)


# --- the KMS client ------------------------------------------------------------------------------

_client: Any = None
_client_lock = threading.Lock()


def kms_client() -> Any:
    """The container's KMS client, created on first use from boto3's usual settings."""
    global _client
    with _client_lock:
        if _client is None:
            _client = boto3.session.Session().client(
                "kms",
                config=Config(
                    retries={"mode": "standard", "total_max_attempts": KMS_MAX_ATTEMPTS},
                    connect_timeout=KMS_CONNECT_TIMEOUT_SECONDS,
                    read_timeout=KMS_READ_TIMEOUT_SECONDS,
                    max_pool_connections=BATCH_CONCURRENCY,
                ),
            )
        return _client


@contextlib.contextmanager
def environment(variables: Mapping[str, str], unset: tuple[str, ...] = ()) -> Iterator[None]:
    """Run the block with ``variables`` set and ``unset`` removed in os.environ, then restore them.

    For callers of handle_invocation in-process (the demo, benchmarks): the configuration and boto3's
    endpoint settings come from the environment, so the KMS client is rebuilt on entry and on exit.
    """
    saved = {name: os.environ.get(name) for name in (*variables, *unset)}
    for name in unset:
        os.environ.pop(name, None)
    os.environ.update(variables)
    reset_kms_client()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reset_kms_client()


def reset_kms_client() -> None:
    """Forget the KMS client so the next call builds a new one from the current environment.

    For tests and tools that change the endpoint, region or credentials within one process.
    """
    global _client
    with _client_lock:
        _client = None
    # Another endpoint or account may hold other keys under the same ARNs (local endpoints, stubs).
    with _kids_lock:
        _kids.clear()


# KMS error codes by the DeriveError they become. KeyUnavailableException is KMS's own 5xx "key
# material temporarily unavailable, retry": transient, so KmsUnavailable, not KeyUnavailable (which
# means an operator must act: enable the key, cancel its deletion, fix the ARN).
_KMS_ERRORS: dict[str, type[DeriveError]] = {
    "DisabledException": KeyUnavailable,
    "KMSInvalidStateException": KeyUnavailable,
    "NotFoundException": KeyUnavailable,
    "AccessDeniedException": AccessDenied,
    "UnrecognizedClientException": AccessDenied,
    "InvalidSignatureException": AccessDenied,
    "ExpiredTokenException": AccessDenied,
    "ThrottlingException": KmsThrottled,
    "LimitExceededException": KmsThrottled,
    "KMSInternalException": KmsUnavailable,
    "DependencyTimeoutException": KmsUnavailable,
    "KeyUnavailableException": KmsUnavailable,
    # The key exists but is not a KEY_AGREEMENT key of the configured spec: not usable here.
    "InvalidKeyUsageException": KeyNotAllowed,
    # We validate the peer key first, so KMS rejecting the request's input means it rejected the
    # peer key (a stricter check than ours, or an encoding it refuses).
    "ValidationException": InvalidPublicKey,
    "IncorrectKeyException": InvalidPublicKey,
}

_KMS_ERROR_MESSAGES: dict[type[DeriveError], str] = {
    KeyUnavailable: "the KMS key is disabled, pending deletion or not found",
    AccessDenied: "KMS denied the call: check the function role and the key policy",
    KmsThrottled: "KMS throttled the call and retries did not get through; retry later",
    KmsUnavailable: "KMS failed on its side or could not be reached; retry later",
    KeyNotAllowed: "the KMS key cannot be used for ECDH key agreement",
    InvalidPublicKey: "KMS rejected the peer public key",
}


def _kms_error(error: Exception) -> DeriveError:
    """The DeriveError for a botocore exception; never carries KMS's message, which may echo input."""
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        kind = _KMS_ERRORS.get(code, KmsUnavailable)
        # Unknown 4xx codes are not the caller's fault either; only the code is safe to repeat.
        suffix = f" ({code})" if code.isidentifier() else f" (HTTP {status})"
        return kind(_KMS_ERROR_MESSAGES[kind] + suffix)
    if isinstance(error, NoCredentialsError):
        return AccessDenied("no AWS credentials available to call KMS")
    return KmsUnavailable(f"{_KMS_ERROR_MESSAGES[KmsUnavailable]} ({type(error).__name__})")


def _call_kms(record: InvocationRecord, method: str, **parameters: Any) -> dict[str, Any]:
    """The KMS client's ``method`` (e.g. ``derive_shared_secret``), its latency noted on ``record`` under the
    API's name (``DeriveSharedSecret``) whatever the outcome; a botocore error becomes its DeriveError."""
    call = getattr(kms_client(), method)
    started = time.perf_counter()
    try:
        return call(**parameters)
    except (ClientError, BotoCoreError) as error:
        raise _kms_error(error) from None
    finally:
        milliseconds = (time.perf_counter() - started) * 1000
        record.kms_call_took("".join(word.title() for word in method.split("_")), milliseconds)


def _derive_shared_secret(key: ConfiguredKey, peer_public_key_der: bytes, record: InvocationRecord) -> bytes:
    response = _call_kms(
        record,
        "derive_shared_secret",
        KeyId=key.arn,
        KeyAgreementAlgorithm=KEY_AGREEMENT_ALGORITHM,
        PublicKey=peer_public_key_der,
    )
    shared_secret = response.get("SharedSecret")
    if not isinstance(shared_secret, bytes) or not shared_secret:
        raise KmsUnavailable("KMS returned no shared secret")
    return shared_secret


def _get_public_key(key: ConfiguredKey, record: InvocationRecord) -> bytes:
    response = _call_kms(record, "get_public_key", KeyId=key.arn)
    if response.get("KeySpec") != key.key_spec or response.get("KeyUsage") != KEY_AGREEMENT:
        raise _configuration_error(f"{key.alias} is not a {KEY_AGREEMENT} key of spec {key.key_spec} in KMS")
    public_key = response.get("PublicKey")
    if not isinstance(public_key, bytes):
        raise KmsUnavailable("KMS returned no public key")
    return public_key


_kids: dict[str, str] = {}
_kids_lock = threading.Lock()


def key_kid(key: ConfiguredKey, record: InvocationRecord) -> str:
    """The kid (RFC 7638 thumbprint of the public JWK) of ``key``: one GetPublicKey per key and container,
    then remembered (a key's public key never changes)."""
    with _kids_lock:
        kid = _kids.get(key.arn)
    if kid is None:
        kid = _public_key_response(key, record)["jwk"]["kid"]
        with _kids_lock:
            _kids[key.arn] = kid
    return kid


# --- serving an invocation -----------------------------------------------------------------------


def _public_key_response(key: ConfiguredKey, record: InvocationRecord) -> dict[str, Any]:
    try:
        public_key = load_peer_public_key(_get_public_key(key, record), key.key_spec)
    except InvalidPublicKey:
        raise KmsUnavailable("KMS returned a public key that does not parse") from None
    return {
        "key_id": key.arn,
        "key_spec": key.key_spec,
        "public_key_der": b64encode(public_key_der(public_key)),
        "public_key_pem": public_key_pem(public_key),
        "jwk": public_jwk(public_key),
    }


def _derive_for_peer(
    key: ConfiguredKey, request: DeriveRequest, peer_public_key_der: bytes, record: InvocationRecord
) -> dict:
    shared_secret = _derive_shared_secret(key, peer_public_key_der, record)
    if request.kdf is None:
        return {Output.SHARED_SECRET.value: b64encode(shared_secret)}
    derived = derive_key(
        shared_secret,
        algorithm=request.kdf.algorithm,
        length=request.kdf.length,
        fixed_info=request.kdf.fixed_info,
        salt=request.kdf.salt,
    )
    return {Output.DERIVED_KEY.value: b64encode(derived)}


def _error_entry(error: DeriveError) -> dict[str, Any]:
    return {"error": {"code": error.code, "message": str(error)}}


def _time_running_out(context: object) -> Callable[[], bool]:
    """Whether too little of the invocation's time is left to start another KMS call (never, without
    a Lambda context)."""
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining_ms):
        return lambda: False
    return lambda: remaining_ms() < BATCH_TIME_RESERVE_SECONDS * 1000


_NOT_ATTEMPTED = (
    "not attempted: too little of the invocation's time was left for another KMS call; retry this peer"
)


def _derive_batch(
    key: ConfiguredKey, request: DeriveRequest, record: InvocationRecord, time_running_out: Callable[[], bool]
) -> list[dict]:
    """One result per peer in request order; a bad peer key or a failed KMS call fails only its entry."""
    peers: list[bytes | DeriveError] = []
    for text in request.peer_public_keys:
        try:
            peers.append(load_peer_public_key_der(text, key.key_spec))
        except DeriveError as error:
            peers.append(error)
    record.served_peers([peer if isinstance(peer, bytes) else None for peer in peers])

    def serve(peer: bytes | DeriveError) -> dict[str, Any]:
        if isinstance(peer, DeriveError):
            return _error_entry(peer)
        if time_running_out():
            return _error_entry(KmsUnavailable(_NOT_ATTEMPTED))
        try:
            return _derive_for_peer(key, request, peer, record)
        except DeriveError as error:
            return _error_entry(error)

    with ThreadPoolExecutor(max_workers=min(BATCH_CONCURRENCY, len(peers))) as pool:
        results = list(pool.map(serve, peers))
    for result in results:
        if "error" in result:
            record.peer_failed(result["error"]["code"])
    return results


def _serve(event: object, context: object, record: InvocationRecord) -> dict[str, Any]:
    request = parse_request(event)
    record.action = "public_key" if isinstance(request, PublicKeyRequest) else "derive"
    configuration = load_configuration()
    key = configuration.resolve(request.key_id, functools.partial(key_kid, record=record))
    record.key_arn, record.key_spec = key.arn, key.key_spec
    if isinstance(request, PublicKeyRequest):
        return _public_key_response(key, record)
    if request.output is Output.SHARED_SECRET and not configuration.allow_raw_secret:
        raise InvalidRequest(
            f"output 'shared_secret' is disabled on this function ({ALLOW_RAW_SECRET_VARIABLE} is not true)"
        )
    record.peers = len(request.peer_public_keys)
    record.kdf = request.kdf.algorithm if request.kdf is not None else NO_KDF
    response: dict[str, Any] = {"key_id": key.arn, "key_spec": key.key_spec}
    if request.kdf is not None:
        record.used_fixed_info(request.kdf.fixed_info)
        response["kdf"] = {"algorithm": request.kdf.algorithm, "length": request.kdf.length}
    if request.batch:
        response["results"] = _derive_batch(key, request, record, _time_running_out(context))
    else:
        peer = load_peer_public_key_der(request.peer_public_keys[0], key.key_spec)
        record.served_peers([peer])
        response.update(_derive_for_peer(key, request, peer, record))
    return response


def handle_invocation(event: object, context: object | None = None) -> dict[str, Any]:
    """Serve one invocation event; raises only DeriveError subclasses and logs one JSON line.

    ``context`` is the Lambda context (its ``aws_request_id`` is logged, its remaining time bounds a
    batch) or None outside Lambda.
    """
    request_id = getattr(context, "aws_request_id", None)
    with InvocationRecord(request_id if isinstance(request_id, str) else None) as record:
        try:
            return _serve(event, context, record)
        except DeriveError:
            raise
        except Exception as error:
            # A bug, not a caller or KMS problem: the contract allows only DeriveError codes, and
            # only the exception's class is logged because its message could hold request data.
            record.internal_error = type(error).__name__
            raise KmsUnavailable("internal error in the derive function; no key was derived") from None
