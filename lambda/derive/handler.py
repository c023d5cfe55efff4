"""The derive Lambda's entry point: hands each invocation to ``kmsecdh.service``.

Everything else (the contract, key resolution, KMS, the KDF, errors and the log line) lives in the
``kmsecdh`` package, which is bundled next to this file. Errors leave as DeriveError subclasses, so
the Lambda runtime reports the stable error code as ``errorType``.
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
