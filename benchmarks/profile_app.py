"""Runs a CDK app file (the project's ``app.py``, the replay app) as the CDK CLI would, and writes where its
time went: ``benchmarks.synth_profile``'s app command.

python -P profile_app.py [--cprofile PROF] [--skip-plugin CLASS] RESULT.json -- APP.py [ARG...]

Counted: every request the Python side sends to the jsii kernel (the Node process behind ``aws_cdk``), by kind
(create, invoke, get, set and their static forms, complete: the answer to a callback) and target (the class
created, the method or property), and every callback the kernel makes into Python; the Python process's CPU
seconds and the kernel's (read from /proc, Linux only) before the app's ``synth()`` (construction, imports
included) and during it (synthesis: preparation, the validation plugins such as cdk-nag, writing the
assembly). ``--skip-plugin CLASS`` leaves a rule pack out (``*``: all of them): the app registers it, nothing
is done. With ``--cprofile`` the Python side also runs under cProfile (which slows it down: its CPU figures
are then not the app's).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import runpy
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from jsii._kernel import Kernel
from jsii._kernel.providers import process as jsii_process


class RoundTrips:
    """Counts of jsii requests and callbacks, and the wall seconds spent waiting for their answers."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.targets: Counter[str] = Counter()
        self.callbacks: Counter[str] = Counter()
        self.wait_s = 0.0

    def record(self, request: object, response: object, seconds: float) -> None:
        kind = type(request).__name__.removesuffix("Request")
        self.requests[kind] += 1
        self.targets[f"{kind} {_target(request)}"] += 1
        if isinstance(response, jsii_process.Callback):
            kind = _callback_kind(response)
            self.callbacks[kind] += 1
            member = getattr(response, kind, None)
            name = getattr(member, "method", None) or getattr(member, "property", None) or "?"
            self.targets[f"Callback {kind} {name}"] += 1
        self.wait_s += seconds

    def snapshot(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "callbacks": dict(self.callbacks),
            "wait_s": self.wait_s,
        }


def _target(request: Any) -> str:
    """The class a request creates or acts on (its jsii fqn) and the member it names."""
    fqn = getattr(request, "fqn", None)
    objref = getattr(request, "objref", None)
    if fqn is None and objref is not None:
        fqn = objref.ref.rsplit("@", 1)[0]
    member = getattr(request, "method", None) or getattr(request, "property", None)
    return f"{fqn or '-'}{'.' + member if member else ''}"


def _callback_kind(callback: Any) -> str:
    for kind in ("invoke", "get", "set"):
        if getattr(callback, kind, None) is not None:
            return kind
    return "other"


def _skipped(plugin: object, names: list[str]) -> bool:
    return "*" in names or type(plugin).__name__ in names


def kernel_cpu_seconds() -> float:
    """CPU seconds of the jsii kernel so far (started by the app's first construct): the ``node`` process
    jsii starts (jsii-runtime.js) and the one that starts in turn (program.js, the kernel itself)."""
    return _tree_cpu_seconds(Kernel().provider._process._process.pid)


def _tree_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime: stat(5) 14, 15
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return own + sum(_tree_cpu_seconds(int(child)) for child in children)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="profile_app.py")
    parser.add_argument("result", type=Path)
    parser.add_argument("--cprofile", type=Path)
    parser.add_argument(
        "--skip-plugin",
        action="append",
        default=[],
        metavar="CLASS",
        help="do not register validation plugins (rule packs) of this class name, or of any with '*' "
        "(repeatable): what they cost is the difference",
    )
    parser.add_argument("app", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    app = [word for word in args.app if word != "--"]
    round_trips = RoundTrips()
    send = jsii_process._NodeProcess.send

    def counted_send(self: Any, request: Any, response_type: Any) -> Any:
        started = time.perf_counter()
        response = send(self, request, response_type)
        round_trips.record(request, response, time.perf_counter() - started)
        return response

    jsii_process._NodeProcess.send = counted_send  # type: ignore[method-assign]
    phases: dict[str, Any] = {}

    from aws_cdk import App, Validations

    if args.skip_plugin:
        add_plugins = Validations.add_plugins

        def some_plugins(self: Any, *plugins: Any) -> None:
            kept = [plugin for plugin in plugins if not _skipped(plugin, args.skip_plugin)]
            if kept:
                add_plugins(self, *kept)

        Validations.add_plugins = some_plugins  # type: ignore[method-assign]
    app_synth = App.synth

    def timed_synth(self: Any, *synth_args: Any, **synth_kwargs: Any) -> Any:
        phases.setdefault(
            "construction",
            {
                **round_trips.snapshot(),
                "python_cpu_s": time.process_time(),
                "kernel_cpu_s": kernel_cpu_seconds(),
            },
        )
        return app_synth(self, *synth_args, **synth_kwargs)

    App.synth = timed_synth  # type: ignore[method-assign]
    sys.argv = app
    # Python puts a script's folder first on the path; last here, so that it cannot shadow a library (the
    # replay app's folder, benchmarks/, holds modules named like others) while app.py still finds stacks/.
    sys.path.append(str(Path(app[0]).resolve().parent))
    profiler = cProfile.Profile(time.process_time) if args.cprofile else None
    if profiler is not None:
        profiler.enable()
    try:
        runpy.run_path(app[0], run_name="__main__")
    except SystemExit as exit_status:
        if exit_status.code not in (None, 0):
            raise
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.cprofile)
    phases["total"] = {
        **round_trips.snapshot(),
        "python_cpu_s": time.process_time(),
        "kernel_cpu_s": kernel_cpu_seconds(),
    }
    result = {"phases": phases, "targets": dict(round_trips.targets.most_common())}
    args.result.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
