"""The argparse tree of ``kmsecdh``: one subcommand per task of either party.

Each subcommand declares its options here and names its handler as ``"<module>:<function>"`` in
``kmsecdh.cli.commands`` (``_add_command``); ``main`` imports that module only when the command runs.
This module therefore imports only the standard library and kmsecdh's light modules (cryptography at
most), so ``kmsecdh --help`` and ``--version`` load no AWS SDK. A new command: a function in a module of
``kmsecdh.cli.commands`` (new or fitting), its options in ``build_parser`` with ``_add_command``.

Usage errors never print argparse's two-line usage block: ``Parser.error`` raises UsageError, which
``main`` prints as one line and exits 2. The KDF options are declared and parsed once
(``add_kdf_arguments`` / ``kdf_parameters``) for ``derive`` and ``derive-local``, so both parties
derive from the same parameters.
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from kmsecdh.cli.errors import UsageError
from kmsecdh.hpke import AEADS as HPKE_AEADS
from kmsecdh.hpke import DEFAULT_AEAD
from kmsecdh.hpke import KDFS as HPKE_KDFS
from kmsecdh.jose import CONTENT_ENCRYPTIONS, KEY_WRAP_SIZES
from kmsecdh.kdf import ALGORITHMS, DEFAULT_ALGORITHM, DEFAULT_LENGTH, MAX_LENGTH, MIN_LENGTH, fixed_info
from kmsecdh.keys import KEY_SPEC_BY_CURVE

if TYPE_CHECKING:
    from kmsecdh.contract import KdfParameters

COMMANDS_PACKAGE = "kmsecdh.cli.commands"
DEFAULT_SINCE = "24h"


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(self.prog, message)


def _length(text: str) -> int:
    try:
        length = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not MIN_LENGTH <= length <= MAX_LENGTH:
        raise argparse.ArgumentTypeError(f"must be {MIN_LENGTH} to {MAX_LENGTH} bytes")
    return length


def _hex(text: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not hexadecimal") from None


def _since(text: str) -> timedelta:
    from kmsecdh.audit_events import parse_since  # only audit takes --since

    try:
        return parse_since(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _serial(text: str) -> int:
    try:
        serial = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if serial < 1:
        raise argparse.ArgumentTypeError("serials start at 1")
    return serial


def _context_pair(text: str) -> tuple[str, str]:
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    # Keys the Encryption SDK reserves are refused by the encrypt/decrypt commands, which load it.
    return key, value


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
    kdf.add_argument("--fixed-info-hex", type=_hex, metavar="HEX", help="the whole FixedInfo")
    kdf.add_argument("--algorithm-id", metavar="TEXT", help="AlgorithmID part of FixedInfo")
    kdf.add_argument("--party-u-info", metavar="TEXT", help="PartyUInfo part of FixedInfo")
    kdf.add_argument("--party-v-info", metavar="TEXT", help="PartyVInfo part of FixedInfo")
    kdf.add_argument("--salt-hex", type=_hex, metavar="HEX", help="HKDF salt (hkdf-* only)")


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


def _add_output(parser: argparse.ArgumentParser, help_text: str, *, required: bool = False) -> None:
    parser.add_argument("--out", type=Path, required=required, metavar="FILE", help=help_text)
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")


def _add_party_key(parser: argparse.ArgumentParser) -> None:
    own = parser.add_mutually_exclusive_group(required=True)
    own.add_argument(
        "--private-key", type=Path, metavar="FILE", help="your EC private key (PEM): the peer side"
    )
    own.add_argument("--key-id", metavar="ID", help="your KMS key (ARN, key id or alias): the key owner side")
    parser.add_argument(
        "--peer-public-key",
        type=Path,
        required=True,
        metavar="FILE",
        help="the other party's public key (DER or PEM)",
    )
    parser.add_argument("--in", dest="input", type=Path, required=True, metavar="FILE")
    parser.add_argument(
        "--context",
        type=_context_pair,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="encryption context pair (repeatable)",
    )


def _add_message_io(parser: argparse.ArgumentParser, out_help: str) -> None:
    """``--in``, ``--out`` and ``--force`` of the single-shot HPKE and JWE commands."""
    parser.add_argument("--in", dest="input", type=Path, required=True, metavar="FILE")
    _add_output(parser, out_help, required=True)


def _add_hpke_suite(parser: argparse.ArgumentParser) -> None:
    suite = parser.add_argument_group("suite and context (both sides must use the same)")
    suite.add_argument("--info-hex", type=_hex, default=b"", metavar="HEX", help="info (default: empty)")
    suite.add_argument("--aad-hex", type=_hex, default=b"", metavar="HEX", help="aad (default: empty)")
    suite.add_argument(
        "--kdf", choices=list(HPKE_KDFS), help="default: the KEM's own (P-256: hkdf-sha256, ...)"
    )
    suite.add_argument("--aead", choices=list(HPKE_AEADS), default=DEFAULT_AEAD, help="default: %(default)s")


def _add_command(subcommands: Any, name: str, handler: str, **parser_options: Any) -> argparse.ArgumentParser:
    """A subcommand whose handler (``"<module>:<function>"`` of kmsecdh.cli.commands) is imported to run."""
    command = subcommands.add_parser(name, **parser_options)
    command.set_defaults(handler=handler)
    return command


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

    keygen = _add_command(
        subcommands,
        "keygen",
        "local:keygen",
        help="make an EC key pair for the peer side (like openssl ecparam -genkey + ec -pubout)",
        description="Write NAME.pem (SEC1 private key, mode 0600), NAME.pub.der and NAME.pub.pem.",
    )
    keygen.add_argument("--curve", choices=sorted(KEY_SPEC_BY_CURVE), required=True)
    keygen.add_argument("--out", required=True, metavar="NAME", help="file name prefix")
    keygen.add_argument("--force", action="store_true", help="overwrite existing files")

    public_key = _add_command(
        subcommands,
        "public-key",
        "function:public_key",
        help="fetch a KMS key's public key (KMS GetPublicKey, or the derive function)",
        description="Print or write the public key of a key-agreement KMS key, to hand to the peer.",
    )
    public_key.add_argument("--key-id", required=True, metavar="ID", help="key ARN, key id or alias")
    public_key.add_argument("--function", metavar="NAME", help="ask the derive function instead of KMS")
    public_key.add_argument("--format", choices=("der", "pem"), default="pem", help="default: %(default)s")
    _add_output(public_key, "write here instead of stdout")

    derive = _add_command(
        subcommands,
        "derive",
        "function:derive",
        help="key owner: derive a key with the derive function (Lambda)",
        description="Invoke the derive function for one peer public key and output the derived key.",
    )
    derive.add_argument("--function", required=True, metavar="NAME", help="derive function name or ARN")
    derive.add_argument("--peer-public-key", type=Path, required=True, metavar="FILE", help="DER or PEM")
    derive.add_argument("--key-id", metavar="ID", help="KMS key (default: the function's default key)")
    add_kdf_arguments(derive)
    _add_output(derive, "write the raw key here (mode 0600) instead of hex on stdout")
    derive.set_defaults(needs_kdf=True)

    derive_local = _add_command(
        subcommands,
        "derive-local",
        "local:derive_local",
        help="peer: derive the same key from your EC private key",
        description="ECDH with your private key and the KMS key's public key, then the same KDF.",
    )
    derive_local.add_argument(
        "--private-key", type=Path, required=True, metavar="FILE", help="PEM, SEC1 or PKCS#8"
    )
    derive_local.add_argument(
        "--peer-public-key",
        type=Path,
        required=True,
        metavar="FILE",
        help="the KMS key's public key, DER or PEM",
    )
    add_kdf_arguments(derive_local)
    _add_output(derive_local, "write the raw key here (mode 0600) instead of hex on stdout")
    derive_local.set_defaults(needs_kdf=True)

    encrypt = _add_command(
        subcommands,
        "encrypt",
        "messages:encrypt",
        help="encrypt a file for the other party (AWS Encryption SDK, ECDH keyring)",
        description="Encrypt with the Raw ECDH keyring (--private-key) "
        "or the AWS KMS ECDH keyring (--key-id).",
    )
    _add_party_key(encrypt)
    _add_output(encrypt, "the encrypted message", required=True)

    decrypt = _add_command(
        subcommands,
        "decrypt",
        "messages:decrypt",
        help="decrypt a file from the other party; prints its encryption context",
        description="Decrypt and authenticate a message; --context pairs must all be in its encryption "
        "context. Nothing is written unless the whole message verifies.",
    )
    _add_party_key(decrypt)
    _add_output(decrypt, "the plaintext (mode 0600)", required=True)

    audit = _add_command(
        subcommands,
        "audit",
        "audit:audit",
        help="CloudTrail events on a KMS key (DeriveSharedSecret, management events) and who invoked the "
        "derive function; or when each generation of an environment's keys was last used",
        description="With --key-id, list CloudTrail LookupEvents naming the key: time, event, principal, "
        "source IP, error; with --function and --log-group, also the function's Invoke data events, read "
        "from the trail's CloudWatch Logs group with a Logs Insights query (LookupEvents returns no data "
        "events). With --environment, list every generation of the environment's keys (the KeyGenerations "
        "output of kmsecdh-<environment>-key-agreement) with when KMS last saw it used (GetKeyLastUsage): "
        "which generations can be retired.",
    )
    subject = audit.add_mutually_exclusive_group(required=True)
    subject.add_argument("--key-id", metavar="ID", help="key ARN, key id or alias")
    subject.add_argument(
        "--environment", metavar="NAME", help="an environment of cdk.json: last use of each key generation"
    )
    audit.add_argument(
        "--replica-region",
        metavar="REGION",
        help="with --environment: that replica Region's keys (kmsecdh-<environment>-key-agreement-<region>)",
    )
    audit.add_argument("--function", metavar="NAME", help="derive function name or ARN (with --log-group)")
    audit.add_argument(
        "--log-group", metavar="NAME", help="CloudWatch Logs group the trail delivers to (with --function)"
    )
    audit.add_argument("--since", type=_since, metavar="N{m,h,d}", help=f"default: {DEFAULT_SINCE}")
    audit.add_argument("--json", action="store_true", help="JSON lines instead of a table")

    hpke = subcommands.add_parser(
        "hpke",
        help="HPKE (RFC 9180) base mode, single-shot: seal to a public key, open with a KMS key",
        description="Single-shot HPKE (RFC 9180 base mode) with DHKEM on the recipient key's curve. "
        "The message is enc || ciphertext (see docs/hpke-jwe.md).",
    )
    hpke_commands = hpke.add_subparsers(dest="hpke_command", required=True, metavar="COMMAND")
    hpke_seal = _add_command(
        hpke_commands,
        "seal",
        "hpke:seal",
        help="seal a file to a recipient's public key (no KMS call)",
        description="Write enc || ciphertext for the recipient's public key (PEM, DER or JWK).",
    )
    hpke_seal.add_argument(
        "--peer-public-key", type=Path, required=True, metavar="FILE", help="the recipient's key"
    )
    _add_message_io(hpke_seal, "the sealed message, enc || ciphertext")
    _add_hpke_suite(hpke_seal)

    hpke_open = _add_command(
        hpke_commands,
        "open",
        "hpke:open_message",
        help="open a message sealed to your KMS key (--key-id) or local key (--private-key)",
        description="Open enc || ciphertext; nothing is written unless it authenticates.",
    )
    own = hpke_open.add_mutually_exclusive_group(required=True)
    own.add_argument("--key-id", metavar="ID", help="your KMS key: ARN, key id or alias (DeriveSharedSecret)")
    own.add_argument("--private-key", type=Path, metavar="FILE", help="your EC private key (PEM)")
    _add_message_io(hpke_open, "the plaintext (mode 0600)")
    _add_hpke_suite(hpke_open)

    jwe = subcommands.add_parser(
        "jwe",
        help="JWE with ECDH-ES (RFC 7518), compact serialization",
        description="Encrypt to a public key; decrypt with a KMS key, the derive function or a local key.",
    )
    jwe_commands = jwe.add_subparsers(dest="jwe_command", required=True, metavar="COMMAND")
    jwe_encrypt = _add_command(
        jwe_commands,
        "encrypt",
        "jwe:encrypt",
        help="encrypt a file to a recipient's public key (no KMS call)",
        description="Write a compact JWE for the recipient's public key (PEM, DER or JWK).",
    )
    jwe_encrypt.add_argument(
        "--peer-public-key", type=Path, required=True, metavar="FILE", help="the recipient's key"
    )
    jwe_encrypt.add_argument("--alg", choices=list(KEY_WRAP_SIZES), required=True)
    jwe_encrypt.add_argument("--enc", choices=list(CONTENT_ENCRYPTIONS), required=True)
    jwe_encrypt.add_argument("--apu", metavar="TEXT", help="PartyUInfo (UTF-8), e.g. the sender's name")
    jwe_encrypt.add_argument("--apv", metavar="TEXT", help="PartyVInfo (UTF-8), e.g. the recipient's name")
    jwe_encrypt.add_argument("--kid", metavar="TEXT", help="kid header, e.g. the recipient's JWK thumbprint")
    _add_message_io(jwe_encrypt, "the compact JWE")

    jwe_decrypt = _add_command(
        jwe_commands,
        "decrypt",
        "jwe:decrypt",
        help="decrypt a compact JWE with your KMS key, the derive function, or a local key",
        description="--key-id alone: KMS DeriveSharedSecret from here. --function [--key-id]: the derive "
        "function derives the key (onestep-sha256 with the JOSE FixedInfo), Z never leaves it. "
        "--private-key: a local PEM key. Nothing is written unless the JWE authenticates.",
    )
    jwe_decrypt.add_argument("--key-id", metavar="ID", help="your KMS key (ARN, key id or alias)")
    jwe_decrypt.add_argument("--function", metavar="NAME", help="derive function name or ARN")
    jwe_decrypt.add_argument("--private-key", type=Path, metavar="FILE", help="your EC private key (PEM)")
    _add_message_io(jwe_decrypt, "the plaintext (mode 0600)")

    jwks = _add_command(
        subcommands,
        "jwks",
        "jwks:jwks",
        help="KMS keys' public keys as a JWK Set (kid = RFC 7638 thumbprint, use enc)",
        description="Print or write a JWKS of key agreement KMS keys (GetPublicKey, or the derive function).",
    )
    jwks.add_argument(
        "--key-id", action="append", required=True, metavar="ID", help="key ARN, key id or alias (repeatable)"
    )
    jwks.add_argument(
        "--function", metavar="NAME", help="ask the derive function (public_key) instead of KMS"
    )
    _add_output(jwks, "write here instead of stdout")

    directory = subcommands.add_parser(
        "directory",
        help="the environment's signed public-key directory (a JWK Set in an ES384 JWS)",
        description="Publish every active generation's public key, signed by the environment's signing key, "
        "or fetch and verify it with the pinned signing public key.",
    )
    directory_commands = directory.add_subparsers(dest="directory_command", required=True, metavar="COMMAND")
    publish = _add_command(
        directory_commands,
        "publish",
        "directory:publish",
        help="sign the directory with KMS and write it to the environment's bucket and SSM parameter",
        description="Read the stack outputs of the environment, fetch every active generation's public key "
        "(GetPublicKey), sign the JWK Set with the published directory's serial plus one, valid for the "
        "environment's maximum age (KMS Sign, ES384), and publish it: to the bucket only if the directory "
        "there is still the one read (an S3 conditional write), then to the SSM parameter.",
    )
    publish.add_argument("--environment", required=True, metavar="NAME", help="an environment of cdk.json")
    _add_output(publish, "also write the JWS here")
    fetch = _add_command(
        directory_commands,
        "fetch",
        "directory:fetch",
        help="verify the directory with the pinned signing key and print the current keys",
        description="Read the directory (the environment's bucket, a file or a URL), verify its signature, "
        "signer, kids and key ARNs, refuse it expired (exp), not yet valid (iat) or older than the newest "
        "serial seen (each with 5 minutes of clock skew allowed), record its serial as the newest seen, and "
        "print the current generation of each key spec as a JWK Set with its serial, iat and exp.",
    )
    source = fetch.add_mutually_exclusive_group(required=True)
    source.add_argument("--environment", metavar="NAME", help="read it from this environment's bucket")
    source.add_argument("--file", type=Path, metavar="FILE", help="read it from a file")
    source.add_argument(
        "--url",
        metavar="URL",
        help="read it over HTTPS (plain HTTP only from this machine's loopback), e.g. where you publish "
        "the bucket's object",
    )
    fetch.add_argument(
        "--verify",
        action="store_true",
        required=True,
        help="verify before printing (required: an unverified directory is never printed)",
    )
    fetch.add_argument(
        "--signing-public-key",
        type=Path,
        required=True,
        metavar="FILE",
        help="the pinned public key of the environment's signing key (PEM or DER, P-384)",
    )
    fetch.add_argument(
        "--check-kms",
        action="store_true",
        help="also compare each key with KMS GetPublicKey of its key ARN",
    )
    fetch.add_argument(
        "--min-serial",
        type=_serial,
        metavar="N",
        help="also refuse a directory whose serial is below N (e.g. one announced out of band)",
    )
    fetch.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help="where the newest serial seen of each signing key is kept "
        "(default: $XDG_STATE_HOME/kmsecdh/directory, else ~/.local/state/kmsecdh/directory)",
    )
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
