"""`make deploy-local` inside `make test`: the same code path, every stage of a fresh synthesis.

Runs `python -m tools.deploy_local` as a child process (its own endpoint, started and stopped by it;
the session's KMS-only endpoint may be running meanwhile, see tools/deploy_local/endpoint.py) and
fails on a non-zero exit, showing the transcript. About 2 to 3 minutes on 2 cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from devtools import PROJECT_ROOT

TIMEOUT_SECONDS = 1200


def test_every_environment_deploys_matches_its_templates_and_derives_like_openssl() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "CDK_"))}
    with subprocess.Popen(
        [sys.executable, "-m", "tools.deploy_local"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        try:
            transcript, _ = process.communicate(timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.terminate()  # SIGTERM: it destroys the stages and stops its endpoint first
            transcript, _ = process.communicate(timeout=120)
            pytest.fail(f"deploy-local took over {TIMEOUT_SECONDS} s:\n{transcript}")
    assert process.returncode == 0, transcript
    assert "MISMATCH" not in transcript
    environments = json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]["environments"]
    for name in environments:
        # 'dev/*', or each deployable stack ('prod/KeyAgreement' ...) where a replica stack is skipped.
        assert f"deploy '{name}/" in transcript, f"stage {name} not deployed:\n{transcript}"
        assert f"destroy '{name}/" in transcript, f"stage {name} not destroyed:\n{transcript}"
    for name, settings in environments.items():
        for region in settings.get("replica_regions", []):
            assert f"skipped   kmsecdh-{name}-key-agreement-{region}" in transcript, transcript
    assert transcript.count("handler in-process with") == len(environments), transcript
    assert transcript.count("CLI on alias/") == len(environments), transcript
    publishing = [name for name, settings in environments.items() if settings.get("directory_publisher_arns")]
    assert transcript.count("directory publish: ") == len(publishing), transcript
    assert "x AWS::CloudTrail::Trail: reported CREATE_COMPLETE, not created" in transcript
    # a key is never replaced by accident (tools/deploy_local/guard_demo.py, on dev)
    assert "synthesis refuses ECC_NIST_P256 generation 2026-01 made multi-Region in place" in transcript
    assert "the deploy guard refuses: REFUSED  kmsecdh-dev-key-agreement: " in transcript
    assert "2026-01 by its kid derives what it derived before" in transcript
