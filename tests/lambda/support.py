"""Helpers shared by the derive Lambda tests (imported relatively: ``lambda`` is a Python keyword)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from kmsecdh.contract import ALLOW_RAW_SECRET_VARIABLE, DEFAULT_KEY_VARIABLE, KEYS_VARIABLE
from kmsecdh.encoding import b64encode

# A syntactically valid configuration for tests that never reach a real key.
FAKE_P256_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
FAKE_P256_ALIAS = "alias/kmsecdh-test-p256"

b64 = b64encode  # the contract's base64, as the tests here spell it


def lambda_context(request_id: str = "test-request") -> SimpleNamespace:
    return SimpleNamespace(aws_request_id=request_id, function_name="kmsecdh-derive")


def configure(
    monkeypatch: pytest.MonkeyPatch,
    keys: dict[str, tuple[str, str]],
    default: str,
    *,
    allow_raw_secret: str | None = None,
) -> None:
    """Set the function's environment: ``keys`` maps alias name -> (ARN, key spec)."""
    config = {alias: {"arn": arn, "key_spec": spec} for alias, (arn, spec) in keys.items()}
    monkeypatch.setenv(KEYS_VARIABLE, json.dumps(config))
    monkeypatch.setenv(DEFAULT_KEY_VARIABLE, default)
    if allow_raw_secret is None:
        monkeypatch.delenv(ALLOW_RAW_SECRET_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(ALLOW_RAW_SECRET_VARIABLE, allow_raw_secret)
