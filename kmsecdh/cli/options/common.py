"""Option helpers of more than one command module: a subcommand with its handler, the output options,
hexadecimal values, and the KDF options.

The KDF options are declared and parsed once (``add_kdf_arguments`` / ``kdf_parameters``) for ``derive``
and ``derive-local``, so both parties derive from the same parameters.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kmsecdh.cli.errors import UsageError
from kmsecdh.kdf import ALGORITHMS, DEFAULT_ALGORITHM, DEFAULT_LENGTH, MAX_LENGTH, MIN_LENGTH, fixed_info

if TYPE_CHECKING:
    from kmsecdh.contract import KdfParameters


def add_command(subcommands: Any, name: str, handler: str, **parser_options: Any) -> argparse.ArgumentParser:
    """A subcommand whose handler (``"<module>:<function>"`` of kmsecdh.cli.commands) is imported to run."""
    command = subcommands.add_parser(name, **parser_options)
    command.set_defaults(handler=handler)
    return command


def hex_bytes(text: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not hexadecimal") from None


def add_output(parser: argparse.ArgumentParser, help_text: str, *, required: bool = False) -> None:
    parser.add_argument("--out", type=Path, required=required, metavar="FILE", help=help_text)
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")


def add_message_io(parser: argparse.ArgumentParser, out_help: str) -> None:
    """``--in``, ``--out`` and ``--force`` of the single-shot HPKE and JWE commands."""
    parser.add_argument("--in", dest="input", type=Path, required=True, metavar="FILE")
    add_output(parser, out_help, required=True)


def _length(text: str) -> int:
    try:
        length = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not MIN_LENGTH <= length <= MAX_LENGTH:
        raise argparse.ArgumentTypeError(f"must be {MIN_LENGTH} to {MAX_LENGTH} bytes")
    return length


def add_kdf_arguments(parser: argparse.ArgumentParser) -> None:
    kdf = parser.add_argument_group(
        "key derivation (SP 800-56C)",
        "FixedInfo is either given whole (--fixed-info-hex) or built from AlgorithmID, PartyUInfo and "
        "PartyVInfo (UTF-8 text, each length-prefixed per SP 800-56A 5.8.2.1.1; an absent part is empty).",
    )
    kdf.add_argument(
        "--kdf", choices=sorted(ALGORITHMS), default=DEFAULT_ALGORITHM, help="default: %(default)s"
    )
    kdf.add_argument(
        "--length",
        type=_length,
        default=DEFAULT_LENGTH,
        help="bytes to derive, 16 to 64 (default: %(default)s)",
    )
    kdf.add_argument("--fixed-info-hex", type=hex_bytes, metavar="HEX", help="the whole FixedInfo")
    kdf.add_argument("--algorithm-id", metavar="TEXT", help="AlgorithmID part of FixedInfo")
    kdf.add_argument("--party-u-info", metavar="TEXT", help="PartyUInfo part of FixedInfo")
    kdf.add_argument("--party-v-info", metavar="TEXT", help="PartyVInfo part of FixedInfo")
    kdf.add_argument("--salt-hex", type=hex_bytes, metavar="HEX", help="HKDF salt (hkdf-* only)")


def kdf_parameters(args: argparse.Namespace) -> KdfParameters:
    """The KDF the options describe; UsageError for combinations argparse cannot express."""
    from kmsecdh.contract import KdfParameters  # only the derive commands need it

    prog = f"kmsecdh {args.command}"
    parts = (args.algorithm_id, args.party_u_info, args.party_v_info)
    if args.fixed_info_hex is not None and any(part is not None for part in parts):
        raise UsageError(prog, "--fixed-info-hex excludes --algorithm-id, --party-u-info and --party-v-info")
    if args.salt_hex is not None and not ALGORITHMS[args.kdf].takes_salt:
        raise UsageError(prog, f"--salt-hex is for the hkdf-* KDFs; {args.kdf} takes no salt")
    if args.fixed_info_hex is not None:
        info = args.fixed_info_hex
    elif any(part is not None for part in parts):
        info = fixed_info(*((part or "").encode("utf-8") for part in parts))
    else:
        info = b""
    return KdfParameters(algorithm=args.kdf, length=args.length, fixed_info=info, salt=args.salt_hex)
