"""Synthesis says so when alarms would notify nobody: a topic without a single subscription.

Checked at synthesis (an aspect), not at construction, so that a subscription added to the topic later, in
any stack of the app, counts.
"""

from __future__ import annotations

import jsii
from aws_cdk import Annotations, Aspects, IAspect
from aws_cdk import aws_sns as sns
from constructs import IConstruct

UNSUBSCRIBED_TOPIC_WARNING = "kmsecdh:alarmsNotifyNobody"


def warn_when_unsubscribed(topic: sns.Topic, consequence: str) -> None:
    """At synthesis, a warning on ``topic`` (``consequence`` says what goes unheard) unless some subscription
    of the app names it."""
    Aspects.of(topic).add(_UnsubscribedTopicWarning(topic, consequence))


@jsii.implements(IAspect)
class _UnsubscribedTopicWarning:
    def __init__(self, topic: sns.Topic, consequence: str) -> None:
        self._topic = topic
        self._consequence = consequence

    def visit(self, node: IConstruct) -> None:
        if node is not self._topic:
            return
        topic_arn = self._topic.topic_arn
        subscribed = any(
            isinstance(construct, sns.CfnSubscription) and construct.topic_arn == topic_arn
            for construct in node.node.root.node.find_all()
        )
        if not subscribed:
            Annotations.of(node).add_warning_v2(
                UNSUBSCRIBED_TOPIC_WARNING,
                f"Nobody subscribes to this topic: {self._consequence} notify nobody. Subscribe someone (an "
                "e-mail address, a chat or paging integration) or acknowledge this warning.",
            )
