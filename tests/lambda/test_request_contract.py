"""Malformed requests are InvalidRequest (or KeyNotAllowed for keys) and never reach KMS."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from kmsecdh.contract import (
    MAX_KDF_INPUT_BYTES,
    MAX_PEER_KEY_LENGTH,
    MAX_PEERS,
    DeriveRequest,
    KdfParameters,
    Output,
    PublicKeyRequest,
    parse_request,
)
from kmsecdh.errors import InvalidRequest, KeyNotAllowed
from kmsecdh.kdf import DEFAULT_ALGORITHM, DEFAULT_LENGTH, MAX_LENGTH, MIN_LENGTH
from kmsecdh.keys import public_key_pem

from .support import b64

PEER_PEM = public_key_pem(ec.generate_private_key(ec.SECP256R1()).public_key())
TOO_LONG_B64 = b64(bytes(MAX_KDF_INPUT_BYTES + 1))


def derive(**fields: Any) -> dict[str, Any]:
    return {"action": "derive", "peer_public_key": PEER_PEM, **fields}


MALFORMED: dict[str, object] = {
    "not an object": ["action", "derive"],
    "a JSON string": '{"action": "derive"}',
    "no action": {"peer_public_key": PEER_PEM},
    "unknown action": {"action": "encrypt", "peer_public_key": PEER_PEM},
    "action of wrong type": {"action": ["derive"]},
    "unknown top-level field": derive(extra=1),
    "unknown field on public_key": {"action": "public_key", "peer_public_key": PEER_PEM},
    "no peer key": {"action": "derive"},
    "both peer fields": derive(peer_public_keys=[PEER_PEM]),
    "peer key not a string": derive(peer_public_key=123),
    "peer key null": derive(peer_public_key=None),
    "peer key oversize": derive(peer_public_key="A" * (MAX_PEER_KEY_LENGTH + 1)),
    "peer list not a list": {"action": "derive", "peer_public_keys": PEER_PEM},
    "peer list empty": {"action": "derive", "peer_public_keys": []},
    "too many peers": {"action": "derive", "peer_public_keys": [PEER_PEM] * (MAX_PEERS + 1)},
    "peer list entry not a string": {"action": "derive", "peer_public_keys": [PEER_PEM, {"pem": PEER_PEM}]},
    "key_id not a string": derive(key_id=7),
    "key_id null": derive(key_id=None),
    "key_id empty": derive(key_id=""),
    "key_id oversize": derive(key_id="alias/" + "a" * 2048),
    "kdf not an object": derive(kdf="onestep-sha256"),
    "unknown kdf field": derive(kdf={"algorithm": "onestep-sha256", "info": ""}),
    "unknown kdf algorithm": derive(kdf={"algorithm": "onestep-md5"}),
    "kdf algorithm of wrong type": derive(kdf={"algorithm": ["hkdf-sha256"]}),
    "length below minimum": derive(kdf={"length": MIN_LENGTH - 1}),
    "length above maximum": derive(kdf={"length": MAX_LENGTH + 1}),
    "length a float": derive(kdf={"length": 32.0}),
    "length a string": derive(kdf={"length": "32"}),
    "length a boolean": derive(kdf={"length": True}),
    "fixed_info not base64": derive(kdf={"fixed_info": "not base64!"}),
    "fixed_info unpadded": derive(kdf={"fixed_info": "YWJj ZA"}),
    "fixed_info not ASCII": derive(kdf={"fixed_info": "ÿÿÿÿ"}),
    "fixed_info not a string": derive(kdf={"fixed_info": [1, 2]}),
    "fixed_info oversize": derive(kdf={"fixed_info": TOO_LONG_B64}),
    "salt oversize": derive(kdf={"algorithm": "hkdf-sha256", "salt": TOO_LONG_B64}),
    "salt not base64": derive(kdf={"algorithm": "hkdf-sha256", "salt": "%%%%"}),
    "salt on a one-step KDF": derive(kdf={"algorithm": "onestep-sha256", "salt": b64(b"salt")}),
    "salt on the default KDF": derive(kdf={"salt": b64(b"salt")}),
    "unknown output": derive(output="z"),
    "output of wrong type": derive(output=1),
    "kdf with shared_secret output": derive(output="shared_secret", kdf={"length": 32}),
    "raw output not allowed": derive(output="shared_secret"),
}


@pytest.mark.parametrize("event", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_request_is_invalid_and_makes_no_kms_call(derive_handler, counted_kms, event):
    with pytest.raises(InvalidRequest):
        derive_handler(event, None)
    assert counted_kms.calls == []


@pytest.mark.parametrize(
    "key_id",
    [
        "alias/somebody-else",
        "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000",
        "00000000-0000-0000-0000-000000000000",
    ],
)
def test_unconfigured_key_is_not_allowed_and_makes_no_kms_call(derive_handler, counted_kms, key_id):
    with pytest.raises(KeyNotAllowed):
        derive_handler(derive(key_id=key_id), None)
    with pytest.raises(KeyNotAllowed):
        derive_handler({"action": "public_key", "key_id": key_id}, None)
    assert counted_kms.calls == []


def test_error_messages_do_not_echo_values(derive_handler, counted_kms):
    marker = "Zm9vYmFyYmF6cXV4"
    for event in (derive(kdf={"fixed_info": marker + "!"}), derive(key_id=marker), derive(output=marker)):
        with pytest.raises((InvalidRequest, KeyNotAllowed)) as raised:
            derive_handler(event, None)
        assert marker not in str(raised.value)


def test_unknown_fields_are_named_but_shortened():
    with pytest.raises(InvalidRequest, match=r"'a{40}', .*, and 1 more; allowed: action, key_id") as raised:
        parse_request({"action": "public_key", **{c * 100: 1 for c in "abcdef"}})
    assert "a" * 41 not in str(raised.value)


def test_defaults_are_filled_in():
    assert parse_request(derive()) == DeriveRequest(
        key_id=None,
        peer_public_keys=(PEER_PEM,),
        batch=False,
        output=Output.DERIVED_KEY,
        kdf=KdfParameters(algorithm=DEFAULT_ALGORITHM, length=DEFAULT_LENGTH, fixed_info=b"", salt=None),
    )
    assert parse_request({"action": "public_key"}) == PublicKeyRequest(key_id=None)


def test_full_request_is_parsed():
    request = parse_request(
        {
            "action": "derive",
            "key_id": "alias/x",
            "peer_public_keys": [PEER_PEM, "AAAA"],
            "kdf": {"algorithm": "hkdf-sha384", "length": 48, "fixed_info": b64(b"info"), "salt": b64(b"s")},
        }
    )
    assert request == DeriveRequest(
        key_id="alias/x",
        peer_public_keys=(PEER_PEM, "AAAA"),
        batch=True,
        output=Output.DERIVED_KEY,
        kdf=KdfParameters(algorithm="hkdf-sha384", length=48, fixed_info=b"info", salt=b"s"),
    )


def test_limits_themselves_are_accepted():
    at_limit = b64(bytes(MAX_KDF_INPUT_BYTES))
    request = parse_request(
        {
            "action": "derive",
            "peer_public_keys": ["A" * MAX_PEER_KEY_LENGTH] * MAX_PEERS,
            "kdf": {
                "algorithm": "hkdf-sha512",
                "length": MAX_LENGTH,
                "fixed_info": at_limit,
                "salt": at_limit,
            },
        }
    )
    assert isinstance(request, DeriveRequest)
    assert len(request.peer_public_keys) == MAX_PEERS
    assert request.kdf is not None
    assert len(request.kdf.fixed_info) == MAX_KDF_INPUT_BYTES


def test_raw_output_request_has_no_kdf():
    request = parse_request(derive(output="shared_secret"))
    assert isinstance(request, DeriveRequest)
    assert (request.output, request.kdf) == (Output.SHARED_SECRET, None)


def test_base64_is_strict():
    assert base64.b64decode("YWJjZA==") == b"abcd"
    request = parse_request(derive(kdf={"fixed_info": "YWJjZA=="}))
    assert isinstance(request, DeriveRequest)
    assert request.kdf is not None
    assert request.kdf.fixed_info == b"abcd"
