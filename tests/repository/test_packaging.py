"""The wheel's package list (pyproject.toml names each package, because two folders are mapped with
package-dir) holds every package of the sources: a package left out is missing from the wheel, which only the
slow wheel test would otherwise find."""

from __future__ import annotations

import tomllib
from pathlib import Path

from devtools import PROJECT_ROOT


def source_packages(import_name: str, folder: Path) -> set[str]:
    return {
        ".".join([import_name, *init.parent.relative_to(folder).parts])
        for init in folder.rglob("__init__.py")
        if "__pycache__" not in init.parts
    }


def test_every_source_package_is_in_the_wheel() -> None:
    setuptools = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {"kmsecdh": PROJECT_ROOT / "kmsecdh"} | {
        name: PROJECT_ROOT / path for name, path in setuptools["package-dir"].items()
    }
    # A mapped subpackage's folder is outside its parent's: it is found through its own mapping.
    found = set().union(*(source_packages(name, folder) for name, folder in folders.items()))
    assert found == set(setuptools["packages"])
