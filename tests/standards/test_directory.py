"""The signed public-key directory (``kmsecdh.directory``): an ES384 JWS over a JWK Set with iat, exp and
serial.

The JWS verifies with jwcrypto (an independent JOSE implementation), signed locally and by a SIGN_VERIFY key
of the local KMS endpoint; a tampered document, a wrong signer, a kid that does not match its key, a key ARN
that does not check out, an expired document, one issued in the future and one older than the newest seen
are each refused with their own error, the times with CLOCK_SKEW of tolerance and no more.
"""

from __future__ import annotations

import datetime
import json
import re

import boto3
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jws as jwcrypto_jws

from kmsecdh import directory
from kmsecdh.jwk import b64url, b64url_decode
from kmsecdh.keys import public_key_der

ARN_OLD = "arn:aws:kms:eu-central-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ARN_NEW = "arn:aws:kms:eu-central-1:111111111111:key/2234abcd-12ab-34cd-56ef-1234567890ab"
ISSUED_AT = 1_790_000_000  # 2026-09-21T14:13:20Z
MAX_AGE = datetime.timedelta(days=30)
EXPIRES_AT = ISSUED_AT + 30 * 86400
SERIAL = 7
SKEW = 300


def published(public_key: ec.EllipticCurvePublicKey, arn: str, generation: str, current: bool):
    return directory.PublishedKey(
        public_key=public_key,
        key_arn=arn,
        key_spec="ECC_NIST_P256",
        generation=generation,
        current=current,
        retire_after=None if current else "2027-02-28",
    )


@pytest.fixture(scope="module")
def agreement_keys() -> dict[str, ec.EllipticCurvePrivateKey]:
    return {arn: ec.generate_private_key(ec.SECP256R1()) for arn in (ARN_OLD, ARN_NEW)}


@pytest.fixture(scope="module")
def payload(agreement_keys) -> dict:
    return directory.document(
        [
            published(agreement_keys[ARN_OLD].public_key(), ARN_OLD, "2026-05", current=False),
            published(agreement_keys[ARN_NEW].public_key(), ARN_NEW, "2026-11", current=True),
        ],
        serial=SERIAL,
        issued_at=ISSUED_AT,
        max_age=MAX_AGE,
    )


@pytest.fixture(scope="module")
def signer() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


def local_sign(private_key: ec.EllipticCurvePrivateKey):
    return lambda data: private_key.sign(data, ec.ECDSA(hashes.SHA384()))


def signed(payload: dict, signer: ec.EllipticCurvePrivateKey) -> str:
    return directory.sign(payload, signer.public_key(), local_sign(signer))


def verify(token: str, public_key: ec.EllipticCurvePublicKey, *args, now: float = ISSUED_AT + 60):
    """``directory.verify`` a minute after the document was issued."""
    return directory.verify(token, public_key, *args, now=now)


def jwcrypto_payload(token: str, public_key: ec.EllipticCurvePublicKey) -> dict:
    verified = jwcrypto_jws.JWS()
    verified.deserialize(token)
    verified.verify(jwcrypto_jwk.JWK.from_pyca(public_key), alg="ES384")
    return json.loads(verified.payload)


def test_jwcrypto_verifies_the_jws_and_reads_the_jwk_set(payload, signer, agreement_keys) -> None:
    token = signed(payload, signer)
    document = jwcrypto_payload(token, signer.public_key())
    assert document == payload
    keyset = jwcrypto_jwk.JWKSet()
    keyset.import_keyset(json.dumps(document))
    for key in document["keys"]:
        imported = keyset.get_key(key["kid"])
        assert imported.thumbprint() == key["kid"]
        assert public_key_der(imported.get_op_key("wrapKey")) == public_key_der(
            agreement_keys[key["key_arn"]].public_key()
        )


def test_the_header_names_es384_and_the_signer(payload, signer) -> None:
    token = signed(payload, signer)
    verified = jwcrypto_jws.JWS()
    verified.deserialize(token)
    verified.verify(jwcrypto_jwk.JWK.from_pyca(signer.public_key()))
    assert verified.jose_header == {
        "alg": "ES384",
        "kid": jwcrypto_jwk.JWK.from_pyca(signer.public_key()).thumbprint(),
        "cty": "jwk-set+json",
    }


def test_verify_returns_the_keys_and_the_current_ones(payload, signer) -> None:
    verified = verify(signed(payload, signer), signer.public_key())
    assert [key["key_arn"] for key in verified.keys] == [ARN_OLD, ARN_NEW]
    assert [key["generation"] for key in directory.current_keys(verified.keys)] == ["2026-11"]
    assert {key["use"] for key in verified.keys} == {"enc"}
    assert (verified.serial, verified.issued_at, verified.expires_at) == (SERIAL, ISSUED_AT, EXPIRES_AT)


def test_a_document_signed_by_kms_verifies_with_jwcrypto_and_kmsecdh(local_kms, payload) -> None:
    kms = boto3.client(
        "kms",
        endpoint_url=local_kms.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    key_id = kms.create_key(KeySpec="ECC_NIST_P384", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    public_key = serialization.load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])
    assert isinstance(public_key, ec.EllipticCurvePublicKey)

    def kms_sign(data: bytes) -> bytes:
        return kms.sign(
            KeyId=key_id, Message=data, MessageType="RAW", SigningAlgorithm=directory.KMS_SIGNING_ALGORITHM
        )["Signature"]

    token = directory.sign(payload, public_key, kms_sign)
    assert jwcrypto_payload(token, public_key) == payload
    assert verify(token, public_key).keys[1]["key_arn"] == ARN_NEW


@pytest.mark.parametrize("part", [0, 1, 2])
def test_a_tampered_document_is_a_bad_signature(payload, signer, part) -> None:
    parts = signed(payload, signer).split(".")
    if part == 1:
        altered = json.loads(b64url_decode(parts[1], "payload"))
        altered["keys"][0]["current"] = True
        parts[1] = b64url(json.dumps(altered).encode())
    elif part == 0:
        parts[0] = b64url(
            json.dumps({"alg": "ES384", "kid": directory.signing_kid(signer.public_key())}).encode()
        )
    else:
        signature = bytearray(b64url_decode(parts[2], "signature"))
        signature[10] ^= 1
        parts[2] = b64url(bytes(signature))
    with pytest.raises(directory.BadSignature, match="does not verify with the pinned signing key"):
        verify(".".join(parts), signer.public_key())


def test_another_signer_is_a_wrong_signer(payload, signer) -> None:
    other = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(directory.WrongSigner, match="not by the pinned signing key"):
        verify(signed(payload, other), signer.public_key())


def test_another_signer_claiming_the_pinned_kid_is_a_bad_signature(payload, signer) -> None:
    other = ec.generate_private_key(ec.SECP384R1())
    token = directory.sign(payload, signer.public_key(), local_sign(other))
    with pytest.raises(directory.BadSignature):
        verify(token, signer.public_key())


def test_a_kid_that_is_not_its_keys_thumbprint_is_refused(payload, signer) -> None:
    altered = json.loads(json.dumps(payload))
    altered["keys"][1]["kid"] = altered["keys"][0]["kid"]
    with pytest.raises(directory.KidMismatch, match=r"keys\[1\] has kid .* but its coordinates' thumbprint"):
        verify(signed(altered, signer), signer.public_key())


@pytest.mark.parametrize(
    ("arn", "message"),
    [("not-an-arn", "has no KMS key ARN"), (ARN_OLD, "repeats key_arn")],
)
def test_a_bad_key_arn_is_refused(payload, signer, arn, message) -> None:
    altered = json.loads(json.dumps(payload))
    altered["keys"][1]["key_arn"] = arn
    with pytest.raises(directory.KeyArnMismatch, match=message):
        verify(signed(altered, signer), signer.public_key())


def test_a_key_arn_whose_kms_key_differs_is_refused(payload, signer, agreement_keys) -> None:
    def kms_public_key(arn: str) -> bytes:
        # KMS swapped: each ARN holds the other generation's key
        other = ARN_NEW if arn == ARN_OLD else ARN_OLD
        return public_key_der(agreement_keys[other].public_key())

    with pytest.raises(directory.KeyArnMismatch, match="KMS holds another public key for key_arn"):
        verify(signed(payload, signer), signer.public_key(), kms_public_key)
    assert verify(
        signed(payload, signer),
        signer.public_key(),
        lambda arn: public_key_der(agreement_keys[arn].public_key()),
    )


@pytest.mark.parametrize(
    ("token", "message"),
    [("a.b", "3 parts"), ("e30.e30.", "alg is None"), ("!!.e30.e30", "JWS header")],
)
def test_a_malformed_token_is_refused(signer, token, message) -> None:
    with pytest.raises(directory.MalformedDirectory, match=message):
        verify(token, signer.public_key())


def test_the_payload_carries_iat_exp_and_serial_beside_the_jwk_set(payload, signer) -> None:
    document = jwcrypto_payload(signed(payload, signer), signer.public_key())
    assert (document["iat"], document["exp"], document["serial"]) == (ISSUED_AT, EXPIRES_AT, SERIAL)
    keyset = jwcrypto_jwk.JWKSet()
    keyset.import_keyset(json.dumps(document))
    assert len(keyset["keys"]) == 2


@pytest.mark.parametrize("now", [EXPIRES_AT, EXPIRES_AT + SKEW, ISSUED_AT, ISSUED_AT - SKEW])
def test_a_directory_is_valid_from_iat_to_exp_give_or_take_the_clock_skew(payload, signer, now) -> None:
    assert datetime.timedelta(seconds=SKEW) == directory.CLOCK_SKEW
    assert verify(signed(payload, signer), signer.public_key(), now=now).serial == SERIAL


def test_an_expired_directory_is_refused(payload, signer) -> None:
    with pytest.raises(directory.Expired) as raised:
        verify(signed(payload, signer), signer.public_key(), now=EXPIRES_AT + SKEW + 1)
    assert str(raised.value) == (
        "serial 7 expired at 2026-10-21T14:13:20Z (exp; now 2026-10-21T14:18:21Z, clock skew allowed 300 s): "
        "its publisher has not republished the directory since"
    )


def test_a_directory_issued_in_the_future_is_refused(payload, signer) -> None:
    with pytest.raises(directory.NotYetValid) as raised:
        verify(signed(payload, signer), signer.public_key(), now=ISSUED_AT - SKEW - 1)
    assert str(raised.value) == (
        "serial 7 is issued at 2026-09-21T14:13:20Z (iat), after now (2026-09-21T14:08:19Z, clock skew "
        "allowed 300 s): this machine's clock or the publisher's is wrong"
    )


def test_a_time_beyond_the_calendar_is_named_in_seconds(payload, signer) -> None:
    far = {**payload, "iat": 10**15, "exp": 10**15 + 1}
    with pytest.raises(
        directory.NotYetValid, match=r"issued at 1000000000000000 s after 1970-01-01T00:00:00Z"
    ):
        verify(signed(far, signer), signer.public_key())


def test_a_serial_below_the_newest_seen_is_refused_as_replayed(payload, signer) -> None:
    verified = verify(signed(payload, signer), signer.public_key())
    directory.check_not_replayed(verified, SERIAL, "the newest seen")
    with pytest.raises(directory.Replayed) as raised:
        directory.check_not_replayed(verified, SERIAL + 1, "the newest seen")
    assert str(raised.value) == (
        "serial 7 (issued 2026-09-21T14:13:20Z) is older than serial 8, the newest seen: "
        "an older directory, replayed"
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"serial": None}, "'s serial is not an integer: None"),
        ({"iat": "1790000000"}, "'s iat is not an integer: '1790000000'"),
        ({"exp": True}, "'s exp is not an integer: True"),
        ({"serial": 0}, "'s serial is 0, serials start at 1"),
        ({"exp": ISSUED_AT}, " is valid for 0 s (exp - iat), not 1 s to 365 days"),
        ({"exp": ISSUED_AT + 366 * 86400}, " is valid for 31622400 s (exp - iat), not 1 s to 365 days"),
    ],
)
def test_bad_claims_are_a_malformed_directory(payload, signer, changes, message) -> None:
    altered = {**payload, **changes}
    if changes.get("serial", 1) is None:
        del altered["serial"]
    with pytest.raises(directory.MalformedDirectory, match=f"^{re.escape('the signed document' + message)}$"):
        verify(signed(altered, signer), signer.public_key())


def test_the_published_serial_is_read_regardless_of_time(payload, signer) -> None:
    assert directory.published_serial(signed(payload, signer), signer.public_key()) == SERIAL
    # a directory signed before directories carried claims continues as serial 0
    legacy = {"keys": payload["keys"]}
    assert directory.published_serial(signed(legacy, signer), signer.public_key()) == 0
    with pytest.raises(directory.MalformedDirectory, match="exp is not an integer: None"):
        directory.published_serial(signed({**legacy, "iat": ISSUED_AT}, signer), signer.public_key())
    other = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(directory.WrongSigner):
        directory.published_serial(signed(payload, other), signer.public_key())


@pytest.mark.parametrize(
    ("serial", "max_age", "message"),
    [
        (0, MAX_AGE, "serial is an integer from 1, got 0"),
        (True, MAX_AGE, "serial is an integer from 1, got True"),
        (1, datetime.timedelta(0), "max_age is 1 s to 365 days, got 0:00:00"),
        (1, datetime.timedelta(days=366), "max_age is 1 s to 365 days, got 366 days"),
    ],
)
def test_document_refuses_a_bad_serial_or_max_age(serial, max_age, message) -> None:
    with pytest.raises(ValueError, match=message):
        directory.document([], serial=serial, issued_at=ISSUED_AT, max_age=max_age)
