"""``python -m kmsecdh`` as a process: help everywhere, one-line errors and their exit codes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kmsecdh.cli.parser import build_parser

COMMANDS = ["keygen", "public-key", "derive", "derive-local", "encrypt", "decrypt", "audit"]


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
