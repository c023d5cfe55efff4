"""``python -m kmsecdh`` as a process: help everywhere, one-line errors and their exit codes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kmsecdh.cli.parser import build_parser

COMMANDS = [
    "keygen",
    "public-key",
    "derive",
    "derive-local",
    "encrypt",
    "decrypt",
    "audit",
    "hpke",
    "jwe",
    "jwks",
    "directory",
]


def _kmsecdh(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kmsecdh", *args], capture_output=True, text=True, check=False
    )


def test_help_lists_every_command() -> None:
    result = _kmsecdh("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout


def test_every_command_has_help(run_cli) -> None:
    assert sorted(build_parser()._subparsers._group_actions[0].choices) == sorted(COMMANDS)
    for command in COMMANDS:
        result = run_cli(command, "--help")
        assert result.code == 0
        assert result.out.startswith(f"usage: kmsecdh {command}")


@pytest.mark.parametrize(
    ("args", "code", "start"),
    [
        ((), 2, "kmsecdh: usage error: the following arguments are required: COMMAND"),
        (("frobnicate",), 2, "kmsecdh: usage error: argument COMMAND: invalid choice"),
        (
            (
                "derive-local",
                "--private-key",
                "/nonexistent/a.pem",
                "--peer-public-key",
                "/nonexistent/b.der",
            ),
            1,
            "kmsecdh: file error: /nonexistent/a.pem: No such file or directory",
        ),
    ],
)
def test_errors_are_one_line_with_exit_code(args: tuple[str, ...], code: int, start: str) -> None:
    result = _kmsecdh(*args)
    assert result.returncode == code
    assert result.stderr.startswith(start)
    assert len(result.stderr.splitlines()) == 1
    assert result.stdout == ""


HEAVY_PACKAGES = ("boto3", "botocore", "aws_encryption_sdk", "aws_cryptographic_material_providers")


KEYGEN = "keygen --curve P-256 --out {dir}/alice"
DERIVE_LOCAL = "derive-local --private-key {dir}/alice.pem --peer-public-key {dir}/alice.pub.der"
# HPKE and JWE seal the public key file (any file will do) to Alice's key, and she opens it with hers.
HPKE_SEAL = "hpke seal --peer-public-key {dir}/alice.pub.der --in {dir}/alice.pub.pem --out {dir}/m"
HPKE_OPEN = "hpke open --private-key {dir}/alice.pem --in {dir}/m --out {dir}/p"
JWE_ENCRYPT = (
    "jwe encrypt --peer-public-key {dir}/alice.pub.der --alg ECDH-ES --enc A128GCM"
    " --in {dir}/alice.pub.pem --out {dir}/m"
)
JWE_DECRYPT = "jwe decrypt --private-key {dir}/alice.pem --in {dir}/m --out {dir}/p"


@pytest.mark.parametrize(
    ("before", "command"),
    [
        ((), "--help"),
        ((), "--version"),
        ((), "derive-local --help"),
        ((), KEYGEN),
        ((KEYGEN,), DERIVE_LOCAL),
        ((KEYGEN,), HPKE_SEAL),
        ((KEYGEN, HPKE_SEAL), HPKE_OPEN),
        ((KEYGEN,), JWE_ENCRYPT),
        ((KEYGEN, JWE_ENCRYPT), JWE_DECRYPT),
    ],
)
def test_only_the_command_s_own_imports(before: tuple[str, ...], command: str, tmp_path) -> None:
    """--help, --version and the peer's commands (HPKE and JWE with a local key too) load no AWS SDK and no
    Encryption SDK. ``before``: the commands that make the files it reads."""
    for earlier in before:
        prepared = _kmsecdh(*earlier.format(dir=tmp_path).split())
        assert prepared.returncode == 0, prepared.stderr
    args = command.format(dir=tmp_path).split()
    probe = (
        "import sys\n"
        "from kmsecdh.cli import main\n"
        f"code = main({args!r})\n"
        f"heavy = sorted(name for name in sys.modules if name.split('.')[0] in {HEAVY_PACKAGES!r})\n"
        "print('CODE', code, 'HEAVY', heavy, file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert result.stderr.strip().splitlines()[-1] == "CODE 0 HEAVY []", result.stderr


def test_version() -> None:
    result = _kmsecdh("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("kmsecdh ")
