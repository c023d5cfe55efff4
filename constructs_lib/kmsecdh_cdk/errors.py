"""The construct library's validation error: its message starts with the construct's path, as aws-cdk's own
``ValidationError`` does, so that an app with many keys, functions and audits says which one is wrong.

A ``ValueError``, so callers that caught ``ValueError`` before keep working.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from constructs import IConstruct


class KmsEcdhValidationError(ValueError):
    """A construct refused what it was given: ``<construct path>: <what is wrong>``."""

    def __init__(self, scope: IConstruct, message: str) -> None:
        self.construct_path = scope.node.path
        super().__init__(f"{self.construct_path}: {message}")


@contextmanager
def validating(scope: IConstruct) -> Iterator[None]:
    """Within it, a pure validator's ``ValueError`` (one shared with configuration parsing, which has no
    construct) becomes ``scope``'s ``KmsEcdhValidationError``, its message kept after the path."""
    try:
        yield
    except KmsEcdhValidationError:
        raise
    except ValueError as error:
        raise KmsEcdhValidationError(scope, str(error)) from error
