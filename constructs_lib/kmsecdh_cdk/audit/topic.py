"""The audit's alarm topic: KMS-encrypted with a key of its own, published to by this account's alarms only,
warned about at synthesis while nobody subscribes.

Made in the audit construct's scope, so construct paths and logical ids do not depend on this module.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from kmsecdh_cdk.acknowledgments import acknowledge
from kmsecdh_cdk.audit.keys import audit_key
from kmsecdh_cdk.iam_actions import ALARM_TOPIC_ENCRYPTION_ACTIONS
from kmsecdh_cdk.notifications import warn_when_unsubscribed


def alarm_topic(
    scope: Construct,
    alarm_email: str | None,
    *,
    removal_policy: RemovalPolicy,
    minimum_deletion_window_days: int,
) -> tuple[sns.Topic, kms.Key]:
    """The topic (with ``alarm_email`` subscribed when given) and its key."""
    stack = Stack.of(scope)
    cloudwatch_principal = iam.ServicePrincipal("cloudwatch.amazonaws.com")
    # Confused-deputy guard, on the topic key and the topic policy alike: alarms of this account only.
    from_this_account_alarms = {
        "StringEquals": {"aws:SourceAccount": stack.account},
        "ArnLike": {
            "aws:SourceArn": stack.format_arn(
                service="cloudwatch",
                resource="alarm",
                resource_name="*",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
        },
    }
    topic_key = audit_key(
        scope,
        "AlarmTopicKey",
        "kmsecdh audit: encrypts the alarm topic",
        [
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarms",
                principals=[cloudwatch_principal],
                actions=list(ALARM_TOPIC_ENCRYPTION_ACTIONS),
                resources=["*"],
                conditions=from_this_account_alarms,
            )
        ],
        removal_policy=removal_policy,
        minimum_deletion_window_days=minimum_deletion_window_days,
    )
    topic = sns.Topic(
        scope,
        "AlarmTopic",
        display_name="kmsecdh key usage alarms",
        master_key=topic_key,
        enforce_ssl=True,
    )
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudWatchAlarmsOfThisAccount",
            principals=[cloudwatch_principal],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions=from_this_account_alarms,
        )
    )
    warn_when_unsubscribed(topic, "the audit's alarms (no alarm_email was given)")
    if alarm_email is not None:
        subscription = topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        acknowledge(
            subscription,
            "Serverless-SNSRedrivePolicy",
            "An e-mail subscription for people: an alarm whose e-mail is not delivered stays visible in "
            "CloudWatch (alarm state and history), so a dead-letter queue would hold nothing to act on.",
        )
    return topic, topic_key
