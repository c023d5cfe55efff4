"""The audit's heartbeat: a schedule whose CloudTrail record proves the trail still delivers, and the alarm
that fires when none arrives (missing data is breaching: a dead pipeline must not look like a quiet one).

Made in the audit construct's scope, so construct paths and logical ids do not depend on this module.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, Names, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from kmsecdh_cdk.acknowledgments import COMPLIANCE_PACKS, acknowledge
from kmsecdh_cdk.audit.alarms import alarm_to_topic
from kmsecdh_cdk.audit.events import HEARTBEAT
from kmsecdh_cdk.iam_actions import AUDIT_HEARTBEAT_ACTION

# A beat every five minutes; CloudTrail delivers most records within minutes but promises no bound, so the
# alarm waits for two quiet periods of fifteen minutes (about six missed beats) before it fires.
HEARTBEAT_RATE = Duration.minutes(5)
HEARTBEAT_ALARM_PERIOD = Duration.minutes(15)
HEARTBEAT_EVALUATION_PERIODS = 2
SCHEDULER_SERVICE = "scheduler.amazonaws.com"


@dataclass(frozen=True)
class Heartbeat:
    """The schedule, the role it acts with, and the name of the parameter it puts."""

    schedule: scheduler.Schedule
    role: iam.Role
    parameter_name: str


def heartbeat(scope: Construct) -> Heartbeat:
    """An EventBridge Scheduler schedule that puts an SSM parameter every ``HEARTBEAT_RATE``, with a
    role of its own.

    Scheduler's universal targets call an AWS API directly (no function), but never a read-only one
    (Get*, Describe*, List*, ... are refused), so the beat is a harmless write: PutParameter of a
    parameter that only holds the time of the last beat. A write management event is recorded by every
    trail that records management events, write-only ones included, and SSM is not an event source
    organisation trails usually exclude (as some do KMS's, for volume). The role's trust is limited to
    Scheduler acting for this account's default schedule group (aws:SourceAccount, aws:SourceArn).
    """
    stack = Stack.of(scope)
    parameter_name = f"/kmsecdh/{Names.unique_resource_name(scope, max_length=200, separator='-')}/heartbeat"
    parameter = ssm.StringParameter(
        scope,
        "HeartbeatParameter",
        parameter_name=parameter_name,
        string_value="no beat yet",
        description="kmsecdh audit heartbeat: the time of the last beat (EventBridge Scheduler)",
    )
    role = iam.Role(
        scope,
        "HeartbeatRole",
        description="kmsecdh audit heartbeat: EventBridge Scheduler puts the heartbeat parameter",
        assumed_by=iam.ServicePrincipal(SCHEDULER_SERVICE).with_conditions(
            {
                "StringEquals": {
                    "aws:SourceAccount": stack.account,
                    "aws:SourceArn": stack.format_arn(
                        service="scheduler", resource="schedule-group", resource_name="default"
                    ),
                }
            }
        ),
    )
    schedule = scheduler.Schedule(
        scope,
        "Heartbeat",
        description="kmsecdh audit heartbeat: a CloudTrail record the audit counts",
        schedule=scheduler.ScheduleExpression.rate(HEARTBEAT_RATE),
        target=scheduler_targets.Universal(
            service="ssm",
            action="putParameter",
            role=role,
            input=scheduler.ScheduleTargetInput.from_object(
                {
                    "Name": parameter_name,
                    "Value": scheduler.ContextAttribute.scheduled_time,
                    "Type": "String",
                    "Overwrite": True,
                }
            ),
            policy_statements=[
                iam.PolicyStatement(actions=[AUDIT_HEARTBEAT_ACTION], resources=[parameter.parameter_arn])
            ],
            # A missed beat is not made up: the next one is five minutes away, and a retried call would
            # only blur what the heartbeat measures.
            retry_attempts=0,
        ),
    )
    for pack in COMPLIANCE_PACKS:
        acknowledge(
            role.node.find_child("DefaultPolicy"),
            f"{pack}-IAMNoInlinePolicy",
            "The heartbeat role's only policy, made for this schedule and deleted with it: "
            "ssm:PutParameter on the one heartbeat parameter.",
        )
    return Heartbeat(schedule, role, parameter_name)


def heartbeat_alarm(scope: Construct, topic: sns.Topic, metric_namespace: str) -> cloudwatch.Alarm:
    """Fewer than one heartbeat in each of two periods fires it; no data at all is the failure it is
    for, so missing data breaches. It also notifies when beats arrive again."""
    alarm = alarm_to_topic(
        scope,
        HEARTBEAT,
        topic,
        metric_namespace=metric_namespace,
        period=HEARTBEAT_ALARM_PERIOD,
        evaluation_periods=HEARTBEAT_EVALUATION_PERIODS,
        comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
    )
    alarm.add_ok_action(cloudwatch_actions.SnsAction(topic))
    return alarm
