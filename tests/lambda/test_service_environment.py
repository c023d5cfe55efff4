"""kmsecdh.service.environment: what in-process callers (demo, benchmarks) use to configure the handler."""

from __future__ import annotations

import os

import pytest

from kmsecdh import service


def test_sets_unsets_and_restores_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KMSECDH_TEST_KEPT", "before")
    monkeypatch.setenv("KMSECDH_TEST_REMOVED", "present")
    monkeypatch.delenv("KMSECDH_TEST_NEW", raising=False)
    with service.environment(
        {"KMSECDH_TEST_KEPT": "inside", "KMSECDH_TEST_NEW": "new"}, unset=("KMSECDH_TEST_REMOVED",)
    ):
        assert os.environ["KMSECDH_TEST_KEPT"] == "inside"
        assert os.environ["KMSECDH_TEST_NEW"] == "new"
        assert "KMSECDH_TEST_REMOVED" not in os.environ
    assert os.environ["KMSECDH_TEST_KEPT"] == "before"
    assert "KMSECDH_TEST_NEW" not in os.environ
    assert os.environ["KMSECDH_TEST_REMOVED"] == "present"


def test_rebuilds_the_kms_client_on_entry_and_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    before = service.kms_client()
    with service.environment({"AWS_DEFAULT_REGION": "eu-west-1"}):
        inside = service.kms_client()
        assert inside is not before
        assert inside.meta.region_name == "eu-west-1"
    after = service.kms_client()
    assert after is not inside
    assert after.meta.region_name == "us-east-1"
