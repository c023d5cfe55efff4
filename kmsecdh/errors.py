"""Stable error codes of kmsecdh, and what a caller of the deployed function sees besides them.

Each DeriveError subclass's name is its error code: the Lambda runtime reports it as ``errorType``,
``kmsecdh.client`` raises the same class again on the caller's side, and the command line prints it.
Messages say what was wrong and never echo secrets or whole payloads.
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


class InternalError(DeriveError):
    """A bug in the derive function, not a problem of the request or of KMS: retrying the same request
    fails the same way, so callers do not retry it; the function's log line names the exception's class."""


class DecryptionFailed(DeriveError):
    """An HPKE or JWE message did not open: malformed, tampered with, truncated, or not for this key.

    Not one of the derive function's codes (the function never decrypts, so it is not in DERIVE_ERRORS):
    ``kmsecdh.hpke``, ``kmsecdh.jose`` and their commands raise it.
    """


DERIVE_ERRORS: dict[str, type[DeriveError]] = {
    cls.__name__: cls
    for cls in (
        InvalidRequest,
        InvalidPublicKey,
        KeyNotAllowed,
        KeyUnavailable,
        AccessDenied,
        KmsThrottled,
        KmsUnavailable,
        InternalError,
    )
}
"""Every error code of the contract and its class: a caller turns a reported code back into the class."""

ERROR_CODES: tuple[str, ...] = tuple(DERIVE_ERRORS)


class FunctionError(Exception):
    """The derive function failed outside its contract (timed out, crashed, ran out of memory): no code of
    DERIVE_ERRORS applies. Raised by callers of a deployed function (``kmsecdh.client``), never by it."""


class InvalidResponse(FunctionError):
    """The derive function answered with something its contract does not allow (not JSON, a missing or
    malformed field, a derived key of the wrong length): never taken for a result."""
