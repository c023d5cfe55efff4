"""``kmsecdh`` never imports CDK code: importing every one of its modules in a fresh interpreter loads no
``aws_cdk``, ``constructs``, ``jsii`` or ``kmsecdh_cdk`` module (docs/architecture.md, who imports whom)."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import kmsecdh
from devtools import PROJECT_ROOT

CDK_PACKAGES = ("aws_cdk", "constructs", "jsii", "cdk_nag", "kmsecdh_cdk")


def every_kmsecdh_module() -> list[str]:
    """Every module of the package; ``kmsecdh.__main__`` runs the command line when imported, so the
    probe imports what it imports (``kmsecdh.cli``) instead."""
    modules = pkgutil.walk_packages(kmsecdh.__path__, prefix="kmsecdh.")
    return sorted(module.name for module in modules if module.name != "kmsecdh.__main__")


def test_every_module_is_found() -> None:
    modules = every_kmsecdh_module()
    assert {"kmsecdh.service", "kmsecdh.cli.parser", "kmsecdh.cli.commands.function"} <= set(modules), modules


def test_importing_every_kmsecdh_module_loads_no_cdk_code() -> None:
    probe = (
        "import importlib, json, sys\n"
        f"for name in {every_kmsecdh_module()!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps(sorted(n for n in sys.modules if n.split('.')[0] in {CDK_PACKAGES!r})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=PROJECT_ROOT, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_the_probe_sees_a_cdk_import() -> None:
    """The same probe reports a CDK module when one is imported, so the test above can fail."""
    probe = (
        "import sys, constructs\n"
        f"print(sorted(n for n in sys.modules if n.split('.')[0] in {CDK_PACKAGES!r}))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert "constructs" in result.stdout
