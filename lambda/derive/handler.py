"""The derive function's entry point (handler ``handler.handler``): hands each invocation to
``kmsecdh.service``.

This file sits at the root of the function's asset beside the ``kmsecdh`` package; everything else (the
contract, key resolution, KMS, the KDF, errors and the log line) lives in that package, which
``kmsecdh_cdk.bundling`` copies in (only the modules this file imports, transitively). Errors leave as
DeriveError subclasses, so the Lambda runtime reports the stable error code as ``errorType``.

Only the Lambda runtime imports this module: importing it sends the invocation lines to stdout and
freezes the garbage collector's view of everything imported so far. That is why it lives outside the
``kmsecdh`` package, where no application or command line can import it by accident.
"""

from __future__ import annotations

import gc
import os
from typing import Any

from kmsecdh.log import configure_logging
from kmsecdh.service import handle_invocation

# Lambda names the function in every execution environment: the metrics' FunctionName dimension.
configure_logging(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))

# What the imports above built lives as long as the container: move it out of the collector's way,
# so no full collection rescans it (one landed inside the KMS client's creation: ~20 ms of cold start).
gc.freeze()


def handler(event: object, context: object) -> dict[str, Any]:
    return handle_invocation(event, context)
