"""JWE ECDH-ES with a KMS key as the recipient: RFC 7518 App. C and RFC 7520 §5.4/§5.5 through KMS and the
derive function, jwcrypto both ways on every curve and alg/enc pair, strict header checks, tampering."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.keywrap import aes_key_wrap
from jwcrypto import jwe as jwcrypto_jwe
from jwcrypto import jwk as jwcrypto_jwk

from kmsecdh import jose, kms_calls, service
from kmsecdh.configuration import Configuration, ConfiguredKey
from kmsecdh.encoding import b64encode
from kmsecdh.errors import DecryptionFailed, InvalidResponse
from kmsecdh.jwk import b64url, b64url_decode, load_private_jwk, load_public_jwk, public_jwk
from kmsecdh.keys import curve_for
from kmsecdh.kms_key import KmsPrivateKey
from tests.conftest import VECTORS_DIR

JOSE = VECTORS_DIR / "jose"
RFC7518_C = json.loads((JOSE / "rfc7518-appendix-c-ecdh-es.json").read_text())
RFC7520 = {
    name: json.loads(path.read_text())
    for name, path in (
        ("5.4", next(JOSE.glob("rfc7520-5_4.*.json"))),
        ("5.5", next(JOSE.glob("rfc7520-5_5.*.json"))),
    )
}
KEY_SPECS = ("ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521")
ALL_ALGS = list(jose.KEY_WRAP_SIZES) + list(jose.CONTENT_ENCRYPTIONS)
PAIRS = [(alg, enc) for alg in jose.KEY_WRAP_SIZES for enc in jose.CONTENT_ENCRYPTIONS]


@pytest.fixture
def function_for(
    monkeypatch: pytest.MonkeyPatch, local_kms_env: Any
) -> Iterator[Callable[[KmsPrivateKey], Callable]]:
    """The derive function's handler in-process, configured with ``key``: its ``invoke``."""

    def configure(key: KmsPrivateKey) -> Callable[[dict], dict]:
        configured = ConfiguredKey(alias="alias/kmsecdh-jwe-test", arn=key.key_arn, key_spec=key.key_spec)
        configuration = Configuration(
            keys=(configured,), default_alias=configured.alias, allow_raw_secret=False
        )
        for name, value in configuration.as_environment().items():
            monkeypatch.setenv(name, value)
        kms_calls.reset_kms_client()
        events: list[dict] = []

        def invoke(event: dict) -> dict:
            events.append(event)
            return service.handle_invocation(json.loads(json.dumps(event)))

        invoke.events = events  # type: ignore[attr-defined]
        return invoke

    yield configure
    kms_calls.reset_kms_client()


# --- vectors ------------------------------------------------------------------------------------


def test_rfc7518_appendix_c_through_kms_and_the_function(kms_key_holding, function_for) -> None:
    bob = load_private_jwk(RFC7518_C["bob_static"])
    alice_epk = load_public_jwk({k: v for k, v in RFC7518_C["alice_ephemeral"].items() if k != "d"})
    key = kms_key_holding(bob)
    assert key.exchange(ec.ECDH(), alice_epk).hex() == RFC7518_C["z_hex"]
    header = RFC7518_C["header"]
    apu, apv = b64url_decode(header["apu"], "apu"), b64url_decode(header["apv"], "apv")
    assert (apu, apv) == (b"Alice", b"Bob")
    info = jose.jose_fixed_info(header["enc"], apu, apv, 16)
    expected = RFC7518_C["derived_key_b64url"]
    assert b64url(jose.PrivateKeyRecipient(key).concat_kdf(alice_epk, 16, info)) == expected
    invoke = function_for(key)
    through_function = jose.FunctionRecipient(invoke)
    assert through_function.key_spec == "ECC_NIST_P256"
    assert b64url(through_function.concat_kdf(alice_epk, 16, info)) == expected
    derive = invoke.events[-1]
    assert derive["kdf"] == {
        "algorithm": "onestep-sha256",
        "length": 16,
        "fixed_info": base64.b64encode(info).decode(),
    }


@pytest.mark.parametrize("section", sorted(RFC7520))
def test_rfc7520_decrypts_through_kms_and_the_function(kms_key_holding, function_for, section: str) -> None:
    vector = RFC7520[section]
    key = kms_key_holding(load_private_jwk(vector["input"]["key"]))
    compact = vector["output"]["compact"]
    plaintext = vector["input"]["plaintext"].encode("utf-8")
    result = jose.decrypt(compact, key)
    assert result.plaintext == plaintext
    assert result.header == vector["encrypting_content"]["protected"]
    assert jose.decrypt(compact, jose.FunctionRecipient(function_for(key))).plaintext == plaintext
    assert (
        jose.decrypt(compact.encode() + b"\n", load_private_jwk(vector["input"]["key"])).plaintext
        == plaintext
    )


@pytest.mark.parametrize("section", sorted(RFC7520))
def test_rfc7520_encryption_side_reproduced(section: str) -> None:
    """With the vector's ephemeral key, content key and IV, the key agreement, key wrap and content
    encryption give the vector's bytes exactly."""
    vector = RFC7520[section]
    alg, enc = vector["input"]["alg"], vector["input"]["enc"]
    recipient = load_public_jwk({k: v for k, v in vector["input"]["key"].items() if k != "d"})
    ephemeral = load_private_jwk(vector["encrypting_key"]["epk"])
    algorithm_id, length = jose._key_agreement(alg, enc)
    derived = jose.PrivateKeyRecipient(ephemeral).concat_kdf(
        recipient, length, jose.jose_fixed_info(algorithm_id, b"", b"", length)
    )
    content = jose.CONTENT_ENCRYPTIONS[enc]
    if jose.KEY_WRAP_SIZES[alg] is None:
        cek = derived
        assert b64url(cek) == vector["encrypting_key"]["cek"]
    else:
        cek = b64url_decode(vector["generated"]["cek"], "cek")
        assert b64url(aes_key_wrap(derived, cek)) == vector["encrypting_key"]["encrypted_key"]
    iv = b64url_decode(vector["generated"]["iv"], "iv")
    protected = vector["encrypting_content"]["protected_b64u"]
    plaintext = vector["input"]["plaintext"].encode("utf-8")
    ciphertext, tag = jose._seal_content(content, cek, iv, plaintext, protected.encode("ascii"))
    assert b64url(ciphertext) == vector["encrypting_content"]["ciphertext"]
    assert b64url(tag) == vector["encrypting_content"]["tag"]


# --- jwcrypto, both ways ------------------------------------------------------------------------


def _jwcrypto_jwe(token: str, key: jwcrypto_jwk.JWK) -> bytes:
    message = jwcrypto_jwe.JWE()
    message.allowed_algs = ALL_ALGS
    message.deserialize(token, key=key)
    return message.payload


@pytest.mark.parametrize("key_spec", KEY_SPECS)
def test_jwcrypto_encrypts_kms_key_decrypts(new_kms_key, key_spec: str) -> None:
    """Every alg/enc pair from jwcrypto to the KMS key's public JWK (as ``kmsecdh jwks`` publishes it)."""
    key = new_kms_key(key_spec)
    published = jwcrypto_jwk.JWK(**public_jwk(key.public_key()))
    for alg, enc in PAIRS:
        header = {
            "alg": alg,
            "enc": enc,
            "kid": published.thumbprint(),
            "apu": b64url(b"alice"),
            "apv": b64url(b"bob"),
        }
        message = jwcrypto_jwe.JWE(f"{alg} {enc}".encode(), json.dumps(header), algs=ALL_ALGS)
        message.add_recipient(published)
        result = jose.decrypt(message.serialize(compact=True), key)
        assert result.plaintext == f"{alg} {enc}".encode()
        assert result.header["kid"] == public_jwk(key.public_key())["kid"]


@pytest.mark.parametrize("key_spec", KEY_SPECS)
def test_kmsecdh_encrypts_jwcrypto_decrypts(key_spec: str) -> None:
    private_key = ec.generate_private_key(curve_for(key_spec).curve())
    theirs = jwcrypto_jwk.JWK.from_pyca(private_key)
    for alg, enc in PAIRS:
        token = jose.encrypt(
            b"to jwcrypto", private_key.public_key(), alg=alg, enc=enc, apu=b"bob", apv=b"alice", kid="k"
        )
        assert _jwcrypto_jwe(token, theirs) == b"to jwcrypto", (alg, enc)
        header = json.loads(b64url_decode(token.split(".")[0], "header"))
        assert header["epk"]["crv"] == public_jwk(private_key.public_key())["crv"]
        assert (header["alg"], header["enc"], header["kid"], header["apu"]) == (alg, enc, "k", b64url(b"bob"))


@pytest.mark.parametrize("key_spec", KEY_SPECS)
def test_function_recipient_on_every_curve(new_kms_key, function_for, key_spec: str) -> None:
    key = new_kms_key(key_spec)
    recipient = jose.FunctionRecipient(function_for(key))
    for alg, enc in [
        ("ECDH-ES", "A256CBC-HS512"),
        ("ECDH-ES+A192KW", "A192GCM"),
        ("ECDH-ES+A256KW", "A128CBC-HS256"),
    ]:
        token = jose.encrypt(b"via the function", key.public_key(), alg=alg, enc=enc)
        assert jose.decrypt(token, recipient).plaintext == b"via the function"


# --- strict header checks and tampering ---------------------------------------------------------


@pytest.fixture(scope="module")
def local_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _with_header(token: str, change: Callable[[dict], Any]) -> str:
    parts = token.split(".")
    header = json.loads(b64url_decode(parts[0], "header"))
    change(header)
    parts[0] = b64url(json.dumps(header).encode())
    return ".".join(parts)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda h: h.update(crit=["exp"]), "crit"),
        (lambda h: h.update(zip="DEF"), "zip"),
        (lambda h: h.update(alg="RSA-OAEP"), "alg must be one of"),
        (lambda h: h.update(alg="ECDH-ES+A128KW"), "encrypted key must be 24 bytes"),
        (lambda h: h.update(enc="A128CBC-HS256"), "IV and tag must be 16 and 16"),
        (lambda h: h.update(enc="A512GCM"), "enc must be one of"),
        (lambda h: h.pop("epk"), "no epk"),
        (lambda h: h["epk"].update(crv="P-384"), "recipient key's curve P-256"),
        (lambda h: h["epk"].update(y=b64url(bytes(32))), "not on the curve"),
        (lambda h: h["epk"].update(kty="OKP"), "kty must be EC"),
        (lambda h: h["epk"].update(d="AAAA"), "private key"),
        (lambda h: h.update(apu="not base64url!"), "apu is not unpadded base64url"),
        (lambda h: h.update(kid="other"), "does not decrypt"),  # a changed header fails the tag
    ],
    ids=[
        "crit", "zip", "alg-unknown", "alg-changed", "enc-changed", "enc-unknown", "no-epk", "epk-curve",
        "epk-off-curve", "epk-kty", "epk-private", "apu", "header-changed",
    ],
)  # fmt: skip
def test_protected_header_checks(local_key, change, message: str) -> None:
    token = jose.encrypt(b"payload", local_key.public_key(), alg="ECDH-ES", enc="A128GCM")
    with pytest.raises(DecryptionFailed, match=message):
        jose.decrypt(_with_header(token, change), local_key)


def _flip_part(token: str, index: int) -> str:
    parts = token.split(".")
    raw = bytearray(b64url_decode(parts[index], "part"))
    raw[len(raw) // 2] ^= 0x01
    parts[index] = b64url(bytes(raw))
    return ".".join(parts)


@pytest.mark.parametrize(("alg", "enc"), [("ECDH-ES+A128KW", "A256GCM"), ("ECDH-ES+A256KW", "A192CBC-HS384")])
@pytest.mark.parametrize("part", [1, 2, 3, 4])
def test_tampering_is_one_clear_error(new_kms_key, alg: str, enc: str, part: int) -> None:
    key = new_kms_key("ECC_NIST_P384")
    token = jose.encrypt(b"do not alter", key.public_key(), alg=alg, enc=enc)
    with pytest.raises(DecryptionFailed, match="JWE does not decrypt"):
        jose.decrypt(_flip_part(token, part), key)
    assert jose.decrypt(token, key).plaintext == b"do not alter"


def test_malformed_compact_serialization(local_key) -> None:
    token = jose.encrypt(b"x", local_key.public_key(), alg="ECDH-ES", enc="A128GCM")
    cases = {
        token + ".extra": "6 parts",
        ".".join(token.split(".")[:4]): "4 parts",
        "." + token.split(".", 1)[1]: "header is empty",
        token.replace(".", "=.", 1): "not unpadded base64url",
        b64url(b'{"alg":"ECDH-ES","alg":"ECDH-ES"}') + "." + token.split(".", 1)[1]: "repeats a member",
        b64url(b"[1]") + "." + token.split(".", 1)[1]: "not a JSON object",
        b64url(b"\xff") + "." + token.split(".", 1)[1]: "not UTF-8 JSON",
        "é" + token: "ASCII",
    }
    for bad, message in cases.items():
        data = bad.encode("utf-8") if message == "ASCII" else bad
        with pytest.raises(DecryptionFailed, match=message):
            jose.decrypt(data, local_key)


def test_other_recipient_key(local_key, new_kms_key) -> None:
    token = jose.encrypt(b"x", local_key.public_key(), alg="ECDH-ES+A128KW", enc="A128GCM")
    with pytest.raises(DecryptionFailed, match="JWE does not decrypt"):
        jose.decrypt(token, new_kms_key("ECC_NIST_P256"))
    with pytest.raises(DecryptionFailed, match="curve P-384"):
        jose.decrypt(token, new_kms_key("ECC_NIST_P384"))


def test_encrypt_refuses_unknown_parameters_as_bad_arguments(local_key) -> None:
    """A local call's bad argument is a ValueError (as in cryptography), not the derive function's
    InvalidRequest: no request was sent anywhere."""
    with pytest.raises(ValueError, match="unsupported JWE alg"):
        jose.encrypt(b"x", local_key.public_key(), alg="ECDH-1PU", enc="A128GCM")
    with pytest.raises(ValueError, match="unsupported JWE enc"):
        jose.encrypt(b"x", local_key.public_key(), alg="ECDH-ES", enc="A128CBC")
    with pytest.raises(ValueError, match="apu and apv"):
        jose.encrypt(b"x", local_key.public_key(), apu=bytes(300))


@pytest.mark.parametrize("key_spec", [None, "ECC_SECG_P256K1", ["ECC_NIST_P256"]])
def test_function_recipient_refuses_a_public_key_answer_outside_the_contract(key_spec: object) -> None:
    def invoke(event: dict) -> dict:
        return {"key_id": "arn:aws:kms:eu-west-1:111111111111:key/k", "key_spec": key_spec}

    with pytest.raises(InvalidResponse, match="answered public_key with no key_spec"):
        jose.FunctionRecipient(invoke)


@pytest.mark.parametrize("derived_key", [None, "not base64!", b64encode(bytes(16))])
def test_function_recipient_refuses_a_derive_answer_outside_the_contract(local_key, derived_key) -> None:
    """A wrong answer is the function misbehaving (InvalidResponse), not KMS failing (KmsUnavailable,
    which tells the caller to retry)."""

    def invoke(event: dict) -> dict:
        if event["action"] == "public_key":
            return {"key_id": "arn:aws:kms:eu-west-1:111111111111:key/k", "key_spec": "ECC_NIST_P256"}
        return {"derived_key": derived_key}

    token = jose.encrypt(b"x", local_key.public_key(), alg="ECDH-ES+A256KW", enc="A256GCM")
    with pytest.raises(InvalidResponse, match="no 32-byte derived_key"):
        jose.decrypt(token, jose.FunctionRecipient(invoke))
