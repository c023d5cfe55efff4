"""keygen and derive-local against OpenSSL: same file formats, same derived key as pkeyutl + kdf."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from kmsecdh.keys import KEY_SPEC_BY_CURVE as CURVES

OPENSSL_CURVES = {"P-256": "prime256v1", "P-384": "secp384r1", "P-521": "secp521r1"}


def _openssl(*args: object) -> bytes:
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, check=True).stdout


@pytest.mark.parametrize("curve", sorted(CURVES))
def test_keygen_writes_openssl_formats(run_cli, tmp_path: Path, curve: str) -> None:
    name = tmp_path / "alice"
    result = run_cli("keygen", "--curve", curve, "--out", name)
    assert result.code == 0, result.err
    private, public_der, public_pem = (Path(f"{name}{suffix}") for suffix in (".pem", ".pub.der", ".pub.pem"))
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_bytes().startswith(b"-----BEGIN EC PRIVATE KEY-----")
    assert OPENSSL_CURVES[curve].encode() in _openssl("ec", "-in", private, "-noout", "-text")
    _openssl("ec", "-in", private, "-check", "-noout")
    assert public_der.read_bytes() == _openssl("ec", "-in", private, "-pubout", "-outform", "DER")
    assert public_pem.read_bytes() == _openssl("ec", "-in", private, "-pubout")


def test_keygen_refuses_to_overwrite_without_force(run_cli, tmp_path: Path) -> None:
    name = tmp_path / "bob"
    assert run_cli("keygen", "--curve", "P-256", "--out", name).code == 0
    before = Path(f"{name}.pem").read_bytes()
    refused = run_cli("keygen", "--curve", "P-384", "--out", name)
    assert refused.code == 1
    assert "exists; use --force" in refused.err
    assert Path(f"{name}.pem").read_bytes() == before
    assert run_cli("keygen", "--curve", "P-384", "--out", name, "--force").code == 0
    assert Path(f"{name}.pem").read_bytes() != before
    assert stat.S_IMODE(Path(f"{name}.pem").stat().st_mode) == 0o600
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bob.pem", "bob.pub.der", "bob.pub.pem"]


def test_keygen_rejects_unknown_curve(run_cli, tmp_path: Path) -> None:
    result = run_cli("keygen", "--curve", "secp256k1", "--out", tmp_path / "x")
    assert result.code == 2
    assert result.err.startswith("kmsecdh keygen: usage error:")


def _length_prefixed(*fields: bytes) -> bytes:
    return b"".join(len(field).to_bytes(4, "big") + field for field in fields)


@pytest.mark.parametrize(
    ("key_spec", "kdf", "digest", "mode", "salt"),
    [
        ("ECC_NIST_P256", "onestep-sha256", "SHA256", "SSKDF", None),
        ("ECC_NIST_P384", "onestep-sha384", "SHA384", "SSKDF", None),
        ("ECC_NIST_P521", "hkdf-sha512", "SHA512", "HKDF", "00112233445566778899"),
    ],
)
def test_derive_local_matches_openssl(run_cli, make_peer_key, key_spec, kdf, digest, mode, salt) -> None:
    alice, bob = make_peer_key("alice", key_spec), make_peer_key("bob", key_spec)
    options = ["--kdf", kdf, "--length", "48", "--algorithm-id", "A256GCM", "--party-u-info", "alice"]
    options += ["--party-v-info", "bob"] + (["--salt-hex", salt] if salt else [])
    result = run_cli(
        "derive-local", "--private-key", alice.private, "--peer-public-key", bob.public_der, *options
    )
    assert result.code == 0, result.err

    shared = _openssl("pkeyutl", "-derive", "-inkey", alice.private, "-peerkey", bob.public_pem)
    info = _length_prefixed(b"A256GCM", b"alice", b"bob")
    reference = ["kdf", "-binary", "-keylen", "48", "-kdfopt", f"digest:{digest}"]
    reference += ["-kdfopt", f"hexkey:{shared.hex()}", "-kdfopt", f"hexinfo:{info.hex()}"]
    reference += (["-kdfopt", f"hexsalt:{salt}"] if salt else []) + [mode]
    assert result.out.strip() == _openssl(*reference).hex()

    # The other side, with the public key as PEM, derives the same key.
    mirrored = run_cli(
        "derive-local", "--private-key", bob.private, "--peer-public-key", alice.public_pem, *options
    )
    assert mirrored.out == result.out


def test_derive_local_fixed_info_hex_and_out_file(run_cli, make_peer_key, tmp_path: Path) -> None:
    alice, bob = make_peer_key("alice"), make_peer_key("bob")
    out = tmp_path / "derived.key"
    result = run_cli(
        "derive-local", "--private-key", alice.private, "--peer-public-key", bob.public_der,
        "--fixed-info-hex", "c0ffee", "--length", "16", "--out", out,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    shared = _openssl("pkeyutl", "-derive", "-inkey", alice.private, "-peerkey", bob.public_pem)
    expected = _openssl(
        "kdf", "-binary", "-keylen", "16", "-kdfopt", "digest:SHA256", "-kdfopt", f"hexkey:{shared.hex()}",
        "-kdfopt", "hexinfo:c0ffee", "SSKDF",
    )  # fmt: skip
    assert out.read_bytes() == expected
    assert expected.hex() not in result.out


def test_derive_local_pkcs8_private_key(run_cli, make_peer_key, tmp_path: Path) -> None:
    alice, bob = make_peer_key("alice"), make_peer_key("bob")
    pkcs8 = tmp_path / "alice.p8.pem"
    pkcs8.write_bytes(_openssl("pkcs8", "-topk8", "-nocrypt", "-in", alice.private))
    sec1 = run_cli("derive-local", "--private-key", alice.private, "--peer-public-key", bob.public_der)
    from_pkcs8 = run_cli("derive-local", "--private-key", pkcs8, "--peer-public-key", bob.public_der)
    assert from_pkcs8.code == 0
    assert from_pkcs8.out == sec1.out


def test_derive_local_wrong_curve(run_cli, make_peer_key) -> None:
    alice, bob = make_peer_key("alice", "ECC_NIST_P256"), make_peer_key("bob", "ECC_NIST_P384")
    result = run_cli("derive-local", "--private-key", alice.private, "--peer-public-key", bob.public_der)
    assert result.code == 1
    assert result.err.startswith("kmsecdh: InvalidPublicKey: peer public key is on curve secp384r1")


def test_derive_local_runtime_errors(run_cli, make_peer_key, tmp_path: Path) -> None:
    alice = make_peer_key("alice")
    missing = run_cli(
        "derive-local", "--private-key", tmp_path / "nope.pem", "--peer-public-key", alice.public_der
    )
    assert missing.code == 1
    assert "nope.pem" in missing.err
    assert "No such file" in missing.err
    encrypted = tmp_path / "encrypted.pem"
    encrypted.write_bytes(_openssl("ec", "-in", alice.private, "-aes256", "-passout", "pass:secret-password"))
    result = run_cli("derive-local", "--private-key", encrypted, "--peer-public-key", alice.public_der)
    assert result.code == 1
    assert "is encrypted" in result.err
    not_a_key = run_cli(
        "derive-local", "--private-key", alice.public_pem, "--peer-public-key", alice.public_der
    )
    assert not_a_key.code == 1
    assert "not a PEM EC private key" in not_a_key.err


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--fixed-info-hex", "00", "--party-u-info", "a"], "--fixed-info-hex excludes"),
        (["--salt-hex", "00"], "--salt-hex is for the hkdf-* KDFs"),
        (["--length", "8"], "must be 16 to 64"),
        (["--fixed-info-hex", "xyz"], "not hexadecimal"),
        (["--kdf", "md5"], "invalid choice"),
    ],
)
def test_kdf_usage_errors(run_cli, make_peer_key, options, message) -> None:
    alice = make_peer_key("alice")
    result = run_cli(
        "derive-local", "--private-key", alice.private, "--peer-public-key", alice.public_der, *options
    )
    assert result.code == 2
    assert message in result.err
    assert result.err.startswith("kmsecdh derive-local: usage error:")
