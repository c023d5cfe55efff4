"""A clone of the repository is all the project needs: nothing reads a path beside it, and the third-party
vectors the tests read live in ``tests/vectors`` with their source and license, unchanged since recorded.

(The clone itself is proven by ``.ci/run``, which clones the repository into an empty temporary directory
and runs ``make test`` there.)
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import pytest

from devtools import PROJECT_ROOT
from tests.conftest import VECTORS_DIR

# How the project once reached outside itself, and the ways one would again: a sibling folder, the root's
# parent, an absolute path of the machine it was developed on, or the variable that pointed elsewhere.
OUTSIDE_PATHS = re.compile(
    r"\.\./shared|(?<![\w/.-])shared/|PROJECT_ROOT\.parent|PROJECT_ROOT\s*/\s*\"\.\.\"|/work/|KMSECDH_VECTORS_DIR"
)
VECTOR_METADATA = re.compile(r"^(SOURCE\.txt|README\.md|LICENSE.*)$")
SHA256_LINE = re.compile(r"^\s*([0-9a-f]{64})\s+(\S+)\s*$", re.MULTILINE)


def repository_files() -> list[Path]:
    """Every file of the repository, committed or not, that git does not ignore."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [PROJECT_ROOT / name for name in listed.split("\0") if name and (PROJECT_ROOT / name).is_file()]


def test_no_file_reads_a_path_outside_the_repository() -> None:
    this_file = Path(__file__).resolve()
    offenders = []
    for path in repository_files():
        if path.resolve() == this_file or path.is_relative_to(VECTORS_DIR):
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if OUTSIDE_PATHS.search(line):
                offenders.append(f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_the_vectors_are_inside_the_repository() -> None:
    assert VECTORS_DIR.resolve().is_relative_to(PROJECT_ROOT)
    assert VECTORS_DIR.is_dir()


def vector_folders() -> list[Path]:
    return sorted(path for path in VECTORS_DIR.iterdir() if path.is_dir())


def data_files(folder: Path) -> set[str]:
    return {path.name for path in folder.iterdir() if path.is_file() and not VECTOR_METADATA.match(path.name)}


@pytest.mark.parametrize("folder", vector_folders(), ids=lambda folder: folder.name)
def test_each_vector_file_has_its_recorded_sha256(folder: Path) -> None:
    """SOURCE.txt lists every data file of its folder with its sha256, and the files are those bytes."""
    recorded = {name: digest for digest, name in SHA256_LINE.findall((folder / "SOURCE.txt").read_text())}
    assert set(recorded) == data_files(folder)
    for name, digest in recorded.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name


@pytest.mark.parametrize("folder", vector_folders(), ids=lambda folder: folder.name)
def test_each_source_names_its_url_retrieval_and_license(folder: Path) -> None:
    source = (folder / "SOURCE.txt").read_text()
    assert "https://" in source
    assert re.search(r"^Retrieved: by \d{4}-\d{2}-\d{2}", source, re.MULTILINE)
    assert re.search(r"^\s*License", source, re.MULTILINE)
    named = set(re.findall(r"(?:\.\./)?LICENSE-[\w-]+", source))
    assert all((folder / name).is_file() for name in named), named
    assert named | {path.name for path in folder.glob("LICENSE*")}, "no license text beside the files"


def test_every_vector_file_is_read_by_a_test() -> None:
    """Only what the tests use is copied: each data file's name (up to its first dot, as a glob would
    name it) appears in the test code."""
    this_file = Path(__file__).resolve()
    test_code = "\n".join(
        path.read_text() for path in (PROJECT_ROOT / "tests").rglob("*.py") if path.resolve() != this_file
    )
    unread = [
        f"{folder.name}/{name}"
        for folder in vector_folders()
        for name in sorted(data_files(folder))
        if name.split(".")[0] not in test_code
    ]
    assert unread == []
