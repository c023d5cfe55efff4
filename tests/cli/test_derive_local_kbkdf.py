"""``derive-local --kdf kbkdf-ctr-hmac-*`` on every curve equals ``openssl pkeyutl -derive`` followed by the
``openssl kdf ... KBKDF`` command docs/contract.md gives (written out here, not through devtools.openssl)."""

from __future__ import annotations

import subprocess

import pytest

KDFS = {"ECC_NIST_P256": "SHA256", "ECC_NIST_P384": "SHA384", "ECC_NIST_P521": "SHA512"}


def _openssl(*args: object) -> bytes:
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, check=True).stdout


@pytest.mark.parametrize("key_spec", sorted(KDFS))
@pytest.mark.parametrize("digest", ["SHA256", "SHA384", "SHA512"])
def test_derive_local_kbkdf_matches_openssl(run_cli, make_peer_key, key_spec: str, digest: str) -> None:
    alice, bob = make_peer_key("alice", key_spec), make_peer_key("bob", key_spec)
    options = ["--kdf", f"kbkdf-ctr-hmac-{digest.lower()}", "--length", "40"]
    options += ["--algorithm-id", "A256GCM", "--party-u-info", "alice", "--party-v-info", "bob"]
    result = run_cli(
        "derive-local", "--private-key", alice.private, "--peer-public-key", bob.public_der, *options
    )
    assert result.code == 0, result.err

    shared = _openssl("pkeyutl", "-derive", "-inkey", alice.private, "-peerkey", bob.public_pem)
    info = b"".join(len(part).to_bytes(4, "big") + part for part in (b"A256GCM", b"alice", b"bob"))
    reference = _openssl(
        "kdf", "-binary", "-keylen", "40", "-kdfopt", "mac:HMAC", "-kdfopt", f"digest:{digest}",
        "-kdfopt", f"hexkey:{shared.hex()}", "-kdfopt", f"hexsalt:{info.hex()}",
        "-kdfopt", "use-l:0", "-kdfopt", "use-separator:0", "KBKDF",
    )  # fmt: skip
    assert result.out.strip() == reference.hex()
