"""``hpke open`` and ``jwe decrypt --key-id`` with ``--debug`` keep Z, the keys and the plaintext out of their
output: DeriveSharedSecret's response (it holds Z) goes through botocore, whose wire records kmsecdh drops."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kmsecdh import hpke, jose
from kmsecdh.jwk import b64url, public_jwk
from kmsecdh.keys import KEY_SPECS, load_peer_public_key
from tests.conftest import PROJECT_ROOT, leaked_secrets


def _kmsecdh_debug(*args: object) -> str:
    completed = subprocess.run(
        [sys.executable, "-m", "kmsecdh", "--debug", *map(str, args)],
        capture_output=True, text=True, cwd=PROJECT_ROOT, env=dict(os.environ), timeout=120, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "DEBUG" in completed.stderr  # debug logging was really on
    return completed.stdout + completed.stderr


def test_no_secret_in_hpke_open_or_jwe_decrypt_at_debug(make_kms_key, local_kms_env, tmp_path: Path) -> None:
    bob = make_kms_key("ECC_NIST_P384")
    bob_public = load_peer_public_key(bob.public_der.read_bytes(), bob.key_spec)
    plaintext = os.urandom(48)
    # The sender's ephemeral key is made here, so Z is known to the test: seal/encrypt with it by hand.
    ephemeral = ec.generate_private_key(KEY_SPECS[bob.key_spec].curve())
    z = ephemeral.exchange(ec.ECDH(), bob_public)

    message = hpke.seal(plaintext, bob_public, info=b"i")
    (tmp_path / "m.hpke").write_bytes(message)
    output = _kmsecdh_debug(
        "hpke",
        "open",
        "--key-id",
        bob.alias,
        "--info-hex",
        "69",
        "--in",
        tmp_path / "m.hpke",
        "--out",
        tmp_path / "p1",
    )
    assert (tmp_path / "p1").read_bytes() == plaintext
    assert leaked_secrets(output, [plaintext]) == []

    token = jose.encrypt(plaintext, bob_public, alg="ECDH-ES", enc="A256GCM")
    (tmp_path / "m.jwe").write_text(token)
    output += _kmsecdh_debug(
        "jwe", "decrypt", "--key-id", bob.alias, "--in", tmp_path / "m.jwe", "--out", tmp_path / "p2"
    )
    assert (tmp_path / "p2").read_bytes() == plaintext
    assert "DeriveSharedSecret" in output or "derive_shared_secret" in output.lower().replace("-", "_")
    assert leaked_secrets(output, [plaintext]) == []

    # And a Z the test knows: a JWE whose ephemeral key is ours, decrypted through KMS at DEBUG.
    epk_token = _jwe_with_ephemeral(ephemeral, bob_public, plaintext)
    (tmp_path / "k.jwe").write_text(epk_token)
    output += _kmsecdh_debug(
        "jwe", "decrypt", "--key-id", bob.alias, "--in", tmp_path / "k.jwe", "--out", tmp_path / "p3"
    )
    assert (tmp_path / "p3").read_bytes() == plaintext
    assert leaked_secrets(output, [z, plaintext]) == []  # fmt: skip


def _jwe_with_ephemeral(
    ephemeral: ec.EllipticCurvePrivateKey, recipient: ec.EllipticCurvePublicKey, plaintext: bytes
) -> str:
    """A compact ECDH-ES/A256GCM JWE built with a given ephemeral key (jose.encrypt makes its own)."""
    epk = {name: public_jwk(ephemeral.public_key())[name] for name in ("kty", "crv", "x", "y")}
    protected = b64url(json.dumps({"alg": "ECDH-ES", "enc": "A256GCM", "epk": epk}).encode())
    cek = jose.PrivateKeyRecipient(ephemeral).concat_kdf(
        recipient, 32, jose.jose_fixed_info("A256GCM", b"", b"", 32)
    )
    iv = os.urandom(12)
    sealed = AESGCM(cek).encrypt(iv, plaintext, protected.encode())
    return ".".join((protected, "", b64url(iv), b64url(sealed[:-16]), b64url(sealed[-16:])))
