"""The derive function's KMS calls: the container's client and its limits, the calls, and the mapping of
KMS errors to DeriveError classes (``kmsecdh.kms_key`` reuses the mapping, so both paths report KMS errors
alike).

The KMS client is created once per container, lazily, with boto3's usual endpoint, region and
credential settings (``AWS_ENDPOINT_URL`` included) and these limits:

* standard retry mode, 3 attempts in all (2 retries with jittered exponential backoff of at most 1 s
  and 2 s); throttling that outlasts them is reported as KmsThrottled;
* connect timeout 1 s, read timeout 3 s: one KMS call gives up after at most about 3 x 4 s + 3 s = 15 s,
  half of the 30 s function timeout the constructs should set (DeriveSharedSecret normally answers
  in milliseconds);
* the connection pool matches BATCH_CONCURRENCY, the KMS calls a batch runs at once.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from cryptography.hazmat.primitives.asymmetric import ec

from kmsecdh.configuration import ConfiguredKey, configuration_error
from kmsecdh.errors import (
    AccessDenied,
    DeriveError,
    InvalidPublicKey,
    KeyNotAllowed,
    KeyUnavailable,
    KmsThrottled,
    KmsUnavailable,
)
from kmsecdh.jwk import public_jwk
from kmsecdh.keys import KEY_AGREEMENT, load_peer_public_key
from kmsecdh.log import InvocationRecord

KMS_CONNECT_TIMEOUT_SECONDS = 1
KMS_READ_TIMEOUT_SECONDS = 3
KMS_MAX_ATTEMPTS = 3
BATCH_CONCURRENCY = 8
KMS_MAX_BACKOFF_SECONDS = 1 + 2  # standard retry mode, before the 2nd and the 3rd attempt

KEY_AGREEMENT_ALGORITHM = "ECDH"

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


def kms_error(error: Exception) -> DeriveError:
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


def call_kms(record: InvocationRecord, method: str, **parameters: Any) -> dict[str, Any]:
    """The KMS client's ``method`` (e.g. ``derive_shared_secret``), its latency noted on ``record`` under the
    API's name (``DeriveSharedSecret``) whatever the outcome; a botocore error becomes its DeriveError."""
    call = getattr(kms_client(), method)
    started = time.perf_counter()
    try:
        return call(**parameters)
    except (ClientError, BotoCoreError) as error:
        raise kms_error(error) from None
    finally:
        milliseconds = (time.perf_counter() - started) * 1000
        record.kms_call_took("".join(word.title() for word in method.split("_")), milliseconds)


def derive_shared_secret(key: ConfiguredKey, peer_public_key_der: bytes, record: InvocationRecord) -> bytes:
    response = call_kms(
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


def get_public_key(key: ConfiguredKey, record: InvocationRecord) -> bytes:
    response = call_kms(record, "get_public_key", KeyId=key.arn)
    if response.get("KeySpec") != key.key_spec or response.get("KeyUsage") != KEY_AGREEMENT:
        raise configuration_error(f"{key.alias} is not a {KEY_AGREEMENT} key of spec {key.key_spec} in KMS")
    public_key = response.get("PublicKey")
    if not isinstance(public_key, bytes):
        raise KmsUnavailable("KMS returned no public key")
    return public_key


def public_key(key: ConfiguredKey, record: InvocationRecord) -> ec.EllipticCurvePublicKey:
    """``key``'s public key from KMS GetPublicKey, checked to be on the configured spec's curve."""
    try:
        return load_peer_public_key(get_public_key(key, record), key.key_spec)
    except InvalidPublicKey:
        raise KmsUnavailable("KMS returned a public key that does not parse") from None


_kids: dict[str, str] = {}
_kids_lock = threading.Lock()


def key_kid(key: ConfiguredKey, record: InvocationRecord) -> str:
    """The kid (RFC 7638 thumbprint of the public JWK) of ``key``: one GetPublicKey per key and container,
    then remembered (a key's public key never changes)."""
    with _kids_lock:
        kid = _kids.get(key.arn)
    if kid is None:
        kid = public_jwk(public_key(key, record))["kid"]
        with _kids_lock:
            _kids[key.arn] = kid
    return kid
