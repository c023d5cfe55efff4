"""`make deploy-local`: start the endpoint, bootstrap, deploy, check, use, destroy, stop; timed steps.

Exit status 0 only when every stage deployed, every check matched and every stage was destroyed.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

from devtools import CDK_CLI, PROJECT_ROOT, use_project_node
from devtools.openssl import OpenSsl, OpenSslError
from tools.deploy_local import guard_demo
from tools.deploy_local.assembly import (
    DEFAULT_QUALIFIER,
    StackPlan,
    StagePlan,
    bootstrap_options,
    read_stages,
)
from tools.deploy_local.checks import Findings, check_deployed
from tools.deploy_local.endpoint import DeployEndpoint, EndpointError
from tools.deploy_local.exercise import derive_functions, exercise, publish_directory
from tools.deploy_local.resolve import DeployedStack, Unresolvable

# Not enforced or not modelled by the endpoint whatever the template says (docs/local-deploy-and-testing.md).
ENDPOINT_LIMITS = (
    "key policies and IAM policies: stored and compared above, not enforced by the endpoint",
    "functions: configured and Active, never invoked (no Docker); the handler ran in-process instead",
)


class Run:
    """The transcript: numbered steps with their start offset and duration, and the verdict."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.mismatches: list[str] = []

    def line(self, text: str) -> None:
        print(text, flush=True)

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        offset = time.monotonic() - self.started
        self.line(f"[{offset:6.1f}s] {title}")
        begin = time.monotonic()
        try:
            yield
        finally:
            self.line(f"{'':10}done in {time.monotonic() - begin:.1f} s")

    def report(self, findings: Findings) -> None:
        for text in findings.checked:
            self.line(f"{'':10}ok        {text}")
        for text in findings.pretended:
            self.line(f"{'':10}pretends  {text}")
        for text in findings.mismatches:
            self.line(f"{'':10}MISMATCH  {text}")
        self.mismatches += findings.mismatches

    def fail(self, text: str) -> None:
        self.line(f"{'':10}FAILED    {text}")
        self.mismatches.append(text)


def _session(account: str, region: str) -> boto3.session.Session:
    return boto3.session.Session(aws_access_key_id=account, aws_secret_access_key="test", region_name=region)  # noqa: S106


def _cdk(run: Run, args: list[str], env: dict[str, str], log: Path) -> bool:
    with open(log, "ab") as output:
        output.write(f"\n$ cdk {' '.join(args)}\n".encode())
        output.flush()
        completed = subprocess.run(
            [str(CDK_CLI), *args, "--no-notices"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if completed.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-25:]
        run.fail(f"cdk {args[0]} exited {completed.returncode}; last lines of {log}:")
        for text in tail:
            run.line(f"{'':12}| {text}")
        return False
    return True


def _cdk_env(endpoint: DeployEndpoint, account: str, region: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "CDK_"))}
    env.update(endpoint.client_environment(account, region))
    return env


def synthesize(run: Run, output: Path, log: Path) -> bool:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "CDK_"))}
    return _cdk(run, ["synth", "--quiet", "--output", str(output)], env, log)


def _selectors(stage: StagePlan) -> list[str]:
    """The CLI's stack selectors: the stage's deployable stacks (its pattern when that is all of them)."""
    if len(stage.deployable) == len(stage.stacks):
        return [f"{stage.name}/*"]
    return [stack.display_name for stack in stage.deployable]


def _quoted(selectors: list[str]) -> str:
    """The selectors as an operator would type them in a shell."""
    return " ".join(f"'{selector}'" for selector in selectors)


def deploy_stage(
    run: Run, endpoint: DeployEndpoint, app: Path, stage: StagePlan, work: Path, log: Path
) -> None:
    for plan in stage.stacks:
        if plan.undeployable_reason is not None:
            run.line(
                f"{'':10}skipped   {plan.stack_name} (aws://{plan.account}/{plan.region}): "
                f"{plan.undeployable_reason}"
            )
    account, region = stage.targets[0]
    env = _cdk_env(endpoint, account, region)
    names = ", ".join(f"{stack.stack_name} ({stack.region})" for stack in stage.deployable)
    with run.step(f"deploy {_quoted(_selectors(stage))} to aws://{stage.account}: {names}"):
        deployed = _cdk(
            run, ["deploy", *_selectors(stage), "--app", str(app), "--require-approval", "never"], env, log
        )
    try:
        if deployed:
            stacks = []
            for plan in stage.deployable:
                with run.step(f"check {plan.stack_name} against its template"):
                    try:
                        session = _session(plan.account, plan.region)
                        stack = DeployedStack(session, plan.stack_name, plan.template)
                        stacks.append((plan, stack))
                        run.report(check_deployed(stack, plan.termination_protection))
                    except (Unresolvable, ClientError) as error:
                        run.fail(f"{plan.stack_name}: {error}")
            for plan, stack in stacks:
                if not any(r["Type"] == "AWS::Lambda::Function" for r in plan.template["Resources"].values()):
                    continue
                with run.step(f"derive with {plan.stack_name}'s function environment, then the command line"):
                    stage_work = Path(tempfile.mkdtemp(prefix=f"{stage.name}-", dir=work))
                    client_env = endpoint.client_environment(plan.account, plan.region)
                    try:
                        run.report(exercise(stack, client_env, stage_work, OpenSsl()))
                    except (ClientError, OpenSslError) as error:
                        run.fail(f"{plan.stack_name}: {error}")
            for plan, stack in stacks:
                if "DirectorySigningKeyArn" not in stack.outputs:
                    continue
                with run.step(f"publish {stage.name}'s directory, then fetch and verify it"):
                    stage_work = Path(tempfile.mkdtemp(prefix=f"{stage.name}-directory-", dir=work))
                    client_env = endpoint.client_environment(plan.account, plan.region)
                    try:
                        run.report(publish_directory(stack, stage.name, client_env, stage_work))
                    except ClientError as error:
                        run.fail(f"{plan.stack_name}: {error}")
            if stage.name == guard_demo.DEMO_STAGE:
                app, stage = _guard_demo(run, endpoint, app, stage, stacks, work, log)
    finally:
        destroy_stage(run, endpoint, app, stage, log)


def _guard_demo(
    run: Run,
    endpoint: DeployEndpoint,
    app: Path,
    stage: StagePlan,
    stacks: list[tuple[StackPlan, DeployedStack]],
    work: Path,
    log: Path,
) -> tuple[Path, StagePlan]:
    """tools/deploy_local/guard_demo.py on the deployed stage; the assembly and stage deployed last."""
    [(plan, stack)] = [(plan, stack) for plan, stack in stacks if derive_functions(stack)]
    env = _cdk_env(endpoint, plan.account, plan.region)
    client_env = endpoint.client_environment(plan.account, plan.region)

    def deploy(assembly: Path) -> bool:
        return _cdk(
            run,
            ["deploy", *_selectors(stage), "--app", str(assembly), "--require-approval", "never"],
            env,
            log,
        )

    with run.step(f"keys are never replaced by accident: {stage.name}'s key made multi-Region two ways"):
        stage_work = Path(tempfile.mkdtemp(prefix=f"{stage.name}-guard-", dir=work))
        try:
            findings, deployed = guard_demo.demonstrate(
                stack, _session(plan.account, plan.region), client_env, stage_work, OpenSsl(), deploy
            )
        except (ClientError, OpenSslError, Unresolvable) as error:
            run.fail(f"{plan.stack_name}: {error}")
            return app, stage
        run.report(findings)
    if deployed is None:
        return app, stage
    [deployed_stage] = [candidate for candidate in read_stages(deployed) if candidate.name == stage.name]
    return deployed, deployed_stage


def _keys_before_destroy(stage: StagePlan) -> list[tuple[StackPlan, str, str, int]]:
    """(stack, key id, DeletionPolicy, pending window) of every key the stage's stacks hold now."""
    keys = []
    for plan in stage.deployable:
        cloudformation = _session(plan.account, plan.region).client("cloudformation")
        try:
            resources = cloudformation.describe_stack_resources(StackName=plan.stack_name)["StackResources"]
        except ClientError:
            continue
        for resource in resources:
            if resource["ResourceType"] != "AWS::KMS::Key":
                continue
            declared = plan.template["Resources"].get(resource["LogicalResourceId"], {})
            window = declared.get("Properties", {}).get("PendingWindowInDays", 30)
            keys.append(
                (
                    plan,
                    resource["PhysicalResourceId"],
                    declared.get("DeletionPolicy", "Delete"),
                    window,
                )
            )
    return keys


def destroy_stage(run: Run, endpoint: DeployEndpoint, app: Path, stage: StagePlan, log: Path) -> None:
    keys = _keys_before_destroy(stage)
    with run.step(f"destroy {_quoted(_selectors(stage))}"):
        for plan in stage.deployable:
            if plan.termination_protection:
                # What an operator does first; the endpoint does not enforce the protection anyway.
                with suppress(ClientError):
                    _session(plan.account, plan.region).client(
                        "cloudformation"
                    ).update_termination_protection(
                        StackName=plan.stack_name, EnableTerminationProtection=False
                    )
        account, region = stage.targets[0]
        if not _cdk(
            run,
            ["destroy", *_selectors(stage), "--app", str(app), "--force"],
            _cdk_env(endpoint, account, region),
            log,
        ):
            return
        findings = Findings()
        for plan in stage.deployable:
            cloudformation = _session(plan.account, plan.region).client("cloudformation")
            try:
                status = cloudformation.describe_stacks(StackName=plan.stack_name)["Stacks"][0]["StackStatus"]
            except ClientError:
                status = "gone"
            if status not in ("gone", "DELETE_COMPLETE"):
                findings.mismatches.append(f"{plan.stack_name}: {status} after destroy")
        windows = set()
        for plan, key_id, policy, window in keys:
            kms = _session(plan.account, plan.region).client("kms")
            metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
            expected = "Enabled" if policy.startswith("Retain") else "PendingDeletion"
            findings.expect(
                f"{plan.stack_name} key {key_id} ({policy}) after destroy", expected, metadata["KeyState"]
            )
            if metadata["KeyState"] == "PendingDeletion":
                days = round((metadata["DeletionDate"] - datetime.now(UTC)).total_seconds() / 86400)
                if days != window:
                    windows.add((window, days))
        for window, days in sorted(windows):
            findings.pretended.append(
                f"key pending window {window} days: the endpoint schedules deletion in {days}"
            )
        retained = sum(policy.startswith("Retain") for _, _, policy, _ in keys)
        findings.checked.append(
            f"stacks deleted; {len(keys) - retained} key(s) pending deletion, "
            f"{retained} retained (as their DeletionPolicy says)"
        )
        run.report(findings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.deploy_local", description=__doc__)
    parser.add_argument(
        "--app", type=Path, help="a synthesized cloud assembly to deploy (default: synthesize afresh)"
    )
    parser.add_argument("--stage", action="append", help="only this stage (repeatable; default: every stage)")
    args = parser.parse_args(argv)
    # A SIGTERM (a test's timeout, CI cancelling) unwinds like an error: destroy and stop still run.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    for name in [key for key in os.environ if key.startswith("AWS_")]:
        del os.environ[name]
    use_project_node()
    run = Run()
    with tempfile.TemporaryDirectory(prefix="kmsecdh-deploy-local-") as scratch:
        work = Path(scratch)
        log = work / "cdk.log"
        app = args.app
        if app is None:
            app = work / "cdk.out"
            with run.step(f"synthesize every environment (cdk synth) into {app}"):
                if not synthesize(run, app, log):
                    return 1
        stages = [stage for stage in read_stages(app) if not args.stage or stage.name in args.stage]
        if args.stage and len(stages) != len(args.stage):
            run.fail(f"no such stage among {', '.join(stage.name for stage in read_stages(app))}")
            return 1
        endpoint = DeployEndpoint()
        try:
            _deploy_everything(run, endpoint, app, stages, work, log)
        except EndpointError as error:
            run.fail(str(error))
        except BaseException:
            run.line(f"endpoint log tail:\n{endpoint.log_tail()}")
            raise
        finally:
            with run.step("stop the endpoint"):
                endpoint.stop()
                os.environ.pop("AWS_ENDPOINT_URL", None)
        return _verdict(run)


def _deploy_everything(
    run: Run, endpoint: DeployEndpoint, app: Path, stages: list[StagePlan], work: Path, log: Path
) -> None:
    with run.step(
        f"start the local AWS endpoint (localstack-core, CloudFormation) from {endpoint.venv.name}"
    ):
        endpoint.start()
        os.environ["AWS_ENDPOINT_URL"] = endpoint.url
        run.line(f"{'':10}localstack-core {endpoint.version()} on {endpoint.url}, log {endpoint.log_path}")
    for account, region, qualifier in sorted({target for stage in stages for target in stage.bootstraps}):
        named = "" if qualifier == DEFAULT_QUALIFIER else f" --qualifier {qualifier}"
        with run.step(f"cdk bootstrap aws://{account}/{region}{named}"):
            env = _cdk_env(endpoint, account, region)
            args = [
                "bootstrap",
                f"aws://{account}/{region}",
                *bootstrap_options(qualifier),
                "--app",
                str(app),
            ]
            if not _cdk(run, args, env, log):
                return
    for stage in stages:
        agnostic = " (environment-agnostic)" if any(stack.agnostic for stack in stage.stacks) else ""
        run.line(f"{'':10}stage {stage.name}{agnostic}")
        deploy_stage(run, endpoint, app, stage, work, log)
    for text in ENDPOINT_LIMITS:
        run.line(f"{'':10}pretends  {text}")


def _verdict(run: Run) -> int:
    total = time.monotonic() - run.started
    if run.mismatches:
        run.line(f"deploy-local: FAILED, {len(run.mismatches)} problem(s) in {total:.0f} s:")
        for text in run.mismatches:
            run.line(f"  - {text}")
        return 1
    run.line(
        "deploy-local: every stage deployed, matched its templates, derived like OpenSSL and was destroyed "
        f"({total:.0f} s)"
    )
    return 0
