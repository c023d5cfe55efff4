"""audit: every LookupEvents page for the key's ARN, as a table or JSON lines (botocore Stubber)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import ANY, Stubber

from kmsecdh.audit_events import parse_since
from kmsecdh.cli import remote

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
    monkeypatch.setattr(remote, "aws_client", lambda name: client)
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
    monkeypatch.setattr(remote, "aws_client", {"kms": kms, "cloudtrail": cloudtrail}.__getitem__)
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
    monkeypatch.setattr(remote, "aws_client", lambda name: client)
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
