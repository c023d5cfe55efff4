"""The operator's dashboard: its body as synthesized (every environment has one by default), what each widget
reads, and the construct's and the switch's refusals.

The body is a JSON string CloudFormation joins from text and references (the function's name, the alarms'
ARNs, the Region); ``body`` joins it with a placeholder naming each reference, so the JSON parses and the
tests see which reference sits where.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk.assertions import Template

from kmsecdh import log
from kmsecdh.errors import ERROR_CODES
from kmsecdh_cdk.dashboard import DashboardFunction, OperatorDashboard
from stacks.config import EnvironmentConfigError, parse_environment
from stacks.stage import KmsEcdhStage
from tests.infra.conftest import SynthesizedApp, load_context

ENVIRONMENTS = ("dev", "staging", "prod")


def placeholder(reference: Any) -> str:
    """A reference as text: ``<Ref AWS::Region>``, ``<Output kmsecdh-dev-audit ...>``, ``<GetAtt X.Arn>``."""
    if "Ref" in reference:
        return f"<Ref {reference['Ref']}>"
    if "Fn::GetAtt" in reference:
        return f"<GetAtt {'.'.join(reference['Fn::GetAtt'])}>"
    output = reference["Fn::GetStackOutput"]
    return f"<Output {output['StackName']} {output['OutputName']}>"


def body(dashboard: dict[str, Any]) -> dict[str, Any]:
    text = dashboard["Properties"]["DashboardBody"]
    if isinstance(text, dict):
        separator, parts = text["Fn::Join"]
        text = separator.join(part if isinstance(part, str) else placeholder(part) for part in parts)
    return json.loads(text)


def dashboard_of(synthesized_app: SynthesizedApp, environment: str) -> dict[str, Any]:
    [dashboard] = (
        synthesized_app.stacks[environment]["Dashboard"].resources("AWS::CloudWatch::Dashboard").values()
    )
    return dashboard


def widgets_by_title(dashboard_body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {widget["properties"]["title"]: widget for widget in dashboard_body["widgets"]}


def metric_rows(widget: dict[str, Any]) -> list[list[Any]]:
    return widget["properties"]["metrics"]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_environment_has_its_dashboard_named_after_it(
    synthesized_app: SynthesizedApp, environment: str
) -> None:
    stack = synthesized_app.stacks[environment]["Dashboard"]
    dashboard = dashboard_of(synthesized_app, environment)
    assert dashboard["Properties"]["DashboardName"] == f"kmsecdh-{environment}"
    assert stack.template_path.name.startswith(f"{environment}Dashboard")


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_function_s_own_metrics_derives_errors_peers_and_kms_latency(
    synthesized_app: SynthesizedApp, environment: str
) -> None:
    widgets = widgets_by_title(body(dashboard_of(synthesized_app, environment)))
    home_function = f"<Output kmsecdh-{environment}-key-agreement "

    [[search]] = metric_rows(widgets["Derives by key spec and KDF"])
    expression = search["expression"]
    assert expression.startswith(
        f'SEARCH(\'{{{log.METRIC_NAMESPACE},FunctionName,KeySpec,Kdf}} MetricName="Derives" FunctionName="'
        f"{home_function}"
    )
    assert expression.endswith("\"', 'Sum', 300)")

    errors = metric_rows(widgets["Errors by code"])
    assert [(row[0], row[1], row[4]["label"], row[4]["stat"]) for row in errors] == [
        (log.METRIC_NAMESPACE, log.error_metric(code), code, "Sum") for code in ERROR_CODES
    ]
    assert all(row[2] == "FunctionName" and row[3].startswith(home_function) for row in errors)

    peers = metric_rows(widgets["Peers per invocation"])
    # Average is CloudWatch's default statistic: the body leaves it out.
    assert [(row[1], row[4].get("stat", "Average")) for row in peers] == [
        ("Peers", "Average"),
        ("Peers", "Maximum"),
    ]
    latency = metric_rows(widgets["KMS latency (ms)"])
    assert [(row[1], row[4]["stat"]) for row in latency] == [
        ("DeriveSharedSecretLatency", "p50"),
        ("DeriveSharedSecretLatency", "p99"),
        ("GetPublicKeyLatency", "p50"),
        ("GetPublicKeyLatency", "p99"),
    ]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_lambda_s_metrics_duration_throttles_and_concurrency_against_the_reserved(
    synthesized_app: SynthesizedApp, environment: str
) -> None:
    config = synthesized_app.environments[environment]
    widgets = widgets_by_title(body(dashboard_of(synthesized_app, environment)))
    duration = metric_rows(widgets["Duration"])
    assert [(row[0], row[1], row[4]["stat"]) for row in duration] == [
        ("AWS/Lambda", "Duration", "p50"),
        ("AWS/Lambda", "Duration", "p99"),
    ]
    [throttles] = metric_rows(widgets["Throttles"])
    assert (throttles[1], throttles[4]["stat"]) == ("Throttles", "Sum")
    concurrency = widgets["Concurrency"]["properties"]
    [[_, metric, *_rest]] = concurrency["metrics"]
    assert metric == "ConcurrentExecutions"
    assert concurrency["annotations"]["horizontal"] == [
        {"value": config.reserved_concurrency, "label": "reserved concurrency", "yAxis": "left"}
    ]


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_audit_alarm_s_state_is_shown(synthesized_app: SynthesizedApp, environment: str) -> None:
    audit = synthesized_app.stacks[environment]["Audit"]
    alarm_ids = sorted(audit.resources("AWS::CloudWatch::Alarm"))
    widgets = widgets_by_title(body(dashboard_of(synthesized_app, environment)))
    # The heartbeat's alarm has a widget of its own; every other alarm is in "Audit alarms".
    shown = widgets["Audit alarms"]["properties"]["alarms"] + widgets["Heartbeat"]["properties"]["alarms"]
    assert len(shown) == len(alarm_ids) >= 10
    # Each is a reference to one of the audit stack's outputs, which is that alarm's ARN.
    outputs = {name: output["Value"] for name, output in audit.raw.get("Outputs", {}).items()}
    referenced = sorted(outputs[alarm.split()[-1].rstrip(">")]["Fn::GetAtt"][0] for alarm in shown)
    assert referenced == alarm_ids
    assert all(alarm.startswith(f"<Output kmsecdh-{environment}-audit ") for alarm in shown)


def test_the_replica_region_s_function_has_its_rows_in_its_region(synthesized_app: SynthesizedApp) -> None:
    widgets = body(dashboard_of(synthesized_app, "prod"))["widgets"]
    replica = [widget for widget in widgets if widget["properties"]["title"].endswith("(eu-west-1)")]
    assert len(replica) == 7
    assert {widget["properties"]["region"] for widget in replica} == {"eu-west-1"}
    [[search]] = next(
        metric_rows(widget) for widget in replica if widget["properties"]["title"].startswith("Derives")
    )
    assert 'FunctionName="kmsecdh-prod-derive-eu-west-1"' in search["expression"]
    assert search["region"] == "eu-west-1"


# --- the construct on its own, and the switch ----------------------------------------------------


def construct_body(**props: Any) -> dict[str, Any]:
    stack = cdk.Stack(cdk.App(), "Test", env=cdk.Environment(account="111122223333", region="eu-west-1"))
    props.setdefault("functions", [DashboardFunction("my-derive")])
    OperatorDashboard(stack, "Dashboard", **props)
    [dashboard] = Template.from_stack(stack).find_resources("AWS::CloudWatch::Dashboard").values()
    return body(dashboard)


def alarm(stack_id: str, name: str) -> cloudwatch.IAlarm:
    stack = cdk.Stack(cdk.App(), stack_id, env=cdk.Environment(account="111122223333", region="eu-west-1"))
    return cloudwatch.Alarm.from_alarm_arn(
        stack, name, f"arn:aws:cloudwatch:eu-west-1:111122223333:alarm:{name}"
    )


def test_the_heartbeat_widget_shows_the_alarm_it_is_given_and_is_absent_without() -> None:
    heartbeat = alarm("Heartbeat", "kmsecdh-heartbeat")
    with_heartbeat = widgets_by_title(construct_body(heartbeat_alarm=heartbeat))
    assert with_heartbeat["Heartbeat"]["properties"]["alarms"] == [heartbeat.alarm_arn]
    assert "Heartbeat" not in widgets_by_title(construct_body())
    assert "Audit alarms" not in widgets_by_title(construct_body())


def test_without_reserved_concurrency_the_concurrency_graph_has_no_line() -> None:
    concurrency = widgets_by_title(construct_body())["Concurrency"]["properties"]
    assert "annotations" not in concurrency


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"functions": []}, "OperatorDashboard needs at least one function in functions"),
        (
            {"functions": [DashboardFunction("my-derive", reserved_concurrency=0)]},
            "OperatorDashboard: reserved_concurrency of my-derive must be at least 1, got 0",
        ),
    ],
)
def test_invalid_dashboards_are_refused_at_construct_time(props: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        construct_body(**props)


def test_the_dashboard_switch_is_on_by_default_and_turns_the_stack_off() -> None:
    context = load_context()
    entry = copy.deepcopy(context["environments"]["dev"])
    assert parse_environment("dev", entry).dashboard is True
    entry["dashboard"] = False
    stage = KmsEcdhStage(cdk.App(context=context), parse_environment("dev", entry))
    assert stage.dashboard is None
    assert "Dashboard" not in {child.node.id for child in stage.node.children}
    with pytest.raises(EnvironmentConfigError, match=r"environments\.dev\.dashboard: must be true or false"):
        parse_environment("dev", {**entry, "dashboard": "off"})
