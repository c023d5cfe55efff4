"""Stable error codes of kmsecdh.

Each exception's class name is its error code: the Lambda runtime reports it as ``errorType``
and the command line prints it. Messages say what was wrong and never echo secrets or whole
payloads.
"""

from __future__ import annotations


class DeriveError(Exception):
    """Base class of every error kmsecdh reports on purpose."""

    @property
    def code(self) -> str:
        return type(self).__name__


class InvalidRequest(DeriveError):
    """The request's shape, a type, a size or a field is wrong."""


class InvalidPublicKey(DeriveError):
    """The peer public key cannot be used: not parseable, wrong curve, not on the curve, ..."""


class KeyNotAllowed(DeriveError):
    """The requested key is not one this function is configured to use."""


class KeyUnavailable(DeriveError):
    """The KMS key is disabled, pending deletion or not found."""


class AccessDenied(DeriveError):
    """KMS refused the call for lack of permission."""


class KmsThrottled(DeriveError):
    """KMS kept throttling the call after the client's retries."""


class KmsUnavailable(DeriveError):
    """KMS could not be reached, timed out or failed on its side."""


class DecryptionFailed(DeriveError):
    """An HPKE or JWE message did not open: malformed, tampered with, truncated, or not for this key.

    Not one of the derive function's codes (the function never decrypts, so it is not in ERROR_CODES):
    ``kmsecdh.hpke``, ``kmsecdh.jose`` and their commands raise it.
    """


ERROR_CODES: tuple[str, ...] = tuple(
    cls.__name__
    for cls in (
        InvalidRequest,
        InvalidPublicKey,
        KeyNotAllowed,
        KeyUnavailable,
        AccessDenied,
        KmsThrottled,
        KmsUnavailable,
    )
)
