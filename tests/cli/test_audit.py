"""audit: every LookupEvents page for the key's ARN and, with --function, the function's invocations from a
Logs Insights query (polled until complete), as a table or JSON lines (botocore Stubber)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import ANY, Stubber

from kmsecdh.audit_events import (
    MAX_INVOCATIONS,
    InvocationQueryError,
    invocation_events,
    invocation_query,
    parse_since,
)
from kmsecdh.cli import aws

KEY_ARN = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
DERIVER = "arn:aws:sts::111122223333:assumed-role/kmsecdh-dev-derive/fn"
INTRUDER = "arn:aws:iam::111122223333:user/mallory"


def _event(name: str, when: datetime, principal: str, ip: str, error: str | None = None) -> dict:
    record = {"eventName": name, "userIdentity": {"arn": principal}, "sourceIPAddress": ip}
    if error:
        record.update(errorCode=error, errorMessage="not authorized")
    return {
        "EventName": name,
        "EventTime": when,
        "Username": "ignored",
        "CloudTrailEvent": json.dumps(record),
    }


NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
PAGES = [
    [
        _event("DeriveSharedSecret", NOW, DERIVER, "lambda.amazonaws.com"),
        _event("DeriveSharedSecret", NOW - timedelta(minutes=5), INTRUDER, "203.0.113.7", "AccessDenied"),
    ],
    [
        _event(
            "PutKeyPolicy", NOW - timedelta(hours=2), "arn:aws:iam::111122223333:role/admin", "198.51.100.2"
        )
    ],
]


@pytest.fixture
def cloudtrail(monkeypatch: pytest.MonkeyPatch):
    client = boto3.client(
        "cloudtrail", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stubber = Stubber(client)
    for index, events in enumerate(PAGES):
        expected = {
            "LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": KEY_ARN}],
            "StartTime": ANY,
            "EndTime": ANY,
        }
        if index:
            expected["NextToken"] = f"page-{index}"
        response = {"Events": events}
        if index + 1 < len(PAGES):
            response["NextToken"] = f"page-{index + 1}"
        stubber.add_response("lookup_events", response, expected)
    monkeypatch.setattr(aws, "aws_client", lambda name: client)
    with stubber:
        yield stubber
    stubber.assert_no_pending_responses()


def test_audit_json_lines_cover_every_page(run_cli, cloudtrail) -> None:
    result = run_cli("audit", "--key-id", KEY_ARN, "--since", "7d", "--json")
    assert result.code == 0, result.err
    lines = [json.loads(line) for line in result.out.splitlines()]
    assert [line["event"] for line in lines] == ["DeriveSharedSecret", "DeriveSharedSecret", "PutKeyPolicy"]
    assert lines[1] == {
        "time": "2026-05-01T11:55:00+00:00",
        "event": "DeriveSharedSecret",
        "principal": INTRUDER,
        "source_ip": "203.0.113.7",
        "error": "AccessDenied: not authorized",
    }
    assert lines[0]["error"] == ""


def test_audit_table(run_cli, cloudtrail) -> None:
    result = run_cli("audit", "--key-id", KEY_ARN)
    assert result.code == 0, result.err
    header, *rows = result.out.splitlines()
    assert header.split() == ["TIME", "EVENT", "PRINCIPAL", "SOURCE_IP", "ERROR"]
    assert len(rows) == 3
    assert rows[1].split()[:4] == ["2026-05-01T11:55:00+00:00", "DeriveSharedSecret", INTRUDER, "203.0.113.7"]
    assert rows[0].split()[-1] == "-"
    assert f"3 events on {KEY_ARN}" in result.err


def test_audit_resolves_an_alias_to_the_key_arn(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = {"region_name": "eu-west-1", "aws_access_key_id": "x", "aws_secret_access_key": "x"}
    kms, cloudtrail = boto3.client("kms", **credentials), boto3.client("cloudtrail", **credentials)
    monkeypatch.setattr(aws, "aws_client", {"kms": kms, "cloudtrail": cloudtrail}.__getitem__)
    with Stubber(kms) as kms_stub, Stubber(cloudtrail) as trail_stub:
        kms_stub.add_response(
            "describe_key",
            {"KeyMetadata": {"KeyId": "1234", "Arn": KEY_ARN}},
            {"KeyId": "alias/kmsecdh-dev-p256"},
        )
        trail_stub.add_response(
            "lookup_events",
            {"Events": []},
            {
                "LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": KEY_ARN}],
                "StartTime": ANY,
                "EndTime": ANY,
            },
        )
        result = run_cli("audit", "--key-id", "alias/kmsecdh-dev-p256", "--json")
    assert result.code == 0, result.err
    assert result.out == ""


def test_audit_reports_aws_errors(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    client = boto3.client(
        "cloudtrail", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    monkeypatch.setattr(aws, "aws_client", lambda name: client)
    with Stubber(client) as stubber:
        stubber.add_client_error("lookup_events", "AccessDeniedException", "no cloudtrail:LookupEvents")
        result = run_cli("audit", "--key-id", KEY_ARN)
    assert result.code == 1
    assert result.err.strip() == (
        "kmsecdh: AWS LookupEvents failed: AccessDeniedException: no cloudtrail:LookupEvents"
    )


@pytest.mark.parametrize(
    ("text", "delta"),
    [("30m", timedelta(minutes=30)), ("24h", timedelta(days=1)), ("90d", timedelta(days=90))],
)
def test_since_units(text: str, delta: timedelta) -> None:
    assert parse_since(text) == delta


@pytest.mark.parametrize("text", ["", "24", "1w", "0h", "-1d", "91d", "1.5h"])
def test_since_rejects(run_cli, text: str) -> None:
    result = run_cli("audit", "--key-id", KEY_ARN, "--since", text)
    assert result.code == 2
    assert "--since" in result.err


# --- the derive function's invocations, from the trail's log group (Logs Insights) ---

FUNCTION_ARN = "arn:aws:lambda:eu-west-1:111122223333:function:kmsecdh-dev-derive"
LOG_GROUP = "/aws/cloudtrail/kmsecdh-dev-audit"
CALLER = "arn:aws:sts::111122223333:assumed-role/kmsecdh-dev-app/worker"


def _row(when: str, principal: str | None, ip: str, error: str | None = None) -> list[dict[str, str]]:
    cells = {"@timestamp": when, "eventName": "Invoke", "sourceIPAddress": ip}
    if principal:
        cells["userIdentity.arn"] = principal
    else:
        cells["userIdentity.invokedBy"] = "events.amazonaws.com"
    if error:
        cells.update(errorCode=error, errorMessage="throttled")
    return [{"field": field, "value": value} for field, value in cells.items()]


INVOCATION_ROWS = [
    _row("2026-05-01 11:58:00.000", CALLER, "198.51.100.9"),
    _row("2026-05-01 09:00:00.123", None, "events.amazonaws.com", "TooManyRequestsException"),
]


def _client(name: str):
    return boto3.client(name, region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")


def _expect_query(stubber: Stubber) -> None:
    stubber.add_response(
        "start_query",
        {"queryId": "query-1"},
        {
            "logGroupName": LOG_GROUP,
            "startTime": ANY,
            "endTime": ANY,
            "queryString": invocation_query(FUNCTION_ARN),
            "limit": MAX_INVOCATIONS,
        },
    )


class FakeTime:
    """A clock that only advances when slept on."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_invocation_events_poll_until_the_query_completes() -> None:
    logs = _client("logs")
    fake = FakeTime()
    with Stubber(logs) as stubber:
        _expect_query(stubber)
        for status in ("Scheduled", "Running"):
            stubber.add_response(
                "get_query_results", {"status": status, "results": []}, {"queryId": "query-1"}
            )
        stubber.add_response(
            "get_query_results", {"status": "Complete", "results": INVOCATION_ROWS}, {"queryId": "query-1"}
        )
        events = invocation_events(
            logs, LOG_GROUP, FUNCTION_ARN, NOW - timedelta(days=1), clock=fake.clock, sleep=fake.sleep
        )
        stubber.assert_no_pending_responses()
    assert fake.sleeps == [1.0, 1.0]
    assert [event.as_json() for event in events] == [
        json.dumps(
            {
                "error": "",
                "event": "Invoke",
                "principal": CALLER,
                "source_ip": "198.51.100.9",
                "time": "2026-05-01T11:58:00+00:00",
            }
        ),
        json.dumps(
            {
                "error": "TooManyRequestsException: throttled",
                "event": "Invoke",
                "principal": "events.amazonaws.com",
                "source_ip": "events.amazonaws.com",
                "time": "2026-05-01T09:00:00+00:00",
            }
        ),
    ]


@pytest.mark.parametrize("status", ["Failed", "Cancelled", "Timeout", "Unknown"])
def test_a_query_that_does_not_complete_is_one_clear_error(status: str) -> None:
    logs = _client("logs")
    with Stubber(logs) as stubber:
        _expect_query(stubber)
        stubber.add_response("get_query_results", {"status": status, "results": []}, {"queryId": "query-1"})
        with pytest.raises(InvocationQueryError, match=f"{LOG_GROUP} ended with status {status}$"):
            invocation_events(logs, LOG_GROUP, FUNCTION_ARN, NOW, sleep=lambda _: None)


def test_a_query_running_past_the_wait_is_stopped() -> None:
    logs = _client("logs")
    fake = FakeTime()
    with Stubber(logs) as stubber:
        _expect_query(stubber)
        for _ in range(4):
            stubber.add_response("get_query_results", {"status": "Running"}, {"queryId": "query-1"})
        stubber.add_response("stop_query", {"success": True}, {"queryId": "query-1"})
        with pytest.raises(InvocationQueryError, match=r"did not complete within 3 s \(stopped\)"):
            invocation_events(
                logs, LOG_GROUP, FUNCTION_ARN, NOW, wait_seconds=3, clock=fake.clock, sleep=fake.sleep
            )
        stubber.assert_no_pending_responses()
    assert fake.now == 3.0


@pytest.mark.parametrize(
    "arn", ["kmsecdh-dev-derive", f"{FUNCTION_ARN}:live", f'{FUNCTION_ARN}" or eventName = "x'], ids=str
)
def test_the_query_takes_only_an_unqualified_function_arn(arn: str) -> None:
    with pytest.raises(ValueError, match="not an unqualified Lambda function ARN"):
        invocation_query(arn)


@pytest.fixture
def audit_clients(monkeypatch: pytest.MonkeyPatch):
    clients = {name: _client(name) for name in ("cloudtrail", "logs", "lambda")}
    monkeypatch.setattr(aws, "aws_client", clients.__getitem__)
    stubbers = {name: Stubber(client) for name, client in clients.items()}
    for stubber in stubbers.values():
        stubber.activate()
    yield stubbers
    for stubber in stubbers.values():
        stubber.deactivate()
        stubber.assert_no_pending_responses()


def _expect_lookup(stubber: Stubber) -> None:
    stubber.add_response(
        "lookup_events",
        {"Events": [event for page in PAGES for event in page]},
        {
            "LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": KEY_ARN}],
            "StartTime": ANY,
            "EndTime": ANY,
        },
    )


def test_audit_merges_the_invocations_with_the_key_events(run_cli, audit_clients) -> None:
    _expect_lookup(audit_clients["cloudtrail"])
    _expect_query(audit_clients["logs"])
    audit_clients["logs"].add_response(
        "get_query_results", {"status": "Complete", "results": INVOCATION_ROWS}, {"queryId": "query-1"}
    )
    result = run_cli(
        "audit", "--key-id", KEY_ARN, "--function", FUNCTION_ARN, "--log-group", LOG_GROUP, "--json"
    )
    assert result.code == 0, result.err
    lines = [json.loads(line) for line in result.out.splitlines()]
    assert [(line["time"], line["event"]) for line in lines] == [
        ("2026-05-01T12:00:00+00:00", "DeriveSharedSecret"),
        ("2026-05-01T11:58:00+00:00", "Invoke"),
        ("2026-05-01T11:55:00+00:00", "DeriveSharedSecret"),
        ("2026-05-01T10:00:00+00:00", "PutKeyPolicy"),
        ("2026-05-01T09:00:00+00:00", "Invoke"),
    ]
    assert lines[1]["principal"] == CALLER


def test_audit_table_names_the_function_and_resolves_its_name(run_cli, audit_clients) -> None:
    audit_clients["lambda"].add_response(
        "get_function_configuration",
        {"FunctionArn": f"{FUNCTION_ARN}:$LATEST"},
        {"FunctionName": "kmsecdh-dev-derive"},
    )
    _expect_lookup(audit_clients["cloudtrail"])
    _expect_query(audit_clients["logs"])
    audit_clients["logs"].add_response(
        "get_query_results", {"status": "Complete", "results": INVOCATION_ROWS}, {"queryId": "query-1"}
    )
    result = run_cli(
        "audit", "--key-id", KEY_ARN, "--function", "kmsecdh-dev-derive", "--log-group", LOG_GROUP
    )
    assert result.code == 0, result.err
    header, *rows = result.out.splitlines()
    assert header.split() == ["TIME", "EVENT", "PRINCIPAL", "SOURCE_IP", "ERROR"]
    assert rows[1].split()[:4] == ["2026-05-01T11:58:00+00:00", "Invoke", CALLER, "198.51.100.9"]
    assert f"5 events on {KEY_ARN} and invocations of {FUNCTION_ARN}" in result.err


def test_audit_reports_a_failed_query_in_one_line(run_cli, audit_clients) -> None:
    _expect_query(audit_clients["logs"])
    audit_clients["logs"].add_response(
        "get_query_results", {"status": "Failed", "results": []}, {"queryId": "query-1"}
    )
    result = run_cli("audit", "--key-id", KEY_ARN, "--function", FUNCTION_ARN, "--log-group", LOG_GROUP)
    assert result.code == 1
    assert result.err.strip() == (
        f"kmsecdh: error: the CloudWatch Logs Insights query for the invocations of {FUNCTION_ARN} in "
        f"{LOG_GROUP} ended with status Failed"
    )


@pytest.mark.parametrize("option", [("--function", FUNCTION_ARN), ("--log-group", LOG_GROUP)])
def test_function_and_log_group_go_together(run_cli, option: tuple[str, str]) -> None:
    result = run_cli("audit", "--key-id", KEY_ARN, *option)
    assert result.code == 2
    assert "--function and --log-group go together" in result.err


# --- audit --environment: when each generation was last used (GetKeyLastUsage) --------------------

OLD_ARN, NEW_ARN, P384_ARN = (
    f"arn:aws:kms:eu-west-1:111122223333:key/{key_id}"
    for key_id in (
        "1111aaaa-12ab-34cd-56ef-1234567890ab",
        "2222bbbb-12ab-34cd-56ef-1234567890ab",
        "3333cccc-12ab-34cd-56ef-1234567890ab",
    )
)
GENERATIONS = [
    {
        "key_spec": "ECC_NIST_P256",
        "generation": "2026-05",
        "alias": "alias/kmsecdh-staging-p256-2026-05",
        "arn": OLD_ARN,
        "status": "retired",
        "current": False,
        "retire_after": "2027-02-28",
    },
    {
        "key_spec": "ECC_NIST_P256",
        "generation": "2026-11",
        "alias": "alias/kmsecdh-staging-p256-2026-11",
        "arn": NEW_ARN,
        "status": "active",
        "current": True,
        "retire_after": None,
    },
    {
        "key_spec": "ECC_NIST_P384",
        "generation": None,
        "alias": "alias/kmsecdh-staging-p384",
        "arn": P384_ARN,
        "status": "active",
        "current": True,
        "retire_after": None,
    },
]
TRACKING = datetime(2026, 3, 1, tzinfo=UTC)
LAST_USAGE = {
    # used last month; created before tracking began
    OLD_ARN: {
        "KeyLastUsage": {
            "Operation": "DeriveSharedSecret",
            "Timestamp": datetime(2026, 4, 30, 9, 15, tzinfo=UTC),
            "CloudTrailEventId": "e1",
            "KmsRequestId": "r1",
        },
        "TrackingStartDate": TRACKING,
        "KeyCreationDate": datetime(2026, 1, 10, tzinfo=UTC),
    },
    # created after tracking began, never used
    NEW_ARN: {
        "KeyLastUsage": {},
        "TrackingStartDate": datetime(2026, 4, 2, tzinfo=UTC),
        "KeyCreationDate": datetime(2026, 4, 2, tzinfo=UTC),
    },
    # older than tracking, no use recorded since
    P384_ARN: {"TrackingStartDate": TRACKING, "KeyCreationDate": datetime(2025, 11, 3, tzinfo=UTC)},
}


@pytest.fixture(params=["kmsecdh-staging-key-agreement"])
def environment_clients(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    credentials = {"region_name": "eu-west-1", "aws_access_key_id": "x", "aws_secret_access_key": "x"}
    cloudformation, kms = boto3.client("cloudformation", **credentials), boto3.client("kms", **credentials)
    clients = {"cloudformation": cloudformation, "kms": kms}
    regions: list[str | None] = []

    def client(name: str, region_name: str | None = None) -> object:
        regions.append(region_name)
        return clients[name]

    monkeypatch.setattr(aws, "aws_client", client)
    stack_name = request.param
    with Stubber(cloudformation) as cloudformation_stub, Stubber(kms) as kms_stub:
        cloudformation_stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": stack_name,
                        "CreationTime": NOW,
                        "StackStatus": "UPDATE_COMPLETE",
                        "Outputs": [{"OutputKey": "KeyGenerations", "OutputValue": json.dumps(GENERATIONS)}],
                    }
                ]
            },
            {"StackName": stack_name},
        )
        yield kms_stub, regions
    cloudformation_stub.assert_no_pending_responses()
    kms_stub.assert_no_pending_responses()


def _answer_last_usage(kms_stub: Stubber) -> None:
    for entry in GENERATIONS:
        kms_stub.add_response(
            "get_key_last_usage", {"KeyId": entry["arn"], **LAST_USAGE[entry["arn"]]}, {"KeyId": entry["arn"]}
        )


def test_audit_environment_gives_each_generation_s_last_use(run_cli, environment_clients) -> None:
    kms_stub, regions = environment_clients
    _answer_last_usage(kms_stub)
    result = run_cli("audit", "--environment", "staging", "--json")
    assert result.code == 0, result.err
    lines = [json.loads(line) for line in result.out.splitlines()]
    assert [(line["generation"], line["status"], line["current"]) for line in lines] == [
        ("2026-05", "retired", False),
        ("2026-11", "active", True),
        (None, "active", True),
    ]
    assert [(line["last_used"], line["operation"], line["created_before_tracking"]) for line in lines] == [
        ("2026-04-30T09:15:00+00:00", "DeriveSharedSecret", True),
        (None, None, False),
        (None, None, True),
    ]
    assert lines[2]["tracking_since"] == "2026-03-01T00:00:00+00:00"
    assert regions == [None, None], "boto3's usual Region"


@pytest.mark.parametrize("environment_clients", ["kmsecdh-prod-key-agreement-eu-west-1"], indirect=True)
def test_audit_environment_reads_a_replica_region_s_keys_there(run_cli, environment_clients) -> None:
    kms_stub, regions = environment_clients
    _answer_last_usage(kms_stub)
    result = run_cli("audit", "--environment", "prod", "--replica-region", "eu-west-1", "--json")
    assert result.code == 0, result.err
    assert len(result.out.splitlines()) == len(GENERATIONS)
    assert regions == ["eu-west-1", "eu-west-1"]


def test_audit_environment_table_says_never_or_none_since_tracking(run_cli, environment_clients) -> None:
    _answer_last_usage(environment_clients[0])
    result = run_cli("audit", "--environment", "staging")
    assert result.code == 0, result.err
    header, *rows = result.out.splitlines()
    assert header.split() == [
        "KEY_SPEC",
        "GENERATION",
        "STATUS",
        "CURRENT",
        "LAST_USED",
        "OPERATION",
        "ALIAS",
    ]
    assert rows[0].split() == [
        "ECC_NIST_P256",
        "2026-05",
        "retired",
        "no",
        "2026-04-30T09:15:00+00:00",
        "DeriveSharedSecret",
        "alias/kmsecdh-staging-p256-2026-05",
    ]
    assert rows[1].split()[4] == "never"
    assert "none since 2026-03-01T00:00:00+00:00" in rows[2]
    assert "3 keys of kmsecdh-staging-key-agreement" in result.err


def test_audit_environment_reports_a_refused_get_key_last_usage(run_cli, environment_clients) -> None:
    environment_clients[0].add_client_error(
        "get_key_last_usage", "AccessDeniedException", "not in the key policy"
    )
    result = run_cli("audit", "--environment", "staging")
    assert result.code == 1
    assert result.err.strip() == (
        "kmsecdh: AWS GetKeyLastUsage failed: AccessDeniedException: not in the key policy"
    )


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (("--since", "7d"), "--since"),
        (("--function", "f", "--log-group", "g"), "--function, --log-group"),
    ],
)
def test_audit_environment_takes_none_of_the_event_options(
    run_cli, extra: tuple[str, ...], named: str
) -> None:
    result = run_cli("audit", "--environment", "staging", *extra)
    assert result.code == 2
    assert f"{named} go with --key-id, not --environment" in result.err


def test_audit_takes_a_key_or_an_environment(run_cli) -> None:
    assert run_cli("audit").code == 2
    assert run_cli("audit", "--key-id", KEY_ARN, "--environment", "staging").code == 2
    refused = run_cli("audit", "--key-id", KEY_ARN, "--replica-region", "eu-west-1")
    assert (refused.code, "--replica-region goes with --environment" in refused.err) == (2, True)
