"""encrypt / decrypt with the ESDK ECDH keyrings: both directions between a KMS key (local endpoint)
and an OpenSSL key, and every way a message can be wrong. A failed decrypt writes nothing."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

PLAINTEXT = b"meet at the usual place\n" * 500  # several ESDK frames


@pytest.fixture
def parties(make_peer_key, make_kms_key, tmp_path: Path):
    """Bob's KMS key, Alice's OpenSSL key, and a plaintext file."""
    note = tmp_path / "note.txt"
    note.write_bytes(PLAINTEXT)
    return make_kms_key("ECC_NIST_P384"), make_peer_key("alice", "ECC_NIST_P384"), note


def _alice(alice, bob) -> list[object]:
    return ["--private-key", alice.private, "--peer-public-key", bob.public_der]


def _bob(bob, alice, *, by_alias: bool = True) -> list[object]:
    return ["--key-id", bob.alias if by_alias else bob.arn, "--peer-public-key", alice.public_pem]


def _only_files(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def test_peer_encrypts_owner_decrypts(run_cli, parties, tmp_path: Path) -> None:
    bob, alice, note = parties
    message, out = tmp_path / "to-bob.esdk", tmp_path / "note.out"
    sent = run_cli(
        "encrypt", *_alice(alice, bob), "--in", note, "--out", message, "--context", "purpose=test"
    )
    assert sent.code == 0, sent.err
    assert PLAINTEXT[:64] not in message.read_bytes()
    received = run_cli(
        "decrypt", *_bob(bob, alice), "--in", message, "--out", out, "--context", "purpose=test"
    )
    assert received.code == 0, received.err
    assert out.read_bytes() == PLAINTEXT
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert received.out.strip().endswith(json.dumps({"purpose": "test"}))


def test_owner_encrypts_peer_decrypts(run_cli, parties, tmp_path: Path) -> None:
    bob, alice, note = parties
    message, out = tmp_path / "to-alice.esdk", tmp_path / "note.out"
    context = ["--context", "purpose=test", "--context", "order=42"]
    sent = run_cli("encrypt", *_bob(bob, alice, by_alias=False), "--in", note, "--out", message, *context)
    assert sent.code == 0, sent.err
    received = run_cli("decrypt", *_alice(alice, bob), "--in", message, "--out", out)
    assert received.code == 0, received.err
    assert out.read_bytes() == PLAINTEXT
    assert json.dumps({"order": "42", "purpose": "test"}) in received.out


@pytest.fixture
def message_to_bob(run_cli, parties, tmp_path: Path) -> Path:
    bob, alice, note = parties
    message = tmp_path / "to-bob.esdk"
    assert (
        run_cli("encrypt", *_alice(alice, bob), "--in", note, "--out", message, "--context", "k=v").code == 0
    )
    return message


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


# Offsets into the message: the header (its message id, which key commitment binds), a body frame,
# and the last byte (the footer's signature); truncations to nothing, mid-header and mid-body.
TAMPERINGS = {
    "header byte": lambda data: _flip(data, 10),
    "body byte": lambda data: _flip(data, len(data) // 2),
    "footer byte": lambda data: _flip(data, len(data) - 1),
    "truncated to nothing": lambda data: b"",
    "truncated header": lambda data: data[:40],
    "truncated body": lambda data: data[: len(data) // 2],
    "footer cut": lambda data: data[:-20],
    "trailing junk": lambda data: data + b"\x00" * 8,
    "not a message": lambda data: b"hello, this is plain text",
}


@pytest.mark.parametrize("tampering", sorted(TAMPERINGS))
def test_tampered_message_is_rejected_and_writes_nothing(
    run_cli, parties, message_to_bob: Path, tmp_path: Path, tampering: str
) -> None:
    bob, alice, _ = parties
    message_to_bob.write_bytes(TAMPERINGS[tampering](message_to_bob.read_bytes()))
    before = _only_files(tmp_path)
    result = run_cli("decrypt", *_bob(bob, alice), "--in", message_to_bob, "--out", tmp_path / "note.out")
    assert result.code == 1
    assert result.err.startswith(("kmsecdh: InvalidMessage:", "kmsecdh: WrongKey:")), result.err
    assert _only_files(tmp_path) == before


def test_body_tampering_is_reported_as_modified(
    run_cli, parties, message_to_bob: Path, tmp_path: Path
) -> None:
    bob, alice, _ = parties
    message_to_bob.write_bytes(TAMPERINGS["body byte"](message_to_bob.read_bytes()))
    result = run_cli("decrypt", *_bob(bob, alice), "--in", message_to_bob, "--out", tmp_path / "note.out")
    assert (
        result.err.strip()
        == "kmsecdh: InvalidMessage: message authentication failed: it was modified after encryption"
    )


def test_wrong_keys_are_rejected(
    run_cli, parties, make_peer_key, make_kms_key, message_to_bob: Path, tmp_path: Path
) -> None:
    bob, alice, _ = parties
    mallory, other_kms = make_peer_key("mallory", "ECC_NIST_P384"), make_kms_key("ECC_NIST_P384")
    before = _only_files(tmp_path)
    attempts = {
        "another KMS key": ["--key-id", other_kms.alias, "--peer-public-key", alice.public_pem],
        "another sender": ["--key-id", bob.alias, "--peer-public-key", mallory.public_pem],
        "a third party with the sender's public key": [
            "--private-key",
            mallory.private,
            "--peer-public-key",
            alice.public_der,
        ],
    }
    for attempt, options in attempts.items():
        result = run_cli("decrypt", *options, "--in", message_to_bob, "--out", tmp_path / "note.out")
        assert result.code == 1, attempt
        assert result.err.startswith("kmsecdh: WrongKey: no data key in the message decrypts"), attempt
    assert _only_files(tmp_path) == before


@pytest.mark.parametrize(
    ("context", "message"),
    [
        (["--context", "k=other"], "encryption context 'k' is 'v', expected 'other'"),
        (["--context", "k=v", "--context", "missing=1"], "encryption context has no key 'missing'"),
    ],
)
def test_wrong_context_is_rejected(
    run_cli, parties, message_to_bob: Path, tmp_path: Path, context, message
) -> None:
    bob, alice, _ = parties
    result = run_cli(
        "decrypt", *_bob(bob, alice), "--in", message_to_bob, "--out", tmp_path / "out", *context
    )
    assert result.code == 1
    assert result.err.strip() == f"kmsecdh: ContextMismatch: {message}"
    assert not (tmp_path / "out").exists()


def test_peer_key_on_another_curve_is_rejected_before_kms(
    run_cli, parties, make_peer_key, tmp_path: Path
) -> None:
    bob, _, note = parties
    p256 = make_peer_key("p256", "ECC_NIST_P256")
    result = run_cli(
        "encrypt",
        "--key-id",
        bob.alias,
        "--peer-public-key",
        p256.public_der,
        "--in",
        note,
        "--out",
        tmp_path / "m",
    )
    assert result.code == 1
    assert "InvalidPublicKey: peer public key is on curve secp256r1, expected secp384r1" in result.err


def test_usage_errors(run_cli, parties, tmp_path: Path) -> None:
    bob, alice, note = parties
    both = run_cli(
        "encrypt",
        "--key-id",
        bob.alias,
        "--private-key",
        alice.private,
        "--peer-public-key",
        bob.public_der,
        "--in",
        note,
        "--out",
        tmp_path / "m",
    )
    assert both.code == 2
    assert "not allowed with argument" in both.err
    for context, message in (("novalue", "expected KEY=VALUE"), ("aws-crypto-x=1", "reserved")):
        result = run_cli(
            "encrypt", *_alice(alice, bob), "--in", note, "--out", tmp_path / "m", "--context", context
        )
        assert result.code == 2
        assert message in result.err
    duplicate = run_cli(
        "encrypt",
        *_alice(alice, bob),
        "--in",
        note,
        "--out",
        tmp_path / "m",
        "--context",
        "a=1",
        "--context",
        "a=2",
    )
    assert duplicate.code == 2


def test_existing_output_is_kept(run_cli, parties, message_to_bob: Path, tmp_path: Path) -> None:
    bob, alice, _ = parties
    out = tmp_path / "note.out"
    out.write_bytes(b"keep me")
    result = run_cli("decrypt", *_bob(bob, alice), "--in", message_to_bob, "--out", out)
    assert result.code == 1
    assert "exists; use --force" in result.err
    assert out.read_bytes() == b"keep me"
    assert run_cli("decrypt", *_bob(bob, alice), "--in", message_to_bob, "--out", out, "--force").code == 0
    assert out.read_bytes() == PLAINTEXT
