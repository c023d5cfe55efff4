"""The benchmark harness's statistics, ratios, interleaving and results file: quick, no timing asserted."""

from __future__ import annotations

import json
import math
import os
import zipfile
from pathlib import Path

import pytest

from benchmarks import asset, batch, report, synth, warm_derive
from benchmarks.run import FIGURES, RESULTS_FILE
from benchmarks.stats import FigureResult, Summary, Target, interleaved, per_call_us, summarize

IN_PROCESS_MIN_RUNS = 10


def _summary(median: float, unit: str = "ms") -> Summary:
    return Summary(unit=unit, runs=3, median=median, q1=median, q3=median, minimum=median, maximum=median)


def _figure(project: float, floor: float, target: Target, name: str = "figure") -> FigureResult:
    return FigureResult(name, "p", "f", _summary(project), _summary(floor), target)


class TestSummarize:
    def test_odd_count_quartiles_are_samples(self) -> None:
        summary = summarize([5.0, 1.0, 3.0, 2.0, 4.0], "ms")
        assert (summary.runs, summary.median, summary.q1, summary.q3) == (5, 3.0, 2.0, 4.0)
        assert (summary.minimum, summary.maximum) == (1.0, 5.0)

    def test_even_count_interpolates(self) -> None:
        # Inclusive quartiles of 1..4: positions 0.75 and 2.25 between the sorted samples.
        summary = summarize([4.0, 3.0, 2.0, 1.0], "ms")
        assert (summary.median, summary.q1, summary.q3) == (2.5, 1.75, 3.25)

    def test_single_sample(self) -> None:
        summary = summarize([7.0], "s")
        assert (summary.median, summary.q1, summary.q3, summary.runs) == (7.0, 7.0, 7.0, 1)

    def test_no_samples_rejected(self) -> None:
        with pytest.raises(ValueError, match="no samples"):
            summarize([], "ms")


class TestTargetAndRatio:
    @pytest.mark.parametrize(
        ("project", "floor", "target", "met"),
        [
            (13.0, 10.0, Target("<=", 1.3), True),
            (13.1, 10.0, Target("<=", 1.3), False),
            (300.0, 100.0, Target(">=", 3.0), True),
            (290.0, 100.0, Target(">=", 3.0), False),
        ],
    )
    def test_ratio_is_project_over_floor(
        self, project: float, floor: float, target: Target, met: bool
    ) -> None:
        figure = _figure(project, floor, target)
        assert figure.ratio == pytest.approx(project / floor)
        assert figure.met is met

    def test_units_must_match(self) -> None:
        with pytest.raises(ValueError, match="project in ms, floor in s"):
            FigureResult("figure", "p", "f", _summary(1.0, "ms"), _summary(1.0, "s"), Target("<=", 1.0))

    def test_zero_floor_rejected(self) -> None:
        with pytest.raises(ValueError, match="floor median is zero"):
            _figure(1.0, 0.0, Target("<=", 1.0))

    def test_json_carries_medians_ratio_and_target(self) -> None:
        doc = _figure(12.0, 10.0, Target("<=", 1.3)).to_json()
        assert doc["project"]["median"] == 12.0
        assert doc["floor"]["median"] == 10.0
        assert doc["ratio"] == 1.2
        assert doc["target"] == {"comparison": "<=", "bound": 1.3}
        assert doc["met"] is True


class TestInterleaved:
    def test_alternates_which_side_goes_first_and_discards_warmup(self) -> None:
        calls: list[str] = []

        def side(name: str, values: list[float]):
            def sample() -> float:
                calls.append(name)
                return values.pop(0)

            return sample

        project, floor = interleaved(
            side("p", [0.0, 1.0, 2.0, 3.0]), side("f", [0.0, 10.0, 20.0, 30.0]), runs=3, warmup=1
        )
        assert calls == ["p", "f", "p", "f", "f", "p", "p", "f"]
        assert (project, floor) == ([1.0, 2.0, 3.0], [10.0, 20.0, 30.0])

    def test_needs_a_run(self) -> None:
        with pytest.raises(ValueError, match="at least 1"):
            interleaved(lambda: 0.0, lambda: 0.0, runs=0)


class TestTable:
    def test_one_row_per_figure_with_verdict(self) -> None:
        machine = report.machine()
        text = report.table(
            [_figure(12.0, 10.0, Target("<=", 1.3), "fast"), _figure(20.0, 10.0, Target("<=", 1.3), "slow")],
            machine,
        )
        rows = [line for line in text.splitlines() if line.startswith(("| fast ", "| slow "))]
        assert [row.rsplit("|", 2)[-2].strip() for row in rows] == ["yes", "NO"]
        assert f"{machine['cpu_count']} CPUs" in text

    def test_a_failed_figure_is_a_row_too(self) -> None:
        text = report.table([], report.machine(), {"batch": "LocalEndpointError: not ready"})
        assert "| batch | not measured: LocalEndpointError: not ready | | | | NO |" in text


class TestAssetZip:
    def test_zip_holds_every_file_and_deflates(self, tmp_path: Path) -> None:
        (tmp_path / "pkg").mkdir()
        (tmp_path / "pkg" / "module.py").write_text("x = 1\n" * 2000)
        (tmp_path / ".hidden").write_text("dot files are part of a CDK asset\n")
        size = asset.zipped_size(tmp_path)
        assert 0 < size < 12000
        with zipfile.ZipFile(asset.zip_directory(tmp_path, tmp_path.parent / "a.zip")) as archive:
            assert sorted(archive.namelist()) == [".hidden", "pkg/module.py"]
            assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_DEFLATED}


class TestSynthFloor:
    def test_floor_keeps_project_settings_but_runs_an_empty_app(self, tmp_path: Path) -> None:
        settings = {"app": "python3 app.py", "context": {"@aws-cdk/core:flag": True, "environments": {}}}
        project_settings = tmp_path / "project-cdk.json"
        project_settings.write_text(json.dumps(settings))
        floor_dir = tmp_path / "floor"
        floor_dir.mkdir()
        synth.write_floor_app(floor_dir, project_settings)
        written = json.loads((floor_dir / "cdk.json").read_text())
        assert written["context"] == settings["context"]
        assert written["app"].endswith(str(floor_dir / "empty_app.py"))
        assert "cdk.App()" in (floor_dir / "empty_app.py").read_text()


def test_process_group_cpu_counts_this_process() -> None:
    sum(range(200_000))
    assert batch.process_group_cpu_seconds(os.getpgrp()) > 0


@pytest.fixture(scope="module")
def results() -> dict:
    return json.loads(RESULTS_FILE.read_text())


class TestResultsFile:
    """The committed benchmarks/results.json has every figure with what issue 5 asks for."""

    def test_every_figure_was_measured(self, results: dict) -> None:
        assert results["failures"] == {}
        assert set(results["figures"]) == set(FIGURES)

    def test_machine(self, results: dict) -> None:
        machine = results["machine"]
        assert isinstance(machine["cpu_count"], int)
        assert machine["cpu_count"] >= 1
        assert machine["python"].count(".") == 2

    @pytest.mark.parametrize("name", FIGURES)
    def test_figure(self, results: dict, name: str) -> None:
        figure = results["figures"][name]
        project, floor = figure["project"], figure["floor"]
        for side in (project, floor):
            assert side["q1"] <= side["median"] <= side["q3"]
            assert side["min"] <= side["q1"]
            assert side["q3"] <= side["max"]
        assert math.isclose(figure["ratio"], project["median"] / floor["median"], rel_tol=1e-3)
        target = Target(figure["target"]["comparison"], figure["target"]["bound"])
        assert figure["met"] is target.met_by(figure["ratio"])
        if name in ("cold_start", "warm_derive"):
            assert min(project["runs"], floor["runs"]) >= IN_PROCESS_MIN_RUNS


def test_per_call_sampler_calibrates_a_call_count_once() -> None:
    calls: list[int] = []
    sampler = per_call_us(lambda: calls.append(1), sample_ms=1.0)
    probe = len(calls)
    first = sampler()
    per_sample = len(calls) - probe
    sampler()
    assert probe == 10
    assert per_sample >= 10
    assert len(calls) - probe == 2 * per_sample
    assert first > 0


def test_warm_derive_runs_end_to_end_and_explains_itself(log_to_logger: None) -> None:
    # log_to_logger: loading the handler module sends invocation lines to stdout; undone after the test.
    result = warm_derive.measure()  # itself checks the handler, floor and wire minimum derive one key
    assert result.project.runs >= IN_PROCESS_MIN_RUNS
    assert set(result.details) == {
        "parse_request_us",
        "load_configuration_us",
        "load_peer_public_key_us",
        "kms_request_us",
        "derive_key_us",
        "log_line_us",
        "wire_minimum_us",
    }
    assert all(cost > 0 for cost in result.details.values())
    assert any("wire minimum" in note for note in result.notes)


def test_suite_summary_line_is_read_and_reported() -> None:
    from benchmarks import suite

    for line in (
        "======================= 812 passed, 2 deselected in 148.20s (0:02:28) =======================",
        "812 passed, 2 deselected in 148.20s (0:02:28)",
    ):
        match = suite._SUMMARY.match(line)
        assert match is not None, line
        assert match.group(1) == "812 passed, 2 deselected"
    text = report.suite_line(
        {"command": "python -m pytest", "wall_s": 150.1, "cpu_s": 200.0, "outcome": "812 passed"}
    )
    assert text == "test suite (python -m pytest): 150.1 s wall, 200.0 s CPU; 812 passed"
