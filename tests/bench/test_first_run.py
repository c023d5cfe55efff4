"""The first-run figures' harness (a clean clone's first make synth and make test): what it reads from the
phases and from pytest's output, and the environment the clone runs in. The clone run itself is the figure."""

from __future__ import annotations

import pytest

from benchmarks import PROJECT_ROOT, first_run
from benchmarks.first_run import CloneRun, Phase

DURATIONS = """\
============================= slowest 3 durations ==============================
151.20s call     tests/deploy/test_deploy_local.py::test_deploy_local
62.04s setup    tests/infra/test_audit.py::test_trail
3.10s call     tests/core/test_log.py::test_line
========================= 3010 passed, 13 deselected in 475.12s (0:07:55) =========================
"""


def test_slowest_tests_from_pytest_durations() -> None:
    assert first_run.slowest_tests(DURATIONS, count=2) == [
        (151.2, "call tests/deploy/test_deploy_local.py::test_deploy_local"),
        (62.04, "setup tests/infra/test_audit.py::test_trail"),
    ]


def test_summary_line() -> None:
    lines = [m.group(1) for line in DURATIONS.splitlines() if (m := first_run._SUMMARY.match(line))]
    assert lines == ["3010 passed, 13 deselected"]


def _run() -> CloneRun:
    names = [name for name, _ in (*first_run.SYNTH_PHASES, *first_run.TEST_PHASES)]
    return CloneRun(
        commit="0" * 40,
        phases=tuple(Phase(name, wall_s=10.0 * (index + 1), cpu_s=1.0) for index, name in enumerate(names)),
        second_synth=Phase("second synth", 40.0, 30.0),
        suite_outcome="3010 passed",
        suite_passed=True,
        slowest=((151.2, "call tests/deploy/test_deploy_local.py::test_deploy_local"),),
    )


def test_make_synth_is_its_setup_and_the_synth_make_test_its_setup_and_the_suite() -> None:
    run = _run()
    assert [phase.name for phase in run.first_synth] == [
        "virtualenv .venv",
        "CDK CLI (npm ci)",
        "checkov virtualenv",
        "synth",
    ]
    assert [phase.name for phase in run.first_test] == [
        "virtualenv .venv",
        "CDK CLI (npm ci)",
        "checkov virtualenv",
        "local KMS endpoint virtualenv",
        "local endpoint with CloudFormation virtualenv",
        "suite",
    ]


def test_figures_from_one_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(first_run, "clone_run", _run)
    synth = first_run.measure_synth()
    assert synth.project.median == 10 + 20 + 30 + 40  # the four phases of the first make synth
    assert synth.floor is not None
    assert synth.floor.median == 40.0
    assert synth.met is True  # 100 s against at most 180
    assert synth.details["checkov_virtualenv_wall_s"] == 30.0
    test = first_run.measure_test()
    assert test.project.median == 70.0  # the suite alone
    assert test.details["first_make_test_wall_s"] == 10 + 20 + 30 + 50 + 60 + 70
    assert any("test_deploy_local" in note for note in test.notes)


def test_a_failed_suite_fails_the_figure(monkeypatch: pytest.MonkeyPatch) -> None:
    failed = _run()
    monkeypatch.setattr(
        first_run, "clone_run", lambda: CloneRun(**{**failed.__dict__, "suite_passed": False})
    )
    with pytest.raises(RuntimeError, match="the suite failed on a clean clone"):
        first_run.measure_test()


def test_the_clone_runs_without_this_checkouts_tools_or_aws_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "someone")
    monkeypatch.setenv("VIRTUAL_ENV", str(PROJECT_ROOT / ".venv"))
    monkeypatch.setenv("PATH", f"{PROJECT_ROOT / 'node_modules' / '.bin'}:/usr/bin")
    env = first_run.clone_environment()
    assert "AWS_PROFILE" not in env
    assert "VIRTUAL_ENV" not in env
    assert env["PATH"] == "/usr/bin"
