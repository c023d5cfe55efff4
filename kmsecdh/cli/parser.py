"""The argparse tree of ``kmsecdh``: one subcommand per task of either party.

Each module of ``kmsecdh.cli.options`` declares the options of the commands its namesake in
``kmsecdh.cli.commands`` runs and names their handlers as ``"<module>:<function>"`` there; ``main``
imports that module only when the command runs. ``build_parser`` adds the subcommands with the
registration functions of ``COMMAND_REGISTRATIONS``, in the order of the top-level ``--help``. This module
and the options modules therefore import only the standard library and kmsecdh's light modules
(cryptography at most), so ``kmsecdh --help`` and ``--version`` load no AWS SDK. A new command: a
function in a module of ``kmsecdh.cli.commands`` (new or fitting), an ``add_<command>`` registration
function in its namesake of ``kmsecdh.cli.options``, and that function in ``COMMAND_REGISTRATIONS``.

Usage errors never print argparse's two-line usage block: ``Parser.error`` raises UsageError, which
``main`` prints as one line and exits 2.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from typing import Any, NoReturn

from kmsecdh.cli.errors import UsageError
from kmsecdh.cli.options import audit, directory, function, hpke, jwe, jwks, local, messages
from kmsecdh.cli.options.common import kdf_parameters

COMMANDS_PACKAGE = "kmsecdh.cli.commands"

# The top-level subcommands, in the order ``kmsecdh --help`` lists them.
COMMAND_REGISTRATIONS: tuple[Callable[[Any], None], ...] = (
    local.add_keygen,
    function.add_public_key,
    function.add_derive,
    local.add_derive_local,
    messages.add_encrypt,
    messages.add_decrypt,
    audit.add_audit,
    hpke.add_hpke,
    jwe.add_jwe,
    jwks.add_jwks,
    directory.add_directory,
)


# argparse reads a value that begins with "-" (a JWK thumbprint or a base64url string may) as an option.
_MISSING_VALUE = re.compile(r"argument (--[a-z0-9-]+)(?:/[^:]*)?: expected one argument")


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        if missing := _MISSING_VALUE.match(message):
            option = missing.group(1)
            message += f"; a value that begins with '-' is given as {option}=VALUE"
        raise UsageError(self.prog, message)


class _VersionAction(argparse.Action):
    """``--version``: the installed distribution's version, looked up only when asked for (importing
    ``importlib.metadata`` costs more than parsing every other option)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> NoReturn:
        from importlib import metadata

        try:
            version = metadata.version("kmsecdh")
        except metadata.PackageNotFoundError:
            version = "unknown (not installed)"
        print(f"{parser.prog} {version}")
        parser.exit()


def build_parser() -> Parser:
    parser = Parser(
        prog="kmsecdh",
        description="AWS KMS ECDH key agreement for both parties: "
        "the KMS key owner and the peer with an ordinary EC key.",
    )
    parser.add_argument("--version", action=_VersionAction, help="show the installed version and exit")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="write every library's DEBUG log records to stderr; the contents of AWS requests and "
        "responses are never among them (they can hold the shared secret)",
    )
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in COMMAND_REGISTRATIONS:
        register(subcommands)
    return parser


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "needs_kdf", False):
        args.kdf_parameters = kdf_parameters(args)
    if hasattr(args, "context"):
        keys = [key for key, _ in args.context]
        if len(keys) != len(set(keys)):
            raise UsageError(f"kmsecdh {args.command}", "--context gives the same key twice")
        args.context = dict(args.context)
    return args
