"""Synthesis says so when alarms would notify nobody: a topic without a single subscription.

Checked at synthesis (an aspect), not at construction, so that a subscription added to the topic later, in
any stack of the app, counts.
"""

from __future__ import annotations

import weakref

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
        if self._topic.topic_arn not in _subscribed_topic_arns(node.node.root):
            Annotations.of(node).add_warning_v2(
                UNSUBSCRIBED_TOPIC_WARNING,
                f"Nobody subscribes to this topic: {self._consequence} notify nobody. Subscribe someone (an "
                "e-mail address, a chat or paging integration) or acknowledge this warning.",
            )


# One walk of the app for all of its topics, not one per topic: a walk marshals every construct through jsii,
# and with three topics per environment a walk per topic made synthesis quadratic in the environments.
_subscribed_topic_arns_by_app: weakref.WeakKeyDictionary[IConstruct, frozenset[str]] = (
    weakref.WeakKeyDictionary()
)


def _subscribed_topic_arns(root: IConstruct) -> frozenset[str]:
    """The topic ARN of every subscription in the app whose root is ``root``; read at its first topic's visit,
    when construction is over."""
    arns = _subscribed_topic_arns_by_app.get(root)
    if arns is None:
        subscriptions = (node for node in root.node.find_all() if isinstance(node, sns.CfnSubscription))
        arns = frozenset(subscription.topic_arn for subscription in subscriptions)
        _subscribed_topic_arns_by_app[root] = arns
    return arns
