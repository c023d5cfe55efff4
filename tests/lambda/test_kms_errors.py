"""KMS failures map to the contract's error codes; throttling and 5xx are retried first.

Stubber answers above the retry layer, so it shows the mapping of each final error. The retry tests
answer at ``before-send`` instead, below the retry layer, and count the attempts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from cryptography.hazmat.primitives.asymmetric import ec

from kmsecdh import kms_calls, log, service
from kmsecdh.configuration import load_configuration
from kmsecdh.contract import ALLOW_RAW_SECRET_VARIABLE, DEFAULT_KEY_VARIABLE, KEYS_VARIABLE
from kmsecdh.errors import (
    AccessDenied,
    DeriveError,
    InternalError,
    InvalidPublicKey,
    KeyNotAllowed,
    KeyUnavailable,
    KmsThrottled,
    KmsUnavailable,
)
from kmsecdh.keys import public_key_der, public_key_pem

from .support import FAKE_P256_ALIAS, FAKE_P256_ARN, b64, configure, lambda_context

PEER = ec.generate_private_key(ec.SECP256R1()).public_key()
DERIVE = {"action": "derive", "peer_public_key": public_key_pem(PEER)}

KMS_ERRORS: list[tuple[str, int, type[DeriveError]]] = [
    ("DisabledException", 400, KeyUnavailable),
    ("KMSInvalidStateException", 400, KeyUnavailable),
    ("NotFoundException", 400, KeyUnavailable),
    ("AccessDeniedException", 400, AccessDenied),
    ("UnrecognizedClientException", 400, AccessDenied),
    ("ThrottlingException", 400, KmsThrottled),
    ("LimitExceededException", 400, KmsThrottled),
    ("KMSInternalException", 500, KmsUnavailable),
    ("DependencyTimeoutException", 503, KmsUnavailable),
    ("KeyUnavailableException", 500, KmsUnavailable),
    ("InvalidKeyUsageException", 400, KeyNotAllowed),
    ("ValidationException", 400, InvalidPublicKey),
    ("IncorrectKeyException", 400, InvalidPublicKey),
    ("SomethingNewException", 400, KmsUnavailable),
]


@pytest.mark.parametrize(("kms_code", "status", "expected"), KMS_ERRORS, ids=[e[0] for e in KMS_ERRORS])
def test_derive_error_maps_to_code(derive_handler, counted_kms, captured_logs, kms_code, status, expected):
    counted_kms.stubber.add_client_error(
        "derive_shared_secret",
        service_error_code=kms_code,
        service_message=f"echo of {DERIVE['peer_public_key']}",
        http_status_code=status,
        expected_params={
            "KeyId": FAKE_P256_ARN,
            "KeyAgreementAlgorithm": "ECDH",
            "PublicKey": public_key_der(PEER),
        },
    )
    with pytest.raises(expected) as raised:
        derive_handler(DERIVE, lambda_context("req-err"))
    assert type(raised.value) is expected
    assert "echo of" not in str(raised.value)
    assert kms_code in str(raised.value)
    assert counted_kms.calls == ["DeriveSharedSecret"]
    [line] = captured_logs.invocation_lines()
    assert (line["request_id"], line["outcome"], line["error_code"]) == (
        "req-err",
        "error",
        expected.__name__,
    )


@pytest.mark.parametrize(
    ("kms_code", "status", "expected"), KMS_ERRORS[:8], ids=[e[0] for e in KMS_ERRORS[:8]]
)
def test_public_key_error_maps_to_code(derive_handler, counted_kms, kms_code, status, expected):
    counted_kms.stubber.add_client_error(
        "get_public_key", service_error_code=kms_code, http_status_code=status
    )
    with pytest.raises(expected):
        derive_handler({"action": "public_key"}, None)
    assert counted_kms.calls == ["GetPublicKey"]


def test_one_failed_peer_does_not_fail_the_batch(derive_handler, counted_kms, captured_logs, monkeypatch):
    shared_secret = bytes(range(32))
    counted_kms.stubber.add_response(
        "derive_shared_secret",
        {"KeyId": FAKE_P256_ARN, "SharedSecret": shared_secret, "KeyAgreementAlgorithm": "ECDH"},
    )
    counted_kms.stubber.add_client_error("derive_shared_secret", "DisabledException", http_status_code=400)
    # One at a time so the queued answers meet the peers in order.
    monkeypatch.setattr(service, "BATCH_CONCURRENCY", 1)
    peers = [public_key_pem(PEER), "AAAA", public_key_pem(PEER)]
    response = derive_handler({"action": "derive", "peer_public_keys": peers}, None)
    first, second, third = response["results"]
    assert set(first) == {"derived_key"}
    assert second["error"]["code"] == "InvalidPublicKey"
    assert third["error"]["code"] == "KeyUnavailable"
    [line] = captured_logs.invocation_lines()
    assert line["outcome"] == "partial"
    assert line["peer_error_codes"] == {"InvalidPublicKey": 1, "KeyUnavailable": 1}
    # A peer key that does not parse has no fingerprint; the others keep their place in request order.
    fingerprint = log.sha256_hex(public_key_der(PEER))
    assert line["peer_key_sha256"] == [fingerprint, None, fingerprint]


def test_public_key_of_another_spec_is_a_configuration_error(derive_handler, counted_kms):
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    counted_kms.stubber.add_response(
        "get_public_key",
        {
            "KeyId": FAKE_P256_ARN,
            "PublicKey": public_key_der(p384),
            "KeySpec": "ECC_NIST_P384",
            "KeyUsage": "KEY_AGREEMENT",
        },
    )
    with pytest.raises(KeyNotAllowed, match="function configuration"):
        derive_handler({"action": "public_key"}, None)


# --- retries, below the retry layer -------------------------------------------------------------


class _Body:
    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = json.dumps(payload).encode()

    def stream(self, **_: Any):
        yield self.payload


def answer_with(
    responses: list[tuple[int, dict[str, Any]]], attempts: list[int]
) -> Callable[..., AWSResponse]:
    """A before-send handler that answers each HTTP attempt with the next (status, JSON body)."""

    def send(request: Any, **_: Any) -> AWSResponse:
        status, body = responses[min(len(attempts), len(responses) - 1)]
        attempts.append(status)
        return AWSResponse(request.url, status, {"Content-Type": "application/x-amz-json-1.1"}, _Body(body))

    return send


def sent_attempts(responses: list[tuple[int, dict[str, Any]]]) -> list[int]:
    attempts: list[int] = []
    kms_calls.kms_client().meta.events.register(
        "before-send.kms.DeriveSharedSecret", answer_with(responses, attempts)
    )
    return attempts


THROTTLED = (400, {"__type": "ThrottlingException", "message": "Rate exceeded"})
INTERNAL = (500, {"__type": "KMSInternalException", "message": "internal"})


def test_throttling_is_retried_then_reported(derive_handler, offline_env):
    attempts = sent_attempts([THROTTLED])
    with pytest.raises(KmsThrottled):
        derive_handler(DERIVE, None)
    assert len(attempts) == kms_calls.KMS_MAX_ATTEMPTS


def test_kms_5xx_is_retried_then_reported(derive_handler, offline_env):
    attempts = sent_attempts([INTERNAL])
    with pytest.raises(KmsUnavailable):
        derive_handler(DERIVE, None)
    assert len(attempts) == kms_calls.KMS_MAX_ATTEMPTS


def test_throttling_that_clears_within_the_retries_succeeds(
    derive_handler, offline_env, openssl, watch_secret
):
    shared_secret = os.urandom(32)
    watch_secret(shared_secret)
    success = (200, {"KeyId": FAKE_P256_ARN, "SharedSecret": b64(shared_secret)})
    attempts = sent_attempts([THROTTLED, THROTTLED, success])
    response = derive_handler(DERIVE, None)
    assert attempts == [400, 400, 200]
    expected = openssl.kdf(shared_secret, algorithm="onestep-sha256", length=32)
    watch_secret(expected)
    assert response["derived_key"] == b64(expected)


def test_unreachable_endpoint_is_kms_unavailable(derive_handler, offline_env):
    # offline_env points the client at 127.0.0.1:9, where nothing listens.
    with pytest.raises(KmsUnavailable, match="EndpointConnectionError"):
        derive_handler(DERIVE, None)


def test_missing_credentials_are_access_denied(derive_handler, offline_env, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    kms_calls.reset_kms_client()
    with pytest.raises(AccessDenied):
        derive_handler(DERIVE, None)


# --- configuration ------------------------------------------------------------------------------

BAD_CONFIGURATIONS: dict[str, dict[str, str]] = {
    "keys missing": {},
    "keys not JSON": {"KMSECDH_KEYS": "{", "KMSECDH_DEFAULT_KEY": FAKE_P256_ALIAS},
    "keys empty": {"KMSECDH_KEYS": "{}", "KMSECDH_DEFAULT_KEY": FAKE_P256_ALIAS},
    "keys a list": {"KMSECDH_KEYS": "[]", "KMSECDH_DEFAULT_KEY": FAKE_P256_ALIAS},
}


def _keys(alias: str = FAKE_P256_ALIAS, **entry: object) -> str:
    return json.dumps({alias: entry})


BAD_CONFIGURATIONS.update(
    {
        "name not an alias": {"KMSECDH_KEYS": _keys("p256", arn=FAKE_P256_ARN, key_spec="ECC_NIST_P256")},
        "AWS managed alias": {
            "KMSECDH_KEYS": _keys("alias/aws/kms", arn=FAKE_P256_ARN, key_spec="ECC_NIST_P256")
        },
        "arn not a key ARN": {"KMSECDH_KEYS": _keys(arn="alias/x", key_spec="ECC_NIST_P256")},
        "unsupported key spec": {"KMSECDH_KEYS": _keys(arn=FAKE_P256_ARN, key_spec="RSA_2048")},
        "extra entry field": {"KMSECDH_KEYS": _keys(arn=FAKE_P256_ARN, key_spec="ECC_NIST_P256", x=1)},
        "default not configured": {
            "KMSECDH_KEYS": _keys(arn=FAKE_P256_ARN, key_spec="ECC_NIST_P256"),
            "KMSECDH_DEFAULT_KEY": "alias/other",
        },
        "raw secret flag not a boolean": {
            "KMSECDH_KEYS": _keys(arn=FAKE_P256_ARN, key_spec="ECC_NIST_P256"),
            "KMSECDH_ALLOW_RAW_SECRET": "yes",
        },
    }
)


@pytest.mark.parametrize("variables", BAD_CONFIGURATIONS.values(), ids=BAD_CONFIGURATIONS.keys())
def test_bad_configuration_allows_no_key(derive_handler, counted_kms, monkeypatch, variables):
    for name in (KEYS_VARIABLE, DEFAULT_KEY_VARIABLE, ALLOW_RAW_SECRET_VARIABLE):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(DEFAULT_KEY_VARIABLE, FAKE_P256_ALIAS)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(KeyNotAllowed, match="function configuration"):
        derive_handler(DERIVE, None)
    assert counted_kms.calls == []


@pytest.mark.parametrize(
    ("flag", "allowed"), [("true", True), ("TRUE", True), ("false", False), (None, False)]
)
def test_raw_secret_flag(monkeypatch, flag, allowed):
    configure(
        monkeypatch,
        {FAKE_P256_ALIAS: (FAKE_P256_ARN, "ECC_NIST_P256")},
        FAKE_P256_ALIAS,
        allow_raw_secret=flag,
    )
    assert load_configuration().allow_raw_secret is allowed


def test_unexpected_exception_becomes_an_internal_error(
    derive_handler, offline_env, monkeypatch, captured_logs
):
    """A bug is InternalError (not to be retried), not KmsUnavailable (which tells callers to retry)."""

    def broken(*_: object) -> None:
        raise ZeroDivisionError("contains request data")

    monkeypatch.setattr(service, "load_configuration", broken)
    with pytest.raises(InternalError, match="internal error") as raised:
        derive_handler(DERIVE, None)
    assert not isinstance(raised.value, KmsUnavailable)
    [line] = captured_logs.invocation_lines()
    assert line["internal_error"] == "ZeroDivisionError"
    assert line["error_code"] == "InternalError"
    assert "contains request data" not in captured_logs.text()
