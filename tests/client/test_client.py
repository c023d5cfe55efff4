"""kmsecdh.client.DeriveFunctionClient: against the derive handler served in-process (local KMS endpoint),
and with botocore's Stubber for what only the Lambda API or a broken function can answer."""

from __future__ import annotations

import io
import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.stub import Stubber
from cryptography.hazmat.primitives import serialization

from kmsecdh import client as client_module
from kmsecdh.client import DeriveFunctionClient, FunctionError, InvalidResponse
from kmsecdh.contract import MAX_PEERS
from kmsecdh.encoding import b64encode
from kmsecdh.errors import (
    InternalError,
    InvalidPublicKey,
    InvalidRequest,
    KeyNotAllowed,
    KmsThrottled,
    KmsUnavailable,
)
from kmsecdh.kdf import derive_key, fixed_info
from kmsecdh.keys import ecdh_shared_secret, load_peer_public_key, public_key_der

FUNCTION = "kmsecdh-test-derive"
INFO = fixed_info(b"A256GCM", b"alice", b"bob")


def _local_key(peer) -> tuple[Any, str]:
    private_key = serialization.load_pem_private_key(peer.private.read_bytes(), password=None)
    return private_key, peer.key_spec


def _expected(peer, kms_key, **kdf: Any) -> bytes:
    private_key, key_spec = _local_key(peer)
    bob = load_peer_public_key(kms_key.public_der.read_bytes(), key_spec)
    return derive_key(ecdh_shared_secret(private_key, bob), **kdf)


# --- against the handler, served in-process ------------------------------------------------------


@pytest.mark.parametrize("form", ["key object", "DER bytes", "PEM bytes", "PEM text"])
def test_derive_matches_the_peer(make_kms_key, make_peer_key, derive_function, form: str) -> None:
    bob = make_kms_key("ECC_NIST_P384")
    alice = make_peer_key("alice", "ECC_NIST_P384")
    derive_function(bob)
    peer = {
        "key object": load_peer_public_key(alice.public_der.read_bytes(), "ECC_NIST_P384"),
        "DER bytes": alice.public_der.read_bytes(),
        "PEM bytes": alice.public_pem.read_bytes(),
        "PEM text": alice.public_pem.read_text(),
    }[form]
    derived = DeriveFunctionClient(FUNCTION).derive(
        peer, kdf="hkdf-sha384", length=48, fixed_info=INFO, salt=b"salt"
    )
    assert derived == _expected(alice, bob, algorithm="hkdf-sha384", length=48, fixed_info=INFO, salt=b"salt")


def test_defaults_are_the_function_s(make_kms_key, make_peer_key, derive_function) -> None:
    bob, alice = make_kms_key(), make_peer_key("alice")
    function = derive_function(bob)
    derived = DeriveFunctionClient(FUNCTION).derive(alice.public_der.read_bytes())
    assert derived == _expected(alice, bob, algorithm="onestep-sha256", length=32)
    assert function.events[-1]["kdf"] == {"algorithm": "onestep-sha256", "length": 32}
    assert "key_id" not in function.events[-1]


def test_derive_many_one_result_per_peer_in_order(make_kms_key, make_peer_key, derive_function) -> None:
    bob = make_kms_key("ECC_NIST_P256")
    alice, carol = make_peer_key("alice"), make_peer_key("carol")
    wrong_curve = make_peer_key("p521", "ECC_NIST_P521")
    derive_function(bob)
    results = DeriveFunctionClient(FUNCTION, key_id=bob.alias).derive_many(
        [alice.public_der.read_bytes(), wrong_curve.public_der.read_bytes(), carol.public_pem.read_text()],
        fixed_info=INFO,
    )
    assert results[0] == _expected(alice, bob, algorithm="onestep-sha256", length=32, fixed_info=INFO)
    assert isinstance(results[1], InvalidPublicKey)
    assert "secp521r1" in str(results[1])
    assert results[2] == _expected(carol, bob, algorithm="onestep-sha256", length=32, fixed_info=INFO)


def test_derive_many_splits_into_invocations_of_at_most_max_peers(
    make_kms_key, make_peer_key, derive_function
) -> None:
    bob, alice = make_kms_key(), make_peer_key("alice")
    function = derive_function(bob)
    peers = [alice.public_der.read_bytes()] * (MAX_PEERS + 1)
    results = DeriveFunctionClient(FUNCTION).derive_many(peers)
    assert results == [_expected(alice, bob, algorithm="onestep-sha256", length=32)] * (MAX_PEERS + 1)
    assert [len(event["peer_public_keys"]) for event in function.events] == [MAX_PEERS, 1]


def test_public_key_is_the_kms_key_s(make_kms_key, derive_function) -> None:
    bob = make_kms_key("ECC_NIST_P521")
    derive_function(bob)
    key = DeriveFunctionClient(FUNCTION).public_key(key_id=bob.arn)
    assert public_key_der(key) == bob.public_der.read_bytes()


def test_contract_errors_are_the_function_s_classes(make_kms_key, make_peer_key, derive_function) -> None:
    bob, alice = make_kms_key(), make_peer_key("alice")
    derive_function(bob)
    client = DeriveFunctionClient(FUNCTION)
    with pytest.raises(KeyNotAllowed, match="not an alias name, key id, ARN or kid"):
        client.derive(alice.public_der.read_bytes(), key_id="alias/not-configured")
    with pytest.raises(InvalidPublicKey, match="secp384r1"):
        client.derive(make_peer_key("p384", "ECC_NIST_P384").public_der.read_bytes())


@pytest.mark.parametrize(
    ("kdf", "message"),
    [
        ({"kdf": "onestep-md5"}, "unknown KDF algorithm"),
        ({"length": 8}, "KDF length must be an integer from 16 to 64"),
        ({"salt": b"s"}, "salt is not used by the one-step KDF"),
        ({"fixed_info": "text"}, "fixed_info must be bytes"),
    ],
)
def test_arguments_the_function_would_refuse_are_refused_first(kdf: dict, message: str) -> None:
    never_called = Stubber(_lambda())
    with never_called, pytest.raises(InvalidRequest, match=message):
        DeriveFunctionClient(FUNCTION, client=never_called.client).derive(b"\x04" + bytes(64), **kdf)


# --- the Lambda API and broken answers, with botocore's Stubber ------------------------------------


def _lambda() -> Any:
    return boto3.client(
        "lambda", region_name="eu-west-1", aws_access_key_id="test", aws_secret_access_key="test"
    )


def _answer(body: object, function_error: str | None = None) -> dict[str, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    response: dict[str, Any] = {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(data), len(data))}
    if function_error is not None:
        response["FunctionError"] = function_error
    return response


def _stubbed(*answers: dict[str, Any]) -> tuple[DeriveFunctionClient, Stubber]:
    stub = Stubber(_lambda())
    for answer in answers:
        stub.add_response("invoke", answer)
    return DeriveFunctionClient(FUNCTION, client=stub.client), stub


PEER = b"\x04" + bytes(64)
TIMED_OUT = "Task timed out after 30.00 seconds"
GOOD_HEADER = {
    "key_id": "arn",
    "key_spec": "ECC_NIST_P256",
    "kdf": {"algorithm": "onestep-sha256", "length": 32},
}


@pytest.mark.parametrize(
    ("code", "status"),
    [("ResourceNotFoundException", 404), ("AccessDeniedException", 403), ("TooManyRequestsException", 429)],
)
def test_lambda_api_errors_are_botocore_s(code: str, status: int) -> None:
    stub = Stubber(_lambda())
    stub.add_client_error("invoke", service_error_code=code, http_status_code=status)
    with stub, pytest.raises(ClientError) as raised:
        DeriveFunctionClient(FUNCTION, client=stub.client).derive(PEER)
    assert raised.value.response["Error"]["Code"] == code


def test_the_invocation_request() -> None:
    stub = Stubber(_lambda())
    stub.add_response(
        "invoke",
        _answer({**GOOD_HEADER, "derived_key": b64encode(bytes(32))}),
        {"FunctionName": FUNCTION, "InvocationType": "RequestResponse", "Payload": json.dumps({
            "action": "derive",
            "kdf": {"algorithm": "onestep-sha256", "length": 32, "fixed_info": b64encode(INFO)},
            "key_id": "alias/k",
            "peer_public_key": b64encode(PEER),
        }).encode()},
    )  # fmt: skip
    with stub:
        assert DeriveFunctionClient(FUNCTION, key_id="alias/k", client=stub.client).derive(
            PEER, fixed_info=INFO
        ) == bytes(32)


def test_function_errors() -> None:
    client, stub = _stubbed(
        _answer({"errorType": "KmsThrottled", "errorMessage": "KMS throttled the call"}, "Unhandled"),
        _answer({"errorType": "Sandbox.Timedout", "errorMessage": TIMED_OUT}, "Unhandled"),
        _answer(b"", "Unhandled"),
    )  # fmt: skip
    with stub:
        with pytest.raises(KmsThrottled, match="KMS throttled the call"):
            client.derive(PEER)
        with pytest.raises(FunctionError) as timeout:
            client.derive(PEER)
        assert str(timeout.value) == (f"function {FUNCTION} failed: Sandbox.Timedout: {TIMED_OUT}")
        with pytest.raises(FunctionError, match="failed: Unknown: no message"):
            client.derive(PEER)


def test_an_internal_error_is_its_own_class_not_kms_unavailable() -> None:
    client, stub = _stubbed(
        _answer({"errorType": "InternalError", "errorMessage": "internal error in the function"}, "Unhandled")
    )
    with stub, pytest.raises(InternalError, match="internal error in the function") as raised:
        client.derive(PEER)
    assert not isinstance(raised.value, KmsUnavailable)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "a payload that is not JSON"),
        (b"", "NoneType, not an object"),
        ([1], "list, not an object"),
        ({**GOOD_HEADER}, "no derived_key"),
        ({**GOOD_HEADER, "derived_key": "not base64!"}, "a derived_key that is not base64"),
        ({**GOOD_HEADER, "derived_key": "AAAA"}, "a 3-byte derived_key, not 32 bytes"),
        ({**GOOD_HEADER, "derived_key": ""}, "a 0-byte derived_key, not 32 bytes"),
        ({**GOOD_HEADER, "kdf": {"algorithm": "hkdf-sha256", "length": 32}, "derived_key": "A" * 43 + "="},
         "a result of another KDF"),
    ],
)  # fmt: skip
def test_a_bad_answer_never_becomes_bytes(body: object, message: str) -> None:
    client, stub = _stubbed(_answer(body))
    with stub, pytest.raises(InvalidResponse, match=message):
        client.derive(PEER)


@pytest.mark.parametrize(
    ("results", "message"),
    [
        (None, "no list of 2 results"),
        ([{"derived_key": b64encode(bytes(32))}], "no list of 2 results"),
        ([{"derived_key": b64encode(bytes(32))}, {"error": {"code": "Mystery", "message": "?"}}],
         "neither a derived key nor a known error"),
        ([{"derived_key": b64encode(bytes(32))}, {"derived_key": "%%%"}], "not base64"),
    ],
)  # fmt: skip
def test_a_bad_batch_answer_is_refused_whole(results: object, message: str) -> None:
    client, stub = _stubbed(_answer({**GOOD_HEADER, "results": results}))
    with stub, pytest.raises(InvalidResponse, match=message):
        client.derive_many([PEER, PEER])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"key_spec": "SM2", "public_key_der": "AAAA"}, "without a supported key_spec"),
        ({"key_spec": "ECC_NIST_P256", "public_key_der": "AAAA"}, "not a ECC_NIST_P256 public key"),
        ({"key_spec": "ECC_NIST_P256"}, "no public_key_der"),
    ],
)
def test_a_bad_public_key_answer(body: dict, message: str) -> None:
    client, stub = _stubbed(_answer(body))
    with stub, pytest.raises(InvalidResponse, match=message):
        client.public_key()


def test_lambda_client_retries_and_times_out_like_the_function_s_kms_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    config = client_module.lambda_client().meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": 3}
    assert config.connect_timeout == 1
    assert config.read_timeout == 35
