"""The audit's alarms: one per audited event, on the metric its filters feed, publishing to the alarm topic.

Made in the audit construct's scope, so construct paths and logical ids do not depend on this module.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from kmsecdh_cdk.audit.events import AuditedEvent

METRIC_NAMESPACE = "kmsecdh"
ALARM_PERIOD = Duration.minutes(5)


def alarm_name_prefix_for(metric_namespace: str) -> str:
    """Every alarm of an audit is named ``<prefix><metric name>``."""
    return f"{metric_namespace}-"


def event_alarm(
    scope: Construct, event: AuditedEvent, topic: sns.Topic, metric_namespace: str
) -> cloudwatch.Alarm:
    """One matching event in five minutes fires it."""
    return alarm_to_topic(
        scope,
        event,
        topic,
        metric_namespace=metric_namespace,
        period=ALARM_PERIOD,
        evaluation_periods=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        # No matching event in a period means no data point, which is the normal, quiet state; a dead
        # pipeline is the heartbeat alarm's to tell.
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )


def alarm_to_topic(
    scope: Construct,
    event: AuditedEvent,
    topic: sns.Topic,
    *,
    metric_namespace: str,
    period: Duration,
    evaluation_periods: int,
    comparison_operator: cloudwatch.ComparisonOperator,
    treat_missing_data: cloudwatch.TreatMissingData,
) -> cloudwatch.Alarm:
    alarm = cloudwatch.Alarm(
        scope,
        f"{event.metric_name}Alarm",
        # A fixed name, so the AuditLayerChanged filter can tell this audit's alarms being put again.
        alarm_name=f"{alarm_name_prefix_for(metric_namespace)}{event.metric_name}",
        alarm_description=event.description,
        metric=cloudwatch.Metric(
            namespace=metric_namespace,
            metric_name=event.metric_name,
            statistic=cloudwatch.Stats.SUM,
            period=period,
        ),
        threshold=1,
        evaluation_periods=evaluation_periods,
        comparison_operator=comparison_operator,
        treat_missing_data=treat_missing_data,
    )
    alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
    return alarm
