"""The invocation log line: its fields, outcome and level, and where it goes before and after set-up."""

from __future__ import annotations

import hashlib
import json
import logging

import pytest

from kmsecdh import log
from kmsecdh.errors import InvalidRequest, KmsThrottled
from kmsecdh.log import InvocationRecord
from tests.emf import dimension_values, emf_metrics

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


# --- the metrics (CloudWatch Embedded Metric Format) ---------------------------------------------

FUNCTION = "kmsecdh-dev-derive"
BY_FUNCTION = (("FunctionName", FUNCTION),)


@pytest.fixture
def metrics_on(log_to_stdout: None) -> None:
    log.configure_logging(FUNCTION)


def test_a_batch_line_carries_its_figures_as_embedded_metrics(
    metrics_on: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with InvocationRecord("req-9") as record:
        record.action, record.key_arn = "derive", KEY_ARN
        record.key_spec, record.kdf = "ECC_NIST_P384", "hkdf-sha384"
        record.peers = 4
        record.served_peers([PEER_DER, PEER_DER, None, PEER_DER])
        for milliseconds in (11.04, 12.0, 30.55):
            record.kms_call_took("DeriveSharedSecret", milliseconds)
        record.kms_call_took("GetPublicKey", 7.0)
        record.peer_failed("InvalidPublicKey")
        record.peer_failed("KmsThrottled")
    [line] = stdout_lines(capsys)
    metrics = emf_metrics(line)
    ns = log.METRIC_NAMESPACE
    by_curve_and_kdf = (*BY_FUNCTION, ("KeySpec", "ECC_NIST_P384"), ("Kdf", "hkdf-sha384"))
    assert {key: (metric.unit, metric.values) for key, metric in metrics.items()} == {
        (ns, "Derives", by_curve_and_kdf): ("Count", (2,)),
        (ns, "Peers", BY_FUNCTION): ("Count", (4,)),
        (ns, "DeriveSharedSecretLatency", BY_FUNCTION): ("Milliseconds", (11.0, 12.0, 30.6)),
        (ns, "GetPublicKeyLatency", BY_FUNCTION): ("Milliseconds", (7.0,)),
        (ns, "InvalidPublicKeyErrors", BY_FUNCTION): ("Count", (1,)),
        (ns, "KmsThrottledErrors", BY_FUNCTION): ("Count", (1,)),
    }
    assert line["peer_error_codes"] == {"InvalidPublicKey": 1, "KmsThrottled": 1}, "the line is unchanged"
    assert dimension_values(line) == {FUNCTION, "ECC_NIST_P384", "hkdf-sha384"}
    metric_members = {key: value for key, value in line.items() if key != "peer_key_sha256"}
    assert hashlib.sha256(PEER_DER).hexdigest() not in json.dumps(metric_members)


def test_a_failed_derive_counts_its_code_once_and_no_derive(
    metrics_on: None, capsys: pytest.CaptureFixture[str]
) -> None:
    def throttled(record: InvocationRecord) -> None:
        record.action, record.key_spec, record.kdf, record.peers = "derive", "ECC_NIST_P256", log.NO_KDF, 1
        record.kms_call_took("DeriveSharedSecret", 900.0)
        raise KmsThrottled("retry later")

    with pytest.raises(KmsThrottled), InvocationRecord("req-10") as record:
        throttled(record)
    [line] = stdout_lines(capsys)
    metrics = emf_metrics(line)
    ns = log.METRIC_NAMESPACE
    assert metrics[(ns, "KmsThrottledErrors", BY_FUNCTION)].values == (1,)
    by_curve_and_kdf = (*BY_FUNCTION, ("KeySpec", "ECC_NIST_P256"), ("Kdf", "none"))
    assert metrics[(ns, "Derives", by_curve_and_kdf)].values == (0,)


def test_a_request_refused_before_any_key_publishes_only_its_error(
    metrics_on: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(InvalidRequest), InvocationRecord("req-11"):
        raise InvalidRequest("kdf must be a JSON object")
    [line] = stdout_lines(capsys)
    assert set(emf_metrics(line)) == {(log.METRIC_NAMESPACE, "InvalidRequestErrors", BY_FUNCTION)}


def test_a_public_key_read_publishes_its_kms_latency_only(
    metrics_on: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with InvocationRecord("req-12") as record:
        record.action, record.key_spec = "public_key", "ECC_NIST_P256"
        record.kms_call_took("GetPublicKey", 5.0)
    [line] = stdout_lines(capsys)
    assert set(emf_metrics(line)) == {(log.METRIC_NAMESPACE, "GetPublicKeyLatency", BY_FUNCTION)}


def test_a_batch_of_more_calls_than_emf_takes_keeps_the_first_hundred(
    metrics_on: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with InvocationRecord("req-13") as record:
        for milliseconds in range(log.EMF_MAX_VALUES + 1):
            record.kms_call_took("GetPublicKey", float(milliseconds))
    [line] = stdout_lines(capsys)
    [metric] = emf_metrics(line).values()
    assert metric.values == tuple(float(value) for value in range(log.EMF_MAX_VALUES))


def test_served_in_process_the_line_carries_no_metrics(
    log_to_stdout: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with InvocationRecord("req-14") as record:
        record.action, record.key_spec, record.kdf = "derive", "ECC_NIST_P256", "onestep-sha256"
        record.peers = 1
    [line] = stdout_lines(capsys)
    assert "_aws" not in line


def test_an_invocation_without_any_figure_carries_no_metrics(
    metrics_on: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(KeyError), InvocationRecord("req-15"):
        raise KeyError("outside the contract")
    [line] = stdout_lines(capsys)
    assert "_aws" not in line
