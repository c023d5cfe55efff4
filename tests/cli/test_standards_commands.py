"""``kmsecdh hpke``, ``kmsecdh jwe`` and ``kmsecdh jwks`` for both parties, with the local KMS endpoint
and the derive function served in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jwcrypto import jwk as jwcrypto_jwk

from kmsecdh.jwk import load_public_jwk

KEY_SPECS = ("ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521")


def _flip_last(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("key_spec", KEY_SPECS)
def test_hpke_both_ways(run_cli, make_peer_key, make_kms_key, tmp_path: Path, key_spec: str) -> None:
    alice, bob = make_peer_key("alice", key_spec), make_kms_key(key_spec)
    note = tmp_path / "note.txt"
    note.write_bytes(b"hello Bob, from Alice\n")
    suite = ["--info-hex", "6b6d73656364682d64656d6f", "--aad-hex", "00ff", "--aead", "chacha20-poly1305"]

    sealed = run_cli(
        "hpke",
        "seal",
        "--peer-public-key",
        bob.public_der,
        "--in",
        note,
        "--out",
        tmp_path / "to-bob.hpke",
        *suite,
    )
    assert sealed.code == 0, sealed.err
    enc_size = {"ECC_NIST_P256": 65, "ECC_NIST_P384": 97, "ECC_NIST_P521": 133}[key_spec]
    assert f"enc {enc_size} bytes" in sealed.out
    assert (tmp_path / "to-bob.hpke").stat().st_size == enc_size + len(note.read_bytes()) + 16
    opened = run_cli(
        "hpke",
        "open",
        "--key-id",
        bob.alias,
        "--in",
        tmp_path / "to-bob.hpke",
        "--out",
        tmp_path / "bob.txt",
        *suite,
    )
    assert opened.code == 0, opened.err
    assert (tmp_path / "bob.txt").read_bytes() == note.read_bytes()

    reply = tmp_path / "reply.txt"
    reply.write_bytes(b"hello Alice, from Bob\n")
    kdf = "hkdf-sha512" if key_spec == "ECC_NIST_P256" else "hkdf-sha256"  # not the KEM's own
    sealed = run_cli(
        "hpke",
        "seal",
        "--peer-public-key",
        alice.public_pem,
        "--in",
        reply,
        "--out",
        tmp_path / "to-alice.hpke",
        "--kdf",
        kdf,
    )
    assert sealed.code == 0, sealed.err
    opened = run_cli(
        "hpke",
        "open",
        "--private-key",
        alice.private,
        "--in",
        tmp_path / "to-alice.hpke",
        "--out",
        tmp_path / "alice.txt",
        "--kdf",
        kdf,
    )
    assert opened.code == 0, opened.err
    assert (tmp_path / "alice.txt").read_bytes() == reply.read_bytes()
    # Without the same --kdf, it does not open: the suite is agreed out of band.
    wrong = run_cli(
        "hpke",
        "open",
        "--private-key",
        alice.private,
        "--in",
        tmp_path / "to-alice.hpke",
        "--out",
        tmp_path / "x.txt",
    )
    assert wrong.code == 1
    assert wrong.err.startswith("kmsecdh: DecryptionFailed: HPKE message does not open")
    assert not (tmp_path / "x.txt").exists()  # fmt: skip


def test_hpke_tampered_message_writes_nothing(run_cli, make_kms_key, tmp_path: Path) -> None:
    bob = make_kms_key()
    (tmp_path / "note.txt").write_bytes(b"x" * 100)
    assert (
        run_cli(
            "hpke",
            "seal",
            "--peer-public-key",
            bob.public_der,
            "--in",
            tmp_path / "note.txt",
            "--out",
            tmp_path / "m",
        ).code
        == 0
    )
    for tamper in ("ciphertext", "aad"):
        args = ["--aad-hex", "01"] if tamper == "aad" else []
        if tamper == "ciphertext":
            _flip_last(tmp_path / "m")
        result = run_cli(
            "hpke", "open", "--key-id", bob.alias, "--in", tmp_path / "m", "--out", tmp_path / "out", *args
        )
        assert result.code == 1
        assert "DecryptionFailed" in result.err
        assert not (tmp_path / "out").exists()
        assert not list(tmp_path.glob(".out.*"))  # fmt: skip


@pytest.mark.parametrize("key_spec", KEY_SPECS)
def test_jwe_both_ways(
    run_cli, make_peer_key, make_kms_key, derive_function, tmp_path: Path, key_spec: str
) -> None:
    alice, bob = make_peer_key("alice", key_spec), make_kms_key(key_spec)
    function = derive_function(bob)
    note = tmp_path / "note.txt"
    note.write_text("hello Bob, from Alice\n")

    # Bob publishes his key as a JWKS; Alice encrypts to that file directly (a one-key JWK Set).
    published = run_cli("jwks", "--key-id", bob.alias, "--out", tmp_path / "bob.jwks.json")
    assert published.code == 0, published.err
    kid = json.loads((tmp_path / "bob.jwks.json").read_text())["keys"][0]["kid"]
    encrypted = run_cli(
        "jwe",
        "encrypt",
        "--peer-public-key",
        tmp_path / "bob.jwks.json",
        "--alg",
        "ECDH-ES+A256KW",
        "--enc",
        "A256GCM",
        "--apu",
        "alice",
        "--apv",
        "bob",
        # a thumbprint is base64url and may begin with "-": given with "=", never read as an option
        f"--kid={kid}",
        "--in",
        note,
        "--out",
        tmp_path / "to-bob.jwe",
    )
    assert encrypted.code == 0, encrypted.err
    assert (tmp_path / "to-bob.jwe").read_text().count(".") == 4
    for index, own in enumerate(
        (
            ["--key-id", bob.alias],
            ["--function", "derive-fn"],
            ["--function", "derive-fn", "--key-id", bob.alias],
        )
    ):
        out = tmp_path / f"bob-{index}.txt"
        decrypted = run_cli("jwe", "decrypt", *own, "--in", tmp_path / "to-bob.jwe", "--out", out)
        assert decrypted.code == 0, decrypted.err
        assert out.read_text() == note.read_text()
        assert f"kid {kid}" in decrypted.out
    derives = [event for event in function.events if event["action"] == "derive"]
    assert len(derives) == 2
    assert all(
        event["kdf"]["algorithm"] == "onestep-sha256" and event["kdf"]["length"] == 32 for event in derives
    )

    reply = tmp_path / "reply.txt"
    reply.write_text("hello Alice, from Bob\n")
    encrypted = run_cli(
        "jwe",
        "encrypt",
        "--peer-public-key",
        alice.public_der,
        "--alg",
        "ECDH-ES",
        "--enc",
        "A128CBC-HS256",
        "--in",
        reply,
        "--out",
        tmp_path / "to-alice.jwe",
    )
    assert encrypted.code == 0, encrypted.err
    decrypted = run_cli(
        "jwe",
        "decrypt",
        "--private-key",
        alice.private,
        "--in",
        tmp_path / "to-alice.jwe",
        "--out",
        tmp_path / "alice.txt",
    )
    assert decrypted.code == 0, decrypted.err
    assert (tmp_path / "alice.txt").read_text() == reply.read_text()  # fmt: skip


def test_jwe_tampered_and_usage_errors(run_cli, make_kms_key, tmp_path: Path) -> None:
    bob = make_kms_key("ECC_NIST_P384")
    (tmp_path / "note.txt").write_text("x")
    assert (
        run_cli(
            "jwe",
            "encrypt",
            "--peer-public-key",
            bob.public_der,
            "--alg",
            "ECDH-ES",
            "--enc",
            "A192GCM",
            "--in",
            tmp_path / "note.txt",
            "--out",
            tmp_path / "m.jwe",
        ).code
        == 0
    )
    token = (tmp_path / "m.jwe").read_text().split(".")
    token[3] = ("B" if token[3][0] == "A" else "A") + token[3][1:]
    (tmp_path / "m.jwe").write_text(".".join(token))
    result = run_cli(
        "jwe", "decrypt", "--key-id", bob.alias, "--in", tmp_path / "m.jwe", "--out", tmp_path / "out"
    )
    assert (result.code, result.err.split(":")[:2]) == (1, ["kmsecdh", " DecryptionFailed"])
    assert not (tmp_path / "out").exists()
    both = run_cli(
        "jwe",
        "decrypt",
        "--key-id",
        bob.alias,
        "--private-key",
        tmp_path / "k.pem",
        "--in",
        tmp_path / "m.jwe",
        "--out",
        tmp_path / "out",
    )
    assert both.code == 2
    assert "--private-key excludes" in both.err
    neither = run_cli("jwe", "decrypt", "--in", tmp_path / "m.jwe", "--out", tmp_path / "out")
    assert neither.code == 2
    bad_alg = run_cli(
        "jwe",
        "encrypt",
        "--peer-public-key",
        bob.public_der,
        "--alg",
        "RSA-OAEP",
        "--enc",
        "A128GCM",
        "--in",
        tmp_path / "note.txt",
        "--out",
        tmp_path / "n.jwe",
    )
    assert bad_alg.code == 2  # fmt: skip


def test_existing_output_is_kept(run_cli, make_kms_key, tmp_path: Path) -> None:
    bob = make_kms_key()
    (tmp_path / "note.txt").write_text("x")
    (tmp_path / "exists").write_text("keep me")
    seal = ["hpke", "seal", "--peer-public-key", bob.public_der, "--in", tmp_path / "note.txt"]
    result = run_cli(*seal, "--out", tmp_path / "exists")
    assert result.code == 1
    assert "use --force" in result.err
    assert (tmp_path / "exists").read_text() == "keep me"
    forced = run_cli(*seal, "--out", tmp_path / "exists", "--force")
    assert forced.code == 0


def test_peer_key_that_is_private_or_broken(run_cli, make_peer_key, tmp_path: Path) -> None:
    alice = make_peer_key("alice")
    (tmp_path / "note.txt").write_text("x")
    (tmp_path / "garbage.der").write_bytes(b"\x30\x03\x02\x01\x01")
    for peer, message in ((alice.private, "PUBLIC KEY"), (tmp_path / "garbage.der", "InvalidPublicKey")):
        result = run_cli(
            "hpke", "seal", "--peer-public-key", peer, "--in", tmp_path / "note.txt", "--out", tmp_path / "m"
        )
        assert result.code == 1
        assert message in result.err  # fmt: skip


def test_jwks_from_kms_and_from_the_function(run_cli, make_kms_key, derive_function) -> None:
    keys = [make_kms_key("ECC_NIST_P256"), make_kms_key("ECC_NIST_P521")]
    from_kms = run_cli("jwks", "--key-id", keys[0].alias, "--key-id", keys[1].arn)
    assert from_kms.code == 0, from_kms.err
    document = json.loads(from_kms.out)
    assert [entry["crv"] for entry in document["keys"]] == ["P-256", "P-521"]
    for entry, key in zip(document["keys"], keys, strict=True):
        assert set(entry) == {"kty", "crv", "x", "y", "use", "kid"}
        assert entry["use"] == "enc"
        assert entry["kid"] == jwcrypto_jwk.JWK(**entry).thumbprint()
        assert load_public_jwk(entry).public_bytes(*_der()) == key.public_der.read_bytes()
    derive_function(keys[0])
    from_function = run_cli("jwks", "--key-id", keys[0].alias, "--function", "derive-fn")
    assert from_function.code == 0, from_function.err
    assert json.loads(from_function.out)["keys"] == document["keys"][:1]


def _der() -> tuple:
    from cryptography.hazmat.primitives import serialization

    return serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo


@pytest.mark.parametrize(
    "command", [("hpke", "seal"), ("hpke", "open"), ("jwe", "encrypt"), ("jwe", "decrypt")]
)
def test_subcommands_have_help_and_one_line_usage_errors(run_cli, command: tuple[str, str]) -> None:
    result = run_cli(*command, "--help")
    assert result.code == 0
    assert result.out.startswith(f"usage: kmsecdh {' '.join(command)}")
    missing = run_cli(*command)
    assert missing.code == 2
    assert missing.err.startswith(f"kmsecdh {' '.join(command)}: usage error:")
    assert run_cli(command[0]).code == 2
