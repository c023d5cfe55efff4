"""kmsecdh.errors: the stable error codes of the derive Lambda's contract (docs/contract.md)."""

from __future__ import annotations

import pytest

from kmsecdh import errors

# The codes docs/contract.md (the errors table) promises to callers.
DESIGN_ERROR_CODES = (
    "InvalidRequest",
    "InvalidPublicKey",
    "KeyNotAllowed",
    "KeyUnavailable",
    "AccessDenied",
    "KmsThrottled",
    "KmsUnavailable",
    "InternalError",
)


def test_every_design_code_is_listed_and_nothing_else() -> None:
    assert sorted(errors.ERROR_CODES) == sorted(DESIGN_ERROR_CODES)


@pytest.mark.parametrize("name", DESIGN_ERROR_CODES)
def test_code_is_the_class_name_of_a_derive_error(name: str) -> None:
    error_class = getattr(errors, name)
    assert issubclass(error_class, errors.DeriveError)
    error = error_class("what was wrong")
    assert error.code == name
    assert str(error) == "what was wrong"
    assert isinstance(error, Exception)
