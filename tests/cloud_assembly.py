"""Hand-written cloud assemblies for the tests of the tools that read ``cdk.out``."""

from __future__ import annotations

import json
from pathlib import Path


def write_stage_pointer(directory: Path, stage: str) -> Path:
    """The root manifest of an assembly whose one artifact is the stage ``stage``, synthesized into
    ``assembly-<stage>``; returns that folder (created), where the stage's own manifest goes."""
    stage_directory = directory / f"assembly-{stage}"
    stage_directory.mkdir(parents=True, exist_ok=True)
    (directory / "manifest.json").write_text(
        json.dumps(
            {
                "artifacts": {
                    f"assembly-{stage}": {
                        "type": "cdk:cloud-assembly",
                        "properties": {"directoryName": f"assembly-{stage}", "displayName": stage},
                    }
                }
            }
        )
    )
    return stage_directory
