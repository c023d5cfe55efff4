"""Key files of the command line: the peer's EC private key and the other party's public key."""

from __future__ import annotations

from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kmsecdh.cli.errors import CommandError
from kmsecdh.cli.files import read_key_file
from kmsecdh.errors import InvalidPublicKey
from kmsecdh.keys import key_spec_of, load_peer_public_key


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


def private_key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    """SEC1 ``EC PRIVATE KEY`` PEM with the named curve: what ``openssl ecparam -genkey`` writes."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
