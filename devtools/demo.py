"""The two-party walkthrough with no AWS account: ``make demo`` (``python -m devtools.demo``).

Bob's key lives in KMS (here the local KMS endpoint, created with the key spec, usage and alias the
synthesized dev environment declares); Alice holds an ordinary EC key made with OpenSSL. Both derive
the same key, Bob through the derive function's handler and Alice with ``openssl pkeyutl -derive`` and
``openssl kdf``, then each encrypts a message with the AWS Encryption SDK that the other decrypts, and
sends one HPKE (RFC 9180) and one JWE (RFC 7518 ECDH-ES) message each way (``devtools.demo_standards``).
Each step prints the ``aws`` / ``openssl`` / ``kmsecdh`` command that does the same.

Secrets are never printed: the shared secret Z and the derived keys appear only as fingerprints,
the first 4 bytes of their SHA-256, enough to see that both sides agree.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import io
import json
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools import CDK_CLI, PROJECT_ROOT, in_process_lambda, use_project_node
from devtools.demo_standards import run_exchanges
from devtools.in_process_lambda import InProcessLambda
from devtools.local_endpoint import LocalKmsEndpoint, client_environment
from devtools.openssl import OpenSsl
from kmsecdh import messages
from kmsecdh.cli.aws import aws_client
from kmsecdh.client import DeriveFunctionClient
from kmsecdh.configuration import Configuration, ConfiguredKey
from kmsecdh.contract import KdfParameters
from kmsecdh.kdf import fixed_info
from kmsecdh.keys import KEY_AGREEMENT, KEY_SPECS

DEMO_KDF = KdfParameters(
    algorithm="onestep-sha256",
    length=32,
    fixed_info=fixed_info(b"kmsecdh-demo", b"alice", b"bob"),
)
DEMO_KDF_OPTIONS = (
    "--kdf onestep-sha256 --length 32 --algorithm-id kmsecdh-demo --party-u-info alice --party-v-info bob"
)
DEMO_CONTEXT = {"purpose": "kmsecdh demo"}
FINGERPRINT_BYTES = 4
_Z_PLACEHOLDER = "$Z_HEX"


class DemoError(RuntimeError):
    """The walkthrough cannot run: no synthesized key, synth failed, ..."""


@dataclass(frozen=True)
class PlannedKey:
    """The key-agreement key one environment's synthesized templates declare."""

    key_spec: str
    alias: str
    template: Path


def fingerprint(secret: bytes) -> str:
    """First bytes of SHA-256: shows two secrets are equal without showing either."""
    return hashlib.sha256(secret).digest()[:FINGERPRINT_BYTES].hex()


def planned_keys(cdk_out: Path, environment: str) -> list[PlannedKey]:
    """Every KEY_AGREEMENT AWS::KMS::Key (with its alias) in the environment's stage assembly."""
    assembly = cdk_out / f"assembly-{environment}"
    templates = sorted(assembly.glob("*.template.json"))
    if not templates:
        raise DemoError(f"no templates for environment {environment!r} in {assembly}")
    keys = []
    for template in templates:
        resources: Mapping[str, Any] = json.loads(template.read_text()).get("Resources", {})
        for logical_id, resource in resources.items():
            properties = resource.get("Properties", {})
            if resource.get("Type") == "AWS::KMS::Key" and properties.get("KeyUsage") == KEY_AGREEMENT:
                alias = _alias_of(logical_id, resources)
                keys.append(PlannedKey(key_spec=properties["KeySpec"], alias=alias, template=template))
    if not keys:
        raise DemoError(f"no AWS::KMS::Key with KeyUsage {KEY_AGREEMENT} in {assembly}")
    return keys


def _alias_of(key_logical_id: str, resources: Mapping[str, Any]) -> str:
    for resource in resources.values():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::KMS::Alias" and key_logical_id in json.dumps(
            properties.get("TargetKeyId")
        ):
            return properties["AliasName"]
    raise DemoError(f"no AWS::KMS::Alias targets the key {key_logical_id}")


def synthesize(cdk_out: Path) -> None:
    """``cdk synth`` with the project's pinned CLI, into ``cdk_out``."""
    app_dir = Path.cwd() if (Path.cwd() / "cdk.json").exists() else PROJECT_ROOT
    command = [str(CDK_CLI), "synth", "--quiet", "--output", str(cdk_out.resolve())]
    _say(f"{cdk_out} is missing: synthesizing the app first", command)
    result = subprocess.run(command, cwd=app_dir, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        last_line = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise DemoError(f"cdk synth failed (exit {result.returncode}): {last_line}")


def _say(title: str, *commands: list[str] | str) -> None:
    print(f"\n== {title}")
    for command in commands:
        print(f"   $ {command if isinstance(command, str) else shlex.join(command)}")


def _result(text: str) -> None:
    print(f"   {text}")


def run_demo(
    environment: str = "dev",
    cdk_out: Path = Path("cdk.out"),
    key_spec: str | None = None,
    endpoint_url: str | None = None,
) -> int:
    """Run the walkthrough; 0 when both parties agree on the key and both messages decrypt.

    ``endpoint_url`` names a local KMS endpoint that is already running (the test session's, say);
    without it the demo starts its own and stops it at the end.
    """
    if not (cdk_out / f"assembly-{environment}").is_dir():
        synthesize(cdk_out)
    keys = planned_keys(cdk_out, environment)
    chosen = [key for key in keys if key_spec in (None, key.key_spec)]
    if not chosen:
        raise DemoError(f"environment {environment!r} declares no {key_spec} key-agreement key")
    plan = chosen[0]
    _say(f"cdk.out: environment {environment!r} declares a {plan.key_spec} {KEY_AGREEMENT} key, {plan.alias}")
    _result(f"from {plan.template}")
    with contextlib.ExitStack() as stack:
        if endpoint_url is None:
            endpoint_url = stack.enter_context(LocalKmsEndpoint()).url
            _say(
                "local KMS endpoint (localstack, KMS only) started", f"export AWS_ENDPOINT_URL={endpoint_url}"
            )
        else:
            _say(
                "local KMS endpoint (localstack, KMS only) running", f"export AWS_ENDPOINT_URL={endpoint_url}"
            )
        work = stack.enter_context(tempfile.TemporaryDirectory(prefix="kmsecdh-demo-"))
        # Every command shown names its files relative to the working directory.
        with in_process_lambda.environment(client_environment(endpoint_url)), contextlib.chdir(work):
            print(f"   (working directory {work})")
            return _walkthrough(plan)


def _walkthrough(plan: PlannedKey) -> int:
    openssl = OpenSsl()
    kms = aws_client("kms")

    _say(
        "Bob (key owner) creates the KMS key and its alias",
        f"aws kms create-key --key-spec {plan.key_spec} --key-usage {KEY_AGREEMENT}",
        f"aws kms create-alias --alias-name {plan.alias} --target-key-id <KeyId>",
    )
    metadata = kms.create_key(KeySpec=plan.key_spec, KeyUsage=KEY_AGREEMENT)["KeyMetadata"]
    kms.create_alias(AliasName=plan.alias, TargetKeyId=metadata["KeyId"])
    _result(f"key {metadata['Arn']}")

    bob_public = Path("bob.pub.der")
    _say(
        "Bob hands his public key to Alice",
        f"aws kms get-public-key --key-id {plan.alias} --query PublicKey --output text "
        f"| base64 -d > {bob_public}",
        f"kmsecdh public-key --key-id {plan.alias} --format der --out {bob_public}",
    )
    bob_public.write_bytes(kms.get_public_key(KeyId=plan.alias)["PublicKey"])

    alice_private, alice_public = Path("alice.pem"), Path("alice.pub.der")
    _say(
        "Alice makes her EC key with OpenSSL and hands her public key to Bob",
        ["openssl", *openssl.genkey_args(plan.key_spec, alice_private)],
        ["openssl", *openssl.public_key_args(alice_private, alice_public, der=True)],
    )
    openssl.genkey(plan.key_spec, alice_private)
    openssl.public_key(alice_private, alice_public, der=True)

    derive_command = shlex.join(["openssl", *openssl.derive_args(alice_private, bob_public)])
    _say("Alice derives Z with OpenSSL", f"Z_HEX=$({derive_command} | od -An -tx1 -v | tr -d ' \\n')")
    alice_z = openssl.derive(alice_private, bob_public)
    _result(f"Z: {len(alice_z)} bytes, fingerprint {fingerprint(alice_z)}")
    kdf_args = openssl.kdf_args(
        _Z_PLACEHOLDER, algorithm=DEMO_KDF.algorithm, length=DEMO_KDF.length, fixed_info=DEMO_KDF.fixed_info
    )
    _say(
        "Alice applies the SP 800-56C one-step KDF with OpenSSL",
        # The placeholder must stay unquoted for the shell to expand it.
        shlex.join(["openssl", *kdf_args]).replace(
            shlex.quote(f"hexkey:{_Z_PLACEHOLDER}"), '"hexkey:$Z_HEX"'
        ),
        f"kmsecdh derive-local --private-key {alice_private} --peer-public-key {bob_public} "
        f"{DEMO_KDF_OPTIONS}",
    )
    alice_key = openssl.kdf(
        alice_z, algorithm=DEMO_KDF.algorithm, length=DEMO_KDF.length, fixed_info=DEMO_KDF.fixed_info
    )
    _result(f"derived key: {len(alice_key)} bytes, fingerprint {fingerprint(alice_key)}")

    function_configuration = Configuration(
        keys=(ConfiguredKey(alias=plan.alias, arn=metadata["Arn"], key_spec=plan.key_spec),),
        default_alias=plan.alias,
        allow_raw_secret=False,
    )
    _say(
        "Bob derives through the derive function's handler (KMS DeriveSharedSecret, then the same KDF)",
        f"aws kms derive-shared-secret --key-id {plan.alias} --key-agreement-algorithm ECDH "
        f"--public-key fileb://{alice_public}",
        f"kmsecdh derive --function <derive function> --key-id {plan.alias} --peer-public-key {alice_public} "
        f"{DEMO_KDF_OPTIONS}",
    )
    # The client API of application code, with the function's handler served in this process.
    function = DeriveFunctionClient("kmsecdh-demo-derive", key_id=plan.alias, client=InProcessLambda())
    with in_process_lambda.environment(function_configuration.as_environment()):
        bob_key = function.derive(
            alice_public.read_bytes(),
            kdf=DEMO_KDF.algorithm,
            length=DEMO_KDF.length,
            fixed_info=DEMO_KDF.fixed_info,
        )
    _result(f"derived key: {len(bob_key)} bytes, fingerprint {fingerprint(bob_key)}")

    if not hmac.compare_digest(alice_key, bob_key):
        _say("MISMATCH: Alice and Bob derived different keys")
        return 1
    _result("Alice and Bob hold the same key")

    alice_keyring = messages.raw_ecdh_keyring(
        alice_private.read_bytes(), bob_public.read_bytes(), plan.key_spec
    )
    bob_keyring = messages.kms_ecdh_keyring(kms, metadata["Arn"], alice_public.read_bytes(), plan.key_spec)
    context_options = " ".join(
        f"--context {shlex.quote(f'{key}={value}')}" for key, value in DEMO_CONTEXT.items()
    )
    exchanges = (
        (
            "Alice",
            alice_keyring,
            f"--private-key {alice_private} --peer-public-key {bob_public}",
            "Bob",
            bob_keyring,
            f"--key-id {plan.alias} --peer-public-key {alice_public}",
        ),
        (
            "Bob",
            bob_keyring,
            f"--key-id {plan.alias} --peer-public-key {alice_public}",
            "Alice",
            alice_keyring,
            f"--private-key {alice_private} --peer-public-key {bob_public}",
        ),
    )
    for sender, sender_keyring, sender_options, recipient, recipient_keyring, recipient_options in exchanges:
        plaintext = f"hello {recipient}, from {sender}\n".encode()
        message = f"to-{recipient.lower()}.esdk"
        _say(
            f"{sender} encrypts a message for {recipient} and {recipient} decrypts it "
            "(AWS Encryption SDK, ECDH keyrings)",
            f"kmsecdh encrypt {sender_options} {context_options} --in note.txt --out {message}",
            f"kmsecdh decrypt {recipient_options} {context_options} --in {message} --out note.out",
        )
        ciphertext = io.BytesIO()
        messages.encrypt_stream(io.BytesIO(plaintext), ciphertext, sender_keyring, DEMO_CONTEXT)
        decrypted = io.BytesIO()
        context = messages.decrypt_stream(
            io.BytesIO(ciphertext.getvalue()), decrypted, recipient_keyring, DEMO_CONTEXT
        )
        if decrypted.getvalue() != plaintext:
            _say(f"MISMATCH: {recipient} decrypted something else than {sender} encrypted")
            return 1
        _result(f"{len(ciphertext.getvalue())}-byte message; {recipient} read {decrypted.getvalue()!r}")
        _result(f"encryption context {json.dumps(context)}")
    if not run_exchanges(
        key_spec=plan.key_spec,
        alias=plan.alias,
        kms=kms,
        function=function,
        function_environment=function_configuration.as_environment(),
        alice_private=alice_private,
        alice_public=alice_public,
        bob_public=bob_public,
        say=_say,
        result=_result,
    ):
        return 1
    _say("demo complete: both parties derived the same key and read each other's messages")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m devtools.demo [--environment ENV] [--cdk-out DIR] [--key-spec S] [--endpoint-url URL]``."""
    parser = argparse.ArgumentParser(
        prog="python -m devtools.demo",
        description="The two-party walkthrough against a local KMS endpoint, no AWS account: start the "
        "endpoint, create the environment's key from cdk.out, derive on both sides, compare, and exchange "
        "Encryption SDK, HPKE and JWE messages both ways. Secrets are shown as fingerprints only.",
    )
    parser.add_argument("--environment", default="dev", help="cdk.json environment (default: %(default)s)")
    parser.add_argument(
        "--cdk-out", type=Path, default=Path("cdk.out"), metavar="DIR", help="default: %(default)s"
    )
    parser.add_argument(
        "--key-spec", choices=sorted(KEY_SPECS), help="which of the environment's keys to use"
    )
    parser.add_argument(
        "--endpoint-url", metavar="URL", help="a local KMS endpoint already running (default: start one)"
    )
    args = parser.parse_args(argv)
    use_project_node()
    try:
        return run_demo(
            environment=args.environment,
            cdk_out=args.cdk_out,
            key_spec=args.key_spec,
            endpoint_url=args.endpoint_url,
        )
    except DemoError as error:
        print(f"demo: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
