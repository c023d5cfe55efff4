"""A batch starts a peer's KMS call only while the Lambda context leaves time for it to finish.

Peers not started are reported one by one as KmsUnavailable (to retry), so a slow KMS costs those
peers instead of a function timeout that would lose the whole batch's results.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from kmsecdh import service
from kmsecdh.keys import public_key_pem

from .support import FAKE_P256_ARN

PEER = public_key_pem(ec.generate_private_key(ec.SECP256R1()).public_key())
RESERVE_MS = service.BATCH_TIME_RESERVE_SECONDS * 1000
ENOUGH_MS, TOO_LITTLE_MS = RESERVE_MS + 1, RESERVE_MS - 1


class ContextWithClock:
    """A Lambda context whose get_remaining_time_in_millis answers from a script, one value per call."""

    aws_request_id = "time-guard"

    def __init__(self, *remaining_ms: int) -> None:
        self.answers = list(remaining_ms)

    def get_remaining_time_in_millis(self) -> int:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def add_shared_secrets(counted_kms, count: int) -> None:
    for _ in range(count):
        counted_kms.stubber.add_response(
            "derive_shared_secret",
            {"KeyId": FAKE_P256_ARN, "SharedSecret": bytes(range(32)), "KeyAgreementAlgorithm": "ECDH"},
        )


def test_no_peer_is_started_without_time_for_its_call(derive_handler, counted_kms, captured_logs):
    peers = [PEER, "AAAA", PEER]
    response = derive_handler(
        {"action": "derive", "peer_public_keys": peers}, ContextWithClock(TOO_LITTLE_MS)
    )
    first, second, third = response["results"]
    assert second["error"]["code"] == "InvalidPublicKey", "peer keys are still checked first"
    for result in (first, third):
        assert result["error"]["code"] == "KmsUnavailable"
        assert result["error"]["message"].startswith("not attempted:")
    assert counted_kms.calls == []
    [line] = captured_logs.invocation_lines()
    assert line["outcome"] == "error"
    assert line["peer_error_codes"] == {"InvalidPublicKey": 1, "KmsUnavailable": 2}


def test_peers_stop_starting_when_time_runs_out(derive_handler, counted_kms, captured_logs, monkeypatch):
    monkeypatch.setattr(service, "BATCH_CONCURRENCY", 1)  # in order, so the script meets the peers in turn
    add_shared_secrets(counted_kms, 2)
    context = ContextWithClock(ENOUGH_MS, ENOUGH_MS, TOO_LITTLE_MS)
    response = derive_handler({"action": "derive", "peer_public_keys": [PEER] * 4}, context)
    results = response["results"]
    assert [set(result) for result in results[:2]] == [{"derived_key"}] * 2
    assert [result["error"]["code"] for result in results[2:]] == ["KmsUnavailable"] * 2
    assert counted_kms.calls == ["DeriveSharedSecret"] * 2
    [line] = captured_logs.invocation_lines()
    assert (line["outcome"], line["peer_error_codes"]) == ("partial", {"KmsUnavailable": 2})


def test_a_batch_with_time_to_spare_serves_every_peer(derive_handler, counted_kms, monkeypatch):
    monkeypatch.setattr(service, "BATCH_CONCURRENCY", 1)
    add_shared_secrets(counted_kms, 3)
    response = derive_handler(
        {"action": "derive", "peer_public_keys": [PEER] * 3}, ContextWithClock(ENOUGH_MS)
    )
    assert all(set(result) == {"derived_key"} for result in response["results"])


def test_a_single_peer_is_always_attempted(derive_handler, counted_kms):
    # One call fits any timeout the construct accepts: refusing it would turn a likely success into an error.
    add_shared_secrets(counted_kms, 1)
    response = derive_handler({"action": "derive", "peer_public_key": PEER}, ContextWithClock(TOO_LITTLE_MS))
    assert "derived_key" in response
    assert counted_kms.calls == ["DeriveSharedSecret"]


@pytest.mark.parametrize("context", [None, object()])
def test_without_a_lambda_context_there_is_no_deadline(derive_handler, counted_kms, monkeypatch, context):
    monkeypatch.setattr(service, "BATCH_CONCURRENCY", 1)
    add_shared_secrets(counted_kms, 2)
    response = derive_handler({"action": "derive", "peer_public_keys": [PEER] * 2}, context)
    assert all(set(result) == {"derived_key"} for result in response["results"])
