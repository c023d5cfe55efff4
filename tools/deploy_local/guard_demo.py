"""Keys are never replaced by accident, shown on a deployed stage as an operator meets it.

On the deployed stage, with its current key (a single-Region generation):

1. a peer's derived key, with the key named by its kid;
2. the intent "make this key multi-Region" written in place (the generation's ``multi_region`` flipped):
   synthesis refuses it against keys.lock.json; forced past that check with the escape hatch
   (``kmsecdh:allow-key-replacement``), the deploy guard (``python -m tools.deploy_guard``, a child process
   with the endpoint's credentials, as ``make deploy-guard`` runs it) refuses it against the deployed stacks;
3. the same intent as a new generation (``multi_region`` on a second generation): synthesis and the guard
   pass, ``cdk deploy`` deploys it, the deployed stacks match the new templates, and the old generation,
   named by the same kid, still derives what it derived before, while the new one derives what OpenSSL does.

The variants are synthesized in this process (``create_app``, every check on) from cdk.json with the stage's
entry changed, as ``cdk synth`` would; the new generation's assembly is what the stage is destroyed with.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from devtools import PROJECT_ROOT, in_process_lambda
from devtools.openssl import OpenSsl
from kmsecdh.contract import ACTION_PUBLIC_KEY
from stacks.application import create_app
from stacks.config import CONTEXT_KEY
from stacks.key_lock import ALLOW_REPLACEMENT_CONTEXT_KEY, KEY_LOCK_FILE_CONTEXT_KEY
from tools.deploy_local.assembly import read_stages
from tools.deploy_local.checks import Findings, check_deployed
from tools.deploy_local.exercise import KDFS, _derive, _equal, _in_process, derive_functions
from tools.deploy_local.resolve import DeployedStack

DEMO_STAGE = "dev"
KEY_SPEC = "ECC_NIST_P256"
FIRST, SECOND = "2026-01", "2027-01"
# What the stage's pinned key becomes in place (replacing it), and the same intent as a new generation.
IN_PLACE = [{"name": FIRST, "multi_region": True}]
AS_GENERATION = [{"name": FIRST}, {"name": SECOND, "multi_region": True}]


def _variant(environment: str, generations: list[dict[str, Any]]) -> dict[str, Any]:
    """The cdk.json context with only ``environment``, its spec's generations set to ``generations``."""
    context = json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]
    context.pop("pipeline", None)  # it names the other environments
    entry = copy.deepcopy(context[CONTEXT_KEY][environment])
    entry.setdefault("key_generations", {})[KEY_SPEC] = generations
    context[CONTEXT_KEY] = {environment: entry}
    context[KEY_LOCK_FILE_CONTEXT_KEY] = str(PROJECT_ROOT / "keys.lock.json")
    return context


def synthesize(context: dict[str, Any], outdir: Path) -> str | None:
    """Synthesize the app with ``context`` into ``outdir``; what synthesis refused, if it did."""
    try:
        create_app(outdir=str(outdir), context=context).synth()
    except RuntimeError as error:  # jsii's ValidationFailed
        return str(error)
    return None


def run_guard(environment: str, app: Path, client_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(client_env)
    return subprocess.run(
        [sys.executable, "-m", "tools.deploy_guard", "--environment", environment, "--app", str(app)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


class _Peer:
    """A peer (OpenSSL) deriving with the stage's function, the key named by kid or alias."""

    def __init__(self, client_env: dict[str, str], work: Path, openssl: OpenSsl) -> None:
        self.openssl = openssl
        self.work = work
        self.client_env = client_env
        self.private_key = work / "peer.pem"
        self.public_der = work / "peer.pub.der"
        openssl.genkey(KEY_SPEC, self.private_key)
        openssl.public_key(self.private_key, self.public_der, der=True)

    def derive(self, stack: DeployedStack, key_id: str) -> tuple[bytes, str]:
        """(the key derived by the deployed function for ``key_id``, that key's kid)."""
        [(function_name, variables)] = derive_functions(stack)
        with in_process_lambda.environment(
            {**variables, **self.client_env}, unset=("AWS_PROFILE", "AWS_SESSION_TOKEN")
        ):
            function = _in_process(function_name)
            kid = function.invoke({"action": ACTION_PUBLIC_KEY, "key_id": key_id})["jwk"]["kid"]
            return _derive(function, key_id, self.public_der.read_bytes(), KDFS[0]), kid

    def expected(self, stack: DeployedStack, alias: str) -> bytes:
        """What OpenSSL derives with the KMS key ``alias`` names."""
        kms_public = self.work / "kms.pub.der"
        kms_public.write_bytes(stack.client("kms").get_public_key(KeyId=alias)["PublicKey"])
        z = self.openssl.derive(self.private_key, kms_public)
        kdf = KDFS[0]
        return self.openssl.kdf(
            z, algorithm=kdf.algorithm, length=kdf.length, fixed_info=kdf.fixed_info, salt=kdf.salt
        )


def _without_alias_moves(findings: Findings, spec_alias: str) -> Findings:
    """``findings`` with the spec alias's target reported as the endpoint's, not a mismatch: its
    CloudFormation has no update for AWS::KMS::Alias and keeps the previous target (AWS moves it to the new
    generation)."""
    moved = f"alias {spec_alias} target"
    kept = [mismatch for mismatch in findings.mismatches if moved in mismatch]
    findings.mismatches = [mismatch for mismatch in findings.mismatches if moved not in mismatch]
    if kept:
        findings.pretended.append(
            f"{spec_alias}: kept on generation {FIRST} by the endpoint (no AWS::KMS::Alias update); AWS "
            f"moves it to {SECOND}"
        )
    return findings


def demonstrate(
    stack: DeployedStack,
    session: boto3.session.Session,
    client_env: dict[str, str],
    work: Path,
    openssl: OpenSsl,
    deploy: Callable[[Path], bool],
) -> tuple[Findings, Path | None]:
    """Steps 1 to 3 on the deployed stage whose key-agreement stack is ``stack``; the findings, and the
    assembly last deployed (None when the new generation was not deployed)."""
    findings = Findings()
    environment = DEMO_STAGE
    spec_alias = f"alias/kmsecdh-{environment}-p256"
    peer = _Peer(client_env, work, openssl)
    before, kid = peer.derive(stack, spec_alias)

    refused = synthesize(_variant(environment, IN_PLACE), work / "in-place.out")
    if refused is None or "would change MultiRegion false -> true" not in refused:
        findings.mismatches.append(f"synthesis did not refuse multi_region flipped in place: {refused}")
        return findings, None
    findings.checked.append(
        f"synthesis refuses {KEY_SPEC} generation {FIRST} made multi-Region in place (keys.lock.json: "
        "MultiRegion false -> true would replace the key)"
    )
    forced_app = work / "forced.out"
    forced = _variant(environment, IN_PLACE) | {ALLOW_REPLACEMENT_CONTEXT_KEY: environment}
    if (problem := synthesize(forced, forced_app)) is not None:
        findings.mismatches.append(f"synthesis with {ALLOW_REPLACEMENT_CONTEXT_KEY} failed: {problem}")
        return findings, None
    guard = run_guard(environment, forced_app, client_env)
    refusals = [line for line in guard.stdout.splitlines() if line.startswith("REFUSED")]
    if guard.returncode != 1 or not any("MultiRegion false -> true" in line for line in refusals):
        findings.mismatches.append(
            f"the deploy guard let the forced replacement pass:\n{guard.stdout}{guard.stderr}"
        )
        return findings, None
    findings.checked.append(
        f"forced past it ({ALLOW_REPLACEMENT_CONTEXT_KEY}={environment}), the deploy guard refuses: "
        + " | ".join(refusals)
    )

    generation_app = work / "generation.out"
    if (problem := synthesize(_variant(environment, AS_GENERATION), generation_app)) is not None:
        findings.mismatches.append(f"synthesis refused the new generation: {problem}")
        return findings, None
    guard = run_guard(environment, generation_app, client_env)
    if guard.returncode != 0:
        findings.mismatches.append(
            f"the deploy guard refused the new generation:\n{guard.stdout}{guard.stderr}"
        )
        return findings, None
    findings.checked.append(
        f"the same intent as generation {SECOND} (multi_region): synthesis and the guard pass"
    )
    if not deploy(generation_app):
        findings.mismatches.append(f"cdk deploy of generation {SECOND} failed")
        return findings, None

    [stage] = [stage for stage in read_stages(generation_app) if stage.name == environment]
    [plan] = [plan for plan in stage.stacks if plan.stack_name == stack.stack_name]
    updated = DeployedStack(session, stack.stack_name, plan.template)
    findings.extend(_without_alias_moves(check_deployed(updated, plan.termination_protection), spec_alias))
    after, kid_after = peer.derive(updated, kid)
    findings.expect(f"kid of generation {FIRST} after the deployment", kid, kid_after)
    _equal(findings, f"generation {FIRST} by kid, before vs after generation {SECOND}", before, after)
    new_alias = f"{spec_alias}-{SECOND}"
    newest, _ = peer.derive(updated, new_alias)
    _equal(findings, f"{new_alias} derive vs OpenSSL", peer.expected(updated, new_alias), newest)
    findings.checked.append(
        f"generation {SECOND} deployed beside {FIRST}: {FIRST} by its kid derives what it derived before, "
        f"{new_alias} what OpenSSL derives"
    )
    return findings, generation_app
