"""The derive Lambda's entry point (handler ``kmsecdh.lambda_handler.handler``): hands each invocation to
``kmsecdh.service``.

Everything else (the contract, key resolution, KMS, the KDF, errors and the log line) lives in the rest
of the package, which is bundled with this module (``kmsecdh_cdk.bundling``). Errors leave as
DeriveError subclasses, so the Lambda runtime reports the stable error code as ``errorType``.

Only the Lambda runtime imports this module: importing it sends the invocation lines to stdout and
freezes the garbage collector's view of everything imported so far.
"""

from __future__ import annotations

import gc
from typing import Any

from kmsecdh.log import configure_logging
from kmsecdh.service import handle_invocation

configure_logging()

# What the imports above built lives as long as the container: move it out of the collector's way,
# so no full collection rescans it (one landed inside the KMS client's creation: ~20 ms of cold start).
gc.freeze()


def handler(event: object, context: object) -> dict[str, Any]:
    return handle_invocation(event, context)
