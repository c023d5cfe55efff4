"""HPKE (RFC 9180) with a KMS key as the recipient: the RFC's vectors through KMS, pyhpke both ways,
tampering, KMS errors, and the pin on cryptography's private single-shot-with-aad functions."""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke as pyca_hpke
from cryptography.hazmat.primitives.asymmetric import ec
from pyhpke import AEADId, CipherSuite, KDFId, KEMId, KEMKey

from kmsecdh import hpke
from kmsecdh.errors import AccessDenied, DecryptionFailed, InvalidRequest, KeyUnavailable
from kmsecdh.keys import curve_for, public_key_der
from kmsecdh.kms_key import KmsPrivateKey
from tests.conftest import PROJECT_ROOT, VECTORS_DIR

KEY_SPECS = ("ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521")
VECTORS = json.loads((VECTORS_DIR / "hpke" / "rfc9180-dhkem-p256-p521.json").read_text())
KEM_KEY_SPECS = {16: "ECC_NIST_P256", 17: "ECC_NIST_P384", 18: "ECC_NIST_P521"}
KDF_NAMES = {1: "hkdf-sha256", 2: "hkdf-sha384", 3: "hkdf-sha512"}
AEAD_NAMES = {1: "aes-128-gcm", 2: "aes-256-gcm", 3: "chacha20-poly1305"}
# Single-shot = base mode (0) at sequence number 0: each entry's first encryption.
BASE_MODE = [
    pytest.param(entry, id=f"kem{entry['kem_id']}-kdf{entry['kdf_id']}-aead{entry['aead_id']}")
    for entry in VECTORS
    if entry["mode"] == 0 and entry["aead_id"] in AEAD_NAMES
]
PYHPKE_KEMS = {
    "ECC_NIST_P256": KEMId.DHKEM_P256_HKDF_SHA256,
    "ECC_NIST_P384": KEMId.DHKEM_P384_HKDF_SHA384,
    "ECC_NIST_P521": KEMId.DHKEM_P521_HKDF_SHA512,
}
PYHPKE_KDFS = {
    "hkdf-sha256": KDFId.HKDF_SHA256,
    "hkdf-sha384": KDFId.HKDF_SHA384,
    "hkdf-sha512": KDFId.HKDF_SHA512,
}
PYHPKE_AEADS = {
    "aes-128-gcm": AEADId.AES128_GCM,
    "aes-256-gcm": AEADId.AES256_GCM,
    "chacha20-poly1305": AEADId.CHACHA20_POLY1305,
}
SUITES = [(kdf, aead) for kdf in hpke.KDFS for aead in hpke.AEADS]


def _vector_key(entry: dict) -> ec.EllipticCurvePrivateKey:
    spec = curve_for(KEM_KEY_SPECS[entry["kem_id"]])
    return ec.derive_private_key(int(entry["skRm"], 16), spec.curve())


def test_every_base_mode_vector_is_used() -> None:
    # P-256 and P-521, HKDF-SHA256 and -SHA512, three AEADs: 12 (RFC 9180 has no P-384 vectors).
    assert len(BASE_MODE) == 12


@pytest.mark.parametrize("entry", BASE_MODE)
def test_rfc9180_vector_opens_through_kms(kms_key_holding, entry: dict) -> None:
    key = kms_key_holding(_vector_key(entry))
    assert public_key_der(key.public_key()) == public_key_der(
        ec.EllipticCurvePublicKey.from_encoded_point(key.curve, bytes.fromhex(entry["pkRm"]))
    )
    first = entry["encryptions"][0]
    assert first["nonce"] == entry["base_nonce"]  # sequence number 0: what single-shot uses
    options = {
        "info": bytes.fromhex(entry["info"]),
        "aad": bytes.fromhex(first["aad"]),
        "kdf": KDF_NAMES[entry["kdf_id"]],
        "aead": AEAD_NAMES[entry["aead_id"]],
    }
    message = bytes.fromhex(entry["enc"] + first["ct"])
    assert hpke.open_message(message, key, **options).hex() == first["pt"]
    # The same vector with the key held locally (the peer side of the command line).
    assert hpke.open_message(message, _vector_key(entry), **options).hex() == first["pt"]
    # And the format is what docs/hpke-jwe.md says: enc is the SEC1 uncompressed pkE.
    assert len(bytes.fromhex(entry["enc"])) == hpke.suite_for(key.key_spec).enc_size
    assert entry["enc"] == entry["pkEm"]


@pytest.mark.parametrize("key_spec", KEY_SPECS)
def test_pyhpke_seals_kms_key_opens(new_kms_key, key_spec: str) -> None:
    key = new_kms_key(key_spec)
    recipient = KEMKey.from_pyca_cryptography_key(key.public_key())
    for kdf, aead in SUITES:
        suite = CipherSuite.new(PYHPKE_KEMS[key_spec], PYHPKE_KDFS[kdf], PYHPKE_AEADS[aead])
        enc, sender = suite.create_sender_context(recipient, info=b"kmsecdh test")
        ciphertext = sender.seal(b"from pyhpke", aad=b"header")
        opened = hpke.open_message(
            enc + ciphertext, key, info=b"kmsecdh test", aad=b"header", kdf=kdf, aead=aead
        )
        assert opened == b"from pyhpke", (kdf, aead)


@pytest.mark.parametrize("key_spec", KEY_SPECS)
def test_kmsecdh_seals_pyhpke_opens(key_spec: str) -> None:
    private_key = ec.generate_private_key(curve_for(key_spec).curve())
    recipient = KEMKey.from_pyca_cryptography_key(private_key)
    for kdf, aead in SUITES:
        message = hpke.seal(b"to pyhpke", private_key.public_key(), info=b"i", aad=b"a", kdf=kdf, aead=aead)
        suite = hpke.suite_for(key_spec, kdf, aead)
        assert suite.ids == (PYHPKE_KEMS[key_spec].value, PYHPKE_KDFS[kdf].value, PYHPKE_AEADS[aead].value)
        theirs = CipherSuite.new(PYHPKE_KEMS[key_spec], PYHPKE_KDFS[kdf], PYHPKE_AEADS[aead])
        context = theirs.create_recipient_context(message[: suite.enc_size], recipient, info=b"i")
        assert context.open(message[suite.enc_size :], aad=b"a") == b"to pyhpke", (kdf, aead)


@pytest.mark.parametrize("key_spec", KEY_SPECS)
def test_sealed_to_the_kms_public_key_opens_through_kms(new_kms_key, key_spec: str) -> None:
    key = new_kms_key(key_spec)
    message = hpke.seal(b"x" * 1000, key.public_key())
    assert len(message) == hpke.suite_for(key_spec).enc_size + 1000 + hpke.TAG_SIZE
    assert message[0] == 0x04
    assert hpke.open_message(message, key) == b"x" * 1000


def test_default_kdf_follows_the_curve() -> None:
    assert [hpke.suite_for(spec).kdf for spec in KEY_SPECS] == ["hkdf-sha256", "hkdf-sha384", "hkdf-sha512"]
    assert hpke.suite_for("ECC_NIST_P256").aead == "aes-128-gcm"
    with pytest.raises(InvalidRequest, match="unknown HPKE KDF"):
        hpke.suite_for("ECC_NIST_P256", "hkdf-sha1")
    with pytest.raises(InvalidRequest, match="unknown HPKE AEAD"):
        hpke.suite_for("ECC_NIST_P256", None, "aes-192-gcm")


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


@pytest.fixture
def sealed(new_kms_key) -> tuple[KmsPrivateKey, bytes]:
    key = new_kms_key("ECC_NIST_P256")
    return key, hpke.seal(b"secret plan", key.public_key(), info=b"info", aad=b"aad")


def _other_point(size: int) -> bytes:
    return public_key_der(ec.generate_private_key(ec.SECP256R1()).public_key())[-size:]


@pytest.mark.parametrize(
    ("tamper", "options"),
    [
        (lambda m: _flip(m, 10), {}),  # enc no longer on the curve, or another point
        (lambda m: _other_point(65) + m[65:], {}),  # another valid ephemeral key
        (lambda m: b"\x05" + m[1:], {}),  # not a SEC1 point encoding
        (lambda m: _flip(m, 70), {}),  # ciphertext
        (lambda m: _flip(m, len(m) - 1), {}),  # tag
        (lambda m: m[:-1], {}),  # truncated
        (lambda m: m + b"\x00", {}),  # extended
        (lambda m: m, {"info": b"infO"}),
        (lambda m: m, {"aad": b"aaD"}),
        (lambda m: m, {"aad": b""}),
        (lambda m: m, {"kdf": "hkdf-sha384"}),
        (lambda m: m, {"aead": "aes-256-gcm"}),
    ],
    ids=[
        "enc-bit", "enc-other-point", "enc-form", "ciphertext", "tag", "truncated", "extended",
        "info", "aad", "aad-missing", "kdf", "aead",
    ],
)  # fmt: skip
def test_tampering_is_one_clear_error(sealed, tamper, options: dict[str, Any]) -> None:
    key, message = sealed
    arguments = {"info": b"info", "aad": b"aad", **options}
    with pytest.raises(DecryptionFailed, match="HPKE message does not open"):
        hpke.open_message(tamper(message), key, **arguments)
    assert hpke.open_message(message, key, info=b"info", aad=b"aad") == b"secret plan"


def test_short_message_and_other_key(sealed, new_kms_key) -> None:
    key, message = sealed
    with pytest.raises(DecryptionFailed, match="shorter than enc"):
        hpke.open_message(message[:80], key, info=b"info", aad=b"aad")
    with pytest.raises(DecryptionFailed, match="does not open"):
        hpke.open_message(message, new_kms_key("ECC_NIST_P256"), info=b"info", aad=b"aad")
    with pytest.raises(DecryptionFailed, match="does not open"):
        hpke.open_message(message, ec.generate_private_key(ec.SECP256R1()), info=b"info", aad=b"aad")


@pytest.mark.parametrize(
    ("code", "expected"), [("AccessDeniedException", AccessDenied), ("DisabledException", KeyUnavailable)]
)
def test_a_kms_failure_is_reported_as_itself_not_as_tampering(code: str, expected: type) -> None:
    """cryptography turns an exception of exchange() into InvalidTag; open_message recovers the KMS error."""
    owner = ec.generate_private_key(ec.SECP256R1())
    client = boto3.client("kms", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
    stubber = Stubber(client)
    arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    stubber.add_response(
        "get_public_key",
        {
            "KeyId": arn,
            "PublicKey": public_key_der(owner.public_key()),
            "KeySpec": "ECC_NIST_P256",
            "KeyUsage": "KEY_AGREEMENT",
        },
    )
    stubber.add_client_error("derive_shared_secret", service_error_code=code)
    stubber.activate()
    key = KmsPrivateKey(arn, client)
    with pytest.raises(expected):
        hpke.open_message(hpke.seal(b"x", owner.public_key()), key)
    stubber.assert_no_pending_responses()  # exactly one DeriveSharedSecret


# --- the private API pin ------------------------------------------------------------------------


def test_cryptography_is_the_pinned_version() -> None:
    """hpke._single_shot reaches private functions of this exact cryptography; a bump must re-check them."""
    import cryptography

    # The one place the pin lives: the Lambda asset's requirements (requirements.txt includes them).
    requirements = PROJECT_ROOT / "lambda" / "derive" / "requirements.txt"
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", requirements.read_text(), re.MULTILINE))
    assert cryptography.__version__ == pins["cryptography"] == "50.0.2"


def test_private_single_shot_equals_the_public_api_at_empty_aad() -> None:
    encrypt, decrypt = hpke._single_shot()
    private_key = ec.generate_private_key(ec.SECP256R1())
    suite = pyca_hpke.Suite(pyca_hpke.KEM.P256, pyca_hpke.KDF.HKDF_SHA256, pyca_hpke.AEAD.AES_128_GCM)
    # positional (suite, data, key, info, aad), as _single_shot documents
    assert (
        suite.decrypt(encrypt(suite, b"pt", private_key.public_key(), b"info", b""), private_key, b"info")
        == b"pt"
    )
    assert (
        decrypt(suite, suite.encrypt(b"pt", private_key.public_key(), b"info"), private_key, b"info", b"")
        == b"pt"
    )
    with_aad = encrypt(suite, b"pt", private_key.public_key(), b"info", b"aad")
    assert decrypt(suite, with_aad, private_key, b"info", b"aad") == b"pt"
    with pytest.raises(InvalidTag):
        suite.decrypt(with_aad, private_key, b"info")  # the aad is really bound
