"""Key files of the command line: the peer's EC private key and the other party's public key (DER,
PEM, or for HPKE and JWE also a JWK), and the recipient's own key: a local one or a KMS key."""

from __future__ import annotations

from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kmsecdh.cli.errors import CommandError
from kmsecdh.cli.files import read_key_file
from kmsecdh.errors import InvalidPublicKey
from kmsecdh.jwk import load_public_jwk, parse_jwk_json
from kmsecdh.keys import KEY_SPECS, key_spec_of, load_peer_public_key


def load_private_key(path: Path) -> tuple[ec.EllipticCurvePrivateKey, str]:
    """An unencrypted EC private key from PEM (SEC1 ``EC PRIVATE KEY`` or PKCS#8) and its key spec."""
    data = read_key_file(path, "private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise CommandError(
            f"private key {path} is encrypted; decrypt it first (openssl ec -in ...)"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise CommandError(
            f"private key {path} is not a PEM EC private key (SEC1 or PKCS#8) on a supported curve"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CommandError(f"private key {path} is not an elliptic-curve key")
    try:
        return key, key_spec_of(key)
    except InvalidPublicKey:
        raise CommandError(
            f"private key {path} is on curve {key.curve.name}: not P-256, P-384 or P-521"
        ) from None


def load_peer_key_file(path: Path, key_spec: str) -> ec.EllipticCurvePublicKey:
    """The other party's public key (DER or PEM SubjectPublicKeyInfo), validated on ``key_spec``."""
    return load_peer_public_key(read_key_file(path, "peer public key"), key_spec)


def load_recipient_key_file(path: Path) -> ec.EllipticCurvePublicKey:
    """The recipient's public key from PEM or DER SubjectPublicKeyInfo, a JWK, or a one-key JWK Set,
    validated on its own curve (P-256, P-384 or P-521)."""
    data = read_key_file(path, "peer public key")
    if data.lstrip().startswith(b"{"):
        document = parse_jwk_json(data, f"JWK {path}")
        if "keys" in document:
            keys = document["keys"]
            if not isinstance(keys, list) or len(keys) != 1:
                raise InvalidPublicKey(f"JWK Set {path} must hold exactly one key to encrypt to")
            document = keys[0]
        return load_public_jwk(document, what=f"JWK {path}")
    return load_peer_public_key(data, _key_spec_of_file(data))


def _key_spec_of_file(data: bytes) -> str:
    """The key spec a PEM/DER public key declares; P-256 when unreadable, so that the strict loader
    says precisely what is wrong."""
    try:
        loaded = (
            serialization.load_pem_public_key(data)
            if data.lstrip().startswith(b"-----")
            else serialization.load_der_public_key(data)
        )
        return key_spec_of(loaded)
    except (ValueError, UnsupportedAlgorithm, InvalidPublicKey):
        return next(iter(KEY_SPECS))


def own_private_key(private_key: Path | None, key_id: str | None) -> ec.EllipticCurvePrivateKey:
    """The recipient's own key: the local PEM key ``private_key``, else the KMS key ``key_id`` as a
    ``KmsPrivateKey`` (its ECDH is KMS DeriveSharedSecret; boto3 is imported only then)."""
    if private_key:
        return load_private_key(private_key)[0]
    from kmsecdh.cli.aws import aws_client
    from kmsecdh.kms_key import KmsPrivateKey

    return KmsPrivateKey(str(key_id), aws_client("kms"))


def private_key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    """SEC1 ``EC PRIVATE KEY`` PEM with the named curve: what ``openssl ecparam -genkey`` writes."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
