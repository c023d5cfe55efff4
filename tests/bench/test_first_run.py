"""The first-run figures' harness (a clean clone's first make synth and make test): what it reads from the
phases and from pytest's output, and the environment the clone runs in. The clone run itself is the figure."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import PROJECT_ROOT, first_run, report
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


def _first_run_document(monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setattr(first_run, "clone_run", _run)
    conditions = {
        "measured_at": "2026-12-07T12:00:00+00:00",
        "seconds": 300.0,
        "load_average_at_start": [0.5, 0.4, 0.3],
        "load_average_at_end": [2.5, 1.4, 0.9],
    }
    return report.document(
        {"first_synth": first_run.measure_synth(), "first_test": first_run.measure_test()},
        {"cpu_count": 2, "python": "3.11.7", "implementation": "CPython", "machine": "x86_64"},
        300.0,
        conditions={"first_synth": conditions, "first_test": conditions},
    )


def test_the_readme_table_from_the_first_run_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    table = report.first_run_table(_first_run_document(monkeypatch))
    assert table is not None
    synth_row, test_row = (line for line in table.splitlines() if line.startswith("| `make"))
    # make synth: the four phases (10+20+30+40 s), of which the synthesis 40 s
    assert synth_row.endswith("| 1 min 40 s: 1 min 00 s of setup, 40 s of synthesis |")
    # make test: the three shared phases, the two endpoints (50+60 s) and the suite (70 s)
    assert test_row.endswith(
        "| 4 min 00 s: 2 min 50 s of setup (the local endpoints' 1 min 50 s of it), "
        "1 min 10 s for the 3010 tests |"
    )
    assert "on 2026-12-07" in table
    assert "load average 0.5 to 2.5" in table
    assert "Later runs only synthesize (about 40 s)" in table


def test_without_first_run_figures_the_readme_is_left_alone(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{report.FIRST_RUN_START}\nold\n{report.FIRST_RUN_END}\nrest\n")
    doc = {"figures": {}, "machine": {}}
    assert report.first_run_table(doc) is None
    assert report.rewrite_readme(readme, doc) is False
    assert readme.read_text().count("old") == 1


def test_the_readme_block_is_rewritten_and_nothing_else(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{report.FIRST_RUN_START}\nold\n{report.FIRST_RUN_END}\nrest\n")
    assert report.rewrite_readme(readme, _first_run_document(monkeypatch)) is True
    text = readme.read_text()
    assert text.startswith(f"intro\n{report.FIRST_RUN_START}\n| command |")
    assert text.endswith(f"\n{report.FIRST_RUN_END}\nrest\n")
    assert "old" not in text


def test_minutes_as_a_person_reads_them() -> None:
    assert [report.minutes(s) for s in (0.4, 48.0, 59.6, 125.0)] == [
        "0 s",
        "48 s",
        "1 min 00 s",
        "2 min 05 s",
    ]


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
