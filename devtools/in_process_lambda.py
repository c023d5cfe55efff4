"""The derive function served in this process: a boto3 Lambda client stand-in, and the environment it reads.

``InProcessLambda().invoke(FunctionName=..., InvocationType="RequestResponse", Payload=...)`` runs
``kmsecdh.service.handle_invocation`` on the payload and answers as Lambda does: the response object,
or ``FunctionError`` with an ``errorType`` / ``errorMessage`` payload when the handler raises. Hand it to
``kmsecdh.client.DeriveFunctionClient(..., client=InProcessLambda())`` to use the client API with no
Lambda at all (the demo, tests). The function's configuration and KMS endpoint come from the process
environment, as in the deployed function: ``environment`` sets them for a block (the demo, benchmarks,
tools/deploy_local).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Iterator, Mapping
from typing import Any

from kmsecdh import service
from kmsecdh.errors import DeriveError
from kmsecdh.kms_calls import reset_kms_client


@contextlib.contextmanager
def environment(variables: Mapping[str, str], unset: tuple[str, ...] = ()) -> Iterator[None]:
    """Run the block with ``variables`` set and ``unset`` removed in os.environ, then restore them.

    For callers of handle_invocation in-process (the demo, benchmarks): the configuration and boto3's
    endpoint settings come from the environment, so the KMS client is rebuilt on entry and on exit.
    """
    saved = {name: os.environ.get(name) for name in (*variables, *unset)}
    for name in unset:
        os.environ.pop(name, None)
    os.environ.update(variables)
    reset_kms_client()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reset_kms_client()


class InProcessLambda:
    """``invoke`` of a boto3 Lambda client, served by the derive handler in this process."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.unhandled: dict[str, str] | None = None
        """When set, every invoke fails with this payload (a runtime failure, not a contract error)."""
        self.function_output = io.StringIO()
        """What the function wrote to stdout: its log, which Lambda sends to CloudWatch, not the caller."""

    def invoke(self, *, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:  # noqa: N803
        if InvocationType != "RequestResponse":
            raise ValueError(f"only synchronous invocations are served, not {InvocationType}")
        event = json.loads(Payload)
        self.events.append(event)
        if self.unhandled is not None:
            return self._response(self.unhandled, function_error="Unhandled")
        try:
            with contextlib.redirect_stdout(self.function_output):
                result = service.handle_invocation(event)
        except DeriveError as error:
            body = {"errorType": error.code, "errorMessage": str(error), "stackTrace": []}
            return self._response(body, function_error="Unhandled")
        return self._response(result)

    @staticmethod
    def _response(body: object, function_error: str | None = None) -> dict[str, Any]:
        response: dict[str, Any] = {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(body).encode())}
        if function_error:
            response["FunctionError"] = function_error
        return response
