"""The invocation log line: its fields, outcome and level, and where it goes before and after set-up."""

from __future__ import annotations

import hashlib
import json
import logging

import pytest

from kmsecdh import log
from kmsecdh.errors import InvalidRequest, KmsThrottled
from kmsecdh.log import InvocationRecord

PEER_DER = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200") + b"\x04" + bytes(64)
FIXED_INFO = b"\x00\x00\x00\x03app\x00\x00\x00\x05alice\x00\x00\x00\x03bob"
KEY_ARN = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def stdout_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_a_successful_invocation_logs_one_info_line_with_every_field(
    log_to_stdout: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with InvocationRecord("req-1") as record:
        record.action, record.key_arn, record.peers = "derive", KEY_ARN, 1
        record.served_peers([PEER_DER])
        record.used_fixed_info(FIXED_INFO)
    [line] = stdout_lines(capsys)
    duration = line.pop("duration_ms")
    assert isinstance(duration, float)
    assert duration >= 0
    assert line == {
        "level": "INFO",
        "message": log.MESSAGE,
        "request_id": "req-1",
        "action": "derive",
        "key_arn": KEY_ARN,
        "peers": 1,
        "peer_key_sha256": [hashlib.sha256(PEER_DER).hexdigest()],
        "fixed_info_sha256": hashlib.sha256(FIXED_INFO).hexdigest(),
        "outcome": log.OUTCOME_SUCCESS,
        "error_code": None,
        "peer_error_codes": {},
    }


def test_a_derive_error_is_logged_with_its_code_and_still_raised(
    log_to_stdout: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(InvalidRequest), InvocationRecord(None):
        raise InvalidRequest("kdf must be a JSON object")
    [line] = stdout_lines(capsys)
    assert (line["level"], line["outcome"], line["error_code"]) == ("WARNING", "error", "InvalidRequest")
    assert "kdf must be" not in json.dumps(line), "messages can carry request data; only codes are logged"


def test_any_other_exception_still_leaves_a_line(
    log_to_stdout: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(KeyError), InvocationRecord("req-2"):
        raise KeyError("boom")
    [line] = stdout_lines(capsys)
    assert line["request_id"] == "req-2"


@pytest.mark.parametrize(
    ("failed_codes", "outcome", "level"),
    [
        ([], log.OUTCOME_SUCCESS, "INFO"),
        (["KmsThrottled", "InvalidPublicKey"], log.OUTCOME_PARTIAL, "WARNING"),
        (["KmsThrottled", "InvalidPublicKey", "KmsThrottled"], log.OUTCOME_ERROR, "WARNING"),
    ],
)
def test_a_batch_outcome_counts_failed_peers(
    log_to_stdout: None, capsys: pytest.CaptureFixture[str], failed_codes: list[str], outcome: str, level: str
) -> None:
    with InvocationRecord("req-3") as record:
        record.peers = 3
        for code in failed_codes:
            record.peer_failed(code)
    [line] = stdout_lines(capsys)
    assert (line["outcome"], line["level"]) == (outcome, level)
    counts = {code: failed_codes.count(code) for code in sorted(set(failed_codes))}
    assert json.dumps(line["peer_error_codes"]) == json.dumps(counts), "counts, sorted by code"


def test_internal_errors_are_logged_by_class_name_only(
    log_to_stdout: None, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(record: InvocationRecord) -> None:
        record.internal_error = "ZeroDivisionError"
        raise KmsThrottled("retry later")

    with pytest.raises(KmsThrottled), InvocationRecord("req-4") as record:
        fail(record)
    [line] = stdout_lines(capsys)
    assert line["internal_error"] == "ZeroDivisionError"


def test_before_set_up_lines_go_to_the_invocation_logger_at_their_level(
    log_to_logger: None, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.INFO, logger=log.LOGGER_NAME)
    with InvocationRecord("req-5"):
        pass
    with pytest.raises(InvalidRequest), InvocationRecord("req-6"):
        raise InvalidRequest("bad")
    assert [(r.name, r.levelno, json.loads(r.getMessage())["request_id"]) for r in caplog.records] == [
        (log.LOGGER_NAME, logging.INFO, "req-5"),
        (log.LOGGER_NAME, logging.WARNING, "req-6"),
    ]
    assert capsys.readouterr().out == ""


def test_after_set_up_lines_bypass_logging(
    log_to_stdout: None, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    log.configure_logging()  # idempotent
    with InvocationRecord("req-7"):
        pass
    assert caplog.records == []
    assert [line["request_id"] for line in stdout_lines(capsys)] == ["req-7"]


class BrokenStdout:
    def write(self, _text: str) -> int:
        raise OSError("broken pipe")

    def flush(self) -> None:
        raise OSError("broken pipe")


def test_a_line_stdout_refuses_goes_to_the_logger_and_the_invocation_goes_on(
    log_to_stdout: None, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger=log.LOGGER_NAME)
    monkeypatch.setattr("sys.stdout", BrokenStdout())
    with InvocationRecord("req-8"):
        pass
    [record] = caplog.records
    assert json.loads(record.getMessage())["request_id"] == "req-8"
