"""Use what was deployed: the derive handler with the deployed function's environment, and the CLI.

The endpoint cannot invoke a function without Docker, so the handler (`kmsecdh.service
.handle_invocation`, what the function's entry point calls) runs in this process with exactly the
environment variables GetFunctionConfiguration returns, against the deployed keys, as the demo does: reached
through `kmsecdh.client.DeriveFunctionClient` with the in-process Lambda stand-in
(`devtools.in_process_lambda`), so the client's checks of every answer apply too.
Every derived key is compared with OpenSSL's (`devtools.openssl`, the reference peer) for a fresh
OpenSSL key on the key's curve. Then the command line (`python -m kmsecdh`, a child process) runs
both parties' commands against the deployed stack. Secrets are never printed.
"""

from __future__ import annotations

import hmac
import json
import os
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jws as jwcrypto_jws
from jwcrypto.common import JWException

from devtools import in_process_lambda
from devtools.in_process_lambda import InProcessLambda
from devtools.openssl import OpenSsl
from kmsecdh.client import DeriveFunctionClient
from kmsecdh.configuration import ConfiguredKey, load_configuration
from kmsecdh.contract import ACTION_PUBLIC_KEY, KEYS_VARIABLE, KdfParameters
from kmsecdh.encoding import b64decode
from kmsecdh.errors import DeriveError, FunctionError
from kmsecdh.kdf import fixed_info
from tools.deploy_local.checks import Findings
from tools.deploy_local.resolve import DeployedStack

# One one-step and one two-step KDF, each with FixedInfo; the HKDF one with a salt and another length.
KDFS = (
    KdfParameters("onestep-sha256", 32, fixed_info(b"kmsecdh-deploy-local", b"alice", b"bob")),
    KdfParameters(
        "hkdf-sha384", 48, fixed_info(b"kmsecdh-deploy-local", b"bob", b"alice"), salt=b"\x5a" * 16
    ),
)
CLI_KDF_ARGS = (
    "--kdf",
    "onestep-sha256",
    "--length",
    "32",
    "--algorithm-id",
    "kmsecdh-deploy-local",
    "--party-u-info",
    "alice",
    "--party-v-info",
    "bob",
)
CURVE_OPTION = {"ECC_NIST_P256": "P-256", "ECC_NIST_P384": "P-384", "ECC_NIST_P521": "P-521"}


def derive_functions(stack: DeployedStack) -> list[tuple[str, dict[str, str]]]:
    """(name, environment variables) of each deployed function configured as a derive function."""
    client = stack.client("lambda")
    functions = []
    for logical_id, resource in stack.template["Resources"].items():
        if resource["Type"] != "AWS::Lambda::Function" or not stack.is_deployed(logical_id):
            continue
        configuration = client.get_function_configuration(FunctionName=stack.physical_id(logical_id))
        variables = configuration.get("Environment", {}).get("Variables", {})
        if KEYS_VARIABLE in variables:
            functions.append((configuration["FunctionName"], variables))
    return functions


def _in_process(function_name: str) -> DeriveFunctionClient:
    """The client of ``function_name`` with its handler served in this process (configured by the
    process environment: ``devtools.in_process_lambda.environment``)."""
    return DeriveFunctionClient(function_name, client=InProcessLambda())


def _derive(function: DeriveFunctionClient, key_id: str, peer_der: bytes, kdf: KdfParameters) -> bytes:
    return function.derive(
        peer_der,
        key_id=key_id,
        kdf=kdf.algorithm,
        length=kdf.length,
        fixed_info=kdf.fixed_info,
        salt=kdf.salt,
    )


def _equal(findings: Findings, what: str, expected: bytes, found: bytes) -> None:
    if not hmac.compare_digest(expected, found):
        findings.mismatches.append(f"{what}: differs ({len(expected)} vs {len(found)} bytes)")


def derive_in_process(
    stack: DeployedStack, client_env: dict[str, str], work: Path, openssl: OpenSsl
) -> Findings:
    """Each configured key of each derive function: public key = KMS's, derived keys = OpenSSL's."""
    findings = Findings()
    for function_name, variables in derive_functions(stack):
        with in_process_lambda.environment(
            {**variables, **client_env}, unset=("AWS_PROFILE", "AWS_SESSION_TOKEN")
        ):
            configuration = load_configuration()
            for key in configuration.keys:
                try:
                    _derive_with_key(stack, function_name, key, work, openssl, findings)
                except (DeriveError, FunctionError) as error:
                    findings.mismatches.append(
                        f"{function_name} {key.alias}: {type(error).__name__}: {error}"
                    )
            try:
                default = configuration.resolve(configuration.default_alias)
                answered = _in_process(function_name).invoke({"action": ACTION_PUBLIC_KEY})["key_id"]
                if answered != default.arn:
                    findings.mismatches.append(f"{function_name}: the default key answered {answered}")
            except (DeriveError, FunctionError) as error:
                findings.mismatches.append(f"{function_name} default key: {type(error).__name__}: {error}")
        findings.checked.append(
            f"handler in-process with {function_name}'s environment: {len(configuration.keys)} key(s) x "
            f"{len(KDFS)} KDFs = OpenSSL; public_key = GetPublicKey; default {configuration.default_alias}"
        )
    return findings


def _derive_with_key(
    stack: DeployedStack,
    function_name: str,
    key: ConfiguredKey,
    work: Path,
    openssl: OpenSsl,
    findings: Findings,
) -> None:
    where = f"{function_name} {key.alias}"
    function = _in_process(function_name)
    public = function.invoke({"action": ACTION_PUBLIC_KEY, "key_id": key.alias})
    bob_der = b64decode(public["public_key_der"])
    kms_der = stack.client("kms").get_public_key(KeyId=key.arn)["PublicKey"]
    _equal(findings, f"{where} public_key vs KMS GetPublicKey", kms_der, bob_der)
    if (public["key_id"], public["key_spec"]) != (key.arn, key.key_spec):
        findings.mismatches.append(f"{where}: public_key answered {public['key_id']} {public['key_spec']}")
    bob, alice, alice_der = (
        work / f"{name}-{key.key_spec}.{ext}"
        for name, ext in (("bob", "der"), ("alice", "pem"), ("alice", "der"))
    )
    bob.write_bytes(bob_der)
    openssl.genkey(key.key_spec, alice)
    openssl.public_key(alice, alice_der, der=True)
    z = openssl.derive(alice, bob)
    for kdf in KDFS:
        derived = _derive(function, key.alias, alice_der.read_bytes(), kdf)
        expected = openssl.kdf(
            z, algorithm=kdf.algorithm, length=kdf.length, fixed_info=kdf.fixed_info, salt=kdf.salt
        )
        _equal(findings, f"{where} {kdf.algorithm} derive vs OpenSSL", expected, derived)


def _cli(args: list[str], env: dict[str, str], work: Path) -> bytes:
    completed = subprocess.run(
        [sys.executable, "-m", "kmsecdh", *args], cwd=work, env=env, capture_output=True, check=False
    )
    if completed.returncode != 0:
        stderr = completed.stderr.decode(errors="replace").strip()
        raise CliError(f"kmsecdh {args[0]} exited {completed.returncode}: {stderr}")
    return completed.stdout


class CliError(RuntimeError):
    """A kmsecdh command failed."""


def command_line(stack: DeployedStack, client_env: dict[str, str], work: Path, openssl: OpenSsl) -> Findings:
    """Both parties' commands against the default key of each derive function of the stack."""
    findings = Findings()
    env = _cli_env(client_env)
    for function_name, variables in derive_functions(stack):
        configuration = load_configuration(variables)
        key = configuration.resolve(configuration.default_alias)
        alias, where = key.alias, f"{function_name} {key.alias} CLI"
        try:
            _cli(
                ["public-key", "--key-id", alias, "--format", "der", "--out", "bob.pub.der", "--force"],
                env,
                work,
            )
            _equal(
                findings,
                f"{where} public-key vs GetPublicKey",
                stack.client("kms").get_public_key(KeyId=key.arn)["PublicKey"],
                (work / "bob.pub.der").read_bytes(),
            )
            openssl.genkey(key.key_spec, work / "alice.pem")
            openssl.public_key(work / "alice.pem", work / "alice.pub.der", der=True)
            local = bytes.fromhex(
                _cli(
                    [
                        "derive-local",
                        "--private-key",
                        "alice.pem",
                        "--peer-public-key",
                        "bob.pub.der",
                        *CLI_KDF_ARGS,
                    ],
                    env,
                    work,
                )
                .decode()
                .strip()
            )
            with in_process_lambda.environment(
                {**variables, **client_env}, unset=("AWS_PROFILE", "AWS_SESSION_TOKEN")
            ):
                derived = _derive(
                    _in_process(function_name), alias, (work / "alice.pub.der").read_bytes(), KDFS[0]
                )
            _equal(findings, f"{where} derive-local vs the handler's derive", derived, local)
            exchanges = (
                (
                    ["--key-id", alias, "--peer-public-key", "alice.pub.der"],
                    ["--private-key", "alice.pem", "--peer-public-key", "bob.pub.der"],
                ),
                (
                    ["--private-key", "alice.pem", "--peer-public-key", "bob.pub.der"],
                    ["--key-id", alias, "--peer-public-key", "alice.pub.der"],
                ),
            )
            for index, (sender, recipient) in enumerate(exchanges):
                plaintext = f"deploy-local message {index} via {alias}\n".encode()
                (work / "note.txt").write_bytes(plaintext)
                context = ["--context", "purpose=deploy-local"]
                _cli(
                    ["encrypt", *sender, *context, "--in", "note.txt", "--out", "note.esdk", "--force"],
                    env,
                    work,
                )
                _cli(
                    ["decrypt", *recipient, *context, "--in", "note.esdk", "--out", "note.out", "--force"],
                    env,
                    work,
                )
                _equal(
                    findings,
                    f"{where} encrypt {sender[0]} -> decrypt {recipient[0]}",
                    plaintext,
                    (work / "note.out").read_bytes(),
                )
        except (CliError, DeriveError, FunctionError) as error:
            findings.mismatches.append(f"{where}: {error}")
            continue
        findings.checked.append(
            f"CLI on {alias}: public-key = GetPublicKey, derive-local = handler derive, "
            "encrypt --key-id -> decrypt --private-key, encrypt --private-key -> decrypt --key-id"
        )
    return findings


def _cli_env(client_env: dict[str, str]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(client_env)
    return env


def publish_directory(
    stack: DeployedStack, environment: str, client_env: dict[str, str], work: Path
) -> Findings:
    """``kmsecdh directory publish`` for the environment, ``fetch --verify --check-kms`` with the signing
    key's public key pinned from KMS, and jwcrypto's own verification of the published JWS; then the bucket is
    emptied, as an operator does before destroying a stage whose bucket is deleted with it."""
    findings = Findings()
    # fetch records the newest serial it has seen: in the stage's work folder, not the operator's own state
    env = {**_cli_env(client_env), "XDG_STATE_HOME": str(work / "state")}
    where = f"{stack.stack_name} directory"
    signing_key_arn = stack.outputs["DirectorySigningKeyArn"]["OutputValue"]
    bucket = stack.outputs["DirectoryBucketName"]["OutputValue"]
    parameter = stack.outputs["DirectoryParameterName"]["OutputValue"]
    s3 = stack.client("s3")
    try:
        _cli(
            ["directory", "publish", "--environment", environment, "--out", "directory.jws", "--force"],
            env,
            work,
        )
        token = (work / "directory.jws").read_text().strip()
        der = stack.client("kms").get_public_key(KeyId=signing_key_arn)["PublicKey"]
        pinned = serialization.load_der_public_key(der)
        (work / "signing.pub.pem").write_bytes(
            pinned.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        fetched = json.loads(
            _cli(
                [
                    "directory", "fetch", "--environment", environment, "--verify",
                    "--signing-public-key", "signing.pub.pem", "--check-kms",
                ],
                env,
                work,
            )
        )["keys"]  # fmt: skip
    except CliError as error:
        findings.mismatches.append(f"{where}: {error}")
        return findings
    published = s3.get_object(Bucket=bucket, Key="directory.jws")["Body"].read().decode()
    _equal(findings, f"{where} S3 object vs --out", token.encode(), published.encode())
    stored = stack.client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"]
    _equal(findings, f"{where} SSM parameter vs --out", token.encode(), stored.encode())
    verified = jwcrypto_jws.JWS()
    try:
        verified.deserialize(token)
        verified.verify(jwcrypto_jwk.JWK.from_pyca(pinned), alg="ES384")
    except JWException as error:
        findings.mismatches.append(f"{where}: jwcrypto does not verify the published JWS: {error}")
        return findings
    keys = json.loads(verified.payload)["keys"]
    current = [key for key in keys if key["current"]]
    findings.expect(f"{where} fetch's current keys vs jwcrypto's payload", current, fetched)
    for key in keys:
        findings.expect(
            f"{where} kid of {key['key_arn']}",
            jwcrypto_jwk.JWK(**{k: key[k] for k in ("kty", "crv", "x", "y")}).thumbprint(),
            key["kid"],
        )
    findings.checked.append(
        f"directory publish: {len(keys)} key(s) signed ES384 by {signing_key_arn.rsplit('/', 1)[1]}, "
        "in S3 and SSM; fetch --verify --check-kms and jwcrypto verify it"
    )
    for version in s3.list_object_versions(Bucket=bucket).get("Versions", []):
        s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
    return findings


def exercise(stack: DeployedStack, client_env: dict[str, str], work: Path, openssl: OpenSsl) -> Findings:
    findings = derive_in_process(stack, client_env, work, openssl)
    findings.extend(command_line(stack, client_env, work, openssl))
    return findings
