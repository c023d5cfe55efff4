"""The DeriveFunction construct, from the templates of one synthesized test app (see derive_app)."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam

from kmsecdh import service
from kmsecdh_cdk.derive_function import MIN_TIMEOUT_SECONDS, DeriveFunction
from kmsecdh_cdk.key_agreement_key import KeyAgreementKey
from tests.infra.derive_app import CALLER_ARN, ENV, SynthesizedApp, synthesize
from tests.infra.test_key_agreement_key import REFUSED_PRINCIPALS


@pytest.fixture(scope="module")
def synth() -> SynthesizedApp:
    return synthesize()


def resources(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template["Resources"].items() if res["Type"] == type_}


def only(template: dict[str, Any], type_: str) -> tuple[str, dict[str, Any]]:
    found = resources(template, type_)
    assert len(found) == 1, f"expected one {type_}, found {sorted(found)}"
    return next(iter(found.items()))


def render(value: Any) -> Any:
    """Resolve Fn::Join, Fn::GetAtt and Ref to readable strings, so a JSON-in-a-string can be parsed."""
    if isinstance(value, dict) and len(value) == 1:
        ((name, argument),) = value.items()
        if name == "Fn::Join":
            separator, parts = argument
            return separator.join(str(render(part)) for part in parts)
        if name == "Fn::GetAtt":
            return "<{}.{}>".format(*argument)
        if name == "Ref":
            return f"<{argument}>"
    if isinstance(value, dict):
        return {key: render(item) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item) for item in value]
    return value


def logical_id(stack: cdk.Stack, construct: Any) -> str:
    return stack.get_logical_id(construct.node.default_child)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- the function -----------------------------------------------------------------------------------


@pytest.mark.parametrize("stack_name", ["plain", "isolated"])
def test_function_runtime_and_observability(synth: SynthesizedApp, stack_name: str) -> None:
    stack = getattr(synth, stack_name)
    template = synth.raw_template(stack)
    _, function = only(template, "AWS::Lambda::Function")
    props = function["Properties"]
    log_group_id, _ = only(template, "AWS::Logs::LogGroup")
    assert props["Runtime"] == "python3.14"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == "handler.handler"
    assert props["TracingConfig"] == {"Mode": "Active"}
    # Props lower the levels (Plain); whatever they are, no secret reaches the log (tests/lambda).
    levels = ("TRACE", "DEBUG") if stack_name == "plain" else ("INFO", "INFO")
    assert props["LoggingConfig"] == {
        "LogFormat": "JSON",
        "ApplicationLogLevel": levels[0],
        "SystemLogLevel": levels[1],
        "LogGroup": {"Ref": log_group_id},
    }
    assert props["MemorySize"] == 256
    assert props["Timeout"] == 30


def test_reserved_concurrency_from_props(synth: SynthesizedApp) -> None:
    _, plain = only(synth.raw_template(synth.plain), "AWS::Lambda::Function")
    _, isolated = only(synth.raw_template(synth.isolated), "AWS::Lambda::Function")
    assert plain["Properties"]["ReservedConcurrentExecutions"] == 3
    assert isolated["Properties"]["ReservedConcurrentExecutions"] == 2


def test_environment_follows_the_lambda_contract(synth: SynthesizedApp) -> None:
    _, function = only(synth.raw_template(synth.plain), "AWS::Lambda::Function")
    variables = function["Properties"]["Environment"]["Variables"]
    p256, p384 = (logical_id(synth.plain, key.key) for key in synth.plain_keys)
    assert set(variables) == {"KMSECDH_KEYS", "KMSECDH_DEFAULT_KEY", "KMSECDH_ALLOW_RAW_SECRET"}
    assert json.loads(render(variables["KMSECDH_KEYS"])) == {
        "alias/test-p256": {"arn": f"<{p256}.Arn>", "key_spec": "ECC_NIST_P256"},
        "alias/test-p384": {"arn": f"<{p384}.Arn>", "key_spec": "ECC_NIST_P384"},
    }
    assert variables["KMSECDH_DEFAULT_KEY"] == "alias/test-p384"
    assert variables["KMSECDH_ALLOW_RAW_SECRET"] == "true"


def test_environment_defaults(synth: SynthesizedApp) -> None:
    _, function = only(synth.raw_template(synth.isolated), "AWS::Lambda::Function")
    variables = function["Properties"]["Environment"]["Variables"]
    assert variables["KMSECDH_DEFAULT_KEY"] == "alias/test-p521"
    assert variables["KMSECDH_ALLOW_RAW_SECRET"] == "false"


def test_isolated_function_runs_in_the_vpc(synth: SynthesizedApp) -> None:
    template = synth.raw_template(synth.isolated)
    _, function = only(template, "AWS::Lambda::Function")
    subnets = {name for name in resources(template, "AWS::EC2::Subnet")}
    config = function["Properties"]["VpcConfig"]
    assert {subnet["Ref"] for subnet in config["SubnetIds"]} == subnets
    assert len(config["SecurityGroupIds"]) == 1
    _, plain = only(synth.raw_template(synth.plain), "AWS::Lambda::Function")
    assert "VpcConfig" not in plain["Properties"]


def test_grant_invoke_lets_the_caller_invoke(synth: SynthesizedApp) -> None:
    template = synth.raw_template(synth.plain)
    function_id, _ = only(template, "AWS::Lambda::Function")
    permissions = [res["Properties"] for res in resources(template, "AWS::Lambda::Permission").values()]
    assert permissions == [
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Fn::GetAtt": [function_id, "Arn"]},
            "Principal": CALLER_ARN,
        }
    ]


# --- the role ----------------------------------------------------------------------------------------


def role_statements(synth: SynthesizedApp, stack: cdk.Stack) -> list[dict[str, Any]]:
    template = synth.raw_template(stack)
    role_id, role = only(template, "AWS::IAM::Role")
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
    ]
    assert "ManagedPolicyArns" not in role["Properties"]
    assert "Policies" not in role["Properties"]
    _, policy = only(template, "AWS::IAM::Policy")
    assert policy["Properties"]["Roles"] == [{"Ref": role_id}]
    return policy["Properties"]["PolicyDocument"]["Statement"]


def key_statements(key_id: str, source_vpce: dict[str, str] | None = None) -> list[dict[str, Any]]:
    condition: dict[str, Any] = {"kms:KeyAgreementAlgorithm": "ECDH"}
    if source_vpce is not None:
        condition["aws:SourceVpce"] = source_vpce
    return [
        {
            "Action": "kms:DeriveSharedSecret",
            "Condition": {"StringEquals": condition},
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [key_id, "Arn"]},
        },
        {
            "Action": ["kms:GetPublicKey", "kms:DescribeKey"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [key_id, "Arn"]},
        },
    ]


LOG_WRITE = ["logs:CreateLogStream", "logs:PutLogEvents"]
XRAY = {
    "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
    "Effect": "Allow",
    "Resource": "*",
}


def test_plain_role_policy_exactly(synth: SynthesizedApp) -> None:
    template = synth.raw_template(synth.plain)
    log_group_id, _ = only(template, "AWS::Logs::LogGroup")
    p256, p384 = (logical_id(synth.plain, key.key) for key in synth.plain_keys)
    expected = [
        {"Action": LOG_WRITE, "Effect": "Allow", "Resource": {"Fn::GetAtt": [log_group_id, "Arn"]}},
        XRAY,
        *key_statements(p256),
        *key_statements(p384),
    ]
    assert sorted(map(json.dumps, role_statements(synth, synth.plain))) == sorted(map(json.dumps, expected))


def test_isolated_role_policy_exactly(synth: SynthesizedApp) -> None:
    template = synth.raw_template(synth.isolated)
    log_group_id, _ = only(template, "AWS::Logs::LogGroup")
    ((endpoint_id, _),) = resources(template, "AWS::EC2::VPCEndpoint").items()
    vpc_id, _ = only(template, "AWS::EC2::VPC")
    key_id = next(name for name in resources(template, "AWS::KMS::Key") if name.startswith("P521"))
    expected = [
        {"Action": LOG_WRITE, "Effect": "Allow", "Resource": {"Fn::GetAtt": [log_group_id, "Arn"]}},
        {
            "Action": ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"],
            "Effect": "Allow",
            "Resource": "*",
            "Sid": "DescribeNetworkInterfaces",
        },
        {
            "Action": [
                "ec2:CreateNetworkInterface",
                "ec2:DeleteNetworkInterface",
                "ec2:AssignPrivateIpAddresses",
                "ec2:UnassignPrivateIpAddresses",
            ],
            "Condition": {
                "ArnEquals": {
                    "ec2:Vpc": {
                        "Fn::Join": [
                            "",
                            [
                                "arn:",
                                {"Ref": "AWS::Partition"},
                                f":ec2:{ENV.region}:{ENV.account}:vpc/",
                                {"Ref": vpc_id},
                            ],
                        ]
                    }
                }
            },
            "Effect": "Allow",
            "Resource": "*",
            "Sid": "ManageNetworkInterfacesInTheFunctionVpc",
        },
        XRAY,
        *key_statements(key_id, source_vpce={"Ref": endpoint_id}),
    ]
    statements = role_statements(synth, synth.isolated)
    assert sorted(map(json.dumps, statements)) == sorted(map(json.dumps, expected))


@pytest.mark.parametrize("stack_name", ["plain", "isolated"])
def test_no_kms_action_on_a_wildcard_resource(synth: SynthesizedApp, stack_name: str) -> None:
    for statement in role_statements(synth, getattr(synth, stack_name)):
        if any(action.startswith("kms:") for action in as_list(statement["Action"])):
            assert "*" not in json.dumps(statement["Resource"]), statement


# --- the log group and its key ---------------------------------------------------------------------


def test_log_group_retained_a_year_and_encrypted_with_a_dedicated_rotating_key(synth: SynthesizedApp) -> None:
    template = synth.raw_template(synth.plain)
    _, log_group = only(template, "AWS::Logs::LogGroup")
    log_key_id = logical_id(synth.plain, synth.plain_function.node.find_child("LogGroupKey"))
    assert log_group["Properties"]["RetentionInDays"] == 365
    assert log_group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [log_key_id, "Arn"]}
    log_key = template["Resources"][log_key_id]
    assert log_key["Properties"]["EnableKeyRotation"] is True
    assert log_key["DeletionPolicy"] == "Retain"


def test_log_group_uses_a_given_key(synth: SynthesizedApp) -> None:
    template = synth.raw_template(synth.isolated)
    _, log_group = only(template, "AWS::Logs::LogGroup")
    given_key_id = logical_id(synth.isolated, synth.isolated_log_key)
    assert log_group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [given_key_id, "Arn"]}
    assert synth.isolated_function.node.try_find_child("LogGroupKey") is None


def symmetric_key_statements(synth: SynthesizedApp, child_id: str) -> dict[str, dict[str, Any]]:
    """The statements of one of the plain function's own keys, by Sid, rendered; checks the guard-rails."""
    template = synth.raw_template(synth.plain)
    key_id = logical_id(synth.plain, synth.plain_function.node.find_child(child_id))
    statements = render(template["Resources"][key_id]["Properties"]["KeyPolicy"]["Statement"])
    by_sid = {statement["Sid"]: statement for statement in statements}
    assert by_sid.pop("DenyPolicyLockoutBypass") == {
        "Action": "kms:PutKeyPolicy",
        "Condition": {"Bool": {"kms:BypassPolicyLockoutSafetyCheck": "true"}},
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Resource": "*",
        "Sid": "DenyPolicyLockoutBypass",
    }
    for statement in by_sid.values():
        assert statement["Effect"] == "Allow"
        assert all("*" not in action for action in as_list(statement["Action"])), statement
    return by_sid


def test_log_group_key_policy_names_its_own_log_group_only(synth: SynthesizedApp) -> None:
    _, log_group = only(synth.raw_template(synth.plain), "AWS::Logs::LogGroup")
    log_group_name = log_group["Properties"]["LogGroupName"]
    assert log_group_name.startswith("/kmsecdh/")
    assert log_group_name.endswith("/LogGroup")
    by_sid = symmetric_key_statements(synth, "LogGroupKey")
    assert set(by_sid) == {"KeyAdministration", "AllowCloudWatchLogs"}
    administration = by_sid["KeyAdministration"]
    assert administration["Principal"] == {"AWS": "arn:<AWS::Partition>:iam::111111111111:root"}
    assert not {"kms:Decrypt", "kms:Encrypt", "kms:CreateGrant"} & set(administration["Action"])
    logs_statement = by_sid["AllowCloudWatchLogs"]
    assert logs_statement["Principal"] == {"Service": f"logs.{ENV.region}.amazonaws.com"}
    assert "kms:CreateGrant" not in logs_statement["Action"]
    assert logs_statement["Condition"] == {
        "ArnEquals": {
            "kms:EncryptionContext:aws:logs:arn": (
                f"arn:<AWS::Partition>:logs:{ENV.region}:{ENV.account}:log-group:{log_group_name}"
            )
        }
    }


def test_environment_is_encrypted_with_a_key_only_the_role_decrypts(synth: SynthesizedApp) -> None:
    template = synth.raw_template(synth.plain)
    function_id = logical_id(synth.plain, synth.plain_function.function)
    key_id = logical_id(synth.plain, synth.plain_function.environment_key)
    role_id = logical_id(synth.plain, synth.plain_function.role)
    assert template["Resources"][function_id]["Properties"]["KmsKeyArn"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert template["Resources"][key_id]["Properties"]["EnableKeyRotation"] is True
    by_sid = symmetric_key_statements(synth, "EnvironmentKey")
    assert set(by_sid) == {
        "KeyAdministration",
        "AllowFunctionConfigurationThroughLambda",
        "AllowFunctionRoleDecrypt",
    }
    assert not {"kms:Decrypt", "kms:Encrypt", "kms:CreateGrant"} & set(by_sid["KeyAdministration"]["Action"])
    assert by_sid["AllowFunctionConfigurationThroughLambda"] == {
        "Action": ["kms:Encrypt", "kms:CreateGrant"],
        "Condition": {"StringEquals": {"kms:ViaService": f"lambda.{ENV.region}.amazonaws.com"}},
        "Effect": "Allow",
        "Principal": {
            "AWS": {
                "Fn::Sub": "arn:${AWS::Partition}:iam::111111111111:role/"
                "cdk-hnb659fds-cfn-exec-role-111111111111-eu-west-1"
            }
        },
        "Resource": "*",
        "Sid": "AllowFunctionConfigurationThroughLambda",
    }
    assert by_sid["AllowFunctionRoleDecrypt"] == {
        "Action": "kms:Decrypt",
        # only as Lambda decrypts the variables: the role's credentials elsewhere decrypt nothing
        "Condition": {"StringEquals": {"kms:ViaService": f"lambda.{ENV.region}.amazonaws.com"}},
        "Effect": "Allow",
        "Principal": {"AWS": f"<{role_id}.Arn>"},
        "Resource": "*",
        "Sid": "AllowFunctionRoleDecrypt",
    }


@pytest.mark.parametrize(
    ("stack_name", "skipped"), [("plain", ["CKV_AWS_116", "CKV_AWS_117"]), ("isolated", ["CKV_AWS_116"])]
)
def test_checkov_skips_on_the_function_only(
    synth: SynthesizedApp, stack_name: str, skipped: list[str]
) -> None:
    stack = getattr(synth, stack_name)
    function = getattr(synth, f"{stack_name}_function")
    for resource_id, resource in synth.raw_template(stack)["Resources"].items():
        skips = resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
        if resource_id == logical_id(stack, function.function):
            assert [skip["id"] for skip in skips] == skipped
            assert all(len(skip["comment"]) > 40 for skip in skips)
        else:
            assert skips == [], resource_id


# --- cdk-nag ---------------------------------------------------------------------------------------


def test_no_unacknowledged_nag_finding(synth: SynthesizedApp) -> None:
    # A clean run lists no plugin at all; a failing one lists each finding with its construct path.
    report = synth.validation_report()
    findings = [
        (violation["ruleName"], construct["constructPath"])
        for plugin in report["pluginReports"]
        for violation in plugin.get("violations", [])
        for construct in violation["violatingConstructs"]
    ]
    assert findings == []


def test_acknowledgments_are_exactly_these(synth: SynthesizedApp) -> None:
    """Each acknowledgment the construct makes, on the construct it covers; a new one shows up here."""
    expected_policy = {
        "AwsSolutions-IAM5[Resource::*]",
        "NIST.800.53.R5-IAMNoInlinePolicy",
        "HIPAA.Security-IAMNoInlinePolicy",
        "PCI.DSS.321-IAMNoInlinePolicy",
    }
    expected_function = {"NIST.800.53.R5-LambdaDLQ", "HIPAA.Security-LambdaDLQ", "Serverless-LambdaDLQ"}
    outside_vpc = {
        "NIST.800.53.R5-LambdaInsideVPC",
        "HIPAA.Security-LambdaInsideVPC",
        "PCI.DSS.321-LambdaInsideVPC",
    }
    for stack, function_rules in (
        (synth.plain, expected_function | outside_vpc),
        (synth.isolated, expected_function),
    ):
        acknowledged = {
            path: {_unqualified(rule): reason for rule, reason in rules.items()}
            for path, rules in synth.acknowledged_rules(stack).items()
            if path.startswith(f"/{stack.stack_name}/Derive")
        }
        assert set(acknowledged) == {
            f"/{stack.stack_name}/Derive/Role/DefaultPolicy",
            f"/{stack.stack_name}/Derive/Function",
        }
        assert set(acknowledged[f"/{stack.stack_name}/Derive/Role/DefaultPolicy"]) == expected_policy
        assert set(acknowledged[f"/{stack.stack_name}/Derive/Function"]) == function_rules
        for rules in acknowledged.values():
            assert all(len(reason) > 40 for reason in rules.values()), rules


def _unqualified(acknowledged_id: str) -> str:
    """``Pack::Pack-Rule`` -> ``Pack-Rule``; any other form (e.g. ``Annotation::``) is kept, so it fails."""
    pack, _, rule = acknowledged_id.partition("::")
    return rule if rule.startswith(f"{pack}-") else acknowledged_id


# --- rejected at construct time ----------------------------------------------------------------------


@pytest.fixture
def stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(), "Rejections", env=ENV)


def key(stack: cdk.Stack, name: str, alias: str | None = None) -> KeyAgreementKey:
    return KeyAgreementKey(stack, name, key_spec="ECC_NIST_P256", alias_name=alias or f"alias/{name.lower()}")


def network(stack: cdk.Stack) -> tuple[ec2.Vpc, ec2.InterfaceVpcEndpoint]:
    vpc = ec2.Vpc(stack, "Vpc", nat_gateways=0, max_azs=1)
    return vpc, vpc.add_interface_endpoint("Kms", service=ec2.InterfaceVpcEndpointAwsService.KMS)


def test_rejects_no_keys(stack: cdk.Stack) -> None:
    with pytest.raises(ValueError, match="at least one key"):
        DeriveFunction(stack, "Derive", keys=[])


def test_rejects_duplicate_aliases(stack: cdk.Stack) -> None:
    keys = [key(stack, "A", "alias/same"), key(stack, "B", "alias/same")]
    with pytest.raises(ValueError, match="share alias names: alias/same"):
        DeriveFunction(stack, "Derive", keys=keys)


def test_rejects_default_key_not_among_keys(stack: cdk.Stack) -> None:
    with pytest.raises(ValueError, match=r"default_key alias/other is not one of keys \(alias/a\)"):
        DeriveFunction(stack, "Derive", keys=[key(stack, "A")], default_key=key(stack, "Other"))


@pytest.mark.parametrize("reserved", [0, -1])
def test_rejects_reserved_concurrency_below_one(stack: cdk.Stack, reserved: int) -> None:
    with pytest.raises(
        ValueError, match=f"reserved_concurrent_executions must be at least 1, got {reserved}"
    ):
        DeriveFunction(stack, "Derive", keys=[key(stack, "A")], reserved_concurrent_executions=reserved)


@pytest.mark.parametrize("seconds", [3, MIN_TIMEOUT_SECONDS - 1])
def test_rejects_a_timeout_too_short_for_a_batch(stack: cdk.Stack, seconds: int) -> None:
    with pytest.raises(
        ValueError, match=f"timeout must be at least {MIN_TIMEOUT_SECONDS} s, got {seconds} s"
    ):
        DeriveFunction(stack, "Derive", keys=[key(stack, "A")], timeout=cdk.Duration.seconds(seconds))


def test_minimum_timeout_leaves_a_batch_time_to_start_peers() -> None:
    # The construct cannot import the runtime package (it only bundles it): check they agree here.
    seconds_to_start_peers = MIN_TIMEOUT_SECONDS - service.BATCH_TIME_RESERVE_SECONDS
    assert seconds_to_start_peers >= 4


def test_rejects_vpc_without_kms_endpoint(stack: cdk.Stack) -> None:
    vpc, _ = network(stack)
    with pytest.raises(ValueError, match="vpc given without kms_endpoint"):
        DeriveFunction(stack, "Derive", keys=[key(stack, "A")], vpc=vpc)


@pytest.mark.parametrize(("caller", "message"), REFUSED_PRINCIPALS)
def test_grant_invoke_refuses_roots_and_wildcards(
    stack: cdk.Stack, caller: iam.IPrincipal, message: str
) -> None:
    function = DeriveFunction(stack, "Derive", keys=[key(stack, "P256")])
    with pytest.raises(ValueError, match=message):
        function.grant_invoke(caller)


def test_rejects_network_settings_without_vpc(stack: cdk.Stack) -> None:
    _, endpoint = network(stack)
    subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
    with pytest.raises(ValueError, match="vpc_subnets, kms_endpoint given without vpc"):
        DeriveFunction(stack, "Derive", keys=[key(stack, "A")], vpc_subnets=subnets, kms_endpoint=endpoint)
