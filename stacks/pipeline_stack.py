"""The deployment pipeline (CDK Pipelines): source, synth and checks, then the environments in waves.

After an environment with a public-key directory (``directory_publisher_arns``) deploys, a CodeBuild step
publishes its directory (``kmsecdh directory publish``) as the environment's first publisher role, which it
assumes: that role must trust the step's role (output ``PublishRoleArn<Environment>`` names it). Since the
step holds the signing role, nothing it runs comes unverified from a package index: it installs
``PUBLISH_REQUIREMENTS`` (every package pinned with its hashes, wheels only) with ``--require-hashes`` into a
virtualenv of its own and runs kmsecdh from the source it checked out, building nothing.

The pipeline runs in its own (tooling) account and Region. Its synth step runs ``make synth`` (every
environment, cdk-nag and checkov) and the template checks (``tests/infra``); it then updates itself and
deploys each environment's stages, wave after wave, into the environment's own account and Region, through
the bootstrap roles of those accounts, which trust the pipeline's account (``cdk bootstrap --trust``). Its
artifacts are encrypted with a KMS key the target accounts' deploy roles can use (cross-account keys), and
CodePipeline keeps a replication bucket in every other Region it deploys to (a support stack per Region).

Between the change set CodePipeline creates for a stack holding keys (``PipelineChange``) and its execution,
a CodeBuild step runs the deploy guard on that change set (``python -m tools.deploy_guard``), as the target
account's bootstrap deploy role (which may read change sets and templates): a change that would replace or
delete a key-agreement key, a replica, the directory's signing key or an alias stops the pipeline there. That
role can pass the CloudFormation execution role, so the step installs, like the publish step, only the hashed
wheels of ``GUARD_REQUIREMENTS`` into a virtualenv of its own, and runs the guard from the source.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import CfnOutput, DefaultStackSynthesizer, Stack, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from kmsecdh_cdk import key_policy
from kmsecdh_cdk.acknowledgments import COMPLIANCE_PACKS, acknowledge, skip_checkov
from kmsecdh_cdk.iam_actions import ASSUME_ROLE_ACTION
from kmsecdh_cdk.service_roles import require_source, roles_trusting
from stacks.config import EnvironmentConfig
from stacks.pipeline_config import PipelineConfig
from stacks.stage import KmsEcdhStage

SYNTH_COMMANDS: tuple[str, ...] = (
    # every environment of cdk.json (and this pipeline), failing on any cdk-nag or checkov finding
    "make synth",
    # the checks of the synthesized templates: key policies exactly, audit, acknowledgments, cfn-lint, checkov
    ".venv/bin/python -m pytest tests/infra",
)
BUILD_IMAGE = codebuild.LinuxBuildImage.STANDARD_7_0
CODEBUILD_SERVICE = "codebuild.amazonaws.com"
# The AWS CLI profile the publish step signs in with: the environment's publisher role, assumed with the
# step's own (container) credentials.
PUBLISHER_PROFILE = "kmsecdh-publisher"
PUBLISH_REQUIREMENTS = "requirements-publish.txt"
# In the checked-out source folder, where the step runs: a folder of this build only.
PUBLISH_VENV = ".publish-venv"
# The deploy guard's profile: the target account's bootstrap deploy role, assumed the same way.
GUARD_PROFILE = "kmsecdh-deploy-guard"
# The publish step's hashed file holds what the guard imports (boto3), so the guard installs it too.
GUARD_REQUIREMENTS = PUBLISH_REQUIREMENTS
GUARD_VENV = ".guard-venv"
# The change set CDK Pipelines creates for each stack before it executes it.
PIPELINE_CHANGE_SET = "PipelineChange"


def publish_step_id(environment: str) -> str:
    return f"PublishDirectory-{environment}"


def publish_commands(config: EnvironmentConfig) -> list[str]:
    """Install kmsecdh's dependencies by hash and publish the environment's directory as its first publisher.

    ``python -m kmsecdh`` runs the package from the checked-out source (the working directory comes first on
    ``sys.path``): installing the source itself would build it with a build backend fetched unhashed.
    """
    python = f"{PUBLISH_VENV}/bin/python"
    return [
        f"python3 -m venv {PUBLISH_VENV}",
        f"{python} -m pip install --quiet --require-hashes --only-binary :all: -r {PUBLISH_REQUIREMENTS}",
        f"aws configure set profile.{PUBLISHER_PROFILE}.role_arn {config.directory_publisher_arns[0]}",
        f"aws configure set profile.{PUBLISHER_PROFILE}.credential_source EcsContainer",
        f"AWS_PROFILE={PUBLISHER_PROFILE} AWS_REGION={config.region} "
        f"{python} -m kmsecdh directory publish --environment {config.name}",
    ]


def approval_step_id(environment: str) -> str:
    return f"Approve-{environment}"


def guard_step_id(stack: Stack) -> str:
    return f"DeployGuard-{stack.stack_name}"


def deploy_role_arn(stack: Stack) -> str:
    """The bootstrap deploy role of ``stack``'s account and Region, which CDK Pipelines deploys it with."""
    synthesizer = stack.synthesizer
    assert isinstance(synthesizer, DefaultStackSynthesizer)
    # A literal partition: the pipeline's environments have a Region (@aws-cdk/core:enablePartitionLiterals).
    return synthesizer.deploy_role_arn.replace("${AWS::Partition}", stack.partition)


def guard_commands(stack: Stack) -> list[str]:
    """Install the guard's dependencies by hash, then judge the stack's change set as the stack's deploy role.

    The deploy role may pass the CloudFormation execution role (administrator-equivalent), and the step's
    own role may assume it: so, as in the publish step, nothing comes unverified from a package index (wheels
    of ``GUARD_REQUIREMENTS`` only, each by its hashes, so no build script runs either), and the guard runs
    from the checked-out source, importing no CDK code. The role is configured only after the install.
    """
    python = f"{GUARD_VENV}/bin/python"
    return [
        f"python3 -m venv {GUARD_VENV}",
        f"{python} -m pip install --quiet --require-hashes --only-binary :all: -r {GUARD_REQUIREMENTS}",
        f"aws configure set profile.{GUARD_PROFILE}.role_arn {deploy_role_arn(stack)}",
        f"aws configure set profile.{GUARD_PROFILE}.credential_source EcsContainer",
        f"AWS_PROFILE={GUARD_PROFILE} {python} -m tools.deploy_guard --stack-name {stack.stack_name} "
        f"--change-set-name {PIPELINE_CHANGE_SET} --region {stack.region}",
    ]


class PipelineStack(Stack):
    """``kmsecdh-pipeline``: a CDK Pipelines ``CodePipeline`` deploying ``stages`` in the configured waves."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: PipelineConfig,
        stages: Mapping[str, KmsEcdhStage],
        environments: Mapping[str, EnvironmentConfig],
        **kwargs: object,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        self.config = config
        source = pipelines.CodePipelineSource.connection(
            config.repository, config.branch, connection_arn=config.connection_arn
        )
        self.synth = pipelines.ShellStep("Synth", input=source, commands=list(SYNTH_COMMANDS))
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            pipeline_name="kmsecdh",
            synth=self.synth,
            # the environments' accounts read the artifacts: a KMS key of the pipeline, rotated yearly
            cross_account_keys=True,
            enable_key_rotation=True,
            # one asset-publishing project for all assets instead of one per asset
            publish_assets_in_parallel=False,
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(build_image=BUILD_IMAGE)
            ),
        )
        self.waves: list[pipelines.Wave] = []
        self.publish_steps: dict[str, pipelines.CodeBuildStep] = {}
        for index, names in enumerate(config.waves, start=1):
            wave = self.pipeline.add_wave(f"Wave{index}")
            for name in names:
                pre = (
                    [pipelines.ManualApprovalStep(approval_step_id(name))]
                    if name in config.manual_approval
                    else None
                )
                environment = environments[name]
                if environment.directory_publisher_arns:
                    self.publish_steps[name] = self._publish_step(source, environment)
                post = [self.publish_steps[name]] if name in self.publish_steps else None
                guards = [
                    pipelines.StackSteps(stack=stack, change_set=[self._guard_step(source, stack)])
                    for stack in stages[name].key_stacks
                ]
                wave.add_stage(stages[name], pre=pre, post=post, stack_steps=guards)
            self.waves.append(wave)
        # Built now rather than at synthesis, so that the findings below can be acknowledged on its parts.
        self.pipeline.build_pipeline()
        for name, step in self.publish_steps.items():
            CfnOutput(
                self,
                "PublishRoleArn" + "".join(part.title() for part in name.split("-")),
                value=step.project.role.role_arn,
                description=f"The role of {name}'s publish step: {name}'s publisher role must trust it",
            )
        self._guard_artifact_keys()
        for role in roles_trusting(self, CODEBUILD_SERVICE):
            require_source(role, CODEBUILD_SERVICE, source_account=self.account)
        self._acknowledge_findings()

    def _guard_artifact_keys(self) -> None:
        """The artifact keys (this Region's and the replication buckets' in the support stacks) refuse a key
        policy that bypasses KMS's lockout check, like every key of the project."""
        codepipeline = self.pipeline.pipeline
        buckets = [
            codepipeline.artifact_bucket,
            *(s.replication_bucket for s in codepipeline.cross_region_support.values()),
        ]
        for bucket in buckets:
            if bucket.encryption_key is None:
                raise ValueError(
                    f"{bucket.node.path}: the pipeline's artifact bucket has no KMS key to guard"
                )
            # a replication bucket's key is reached through its alias, which forwards to the key
            bucket.encryption_key.add_to_resource_policy(key_policy.deny_policy_lockout_bypass())

    @staticmethod
    def _guard_step(source: pipelines.IFileSetProducer, stack: Stack) -> pipelines.CodeBuildStep:
        """Before ``stack``'s change set executes: the deploy guard on it."""
        return pipelines.CodeBuildStep(
            guard_step_id(stack),
            input=source,
            commands=guard_commands(stack),
            role_policy_statements=[
                iam.PolicyStatement(actions=[ASSUME_ROLE_ACTION], resources=[deploy_role_arn(stack)])
            ],
        )

    @staticmethod
    def _publish_step(
        source: pipelines.IFileSetProducer, environment: EnvironmentConfig
    ) -> pipelines.CodeBuildStep:
        """After the environment's stacks deployed: its directory, signed and published by its publisher."""
        return pipelines.CodeBuildStep(
            publish_step_id(environment.name),
            input=source,
            commands=publish_commands(environment),
            role_policy_statements=[
                iam.PolicyStatement(
                    actions=[ASSUME_ROLE_ACTION], resources=[environment.directory_publisher_arns[0]]
                )
            ],
        )

    def _acknowledge_findings(self) -> None:
        """Acknowledge, on the narrowest construct, the findings CDK Pipelines' own resources cause."""
        codepipeline = self.pipeline.pipeline
        for policy in (c for c in self.node.find_all() if isinstance(c, iam.Policy)):
            _acknowledge_generated_policy(policy)
        for project in (c for c in self.node.find_all() if isinstance(c, codebuild.CfnProject)):
            for pack in ("HIPAA.Security", "PCI.DSS.321"):
                acknowledge(
                    project,
                    f"{pack}-CodeBuildProjectSourceRepoUrl",
                    "The project's source is the pipeline's artifact (source type CODEPIPELINE), fetched by "
                    "CodePipeline through the AWS CodeConnections connection: no repository URL and no "
                    "credentials are in the project.",
                )
        _acknowledge_artifact_bucket(codepipeline.artifact_bucket)
        # cfn-lint's style rule E3703 (prefer Fn::Sub to Fn::Join with an empty delimiter) on the action
        # configurations CDK Pipelines renders (stack and role ARNs): its rendering, not ours to change.
        codepipeline.node.default_child.add_metadata("cfn-lint", {"config": {"ignore_checks": ["E3703"]}})
        skip_checkov(
            codepipeline.role.node.find_child("DefaultPolicy"),
            "CKV_AWS_111",
            "CodePipeline's role encrypts with the replication buckets' keys, which live in the support "
            "stacks of other Regions and cannot be named from here, so CDK grants the KMS actions on *; each "
            "of those keys' own policy admits only this pipeline's roles, and KMS refuses any other key.",
        )
        skip_checkov(
            self.pipeline.node.find_child("Assets")
            .node.find_child("FileRole")
            .node.find_child("DefaultPolicy"),
            "CKV_AWS_111",
            "CDK Pipelines' asset-publishing role: codebuild:StartBuild/StopBuild/BatchGetBuilds on * as CDK "
            "Pipelines generates it, and CodeBuild log groups and report groups under its fixed prefixes; it "
            "publishes the assets to the bootstrap buckets by assuming their file-publishing roles.",
        )
        for support in codepipeline.cross_region_support.values():
            _acknowledge_artifact_bucket(support.replication_bucket)


def _acknowledge_generated_policy(policy: iam.Policy) -> None:
    for pack in COMPLIANCE_PACKS:
        acknowledge(
            policy,
            f"{pack}-IAMNoInlinePolicy",
            "A policy CDK Pipelines generates for one role of the pipeline (CodePipeline, a CodeBuild "
            "project or an action), holding exactly the grants that role needs, deleted with it.",
        )
    for finding in wildcard_findings(policy):
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[{finding}]",
            "CDK Pipelines' generated grants: objects under the pipeline's artifact buckets (bucket ARN/*), "
            "the artifact key's GenerateDataKey*/ReEncrypt* variants, S3 read and write action groups, the "
            "CodeBuild projects' own log groups and report groups, and sts:AssumeRole of the bootstrap roles "
            "(aws-cdk:bootstrap-role tag), which carry their own trust policy toward this account.",
        )


def wildcard_findings(policy: iam.Policy) -> list[str]:
    """The wildcard findings cdk-nag's AwsSolutions-IAM5 names on ``policy``: ``Action::<action>`` and
    ``Resource::<resource>`` (a reference rendered as ``<LogicalId.Attribute>``), each once, in order."""
    document = Stack.of(policy).resolve(policy.document)
    findings: list[str] = []
    for statement in document.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        for action in _as_list(statement.get("Action", [])):
            findings.append(f"Action::{action}")
        for resource in _as_list(statement.get("Resource", [])):
            findings.append(f"Resource::{_rendered(resource)}")
    return list(dict.fromkeys(finding for finding in findings if "*" in finding.split("::", 1)[1]))


def _as_list(value: object) -> list[object]:
    return value if isinstance(value, list) else [value]


def _rendered(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        return f"<{logical_id}.{attribute}>"
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_rendered(part) for part in parts)
    return str(value)


def _acknowledge_artifact_bucket(bucket: s3.IBucket) -> None:
    """The pipeline's artifact (and replication) buckets: KMS-encrypted, TLS-only, public access blocked."""
    reason = (
        "CodePipeline's artifact store: transient build outputs (the cloud assembly and assets), each "
        "reproducible from its source commit; every access is a CloudTrail management or data event of the "
        "pipeline account and objects are encrypted with the pipeline's rotated KMS key."
    )
    for pack in COMPLIANCE_PACKS:
        for rule in ("S3BucketLoggingEnabled", "S3BucketReplicationEnabled", "S3BucketVersioningEnabled"):
            acknowledge(bucket, f"{pack}-{rule}", reason)
    acknowledge(bucket, "AwsSolutions-S1", reason)
    skip_checkov(bucket, "CKV_AWS_18", reason)
    skip_checkov(bucket, "CKV_AWS_21", reason)
