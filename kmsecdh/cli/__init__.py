"""``kmsecdh``: the command line of both parties of a KMS ECDH key agreement.

The KMS key owner fetches public keys, derives through the derive function, encrypts and decrypts
with the AWS KMS ECDH keyring and audits key use; the peer makes an EC key, derives the same key
locally and uses the Raw ECDH keyring. Every failure is one line on stderr: exit 2 for a usage
error, 1 for anything else.

Each command imports what it uses when it runs (``kmsecdh.cli.commands``): ``--help`` and
``--version`` parse arguments with nothing heavier than cryptography loaded.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from kmsecdh.cli.errors import EXIT_OK, EXIT_RUNTIME, MissingExtra, describe
from kmsecdh.cli.parser import COMMANDS_PACKAGE, parse_arguments

DEBUG_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"


def _log_debug_to_stderr() -> None:
    """``--debug``: every logger's records on stderr. Importing kmsecdh already made botocore drop its
    request and response contents (``kmsecdh.log.drop_aws_wire_records``), at this level too."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(DEBUG_FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)


# Distributions an optional extra of the kmsecdh package brings, by the top-level module they install.
EXTRA_OF_MODULE = {"aws_encryption_sdk": "messages", "aws_cryptographic_material_providers": "messages"}


def run_command(args: argparse.Namespace) -> int:
    """Import the module of the command's handler (``"<module>:<function>"``) and run it."""
    module_name, _, function_name = args.handler.partition(":")
    try:
        module = importlib.import_module(f"{COMMANDS_PACKAGE}.{module_name}")
    except ModuleNotFoundError as error:
        extra = EXTRA_OF_MODULE.get((error.name or "").split(".")[0])
        if extra is None:
            raise
        raise MissingExtra(
            f"kmsecdh {args.command} needs the {extra!r} extra: pip install 'kmsecdh[{extra}]'"
        ) from None
    return getattr(module, function_name)(args)


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_arguments(argv)
        if args.debug:
            _log_debug_to_stderr()
        return run_command(args)
    except SystemExit as exit_request:  # --help and --version exit through argparse
        return exit_request.code if isinstance(exit_request.code, int) else EXIT_OK
    except KeyboardInterrupt:
        print("kmsecdh: interrupted", file=sys.stderr)
        return EXIT_RUNTIME
    except Exception as error:
        code, line = describe(error)
        print(line, file=sys.stderr)
        return code
