"""Opt-in, real AWS account (``make test-aws``; never part of ``make test``).

CloudWatch Logs ``TestMetricFilter`` runs every audit pattern on the CloudTrail samples of
``tests/infra/cloudtrail_samples``: the service itself must match each pattern's positive samples and none of
its negatives, as the local evaluator does in ``make test``. Needs ``logs:TestMetricFilter`` only; nothing
is deployed.
"""

from __future__ import annotations

import json
import os

import boto3
import pytest

from tests.infra.pattern_cases import CASES, PatternCase, sample

pytestmark = pytest.mark.aws


@pytest.fixture(scope="module")
def logs():
    if os.environ.get("KMSECDH_AWS_TESTS") != "1":
        pytest.fail("set KMSECDH_AWS_TESTS=1 (make test-aws) to call CloudWatch Logs in your account")
    return boto3.client("logs")


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_cloudwatch_logs_matches_exactly_the_positive_samples(logs, case: PatternCase) -> None:
    names = [*case.matching, *case.not_matching]
    messages = [json.dumps(sample(name)["event"]) for name in names]
    response = logs.test_metric_filter(filterPattern=case.pattern, logEventMessages=messages)
    # matched by message (every sample's JSON differs), which needs no assumption on eventNumber's base
    matched = {names[messages.index(match["eventMessage"])] for match in response["matches"]}
    assert matched == set(case.matching)
