"""The operator's dashboard of one environment: its derive functions' health and the audit's alarms.

A stack of its own, deployed after the key-agreement and audit stacks it reads (the home function's name,
the alarms), so the dashboard can be changed, or switched off (``dashboard: false``), without touching them.
The replica Regions' functions have fixed names and are shown from their Regions' metrics.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from kmsecdh_cdk.dashboard import DashboardFunction, OperatorDashboard
from stacks.config import EnvironmentConfig


class DashboardStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: EnvironmentConfig,
        functions: Sequence[DashboardFunction],
        alarms: Sequence[cloudwatch.IAlarm],
        heartbeat_alarm: cloudwatch.IAlarm | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        self.dashboard = OperatorDashboard(
            self,
            "OperatorDashboard",
            functions=functions,
            alarms=alarms,
            heartbeat_alarm=heartbeat_alarm,
            dashboard_name=config.resource_name_prefix,
        )
