"""Asset figure: zipped bytes of the derive Lambda's asset vs zipped cryptography + its dependencies alone.

The project side runs the construct library's own local bundler (same runtime and architecture as
the DeriveFunction) into a temp dir; the floor is that bundler's pip command for the pinned
cryptography and its pinned dependencies with nothing else. Both are zipped the way the CDK CLI
zips a directory asset (every file, deflate at zlib's default level 6). Sizes are deterministic,
so one run of each suffices.
"""

from __future__ import annotations

import subprocess
import tempfile
import zipfile
from pathlib import Path

from benchmarks.stats import FigureResult, Target, summarize
from kmsecdh_cdk import bundling
from kmsecdh_cdk.derive_function import ARCHITECTURE, RUNTIME

TARGET = Target("<=", 1.1)
# The CDK CLI zips assets with yazl, whose default is deflate at zlib's default level.
CDK_ZIP_LEVEL = 6


def zip_directory(directory: Path, archive_path: Path) -> Path:
    """Zip every file under ``directory`` (dot files included) like the CDK CLI does."""
    with zipfile.ZipFile(archive_path, "w", zipfile.ZIP_DEFLATED, compresslevel=CDK_ZIP_LEVEL) as archive:
        for path in sorted(path for path in directory.rglob("*") if path.is_file()):
            archive.write(path, path.relative_to(directory).as_posix())
    return archive_path


def zipped_size(directory: Path) -> int:
    with tempfile.TemporaryDirectory(prefix="kmsecdh-bench-zip-") as scratch:
        return zip_directory(directory, Path(scratch) / "asset.zip").stat().st_size


def project_asset(output: Path) -> None:
    platform = bundling.LambdaPlatform.of(RUNTIME, ARCHITECTURE)
    # try_bundle ignores its BundlingOptions: it is local bundling only.
    bundling.LocalAssetBundler(platform).try_bundle(str(output), None)


def floor_asset(output: Path) -> None:
    platform = bundling.LambdaPlatform.of(RUNTIME, ARCHITECTURE)
    pins = bundling.read_pins(bundling.REQUIREMENTS_FILE)
    subprocess.run(bundling.pip_install_args(output, pins, platform), check=True, capture_output=True)


def _pinned_names() -> list[str]:
    return [pin.split("==")[0] for pin in bundling.read_pins(bundling.REQUIREMENTS_FILE)]


def measure() -> FigureResult:
    sizes = {}
    with tempfile.TemporaryDirectory(prefix="kmsecdh-bench-asset-") as scratch:
        for side, build in (("project", project_asset), ("floor", floor_asset)):
            output = Path(scratch) / side
            output.mkdir()
            build(output)
            sizes[side] = zipped_size(output) / 1024
    return FigureResult(
        name="asset",
        project_label="zipped derive Lambda asset (handler, kmsecdh runtime modules, cryptography)",
        floor_label=f"zipped `pip install --platform ... {' '.join(_pinned_names())}` alone",
        project=summarize([sizes["project"]], "KiB"),
        floor=summarize([sizes["floor"]], "KiB"),
        target=TARGET,
        notes=(
            f"{RUNTIME.name} {ARCHITECTURE.name}; deflate level {CDK_ZIP_LEVEL} like the CDK CLI; "
            "sizes are deterministic, one build each",
        ),
    )
