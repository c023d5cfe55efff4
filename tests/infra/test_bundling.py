"""The derive Lambda's asset: what the local bundling puts in it, and when its hash changes."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from aws_cdk import aws_lambda as lambda_

from kmsecdh_cdk.bundling import (
    HANDLER_MODULE,
    PACKAGE_DIR,
    REQUIREMENTS_FILE,
    BundlingError,
    LambdaPlatform,
    LocalAssetBundler,
    read_pins,
    runtime_sources,
)
from tests.infra.derive_app import SynthesizedApp, synthesize

ELF_MACHINE_AARCH64 = 183
ARM64 = LambdaPlatform.of(lambda_.Runtime.PYTHON_3_14, lambda_.Architecture.ARM_64)
# Modules of kmsecdh that the command line and applications use and the Lambda never imports.
NOT_FOR_THE_LAMBDA = (
    "kmsecdh/cli",
    "kmsecdh/client.py",
    "kmsecdh/messages.py",
    "kmsecdh/audit_events.py",
    "kmsecdh/kms_key.py",
    "kmsecdh/hpke.py",
    "kmsecdh/jose.py",
)


@pytest.fixture(scope="module")
def asset_dir() -> Path:
    synth: SynthesizedApp = synthesize()
    return synth.function_asset_dir(synth.plain, synth.plain_function)


def pinned_cryptography_version() -> str:
    match = re.search(r"^cryptography==(\S+)$", REQUIREMENTS_FILE.read_text(), re.MULTILINE)
    assert match, "lambda/derive/requirements.txt pins cryptography"
    return match.group(1)


def elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", f"{path} is not an ELF file"
    assert header[4] == 2, f"{path} is not a 64-bit ELF file"
    assert header[5] == 1, f"{path} is not little-endian"
    return struct.unpack_from("<H", header, 18)[0]


def test_asset_has_the_handler_and_the_runtime_modules(asset_dir: Path) -> None:
    assert [path.name for path in asset_dir.glob("*.py")] == ["handler.py"], "one module beside kmsecdh"
    assert (asset_dir / "handler.py").read_bytes() == HANDLER_MODULE.read_bytes()
    assert not (asset_dir / "__init__.py").exists(), "the entry folder is no package in the asset"
    for module in (
        "__init__.py",
        "errors.py",
        "kdf.py",
        "keys.py",
        "service.py",
        "configuration.py",
        "kms_calls.py",
        "contract.py",
        "jwk.py",  # the public_key action's JWK
    ):
        assert (asset_dir / "kmsecdh" / module).read_bytes() == (PACKAGE_DIR / module).read_bytes()


def test_asset_leaves_out_command_line_modules(asset_dir: Path) -> None:
    for relative in NOT_FOR_THE_LAMBDA:
        assert not (asset_dir / relative).exists(), relative


def test_asset_handler_imports_with_only_the_asset_code(asset_dir: Path, tmp_path: Path) -> None:
    """Import the handler from the asset's own Python files (this machine's cryptography and boto3 stand in
    for the asset's aarch64 wheels and the runtime's boto3), and check every kmsecdh module loaded came
    from the asset."""
    code = tmp_path / "code"
    code.mkdir()
    shutil.copytree(asset_dir / "kmsecdh", code / "kmsecdh")
    shutil.copyfile(asset_dir / "handler.py", code / "handler.py")
    probe = (
        "import sys, handler\n"
        "assert callable(handler.handler)\n"
        "print('\\n'.join(m.__file__ for n, m in sys.modules.items() if n.split('.')[0] == 'kmsecdh'))\n"
    )
    # -S: no site, so the editable install of kmsecdh in .venv is not on the path.
    path = os.pathsep.join([str(code), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    result = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": path, "PATH": os.environ.get("PATH", "")},
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    loaded = {Path(line) for line in result.stdout.split()}
    assert loaded, "the handler imports kmsecdh"
    assert all(file.is_relative_to(code) for file in loaded), loaded


def test_asset_cryptography_is_built_for_aarch64(asset_dir: Path) -> None:
    rust_modules = list((asset_dir / "cryptography" / "hazmat" / "bindings").glob("_rust*.so"))
    assert len(rust_modules) == 1, rust_modules
    assert elf_machine(rust_modules[0]) == ELF_MACHINE_AARCH64
    dist_info = asset_dir / f"cryptography-{pinned_cryptography_version()}.dist-info"
    tags = [
        line.split(": ", 1)[1]
        for line in (dist_info / "WHEEL").read_text().splitlines()
        if line.startswith("Tag: ")
    ]
    assert tags, "WHEEL lists its tags"
    assert all(tag.endswith("aarch64") and "manylinux" in tag for tag in tags), tags


def test_every_distribution_in_the_asset_is_pinned(asset_dir: Path) -> None:
    pins = dict(pin.split("==") for pin in read_pins(REQUIREMENTS_FILE))
    installed = {}
    for dist_info in asset_dir.glob("*.dist-info"):
        name, version = dist_info.name.removesuffix(".dist-info").rsplit("-", 1)
        installed[name.lower().replace("_", "-")] = version
    assert installed == pins, (
        "a bump of cryptography's dependencies must be pinned in lambda/derive/requirements.txt"
    )


def test_asset_has_the_cffi_backend_cryptography_loads(asset_dir: Path) -> None:
    # cryptography's Rust extension imports _cffi_backend at load time (cffi is a dependency on CPython).
    backends = list(asset_dir.glob("_cffi_backend.cpython-314-*.so"))
    assert len(backends) == 1, backends
    assert elf_machine(backends[0]) == ELF_MACHINE_AARCH64


def test_asset_has_no_boto3_and_no_host_leftovers(asset_dir: Path) -> None:
    names = {path.name.split("-")[0].lower() for path in asset_dir.iterdir()}
    assert not names & {"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil"}, names
    assert not (asset_dir / "bin").exists()
    assert not list(asset_dir.rglob("__pycache__"))
    assert not list(asset_dir.rglob("*.pyc"))


# --- the asset hash ----------------------------------------------------------------------------------


@pytest.fixture
def project_copy(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A copy of the entry folder (handler and requirements) and of the package, to change freely."""
    package_dir = tmp_path / "kmsecdh"
    shutil.copytree(PACKAGE_DIR, package_dir, ignore=shutil.ignore_patterns("__pycache__"))
    entry_dir = tmp_path / "derive"
    shutil.copytree(HANDLER_MODULE.parent, entry_dir, ignore=shutil.ignore_patterns("__pycache__"))
    return entry_dir / HANDLER_MODULE.name, package_dir, entry_dir / REQUIREMENTS_FILE.name


def fingerprint(project: tuple[Path, Path, Path], platform: LambdaPlatform = ARM64) -> str:
    handler_module, package_dir, requirements = project
    return LocalAssetBundler(
        platform, handler_module=handler_module, package_dir=package_dir, requirements_file=requirements
    ).fingerprint


def test_hash_is_stable_and_independent_of_location(project_copy: tuple[Path, Path, Path]) -> None:
    assert fingerprint(project_copy) == fingerprint(project_copy)
    assert fingerprint(project_copy) == fingerprint((HANDLER_MODULE, PACKAGE_DIR, REQUIREMENTS_FILE))


def test_hash_changes_with_the_handler(project_copy: tuple[Path, Path, Path]) -> None:
    before = fingerprint(project_copy)
    handler = project_copy[0]
    handler.write_text(handler.read_text() + "\n# changed\n")
    assert fingerprint(project_copy) != before


def test_hash_changes_with_a_runtime_module(project_copy: tuple[Path, Path, Path]) -> None:
    before = fingerprint(project_copy)
    kdf = project_copy[1] / "kdf.py"
    kdf.write_text(kdf.read_text() + "\n# changed\n")
    assert fingerprint(project_copy) != before


def test_hash_ignores_modules_the_asset_leaves_out(project_copy: tuple[Path, Path, Path]) -> None:
    before = fingerprint(project_copy)
    messages = project_copy[1] / "messages.py"
    messages.write_text(messages.read_text() + "\n# changed\n")
    assert fingerprint(project_copy) == before


def test_hash_changes_with_the_pin(project_copy: tuple[Path, Path, Path]) -> None:
    before = fingerprint(project_copy)
    requirements = project_copy[2]
    text = requirements.read_text()
    requirements.write_text(
        text.replace(f"cryptography=={pinned_cryptography_version()}", "cryptography==1.0")
    )
    assert requirements.read_text() != text
    assert fingerprint(project_copy) != before


def test_hash_changes_with_the_platform(project_copy: tuple[Path, Path, Path]) -> None:
    x86 = LambdaPlatform.of(lambda_.Runtime.PYTHON_3_14, lambda_.Architecture.X86_64)
    assert fingerprint(project_copy, x86) != fingerprint(project_copy)


# --- which files, and failures -----------------------------------------------------------------------


def test_follows_relative_and_module_imports(tmp_path: Path) -> None:
    package_dir = tmp_path / "pkg"
    (package_dir / "sub").mkdir(parents=True)
    (tmp_path / "handler.py").write_text("from pkg import a\n")
    (package_dir / "__init__.py").write_text("")
    (package_dir / "a.py").write_text("def f():\n    from .sub import b\n")
    (package_dir / "sub" / "__init__.py").write_text("from ..c import VALUE\n")
    (package_dir / "sub" / "b.py").write_text("")
    (package_dir / "c.py").write_text("VALUE = 1\n")
    (package_dir / "unused.py").write_text("")
    assert sorted(runtime_sources(tmp_path / "handler.py", package_dir)) == [
        "handler.py",
        "pkg/__init__.py",
        "pkg/a.py",
        "pkg/c.py",
        "pkg/sub/__init__.py",
        "pkg/sub/b.py",
    ]


def test_rejects_an_import_of_a_missing_module(tmp_path: Path) -> None:
    package_dir = tmp_path / "pkg"
    package_dir.mkdir()
    (package_dir / "__init__.py").write_text("")
    (tmp_path / "handler.py").write_text("import pkg.gone\n")
    with pytest.raises(BundlingError, match=r"imports pkg\.gone, which is not a module"):
        runtime_sources(tmp_path / "handler.py", package_dir)


def test_rejects_a_missing_handler(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    with pytest.raises(BundlingError, match="no handler module"):
        runtime_sources(tmp_path / "handler.py", tmp_path / "pkg")


def test_rejects_requirements_without_the_pin(project_copy: tuple[Path, Path, Path]) -> None:
    requirements = project_copy[2]
    requirements.write_text("# only a comment\ncffi==1.0\n")
    with pytest.raises(BundlingError, match=r"pins no version .* for cryptography"):
        fingerprint(project_copy)
    requirements.write_text("cryptography>=1.0\n")
    with pytest.raises(BundlingError, match=r"requirements.txt:1: not a pin \(name==version\)"):
        fingerprint(project_copy)


def test_pip_failure_is_a_clear_error(project_copy: tuple[Path, Path, Path], tmp_path: Path) -> None:
    handler_module, package_dir, requirements = project_copy
    pins = requirements.read_text()
    requirements.write_text(re.sub(r"^cryptography==\S+$", "cryptography==0.0.0.dev0", pins, flags=re.M))
    bundler = LocalAssetBundler(
        ARM64, handler_module=handler_module, package_dir=package_dir, requirements_file=requirements
    )
    with pytest.raises(BundlingError, match=r"pip could not install cryptography==0\.0\.0\.dev0 .*aarch64"):
        bundler.try_bundle(str(tmp_path / "out"), None)
