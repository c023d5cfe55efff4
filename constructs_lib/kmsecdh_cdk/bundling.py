"""Docker-free bundling of the derive Lambda's asset.

The asset holds the entry point ``handler.py`` at its root (the repository's ``lambda/derive/``), the
modules of ``kmsecdh`` it imports (followed transitively, so command-line-only modules stay out and no
import can break), and ``cryptography`` with its dependencies, at the pins of ``requirements.txt`` beside
the handler, installed by pip for the Lambda's platform. boto3 is not installed: the Lambda runtime
provides it.

Everything is found from the installed packages, never from a repository: the ``kmsecdh`` package
wherever Python imports it from (a wheel's site-packages, or this repository's editable install), and the
handler with its pins as ``kmsecdh_cdk.derive_entry`` (``lambda/derive/`` in the repository). A user's own
CDK app bundles the function with nothing but ``pip install kmsecdh[cdk]``.

The asset hash is computed here over the copied files, the pins and the target platform, so a
change of code or pins makes a new asset and anything else reuses the bundle already in cdk.out.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

import kmsecdh
from kmsecdh_cdk import derive_entry

PACKAGE_DIR = Path(kmsecdh.__file__).resolve().parent
"""The runtime package the asset copies its modules from, wherever it is installed."""
ENTRY_DIR = Path(derive_entry.__file__).resolve().parent
"""The derive function's entry point folder (``lambda/derive/`` in the repository)."""
HANDLER_MODULE = ENTRY_DIR / "handler.py"
HANDLER = "handler.handler"
"""The function's handler setting: ``handler.py`` at the asset's root, and its function."""
REQUIREMENTS_FILE = ENTRY_DIR / "requirements.txt"
"""The asset's pins (the project's requirements.txt includes them)."""
REQUIRED_DISTRIBUTION = "cryptography"
BUNDLE_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "kmsecdh" / "bundles"

PIP_PLATFORMS: Mapping[str, str] = {
    "arm64": "manylinux2014_aarch64",
    "x86_64": "manylinux2014_x86_64",
}

# Local bundling always either succeeds or raises, so Docker never runs; BundlingOptions still
# requires an image, and this name makes any accidental Docker run fail loudly.
_NO_DOCKER_IMAGE = cdk.DockerImage.from_registry("kmsecdh-local-bundling-only")

_PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)")


class BundlingError(RuntimeError):
    """The derive Lambda's asset could not be built."""


@dataclass(frozen=True)
class LambdaPlatform:
    """Which Python and CPU the asset's binary wheels must be built for."""

    python_version: str
    pip_platform: str

    @classmethod
    def of(cls, runtime: lambda_.Runtime, architecture: lambda_.Architecture) -> LambdaPlatform:
        prefix = "python"
        if not runtime.name.startswith(prefix):
            raise BundlingError(f"the derive Lambda needs a Python runtime, got {runtime.name}")
        if architecture.name not in PIP_PLATFORMS:
            raise BundlingError(f"no pip platform known for architecture {architecture.name}")
        return cls(python_version=runtime.name[len(prefix) :], pip_platform=PIP_PLATFORMS[architecture.name])


def read_pins(requirements_file: Path) -> tuple[str, ...]:
    """Every ``name==version`` of the asset's requirements file, in its order; each line that is not a
    comment must be such a pin, and cryptography must be among them."""
    pins: list[str] = []
    for number, line in enumerate(requirements_file.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        match = _PIN.fullmatch(text)
        if not match:
            raise BundlingError(f"{requirements_file}:{number}: not a pin (name==version): {text}")
        pins.append(f"{match.group(1)}=={match.group(2)}")
    if not any(_normalize(pin.split("==")[0]) == REQUIRED_DISTRIBUTION for pin in pins):
        raise BundlingError(
            f"{requirements_file} pins no version (name==version) for {REQUIRED_DISTRIBUTION}"
        )
    return tuple(pins)


def _normalize(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def runtime_sources(handler_module: Path, package_dir: Path) -> dict[str, Path]:
    """The files the asset copies, by their path inside the asset.

    The handler module at the root, and the modules of the package it imports (with the package's
    ``__init__.py`` files on their way), followed through the package's own imports.
    """
    if not handler_module.is_file():
        raise BundlingError(f"no handler module {handler_module}")
    sources = {handler_module.name: handler_module}
    pending = [handler_module]
    while pending:
        source = pending.pop()
        required, possible = _imported_modules(source, package_dir)
        for module in sorted(required | possible):
            files = _module_files(module, package_dir)
            if not files and module in required:
                raise BundlingError(f"{source} imports {module}, which is not a module in {package_dir}")
            for path in files:
                relative = path.relative_to(package_dir.parent).as_posix()
                if relative not in sources:
                    sources[relative] = path
                    pending.append(path)
    return dict(sorted(sources.items()))


@functools.cache
def _imported_modules(source: Path, package_dir: Path) -> tuple[frozenset[str], frozenset[str]]:
    """The package's modules that ``source`` imports anywhere in its body.

    Returns the names that must be modules and those that may be (``from package import name``
    imports a module or an attribute). Cached for the process: every environment's DeriveFunction
    follows the same sources, and parsing them again for each cost about 40 ms per environment.
    """
    tree = ast.parse(source.read_bytes(), filename=str(source))
    required: set[str] = set()
    possible: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            required.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute_module(node, source, package_dir)
            required.add(base)
            possible.update(f"{base}.{alias.name}" for alias in node.names)
    package = package_dir.name

    def in_package(names: set[str]) -> frozenset[str]:
        return frozenset(name for name in names if name == package or name.startswith(package + "."))

    return in_package(required), in_package(possible)


def _absolute_module(node: ast.ImportFrom, source: Path, package_dir: Path) -> str:
    if not node.level:
        return node.module or ""
    if not source.is_relative_to(package_dir):
        raise BundlingError(f"{source}: relative import outside the package {package_dir.name}")
    # A file's own package: its folder, whether it is a module or the package's __init__.
    package = list(source.parent.relative_to(package_dir.parent).parts)
    anchor = package[: len(package) - (node.level - 1)]
    return ".".join([*anchor, node.module] if node.module else anchor)


def _module_files(module: str, package_dir: Path) -> list[Path]:
    """The files Python loads for ``module``: each enclosing package's ``__init__.py`` and the module.

    Empty when ``module`` is not a module or package of ``package_dir``.
    """
    parts = module.split(".")[1:]
    files = [package_dir / "__init__.py"]
    for depth, name in enumerate(parts, start=1):
        base = package_dir.joinpath(*parts[: depth - 1], name)
        if (base / "__init__.py").is_file():
            files.append(base / "__init__.py")
        elif depth == len(parts) and base.with_suffix(".py").is_file():
            files.append(base.with_suffix(".py"))
        else:
            return []
    return files


def asset_fingerprint(sources: Mapping[str, Path], pins: Sequence[str], platform: LambdaPlatform) -> str:
    """SHA-256 over each copied file (path and content), the pins and the target platform."""
    digest = hashlib.sha256()
    for relative, path in sorted(sources.items()):
        content = path.read_bytes()
        for part in (b"file", relative.encode(), str(len(content)).encode(), content):
            digest.update(part + b"\0")
    for part in ("pins", *pins, "platform", platform.python_version, platform.pip_platform):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()


def pip_install_args(target: Path, pins: Sequence[str], platform: LambdaPlatform) -> list[str]:
    """The pip command that installs the pinned wheels for the Lambda's platform into ``target``."""
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-input",
        "--disable-pip-version-check",
        # pip would compile .pyc files for this interpreter's version, which the Lambda ignores.
        "--no-compile",
        "--platform",
        platform.pip_platform,
        "--implementation",
        "cp",
        "--python-version",
        platform.python_version,
        "--only-binary=:all:",
        "--target",
        str(target),
        *pins,
    ]


@jsii.implements(cdk.ILocalBundling)
class LocalAssetBundler:
    """Builds the asset in the output directory given by CDK; never falls back to Docker."""

    def __init__(
        self,
        platform: LambdaPlatform,
        *,
        handler_module: Path = HANDLER_MODULE,
        package_dir: Path = PACKAGE_DIR,
        requirements_file: Path = REQUIREMENTS_FILE,
    ) -> None:
        self.platform = platform
        self.sources = runtime_sources(handler_module, package_dir)
        self.pins = read_pins(requirements_file)
        self.fingerprint = asset_fingerprint(self.sources, self.pins, platform)

    def try_bundle(self, output_dir: str, options: cdk.BundlingOptions) -> bool:
        cached = BUNDLE_CACHE / self.fingerprint
        if cached.is_dir():
            shutil.copytree(cached, output_dir, dirs_exist_ok=True)
            return True
        self._bundle(Path(output_dir))
        BUNDLE_CACHE.mkdir(parents=True, exist_ok=True)
        # Filled beside its final name and renamed, so a concurrent synth never sees half a bundle.
        staging = Path(tempfile.mkdtemp(prefix=f".{self.fingerprint}.", dir=BUNDLE_CACHE))
        shutil.copytree(output_dir, staging, dirs_exist_ok=True)
        try:
            staging.rename(cached)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
        return True

    def _bundle(self, target: Path) -> None:
        for relative, path in self.sources.items():
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)
        args = pip_install_args(target, self.pins, self.platform)
        result = subprocess.run(args, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BundlingError(
                f"pip could not install {' '.join(self.pins)} for {self.platform.pip_platform} "
                f"Python {self.platform.python_version} (exit {result.returncode}): {result.stderr.strip()}"
            )
        # Console scripts pip wrote for this machine's interpreter; the Lambda never runs them.
        shutil.rmtree(target / "bin", ignore_errors=True)


def lambda_code(runtime: lambda_.Runtime, architecture: lambda_.Architecture) -> lambda_.Code:
    """The derive Lambda's code, bundled locally for ``runtime`` on ``architecture``."""
    bundler = LocalAssetBundler(LambdaPlatform.of(runtime, architecture))
    return lambda_.Code.from_asset(
        # Only a placeholder source: local bundling copies what it needs and the hash is the bundler's.
        str(PACKAGE_DIR),
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        asset_hash=bundler.fingerprint,
        bundling=cdk.BundlingOptions(image=_NO_DOCKER_IMAGE, local=bundler),
    )
