"""The function's metrics ride on its one invocation line (CloudWatch Embedded Metric Format), at DEBUG too.

The handler runs against a stubbed KMS under ``captured_logs`` (root and AWS loggers at DEBUG); every Z and
derived key of the test is watched, so none may reach the output. The EMF members are parsed as CloudWatch
Logs reads them (``tests.emf``): their dimensions take only the function's name, key specs and KDF ids.
"""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from kmsecdh import kdf, log
from kmsecdh.keys import public_key_der, public_key_pem
from tests.emf import dimension_values, emf_metrics

from .support import FAKE_P256_ARN, lambda_context

FUNCTION = "kmsecdh-test-derive"
BY_FUNCTION = (("FunctionName", FUNCTION),)
FIXED_INFO = kdf.fixed_info(b"A256GCM", b"alice", b"bob")


@pytest.fixture(autouse=True)
def metrics_on(captured_logs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", FUNCTION)
    log.configure_logging(FUNCTION)


def _answer_derive(counted_kms, shared_secret: bytes) -> None:
    counted_kms.stubber.add_response(
        "derive_shared_secret",
        {"KeyId": FAKE_P256_ARN, "SharedSecret": shared_secret, "KeyAgreementAlgorithm": "ECDH"},
    )


def test_a_batch_publishes_derives_peers_errors_and_kms_latency_in_its_one_line(
    derive_handler, counted_kms, captured_logs, watch_secret, monkeypatch
) -> None:
    monkeypatch.setattr("kmsecdh.service.BATCH_CONCURRENCY", 1)
    peers = [ec.generate_private_key(ec.SECP256R1()).public_key() for _ in range(2)]
    secrets = [bytes([index + 1]) * 32 for index in range(len(peers))]
    for secret in secrets:
        watch_secret(secret)
        watch_secret(kdf.derive_key(secret, algorithm="hkdf-sha256", length=32, fixed_info=FIXED_INFO))
        _answer_derive(counted_kms, secret)
    event = {
        "action": "derive",
        "peer_public_keys": [public_key_pem(peers[0]), "AAAA", public_key_pem(peers[1])],
        "kdf": {"algorithm": "hkdf-sha256", "fixed_info": base64.b64encode(FIXED_INFO).decode()},
    }

    response = derive_handler(event, lambda_context("req-metrics"))

    assert [sorted(result) for result in response["results"]] == [["derived_key"], ["error"], ["derived_key"]]
    output_lines = [line for line in captured_logs.output().splitlines() if line.startswith("{")]
    [line] = [json.loads(text) for text in output_lines if log.MESSAGE in text]
    assert len([text for text in output_lines if '"_aws"' in text]) == 1, "one write per invocation"
    metrics = {key[1:]: metric for key, metric in emf_metrics(line).items()}
    by_curve_and_kdf = (*BY_FUNCTION, ("KeySpec", "ECC_NIST_P256"), ("Kdf", "hkdf-sha256"))
    assert metrics[("Derives", by_curve_and_kdf)].values == (2,)
    assert metrics[("Peers", BY_FUNCTION)].values == (3,)
    assert metrics[("InvalidPublicKeyErrors", BY_FUNCTION)].values == (1,)
    latency = metrics[("DeriveSharedSecretLatency", BY_FUNCTION)]
    assert (latency.unit, len(latency.values)) == ("Milliseconds", 2)
    assert all(value >= 0 for value in latency.values)
    assert dimension_values(line) == {FUNCTION, "ECC_NIST_P256", "hkdf-sha256"}
    emf_members = {name: line[name] for name in ("_aws", *(metric.name for metric in metrics.values()))}
    emf_text = json.dumps(emf_members)
    for peer in peers:
        assert log.sha256_hex(public_key_der(peer)) not in emf_text, "a peer fingerprint in the metrics"


def test_a_raw_secret_derive_is_counted_under_kdf_none(
    derive_handler, counted_kms, captured_logs, watch_secret, monkeypatch
) -> None:
    monkeypatch.setenv("KMSECDH_ALLOW_RAW_SECRET", "true")
    secret = bytes(range(32))
    watch_secret(secret)
    _answer_derive(counted_kms, secret)
    peer = ec.generate_private_key(ec.SECP256R1()).public_key()
    derive_handler(
        {"action": "derive", "peer_public_key": public_key_pem(peer), "output": "shared_secret"}, None
    )
    # The raw secret is the response, never the log: the hygiene check ignores what the test returns.
    [line] = captured_logs.invocation_lines()
    by_curve_and_kdf = (*BY_FUNCTION, ("KeySpec", "ECC_NIST_P256"), ("Kdf", log.NO_KDF))
    assert emf_metrics(line)[(log.METRIC_NAMESPACE, "Derives", by_curve_and_kdf)].values == (1,)
