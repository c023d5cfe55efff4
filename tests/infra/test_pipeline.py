"""The deployment pipeline of cdk.json's `pipeline` section (CDK Pipelines), from the synthesized template:
stage order, the manual approval, the synth step's commands, each environment deployed to its own account and
Region through the bootstrap roles there; and the section's validation."""

from __future__ import annotations

import copy
import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devtools import PROJECT_ROOT
from stacks.application import create_app
from stacks.config import parse_environments
from stacks.pipeline_config import PipelineConfigError, parse_pipeline
from stacks.pipeline_stack import GUARD_REQUIREMENTS
from tests.infra.conftest import SynthesizedApp, load_context
from tests.infra.test_key_agreement_stack import CDK_DEFAULT_QUALIFIER

PIPELINE_CONTEXT = load_context()["pipeline"]


def pipeline_template(synthesized_app: SynthesizedApp) -> dict[str, Any]:
    return synthesized_app.root_stacks["Pipeline"].raw


def code_pipeline(synthesized_app: SynthesizedApp) -> dict[str, Any]:
    [pipeline] = [
        resource["Properties"]
        for resource in pipeline_template(synthesized_app)["Resources"].values()
        if resource["Type"] == "AWS::CodePipeline::Pipeline"
    ]
    return pipeline


def stages(synthesized_app: SynthesizedApp) -> dict[str, list[dict[str, Any]]]:
    """Pipeline stage name -> its actions, in the pipeline's order."""
    return {stage["Name"]: stage["Actions"] for stage in code_pipeline(synthesized_app)["Stages"]}


def render(value: Any) -> str:
    """An ARN as CloudFormation would give it in the aws partition."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(render(part) for part in parts)
    if value == {"Ref": "AWS::Partition"}:
        return "aws"
    raise AssertionError(f"unexpected intrinsic {value}")


def test_the_example_pipeline_runs_in_a_tooling_account(synthesized_app: SynthesizedApp) -> None:
    pipeline = synthesized_app.root_stacks["Pipeline"]
    manifest = json.loads((synthesized_app.outdir / "manifest.json").read_text())
    artifact = manifest["artifacts"][pipeline.artifact_id]
    assert artifact["environment"] == f"aws://{PIPELINE_CONTEXT['account']}/{PIPELINE_CONTEXT['region']}"
    assert artifact["properties"]["stackName"] == "kmsecdh-pipeline"
    assert PIPELINE_CONTEXT["account"] not in {
        config.account for config in synthesized_app.environments.values()
    }
    assert pipeline.termination_protection is True


def test_stages_run_source_synth_self_update_assets_then_the_waves_in_order(
    synthesized_app: SynthesizedApp,
) -> None:
    # each wave holds one environment in the example, so CDK Pipelines names the stage after it
    assert list(stages(synthesized_app)) == ["Source", "Build", "UpdatePipeline", "Assets", "staging", "prod"]
    assert PIPELINE_CONTEXT["waves"] == [["staging"], ["prod"]]
    [source] = stages(synthesized_app)["Source"]
    assert source["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert source["Configuration"] == {
        "ConnectionArn": PIPELINE_CONTEXT["connection_arn"],
        "FullRepositoryId": PIPELINE_CONTEXT["repository"],
        "BranchName": PIPELINE_CONTEXT["branch"],
    }


def test_the_synth_step_runs_make_synth_and_the_template_checks(synthesized_app: SynthesizedApp) -> None:
    [synth] = stages(synthesized_app)["Build"]
    project_id = synth["Configuration"]["ProjectName"]["Ref"]
    project = pipeline_template(synthesized_app)["Resources"][project_id]["Properties"]
    build_spec = json.loads(project["Source"]["BuildSpec"])
    assert build_spec["phases"]["build"]["commands"] == [
        "make synth",
        ".venv/bin/python -m pytest tests/infra",
    ]
    assert build_spec["artifacts"]["base-directory"] == "cdk.out"
    assert project["Environment"]["PrivilegedMode"] is False
    assert "EncryptionKey" in project


def test_prod_waits_for_a_manual_approval_and_staging_does_not(synthesized_app: SynthesizedApp) -> None:
    assert PIPELINE_CONTEXT["manual_approval"] == ["prod"]
    prod, staging = stages(synthesized_app)["prod"], stages(synthesized_app)["staging"]
    [approval] = [action for action in prod if action["ActionTypeId"]["Category"] == "Approval"]
    assert approval["Name"] == "Approve-prod"
    assert approval["ActionTypeId"]["Provider"] == "Manual"
    deploys = [action for action in prod if action["ActionTypeId"]["Category"] == "Deploy"]
    assert deploys
    assert all(action["RunOrder"] > approval["RunOrder"] for action in deploys)
    assert not [action for action in staging if action["ActionTypeId"]["Category"] == "Approval"]


def deploy_actions(synthesized_app: SynthesizedApp, stage: str) -> dict[str, list[dict[str, Any]]]:
    """Stack name -> its change-set actions (prepare, then execute)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for action in stages(synthesized_app)[stage]:
        if action["ActionTypeId"]["Provider"] == "CloudFormation":
            found.setdefault(action["Configuration"]["StackName"], []).append(action)
    return found


@pytest.mark.parametrize("environment", [name for wave in PIPELINE_CONTEXT["waves"] for name in wave])
def test_each_stack_is_deployed_to_its_environments_account_and_region(
    synthesized_app: SynthesizedApp, environment: str
) -> None:
    """Through that account's bootstrap roles in that Region (of the environment's bootstrap qualifier), which
    trust the pipeline's account."""
    config = synthesized_app.environments[environment]
    qualifier = config.bootstrap_qualifier or CDK_DEFAULT_QUALIFIER
    manifest = json.loads((synthesized_app.outdir / f"assembly-{environment}" / "manifest.json").read_text())
    stacks = {
        artifact["properties"]["stackName"]: artifact["environment"].removeprefix("aws://").split("/")
        for artifact in manifest["artifacts"].values()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    actions = deploy_actions(synthesized_app, environment)
    assert sorted(actions) == sorted(stacks)
    for stack_name, (account, region) in stacks.items():
        assert account == config.account
        assert region in (config.region, *config.replica_regions)
        prepare, execute = actions[stack_name]
        assert prepare["Configuration"]["ActionMode"] == "CHANGE_SET_REPLACE"
        assert execute["Configuration"]["ActionMode"] == "CHANGE_SET_EXECUTE"
        for action in (prepare, execute):
            # no Region on an action means the pipeline's own
            assert action.get("Region", PIPELINE_CONTEXT["region"]) == region
            assert render(action["RoleArn"]) == (
                f"arn:aws:iam::{account}:role/cdk-{qualifier}-deploy-role-{account}-{region}"
            )
        assert render(prepare["Configuration"]["RoleArn"]) == (
            f"arn:aws:iam::{account}:role/cdk-{qualifier}-cfn-exec-role-{account}-{region}"
        )


def test_within_prod_the_key_stack_deploys_before_its_replica_and_audit(
    synthesized_app: SynthesizedApp,
) -> None:
    actions = deploy_actions(synthesized_app, "prod")
    home_done = actions["kmsecdh-prod-key-agreement"][1]["RunOrder"]
    assert actions["kmsecdh-prod-key-agreement-eu-west-1"][0]["RunOrder"] > home_done
    assert actions["kmsecdh-prod-audit"][0]["RunOrder"] > home_done


def test_artifacts_are_encrypted_with_a_rotated_key_for_the_target_accounts(
    synthesized_app: SynthesizedApp,
) -> None:
    resources = pipeline_template(synthesized_app)["Resources"]
    [key] = [resource for resource in resources.values() if resource["Type"] == "AWS::KMS::Key"]
    assert key["Properties"]["EnableKeyRotation"] is True
    store = code_pipeline(synthesized_app)["ArtifactStores"]
    regions = sorted(entry["Region"] for entry in store)
    assert regions == ["eu-central-1", "eu-west-1"]  # the pipeline's Region and prod's home Region
    for entry in store:
        assert entry["ArtifactStore"]["EncryptionKey"]["Type"] == "KMS"


# --- the `pipeline` section's validation ---------------------------------------------------------------

ENVIRONMENTS = parse_environments(load_context()["environments"])


def pipeline_entry(**changes: Any) -> dict[str, Any]:
    entry = copy.deepcopy(PIPELINE_CONTEXT)
    entry.update(changes)
    return entry


def test_the_example_section_parses() -> None:
    config = parse_pipeline(PIPELINE_CONTEXT, ENVIRONMENTS)
    assert config.environments == ("staging", "prod")
    assert config.manual_approval == ("prod",)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"account": "2222"}, "account", "12-digit"),
        ({"region": "europe"}, "region", "AWS Region"),
        ({"connection_arn": "arn:aws:iam::222222222222:role/x"}, "connection_arn", "CodeConnections"),
        ({"repository": "kmsecdh"}, "repository", "owner/name"),
        ({"branch": ""}, "branch", "branch"),
        ({"waves": []}, "waves", "non-empty list"),
        ({"waves": [[]]}, "waves", "non-empty list"),
        ({"waves": ["staging"]}, "waves", "non-empty list"),
        ({"waves": [["qa"]]}, "waves", "'qa' is not in environments"),
        ({"waves": [["staging"], ["staging", "prod"]]}, "waves", "'staging' is deployed twice"),
        ({"waves": [["dev"], ["prod"]]}, "waves", "'dev' has no account and region"),
        ({"manual_approval": ["dev"]}, "manual_approval", "'dev' is not in any wave"),
        ({"manual_approval": ["prod", "prod"]}, "manual_approval", "twice"),
        ({"manual_approval": "prod"}, "manual_approval", "must be a list"),
        ({"approvals": ["prod"]}, "approvals", "unknown field"),
    ],
)
def test_a_bad_pipeline_section_names_the_field(changes: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(PipelineConfigError) as raised:
        parse_pipeline(pipeline_entry(**changes), ENVIRONMENTS)
    assert raised.value.field == field
    assert str(raised.value).startswith(f"pipeline.{field}: ")
    assert message in str(raised.value)


def test_without_a_pipeline_section_there_is_no_pipeline(tmp_path: Any) -> None:
    context = load_context()
    del context["pipeline"]
    app = create_app(outdir=str(tmp_path), context=context)
    assert app.node.try_find_child("Pipeline") is None
    assert sorted(child.node.id for child in app.node.children) == ["Guardrails", "dev", "prod", "staging"]


def test_a_bad_pipeline_section_fails_the_app_before_synthesis(tmp_path: Any) -> None:
    context = load_context()
    context["pipeline"]["waves"] = [["staging"], ["qa"]]
    with pytest.raises(PipelineConfigError, match=r"^pipeline\.waves: "):
        create_app(outdir=str(tmp_path), context=context)


@pytest.mark.parametrize("environment", [name for wave in PIPELINE_CONTEXT["waves"] for name in wave])
def test_an_environment_with_a_directory_publishes_it_after_its_deployment(
    synthesized_app: SynthesizedApp, environment: str
) -> None:
    config = synthesized_app.environments[environment]
    actions = stages(synthesized_app)[environment]
    publishes = [action for action in actions if action["Name"].startswith("PublishDirectory")]
    outputs = pipeline_template(synthesized_app).get("Outputs", {})
    output_name = "PublishRoleArn" + "".join(part.title() for part in environment.split("-"))
    if not config.directory_publisher_arns:
        assert publishes == []
        assert output_name not in outputs
        return
    [publish] = publishes
    assert publish["Name"] == f"PublishDirectory-{environment}"
    deploys = [action for action in actions if action["ActionTypeId"]["Category"] == "Deploy"]
    assert all(publish["RunOrder"] > action["RunOrder"] for action in deploys)
    resources = pipeline_template(synthesized_app)["Resources"]
    project = resources[publish["Configuration"]["ProjectName"]["Ref"]]["Properties"]
    publisher = config.directory_publisher_arns[0]
    phases = json.loads(project["Source"]["BuildSpec"])["phases"]
    assert list(phases) == ["build"]
    assert phases["build"]["commands"] == [
        "python3 -m venv .publish-venv",
        ".publish-venv/bin/python -m pip install --quiet --require-hashes --only-binary :all: "
        "-r requirements-publish.txt",
        f"aws configure set profile.kmsecdh-publisher.role_arn {publisher}",
        "aws configure set profile.kmsecdh-publisher.credential_source EcsContainer",
        f"AWS_PROFILE=kmsecdh-publisher AWS_REGION={config.region} "
        f".publish-venv/bin/python -m kmsecdh directory publish --environment {environment}",
    ]
    role_id = project["ServiceRole"]["Fn::GetAtt"][0]
    [policy] = [
        resource["Properties"]["PolicyDocument"]["Statement"]
        for resource in resources.values()
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in resource["Properties"]["Roles"]
    ]
    assume = [statement for statement in policy if "sts:AssumeRole" in json.dumps(statement["Action"])]
    assert assume == [{"Action": "sts:AssumeRole", "Effect": "Allow", "Resource": publisher}]
    assert outputs[output_name]["Value"] == {"Fn::GetAtt": [role_id, "Arn"]}


PUBLISH_REQUIREMENTS = PROJECT_ROOT / "requirements-publish.txt"
PIN = re.compile(r"([A-Za-z0-9_.-]+)==(\S+)")


def hashed_requirements(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, sha256 hashes) of a hashed requirements file, each requirement's lines joined."""
    text = re.sub(r"\\\n", " ", path.read_text())
    requirements = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement, *options = line.split()
        match = PIN.fullmatch(requirement)
        assert match, f"{path.name}: {requirement!r} is not a pin (name==version)"
        hashes = [option.removeprefix("--hash=sha256:") for option in options]
        assert all(re.fullmatch(r"[0-9a-f]{64}", value) for value in hashes), f"{path.name}: {line}"
        requirements[match.group(1).lower()] = (match.group(2), hashes)
    return requirements


def pins(path: Path) -> dict[str, str]:
    """name -> version of a requirements file and the files it includes with -r."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            found.update(pins(path.parent / line.removeprefix("-r ").strip()))
        elif match := PIN.fullmatch(line):
            found[match.group(1).lower()] = match.group(2)
    return found


def test_every_publish_requirement_is_pinned_with_hashes_at_the_projects_pins() -> None:
    requirements = hashed_requirements(PUBLISH_REQUIREMENTS)
    assert {"boto3", "botocore", "cryptography", "cffi"} <= set(requirements)
    assert all(hashes for _, hashes in requirements.values())
    project_pins = pins(PROJECT_ROOT / "requirements.txt")
    assert {name: version for name, (version, _) in requirements.items() if name in project_pins} == {
        name: project_pins[name] for name in requirements if name in project_pins
    }


def imported_packages(modules: str) -> set[str]:
    """The top-level packages that importing ``modules`` (``import`` statement's names, in a fresh
    interpreter in the source folder, as a pipeline step runs) loads from a file, beyond what the interpreter
    loads anyway (site's .pth hooks)."""
    probe = (
        "import sys; started = set(sys.modules);"
        f"import {modules};"
        "print(*sorted({name.split('.')[0] for name, module in sys.modules.items()"
        " if name not in started and getattr(module, '__file__', None)}))"
    )
    return set(
        subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=PROJECT_ROOT
        ).stdout.split()
    )


def third_party_distributions(packages: set[str], source: set[str]) -> set[str]:
    """The distributions ``packages`` come from, leaving out the standard library and ``source``, the
    packages a step runs from the checked-out source."""
    distributions = importlib.metadata.packages_distributions()
    return {
        distribution.lower()
        for package in packages - source
        if package not in sys.stdlib_module_names
        for distribution in distributions.get(package, [package])
    }


def test_the_publish_requirements_hold_every_package_the_publish_command_imports() -> None:
    """Every module ``python -m kmsecdh directory publish`` loads, beyond the standard library and kmsecdh,
    is of a package of the hashed file: with --require-hashes, pip installs nothing else."""
    imported = imported_packages("kmsecdh.cli, kmsecdh.cli.parser, kmsecdh.cli.commands.directory")
    third_party = third_party_distributions(imported, source={"kmsecdh"})
    assert {"boto3", "cryptography"} <= third_party
    assert third_party <= set(hashed_requirements(PUBLISH_REQUIREMENTS))


# The top-level packages of the source folder that ``python -m tools.deploy_guard`` runs from; kmsecdh_cdk is
# not one (its source is constructs_lib/kmsecdh_cdk): it is the installed construct library, which needs CDK.
GUARD_SOURCE_PACKAGES = {"tools", "devtools", "kmsecdh"}
CDK_PACKAGES = {"aws_cdk", "constructs", "jsii", "cdk_nag", "kmsecdh_cdk"}


def test_the_deploy_guard_imports_no_cdk_code() -> None:
    """The guard step holds a deploy role: it installs no CDK, so the guard may not import it."""
    assert not imported_packages("tools.deploy_guard") & CDK_PACKAGES


def test_the_guard_requirements_hold_every_package_the_deploy_guard_imports() -> None:
    """Every module ``python -m tools.deploy_guard`` loads, beyond the standard library and the source it
    runs from, is of a package of the hashed file its pipeline step installs (--require-hashes)."""
    assert all((PROJECT_ROOT / package / "__init__.py").is_file() for package in GUARD_SOURCE_PACKAGES)
    third_party = third_party_distributions(
        imported_packages("tools.deploy_guard"), source=GUARD_SOURCE_PACKAGES
    )
    assert "boto3" in third_party
    assert third_party <= set(hashed_requirements(PROJECT_ROOT / GUARD_REQUIREMENTS))


# --- an approval guards only keys no earlier deployment can reach -------------------------------------------


def environments_with(**prod_changes: Any) -> dict[str, Any]:
    """The example's environments, prod's entry changed."""
    context = load_context()["environments"]
    prod = {**context["prod"], **prod_changes}
    context["prod"] = {field: value for field, value in prod.items() if value is not None}
    return parse_environments(context)


# prod as the issue found it: staging's account and no qualifier of its own, so staging's eu-west-1 bootstrap
# is also the one that replicates prod's keys to eu-west-1.
PROD_BESIDE_STAGING = {"account": "111111111111", "bootstrap_qualifier": None}


def test_an_approval_an_earlier_wave_walks_around_is_refused() -> None:
    environments = environments_with(**PROD_BESIDE_STAGING)
    with pytest.raises(PipelineConfigError) as raised:
        parse_pipeline(PIPELINE_CONTEXT, environments)
    assert raised.value.field == "manual_approval"
    assert str(raised.value) == (
        "pipeline.manual_approval: environment 'prod' waits for a manual approval, but 'staging', deployed "
        "in an earlier wave, shares its account 111111111111, Region eu-west-1 and bootstrap qualifier "
        "default: 'staging' deploys through the same CloudFormation execution role, which administers the "
        "keys of 'prod', so the approval would not guard them; give 'prod' an account of its own (or at "
        "least a bootstrap_qualifier of its own)"
    )


def test_an_approval_the_same_wave_walks_around_is_refused() -> None:
    environments = environments_with(**PROD_BESIDE_STAGING)
    with pytest.raises(PipelineConfigError, match="'staging', deployed in the same wave, not waiting for it"):
        parse_pipeline(pipeline_entry(waves=[["staging", "prod"]]), environments)


@pytest.mark.parametrize(
    "prod_changes",
    [
        {},  # the example: an account of its own
        {"account": "111111111111", "bootstrap_qualifier": "kmsecdh"},  # staging's account, its own bootstrap
        {
            "account": "111111111111",
            "bootstrap_qualifier": None,
            "replica_regions": [],
        },  # no Region in common
    ],
)
def test_an_approval_nothing_walks_around_is_accepted(prod_changes: dict[str, Any]) -> None:
    config = parse_pipeline(PIPELINE_CONTEXT, environments_with(**prod_changes))
    assert config.manual_approval == ("prod",)


def test_sharing_a_bootstrap_without_any_approval_is_left_alone() -> None:
    config = parse_pipeline(pipeline_entry(manual_approval=[]), environments_with(**PROD_BESIDE_STAGING))
    assert config.manual_approval == ()


@pytest.mark.parametrize("environment", [name for wave in PIPELINE_CONTEXT["waves"] for name in wave])
def test_the_deploy_guard_judges_each_key_stacks_change_set_before_it_executes(
    synthesized_app: SynthesizedApp, environment: str
) -> None:
    """Between Prepare (the PipelineChange change set) and Deploy of every stack holding keys: the deploy
    guard on that change set, as the target account's deploy role; the audit stack has none."""
    config = synthesized_app.environments[environment]
    actions = stages(synthesized_app)[environment]
    resources = pipeline_template(synthesized_app)["Resources"]
    deploys = deploy_actions(synthesized_app, environment)
    key_stacks = [
        f"kmsecdh-{environment}-key-agreement",
        *(f"kmsecdh-{environment}-key-agreement-{region}" for region in config.replica_regions),
        *([f"kmsecdh-{environment}-directory"] if config.directory_publisher_arns else []),
    ]
    guards = {action["Name"]: action for action in actions if ".DeployGuard-" in action["Name"]}
    assert sorted(guards) == sorted(f"{name}.DeployGuard-{name}" for name in key_stacks)
    for stack_name in key_stacks:
        guard = guards[f"{stack_name}.DeployGuard-{stack_name}"]
        prepare, execute = deploys[stack_name]
        assert prepare["Configuration"]["ChangeSetName"] == "PipelineChange"
        assert prepare["RunOrder"] < guard["RunOrder"] < execute["RunOrder"]
        manifest = json.loads(
            (synthesized_app.outdir / f"assembly-{environment}" / "manifest.json").read_text()
        )
        [(account, region)] = [
            artifact["environment"].removeprefix("aws://").split("/")
            for artifact in manifest["artifacts"].values()
            if artifact.get("properties", {}).get("stackName") == stack_name
        ]
        qualifier = config.bootstrap_qualifier or "hnb659fds"
        role = f"arn:aws:iam::{account}:role/cdk-{qualifier}-deploy-role-{account}-{region}"
        project = resources[guard["Configuration"]["ProjectName"]["Ref"]]["Properties"]
        assert json.loads(project["Source"]["BuildSpec"])["phases"]["build"]["commands"] == [
            "python3 -m venv .guard-venv",
            ".guard-venv/bin/python -m pip install --quiet --require-hashes --only-binary :all: "
            "-r requirements-publish.txt",
            f"aws configure set profile.kmsecdh-deploy-guard.role_arn {role}",
            "aws configure set profile.kmsecdh-deploy-guard.credential_source EcsContainer",
            f"AWS_PROFILE=kmsecdh-deploy-guard .guard-venv/bin/python -m tools.deploy_guard "
            f"--stack-name {stack_name} --change-set-name PipelineChange --region {region}",
        ]
        project_role = project["ServiceRole"]["Fn::GetAtt"][0]
        assume = [
            statement
            for policy in resources.values()
            if policy["Type"] == "AWS::IAM::Policy" and {"Ref": project_role} in policy["Properties"]["Roles"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            if statement["Action"] == "sts:AssumeRole"
        ]
        assert [statement["Resource"] for statement in assume] == [role]
    assert not [name for name in guards if name.startswith(f"kmsecdh-{environment}-audit.")]
