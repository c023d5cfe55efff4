"""A local stand-in for the Lambda service that runs the derive function under the real runtime client.

``LambdaEmulator`` serves two HTTP APIs on one loopback port:

* the Lambda Runtime API (``/2018-06-01/runtime/...``) to a child process running
  ``python -m awslambdaric handler.handler``: the managed Python runtime's own client,
  which sets up logging from ``AWS_LAMBDA_LOG_FORMAT`` and ``AWS_LAMBDA_LOG_LEVEL`` exactly as Lambda does;
* the Lambda Invoke API (``POST /2015-03-31/functions/{name}/invocations``), so a boto3 Lambda client
  (the command line's) reaches that function through botocore's real request and response handling.

Everything the function process writes (its log sink is stdout) lands in one file, ``output()``.
Only what the log-hygiene tests need is implemented: one function, synchronous invocations.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from devtools import PROJECT_ROOT

HANDLER = "handler.handler"
FUNCTION_NAME = "kmsecdh-derive"
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:000000000000:function:{FUNCTION_NAME}"
INVOCATION_TIMEOUT_SECONDS = 60
_RUNTIME = "/2018-06-01/runtime"


@dataclass
class _Invocation:
    request_id: str
    event: bytes
    done: threading.Event
    payload: bytes = b""
    function_error: str | None = None


@dataclass(frozen=True)
class InvokeResult:
    payload: Any
    function_error: str | None


class LambdaEmulator:
    """The derive function under awslambdaric with ``environment`` (configuration, log settings, AWS
    endpoint), reachable by ``invoke`` or by a boto3 Lambda client at ``endpoint_url``."""

    def __init__(self, environment: dict[str, str], output_path: Path) -> None:
        self._environment = environment
        self._output_path = output_path
        self._pending: queue.Queue[_Invocation | None] = queue.Queue()
        self._running: dict[str, _Invocation] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> LambdaEmulator:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        host, port = self._server.server_address[:2]
        environment = {
            **{name: value for name, value in os.environ.items() if not name.startswith("AWS_LAMBDA_")},
            **self._environment,
            "AWS_LAMBDA_RUNTIME_API": f"{host}:{port}",
            "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
            # handler.py beside the kmsecdh package, as the bundled asset lays them out.
            "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT / "lambda" / "derive"), str(PROJECT_ROOT)]),
        }
        with self._output_path.open("wb") as output:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "awslambdaric", HANDLER],
                env=environment,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=PROJECT_ROOT,
            )
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait()
        self._pending.put(None)
        self._server.shutdown()
        self._server.server_close()

    def output(self) -> str:
        """Everything the function process wrote so far (stdout and stderr)."""
        return self._output_path.read_text(errors="replace")

    def invoke(self, event: object) -> InvokeResult:
        """Run one invocation and return the function's decoded response or error payload."""
        invocation = self._run(json.dumps(event).encode())
        return InvokeResult(json.loads(invocation.payload), invocation.function_error)

    def _run(self, event: bytes) -> _Invocation:
        if self._process is None or self._process.poll() is not None:
            raise RuntimeError(f"the function process is not running:\n{self.output()[-3000:]}")
        invocation = _Invocation(str(uuid.uuid4()), event, threading.Event())
        self._pending.put(invocation)
        if not invocation.done.wait(INVOCATION_TIMEOUT_SECONDS):
            raise TimeoutError(f"no response within {INVOCATION_TIMEOUT_SECONDS} s:\n{self.output()[-3000:]}")
        return invocation

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the tests read the function's output, not this server's."""

            def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_GET(self) -> None:
                if self.path != f"{_RUNTIME}/invocation/next":
                    self._reply(404)
                    return
                invocation = emulator._pending.get()
                if invocation is None:  # shutting down: the process is gone, nobody reads a reply
                    self.close_connection = True
                    return
                emulator._running[invocation.request_id] = invocation
                deadline_ms = int((time.time() + INVOCATION_TIMEOUT_SECONDS) * 1000)
                self._reply(
                    200,
                    invocation.event,
                    {
                        "Content-Type": "application/json",
                        "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                        "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                        "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
                        "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000;Sampled=0",
                    },
                )

            def do_POST(self) -> None:
                body = self._body()
                parts = self.path.strip("/").split("/")
                if self.path.startswith(f"{_RUNTIME}/invocation/") and parts[-1] in ("response", "error"):
                    invocation = emulator._running.pop(parts[-2])
                    invocation.payload = body
                    invocation.function_error = "Unhandled" if parts[-1] == "error" else None
                    self._reply(202, b"{}")
                    invocation.done.set()
                elif self.path.startswith("/2015-03-31/functions/") and parts[-1] == "invocations":
                    invocation = emulator._run(body)
                    headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST"}
                    if invocation.function_error:
                        headers["X-Amz-Function-Error"] = invocation.function_error
                    self._reply(200, invocation.payload, headers)
                else:
                    self._reply(404)

        return Handler
