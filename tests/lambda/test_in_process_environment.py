"""devtools.in_process_lambda.environment and Configuration.as_environment: what in-process callers (demo,
benchmarks, tools/deploy_local) use to configure the handler."""

from __future__ import annotations

import os

import pytest

from devtools.in_process_lambda import environment
from kmsecdh import kms_calls
from kmsecdh.configuration import Configuration, ConfiguredKey, load_configuration


def test_sets_unsets_and_restores_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KMSECDH_TEST_KEPT", "before")
    monkeypatch.setenv("KMSECDH_TEST_REMOVED", "present")
    monkeypatch.delenv("KMSECDH_TEST_NEW", raising=False)
    with environment(
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
    before = kms_calls.kms_client()
    with environment({"AWS_DEFAULT_REGION": "eu-west-1"}):
        inside = kms_calls.kms_client()
        assert inside is not before
        assert inside.meta.region_name == "eu-west-1"
    after = kms_calls.kms_client()
    assert after is not inside
    assert after.meta.region_name == "us-east-1"


@pytest.mark.parametrize("allow_raw_secret", [False, True])
def test_configuration_round_trips_through_its_environment(allow_raw_secret: bool) -> None:
    configuration = Configuration(
        keys=(
            ConfiguredKey(
                alias="alias/kmsecdh-test-p256",
                arn="arn:aws:kms:eu-west-1:111111111111:key/0b6f2bd9-2cd8-4c5c-9a8a-0e3f8e1b1a11",
                key_spec="ECC_NIST_P256",
            ),
            ConfiguredKey(
                alias="alias/kmsecdh-test-p521",
                arn="arn:aws:kms:eu-west-1:111111111111:key/5d9a6c1e-7f3b-4e2a-8c4d-2b1e0f9a8c77",
                key_spec="ECC_NIST_P521",
            ),
        ),
        default_alias="alias/kmsecdh-test-p521",
        allow_raw_secret=allow_raw_secret,
    )
    environment = configuration.as_environment()
    assert set(environment) == {
        "KMSECDH_KEYS",
        "KMSECDH_DEFAULT_KEY",
        "KMSECDH_ALLOW_RAW_SECRET",
    }
    assert environment["KMSECDH_ALLOW_RAW_SECRET"] == ("true" if allow_raw_secret else "false")
    assert load_configuration(environment) == configuration
