"""`make access-matrix`: synthesize the app of cdk.json, evaluate every environment's access matrix, compare
it with the model and write docs/access-matrix.md (``python -m tools.access_matrix``)."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from devtools import PROJECT_ROOT
from stacks.application import create_app
from tools.access_matrix import access_matrix
from tools.access_matrix.report import DOCUMENT, render


def main() -> int:
    context = json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]
    with tempfile.TemporaryDirectory(prefix="access-matrix-") as outdir:
        create_app(outdir=outdir, context=context).synth()
        matrices = access_matrix(Path(outdir), context)
    mismatches = [mismatch for matrix in matrices.values() for mismatch in matrix.mismatches]
    for name, matrix in matrices.items():
        evaluation = matrix.evaluation
        per_simulation = 1000 * evaluation.seconds / evaluation.simulations
        print(
            f"access-matrix: {name}: {len(evaluation.decisions)} requests, {evaluation.simulations} "
            f"simulations in {evaluation.seconds:.1f} s ({per_simulation:.1f} ms each)"
        )
    for mismatch in mismatches:
        print(f"access-matrix: {mismatch}", file=sys.stderr)
    if mismatches:
        print(
            f"access-matrix: {len(mismatches)} cell(s) differ from the model; {DOCUMENT} not written",
            file=sys.stderr,
        )
        return 1
    DOCUMENT.write_text(render(matrices))
    print(f"access-matrix: wrote {DOCUMENT.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
