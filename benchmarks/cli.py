"""The command line's start-up: ``kmsecdh --help`` and ``kmsecdh derive-local``, each a fresh process, vs a
fresh interpreter that only imports cryptography's EC module (what any EC tool in Python pays).

The project runs the installed console script (``.venv/bin/kmsecdh``), as a user does. ``derive-local``
reads a P-256 private key and a peer public key made once for the run, derives with the default KDF and
FixedInfo options, and prints the key as hex; its output is checked against the same derivation done in
this process. Both sides get the same environment; one warm-up round fills the bytecode caches.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from benchmarks.stats import FigureResult, Target, elapsed_ms, interleaved, summarize
from kmsecdh.kdf import derive_key, fixed_info
from kmsecdh.keys import ecdh_shared_secret, public_key_der

TARGET = Target("<=", 3.0)
RUNS = 21
FLOOR_CODE = "from cryptography.hazmat.primitives.asymmetric import ec"
KDF_OPTIONS = ("--algorithm-id", "A256GCM", "--party-u-info", "alice", "--party-v-info", "bob")
EXPECTED_INFO = fixed_info(b"A256GCM", b"alice", b"bob")


def console_script() -> Path:
    return Path(sys.executable).parent / "kmsecdh"


def _child_environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name not in {"PYTHONDONTWRITEBYTECODE"}}


def _run(args: list[str], env: dict[str, str], cwd: Path) -> str:
    return subprocess.run(args, env=env, cwd=cwd, check=True, capture_output=True, text=True).stdout


def _figure(
    name: str, command: list[str], label: str, check: Callable[[str], None], cwd: Path
) -> FigureResult:
    env = _child_environment()
    check(_run(command, env, cwd))
    floor = [sys.executable, "-c", FLOOR_CODE]
    project_ms, floor_ms = interleaved(
        lambda: elapsed_ms(lambda: _run(command, env, cwd)),
        lambda: elapsed_ms(lambda: _run(floor, env, cwd)),
        runs=RUNS,
    )
    return FigureResult(
        name=name,
        project_label=label,
        floor_label=f"fresh interpreter: {FLOOR_CODE}",
        project=summarize(project_ms, "ms"),
        floor=summarize(floor_ms, "ms"),
        target=TARGET,
        notes=(f"{RUNS} interleaved runs each after one warm-up round; wall time of the child process",),
    )


def measure_help() -> FigureResult:
    def check(out: str) -> None:
        if not out.startswith("usage: kmsecdh"):
            raise AssertionError(f"kmsecdh --help printed {out[:80]!r}")

    with tempfile.TemporaryDirectory(prefix="kmsecdh-bench-cli-") as work:
        return _figure(
            "cli --help",
            [str(console_script()), "--help"],
            "kmsecdh --help (console script)",
            check,
            Path(work),
        )


def measure_derive_local() -> FigureResult:
    with tempfile.TemporaryDirectory(prefix="kmsecdh-bench-cli-") as work:
        directory = Path(work)
        private_key = ec.generate_private_key(ec.SECP256R1())
        peer = ec.generate_private_key(ec.SECP256R1()).public_key()
        (directory / "alice.pem").write_bytes(
            private_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
        (directory / "bob.pub.der").write_bytes(public_key_der(peer))
        expected = derive_key(
            ecdh_shared_secret(private_key, peer), algorithm="onestep-sha256", fixed_info=EXPECTED_INFO
        ).hex()

        def check(out: str) -> None:
            if out.strip() != expected:
                raise AssertionError(
                    "kmsecdh derive-local derived another key than the in-process derivation"
                )

        command = [
            str(console_script()),
            "derive-local",
            "--private-key",
            "alice.pem",
            "--peer-public-key",
            "bob.pub.der",
            *KDF_OPTIONS,
        ]
        return _figure(
            "cli derive-local",
            command,
            "kmsecdh derive-local, P-256, onestep-sha256, FixedInfo from 3 parts (console script)",
            check,
            directory,
        )
