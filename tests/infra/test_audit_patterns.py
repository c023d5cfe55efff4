"""Every audit pattern against published CloudTrail event shapes, through a strict local evaluator.

The evaluator (``filter_pattern``) is first checked on its own against the documented syntax; then each
pattern must match its positive samples and none of its negatives (``pattern_cases``).
"""

from __future__ import annotations

import inspect

import pytest

from kmsecdh_cdk.audit import patterns as audit_patterns
from tests.infra.filter_pattern import FilterPatternError, matches
from tests.infra.pattern_cases import CASES, PatternCase, sample, sample_names

# --- the evaluator on its own, on events and patterns in the style of the CloudWatch Logs documentation ---

DOCUMENTED_EVENT = {
    "eventType": "UpdateTrail",
    "sourceIPAddress": "123.123.123.123",
    "arrayKey": ["value", "another value"],
    "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
    "SomeObject": None,
    "user": {"id": 1, "email": "John.Stiles@example.com"},
}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ('{ $.eventType = "UpdateTrail" }', True),
        ("{ $.eventType = UpdateTrail }", True),
        ('{ $.eventType = "updatetrail" }', False),
        ('{ $.eventType != "UpdateTrail" }', False),
        ("{ $.sourceIPAddress != 123.123.* }", False),
        ("{ $.sourceIPAddress = 123.123.* }", True),
        ('{ $.sourceIPAddress = "*.123" }', True),
        ('{ $.sourceIPAddress = "*.124" }', False),
        ('{ $.arrayKey[0] = "value" }', True),
        ('{ $.arrayKey[1] = "value" }', False),
        ('{ $.arrayKey[2] = "value" }', False),
        ('{ $.objectList[1].name = "b" }', True),
        ("{ $.objectList[1].id = 2 }", True),
        ("{ $.user.id = 1 }", True),
        ("{ $.SomeObject IS NULL }", True),
        ("{ $.eventType IS NULL }", False),
        ("{ $.SomeOtherObject NOT EXISTS }", True),
        ("{ $.SomeObject NOT EXISTS }", False),
        ("{ $.eventType EXISTS }", True),
        # a comparison with an absent (or null) property is false, = and != alike
        ('{ $.SomeOtherObject != "x" }', False),
        ('{ $.SomeOtherObject = "*" }', False),
        ('{ $.SomeObject != "x" }', False),
        ('{ $.user.email.domain != "x" }', False),
        ('{ ($.user.id = 1) && ($.user.email = "John.Stiles@example.com") }', True),
        ('{ ($.user.id = 2) || ($.user.email = "John.Stiles@*") }', True),
        ('{ ($.user.id = 2) || (($.eventType = "UpdateTrail") && ($.arrayKey[0] = "other")) }', False),
        ('{ $.user.id = 1 && $.eventType = "UpdateTrail" && $.arrayKey[1] = "another value" }', True),
    ],
)
def test_evaluator_on_documented_shapes(pattern: str, expected: bool) -> None:
    assert matches(pattern, DOCUMENTED_EVENT) is expected


@pytest.mark.parametrize(
    "pattern",
    [
        '{ $.user.id = 1 || $.eventType = "x" && $.arrayKey[0] = "value" }',  # precedence left open
        '{ $.eventType = "UpdateTrail"',
        '$.eventType = "UpdateTrail"',
        '{ $.eventType = "UpdateTrail" } extra',
        "{ $.user.id > 0 }",
        "{ $.eventType = %Update% }",
        "{ $.eventType IS TRUE }",
        "{ eventType = UpdateTrail }",
        '{ $.user = "x" }',  # an object compared with a string
        '{ $.user.id = "1" }',  # a number compared with a quoted string
    ],
)
def test_evaluator_refuses_what_it_does_not_know(pattern: str) -> None:
    with pytest.raises(FilterPatternError):
        matches(pattern, DOCUMENTED_EVENT)


# --- the samples ---


@pytest.mark.parametrize("name", sample_names())
def test_every_sample_names_its_source_and_is_a_cloudtrail_event(name: str) -> None:
    loaded = sample(name)
    assert set(loaded) == {"source", "event"}
    assert len(loaded["source"]) > 20
    assert loaded["source"].startswith(("https://docs.aws.amazon.com/", "derived from ", "blog post "))
    event = loaded["event"]
    assert {"eventSource", "eventName", "userIdentity", "eventTime"} <= set(event)


def test_every_sample_is_used_and_every_case_names_existing_samples() -> None:
    used = {name for case in CASES for name in (*case.matching, *case.not_matching)}
    assert used == set(sample_names())


def test_every_pattern_builder_has_cases() -> None:
    builders = {
        name
        for name, function in inspect.getmembers(audit_patterns, inspect.isfunction)
        if name.endswith("_pattern") and not name.startswith("_")
    }
    assert builders == {case.builder for case in CASES}


# --- every pattern against its samples ---


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_pattern_matches_its_positive_samples(case: PatternCase) -> None:
    for name in case.matching:
        assert matches(case.pattern, sample(name)["event"]), name


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_pattern_matches_none_of_its_negative_samples(case: PatternCase) -> None:
    for name in case.not_matching:
        assert not matches(case.pattern, sample(name)["event"]), name


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_pattern_fits_cloudwatch_logs(case: PatternCase) -> None:
    assert len(case.pattern) <= audit_patterns.MAX_FILTER_PATTERN_LENGTH
