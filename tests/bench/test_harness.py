"""The benchmark harness's statistics, ratios, interleaving and results file: quick, no timing asserted."""

from __future__ import annotations

import ast
import json
import math
import os
import zipfile
from pathlib import Path

import pytest

from benchmarks import (
    PROJECT_ROOT,
    Unavailable,
    access_matrix,
    asset,
    batch,
    cost,
    deploy_local,
    figures,
    organisation,
    report,
    synth,
    synth_profile,
    synth_replay,
    warm_derive,
)
from benchmarks.figures import FIGURES, RESULTS_FILE
from benchmarks.stats import FigureResult, Summary, Target, interleaved, per_call_us, summarize
from stacks.config import parse_environments
from stacks.pipeline_config import parse_pipeline
from tools.checkov import MIN_TEMPLATES_PER_PROCESS, template_groups

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
        assert doc["target"] == {"comparison": "<=", "bound": 1.3, "unit": None}
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
    doc = json.loads(RESULTS_FILE.read_text())
    assert doc["schema_version"] == report.SCHEMA_VERSION, (
        f"{RESULTS_FILE.name} is of schema {doc['schema_version']}, not this harness's "
        f"{report.SCHEMA_VERSION}: run make bench on a quiet machine and commit it"
    )
    return doc


class TestResultsFile:
    """The committed benchmarks/results.json has every figure with what issues 5 and 15 ask for."""

    def test_every_figure_was_measured(self, results: dict) -> None:
        # The default group's run writes every one of its figures; the first-run group (a clean clone's
        # first make synth and make test, whose suite reads this file) is run apart and may come later.
        assert results["failures"] == {}
        measured = set(results["figures"]) | set(results.get("unavailable", {}))
        assert measured >= set(figures.GROUPS[figures.DEFAULT_GROUP])
        assert measured <= set(FIGURES)

    def test_machine(self, results: dict) -> None:
        machine = results["machine"]
        assert isinstance(machine["cpu_count"], int)
        assert machine["cpu_count"] >= 1
        assert machine["python"].count(".") == 2

    @pytest.mark.parametrize("name", FIGURES)
    def test_figure(self, results: dict, name: str) -> None:
        if name not in results["figures"] and figures.group_of(name) != figures.DEFAULT_GROUP:
            return  # a group measured apart, not yet (test_every_figure_was_measured)
        if name in results.get("unavailable", {}):
            # A tool this branch lacks (its figure's module says which): the reason names it.
            assert "not on this branch" in results["unavailable"][name]
            return
        figure = results["figures"][name]
        project, floor = figure["project"], figure["floor"]
        for side in (project, floor) if floor is not None else (project,):
            assert side["q1"] <= side["median"] <= side["q3"]
            assert side["min"] <= side["q1"]
            assert side["q3"] <= side["max"]
        if floor is None:
            assert figure["ratio"] is None
            # without a floor, only a target in the figure's own unit (seconds of a wait) can be judged
            assert figure["target"] is None or figure["target"]["unit"] == project["unit"]
        else:
            assert math.isclose(figure["ratio"], project["median"] / floor["median"], rel_tol=1e-3)
        if figure["target"] is None:
            assert figure["met"] is True
        else:
            target = Target(**figure["target"])
            judged = project["median"] if target.unit is not None else figure["ratio"]
            assert figure["met"] is target.met_by(judged)
        if name in ("cold_start", "warm_derive"):
            assert min(project["runs"], floor["runs"]) >= IN_PROCESS_MIN_RUNS
        conditions = figure["conditions"]
        assert len(conditions["load_average_at_start"]) == len(conditions["load_average_at_end"]) == 3
        assert conditions["seconds"] >= 0

    def test_performance_table_is_this_file(self, results: dict) -> None:
        page = report.PERFORMANCE_PAGE.read_text()
        assert report.performance_table(results, FIGURES) in page

    def test_the_readme_first_run_table_is_this_file(self, results: dict) -> None:
        readme = report.README.read_text()
        assert readme.count(report.FIRST_RUN_START) == readme.count(report.FIRST_RUN_END) == 1
        table = report.first_run_table(results)
        if table is not None:  # None until the first-run group has been run (test_every_figure_was_measured)
            assert f"{report.FIRST_RUN_START}\n{table}\n{report.FIRST_RUN_END}" in readme


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
        "library_floor_us",
        "contract_stages_in_sequence_us",
        "invocation_line_writes",
        "emf_metrics",
    }
    assert result.details["invocation_line_writes"] == 1
    costs = {name: cost for name, cost in result.details.items() if name.endswith("_us")}
    assert all(cost > 0 for cost in costs.values())
    assert "wire minimum" in result.floor_label
    assert any("library floor" in note for note in result.notes)
    assert any("stages in sequence" in note for note in result.notes)


class TestReportedFigures:
    def test_without_target_is_met_and_says_reported(self) -> None:
        figure = FigureResult("suite", "p", "f", _summary(300.0, "s"), _summary(20.0, "s"), None)
        assert figure.met is True
        assert figure.to_json()["target"] is None
        assert "| suite |" in report.table([figure], report.machine())
        assert report.table([figure], report.machine()).splitlines()[2].endswith("| reported |")

    def test_without_floor_has_no_ratio(self) -> None:
        figure = FigureResult("cycle", "p", "", _summary(90.0, "s"), None, None)
        assert figure.ratio is None
        assert figure.to_json()["floor"] is None

    def test_a_target_needs_a_floor(self) -> None:
        with pytest.raises(ValueError, match="needs a floor"):
            FigureResult("x", "p", "", _summary(1.0), None, Target("<=", 1.0))

    def test_unavailable_figure_is_a_row(self) -> None:
        text = report.table([], report.machine(), unavailable={"deploy_local": "absent"})
        assert "| deploy_local | not available: absent |" in text


class TestPerformancePageBlocks:
    def _doc(self) -> dict:
        figures = {
            "fast": {"name": "fast", **_figure(12.0, 10.0, Target("<=", 1.3), "fast").to_json()},
            "suite": {
                "name": "suite",
                **FigureResult("suite", "p", "f", _summary(300.0, "s"), _summary(20.0, "s"), None).to_json(),
            },
        }
        return report.document({}, report.machine(), 1.0) | {"figures": figures}

    def test_rewrites_only_the_marked_block(self, tmp_path: Path) -> None:
        page = tmp_path / "performance.md"
        page.write_text(f"before\n{report.TABLE_START}\nold table\n{report.TABLE_END}\nafter\n")
        report.rewrite_performance_page(page, self._doc(), ("suite", "fast"))
        text = page.read_text()
        assert text.startswith(f"before\n{report.TABLE_START}\n| figure |")
        assert text.endswith(f"{report.TABLE_END}\nafter\n")
        assert "old table" not in text
        rows = [line for line in text.splitlines() if line.startswith(("| suite ", "| fast "))]
        assert [row.split("|")[1].strip() for row in rows] == ["suite", "fast"]
        assert rows[0].endswith("| none (reported) | reported |")
        assert rows[1].endswith("| 1.20 | ≤ 1.3 | yes |")

    def test_refuses_a_page_without_the_block(self, tmp_path: Path) -> None:
        page = tmp_path / "performance.md"
        page.write_text("no block\n")
        with pytest.raises(ValueError, match=r"no .* block"):
            report.rewrite_performance_page(page, self._doc())

    def test_the_performance_page_has_both_blocks(self) -> None:
        text = (PROJECT_ROOT / "docs" / "performance.md").read_text()
        assert text.index(report.TABLE_START) < text.index(report.TABLE_END)
        assert text.index(report.COST_START) < text.index(report.COST_END)
        assert report.TABLE_START not in (PROJECT_ROOT / "README.md").read_text()


@pytest.fixture(scope="module")
def examples() -> dict:
    return organisation.example_environments(json.loads((PROJECT_ROOT / "cdk.json").read_text()))


@pytest.fixture(scope="module")
def generated(examples: dict) -> dict:
    return organisation.generate(examples, synth_replay.ENVIRONMENTS)


class TestOrganisation:
    def test_valid_environments_beginning_with_the_examples(self, examples: dict, generated: dict) -> None:
        assert len(generated) == synth_replay.ENVIRONMENTS
        assert list(generated)[: len(examples)] == list(examples)
        assert len(parse_environments(generated)) == synth_replay.ENVIRONMENTS

    def test_every_example_field_is_used_by_its_copies(self, examples: dict) -> None:
        generated, origins = organisation.generate_with_origins(examples, synth_replay.ENVIRONMENTS)
        for name, entry in generated.items():
            assert set(entry) == set(examples[origins[name]])

    def test_no_name_is_another_followed_by_a_hyphen(self, generated: dict) -> None:
        # The guardrails name an environment's resources kmsecdh-<name>-*: prod's would match prod-004's.
        assert not [(a, b) for a in generated for b in generated if b.startswith(f"{a}-")]

    def test_accounts_and_regions_vary(self, generated: dict) -> None:
        accounts = {entry["account"] for entry in generated.values() if "account" in entry}
        regions = {entry["region"] for entry in generated.values() if "region" in entry}
        assert len(accounts) >= 10
        assert len(regions) == len(organisation.REGIONS)

    def test_arns_name_the_environments_account(self, examples: dict, generated: dict) -> None:
        for name, entry in list(generated.items())[len(examples) :]:
            account = f"{organisation.FIRST_ACCOUNT + list(generated).index(name) // 4:012d}"
            arns = [
                arn for value in entry.values() if isinstance(value, list) for arn in value if "arn:" in arn
            ]
            assert arns
            assert all(f"::{account}:" in arn for arn in arns)

    def test_replica_regions_follow_the_home_region(self) -> None:
        example = {"account": "111111111111", "region": "eu-west-1", "replica_regions": ["eu-central-1"]}
        generated = organisation.generate({"prod": example}, 5)
        for entry in list(generated.values())[1:]:
            assert entry["region"] not in entry["replica_regions"]
            assert len(entry["replica_regions"]) == 1

    def test_the_pipeline_deploys_the_examples_it_names(self) -> None:
        settings = json.loads((PROJECT_ROOT / "cdk.json").read_text())
        context = organisation.context_for(settings, synth_replay.ENVIRONMENTS)
        assert "pipeline" not in context  # cdk.json's own section stays (write_app_settings keeps it)
        if "pipeline" in settings["context"]:
            environments = parse_environments(context["environments"])
            parse_pipeline(settings["context"]["pipeline"], environments)

    def test_the_guardrails_keep_guarding_the_examples(self) -> None:
        guardrails = {"account": "999999999999", "target_ids": ["ou-ab12-33333333"]}
        examples = {"dev": {}, "prod": {}}
        assert organisation.guardrails_for(guardrails, examples) == {
            **guardrails,
            "environments": ["dev", "prod"],
        }
        named = {**guardrails, "environments": ["prod"]}
        assert organisation.guardrails_for(named, examples)["environments"] == ["prod"]
        settings = {"context": {"environments": examples, "guardrails": guardrails}}
        context = organisation.context_for(settings, 10)
        assert len(context["environments"]) == 10
        assert context["guardrails"]["environments"] == ["dev", "prod"]

    def test_too_few_for_the_examples(self, examples: dict) -> None:
        with pytest.raises(ValueError, match="cannot hold"):
            organisation.generate(examples, len(examples) - 1)

    def test_app_command_runs_from_anywhere(self) -> None:
        command = synth_replay.app_command({"app": ".venv/bin/python app.py"})
        assert command == f"{PROJECT_ROOT / '.venv/bin/python'} {PROJECT_ROOT / 'app.py'}"


def test_checkov_groups_split_many_templates_only() -> None:
    few = [Path(f"t{index}.json") for index in range(MIN_TEMPLATES_PER_PROCESS + 1)]
    assert template_groups(few, workers=2) == [few]
    many = [Path(f"t{index}.json") for index in range(200)]
    groups = template_groups(many, workers=2)
    assert len(groups) == 2
    assert sorted(path for group in groups for path in group) == sorted(many)
    assert template_groups(many, workers=1) == [many]


TRANSCRIPT = """\
[   0.0s] synthesize every environment (cdk synth) into /tmp/x/cdk.out
          done in 20.0 s
[  20.0s] start the local AWS endpoint (localstack-core, CloudFormation) from .localstack-full-venv
          localstack-core 2026.3.0 on http://localhost:4566, log /tmp/x/endpoint.log
          done in 10.0 s
[  30.0s] cdk bootstrap aws://000000000000/us-east-1
          done in 15.0 s
          stage dev (environment-agnostic)
[  45.0s] deploy 'dev/*' to aws://000000000000/us-east-1: kmsecdh-dev-key-agreement, kmsecdh-dev-audit
          done in 30.0 s
[  75.0s] check kmsecdh-dev-key-agreement against its template
          ok        something
          done in 1.0 s
[  76.0s] destroy 'dev/*'
          done in 14.0 s
          stage prod
          skipped   kmsecdh-prod-key-agreement-eu-west-1 (aws://111111111111/eu-west-1): AWS::KMS::ReplicaKey
[  90.0s] deploy prod/KeyAgreement prod/Audit to aws://111111111111: kmsecdh-prod-key-agreement (eu-central-1)
          done in 40.0 s
[ 130.0s] destroy 'prod/*'
          done in 20.0 s
[ 150.0s] stop the endpoint
          done in 2.0 s
"""


def test_deploy_local_cycle_per_environment_from_its_transcript() -> None:
    steps = deploy_local.steps(TRANSCRIPT)
    assert [(step.title.split()[0], step.stage) for step in steps] == [
        ("synthesize", None),
        ("start", None),
        ("cdk", None),
        ("deploy", "dev"),
        ("check", "dev"),
        ("destroy", "dev"),
        ("deploy", "prod"),
        ("destroy", "prod"),
        ("stop", None),
    ]
    assert deploy_local.cycle_times(steps) == {"dev": 45.0, "prod": 60.0}


def test_deploy_local_absent_is_unavailable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(deploy_local, "TOOL_ENTRY", tmp_path / "absent" / "__main__.py")
    with pytest.raises(deploy_local.Unavailable, match="not on this branch"):
        deploy_local.measure()


class TestCost:
    def test_duration_is_the_wait_plus_the_cpu_at_the_functions_share_rounded_up(self) -> None:
        assert cost.Model(memory_mb=256, kms_latency_ms=10, cpu_ms_per_derive=0.82).billed_ms == 16
        # A full vCPU or more: the CPU time is not stretched.
        assert cost.Model(memory_mb=3538, kms_latency_ms=10, cpu_ms_per_derive=0.5).billed_ms == 11

    def test_million_derives(self) -> None:
        parts = dict(cost.Model(memory_mb=256, kms_latency_ms=10, cpu_ms_per_derive=0.82).parts())
        assert parts["Lambda requests"] == pytest.approx(0.20)
        assert parts["KMS `DeriveSharedSecret`"] == pytest.approx(15.00)
        assert parts["audit: CloudTrail data events (`Invoke`)"] == pytest.approx(1.00)
        duration = next(value for name, value in parts.items() if name.startswith("Lambda duration"))
        assert duration == pytest.approx(4000 * cost.LAMBDA_ARM64_PER_GB_SECOND)

    def test_cost_block_from_the_batch_figure(self, tmp_path: Path) -> None:
        batch_figure = {"name": "batch", **_figure(700.0, 100.0, Target(">=", 6.0), "batch").to_json()}
        batch_figure["details"] = {"singles_client_cpu_ms_per_peer": 0.82}
        doc = report.document({}, report.machine(), 1.0) | {"figures": {"batch": batch_figure}}
        page = tmp_path / "performance.md"
        page.write_text(
            f"{report.TABLE_START}\n{report.TABLE_END}\n{report.COST_START}\nold\n{report.COST_END}\n"
        )
        report.rewrite_performance_page(page, doc, memory_mb=256)
        text = page.read_text()
        assert "| **total** | **$17.20**" in text
        assert "old" not in text

    def test_without_a_batch_figure_the_block_says_so(self) -> None:
        assert "has none" in report.cost_block({"figures": {}}, 256)

    def test_memory_is_the_derive_functions_default(self) -> None:
        assert cost.derive_function_memory_mb() == 256


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


def test_the_report_does_not_import_the_runner() -> None:
    """Issue 20 §5: report and run imported each other; both read benchmarks.figures now."""
    tree = ast.parse((PROJECT_ROOT / "benchmarks" / "report.py").read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {
        alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    assert "benchmarks.run" not in imported
    assert not any(
        alias.name == "run"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "benchmarks"
        for alias in node.names
    )


class TestGroups:
    def test_every_figure_in_one_group_with_its_measure(self) -> None:
        assert len(FIGURES) == len(set(FIGURES))
        for name in FIGURES:
            assert figures.group_of(name) in figures.GROUPS
            module, function = figures.measure_target(name)
            assert (PROJECT_ROOT / "benchmarks" / f"{module}.py").is_file()
            assert f"def {function}(" in (PROJECT_ROOT / "benchmarks" / f"{module}.py").read_text()

    def test_the_first_run_is_not_in_the_default_group(self) -> None:
        default = figures.GROUPS[figures.DEFAULT_GROUP]
        assert not set(figures.GROUPS[figures.FIRST_RUN_GROUP]) & set(default)

    def test_a_groups_run_keeps_the_other_groups_figures(self) -> None:
        earlier = report.document(
            {
                "cold_start": _figure(1.0, 1.0, Target("<=", 2.0)),
                "first_synth": _figure(2.0, 1.0, Target("<=", 3.0)),
            },
            report.machine(),
            1.0,
            failures={"batch": "broken"},
        ) | {"test_suite": {"wall_s": 1.0}}
        earlier["figures"]["synth_scale"] = earlier["figures"]["cold_start"]  # a figure the harness dropped
        later = report.document({"cold_start": _figure(3.0, 1.0, Target("<=", 2.0))}, report.machine(), 1.0)
        merged = report.merge(earlier, later, figures.GROUPS[figures.DEFAULT_GROUP])
        assert set(merged["figures"]) == {"cold_start", "first_synth"}
        assert merged["figures"]["cold_start"]["project"]["median"] == 3.0
        assert merged["failures"] == {}  # batch was measured again (in the default group)
        assert merged["test_suite"] == {"wall_s": 1.0}
        first_run = report.merge(earlier, later, figures.GROUPS[figures.FIRST_RUN_GROUP])
        assert first_run["failures"] == {"batch": "broken"}


class TestAbsoluteTarget:
    def test_met_by_the_projects_median_in_its_unit(self) -> None:
        waited = FigureResult(
            "first", "p", "f", _summary(200.0, "s"), _summary(50.0, "s"), Target("<=", 180.0, "s")
        )
        assert waited.met is False
        assert waited.to_json()["target"] == {"comparison": "<=", "bound": 180.0, "unit": "s"}
        alone = FigureResult("suite", "p", "", _summary(300.0, "s"), None, Target("<=", 360.0, "s"))
        assert alone.met is True
        assert alone.ratio is None

    def test_unit_must_be_the_projects(self) -> None:
        with pytest.raises(ValueError, match="target in min, project in s"):
            FigureResult("x", "p", "", _summary(1.0, "s"), None, Target("<=", 3.0, "min"))

    def test_the_page_shows_the_bound_with_its_unit(self) -> None:
        figure = FigureResult(
            "first", "p", "f", _summary(100.0, "s"), _summary(50.0, "s"), Target("<=", 180.0, "s")
        )
        doc = report.document({"first_synth": figure}, report.machine(), 1.0)
        row = next(
            line for line in report.performance_table(doc).splitlines() if line.startswith("| first |")
        )
        assert row.endswith("| 2.00 | ≤ 180 s | yes |")


def test_the_page_gives_each_groups_conditions() -> None:
    conditions = {
        "cold_start": {
            "measured_at": "2026-12-07T10:00:00+00:00",
            "seconds": 12.0,
            "load_average_at_start": [3.5, 3.0, 2.0],
            "load_average_at_end": [4.25, 3.0, 2.0],
        }
    }
    figure = _figure(1.0, 1.0, Target("<=", 2.0), "cold start")
    doc = report.document({"cold_start": figure}, report.machine(), 1.0, conditions=conditions)
    assert doc["figures"]["cold_start"]["conditions"] == conditions["cold_start"]
    assert "Group default: measured 2026-12-07T10:00:00+00:00 in 12 s, load average 3.5 to 4.25." in (
        report.performance_table(doc)
    )


def test_access_matrix_absent_is_unavailable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(access_matrix, "MODULE_FILE", tmp_path / "tools" / "access_matrix" / "__init__.py")
    monkeypatch.setattr(access_matrix, "PROJECT_ROOT", tmp_path)
    with pytest.raises(Unavailable, match="not on this branch"):
        access_matrix.measure()


def test_profile_app_names_what_each_round_trip_targets() -> None:
    from jsii._kernel.types import CreateRequest, GetRequest, InvokeRequest, ObjRef, StaticInvokeRequest

    from benchmarks.profile_app import RoundTrips

    trips = RoundTrips()
    stack = ObjRef(ref="aws-cdk-lib.Stack@10001")
    for request in (
        CreateRequest(fqn="aws-cdk-lib.aws_kms.Key"),
        InvokeRequest(objref=stack, method="addDependency"),
        GetRequest(objref=stack, property="stackName"),
        StaticInvokeRequest(fqn="aws-cdk-lib.Token", method="asString"),
    ):
        trips.record(request, None, 0.5)
    assert trips.targets == {
        "Create aws-cdk-lib.aws_kms.Key": 1,
        "Invoke aws-cdk-lib.Stack.addDependency": 1,
        "Get aws-cdk-lib.Stack.stackName": 1,
        "StaticInvoke aws-cdk-lib.Token.asString": 1,
    }
    assert trips.snapshot() == {
        "requests": {"Create": 1, "Invoke": 1, "Get": 1, "StaticInvoke": 1},
        "callbacks": {},
        "wait_s": 2.0,
    }


class TestSynthProfile:
    def test_round_trips_by_module(self) -> None:
        assert synth_profile._module("Create aws-cdk-lib.aws_iam.PolicyStatement") == "aws-cdk-lib.aws_iam"
        assert synth_profile._module("StaticInvoke aws-cdk-lib.Stack.of") == "aws-cdk-lib"
        assert synth_profile._module("Create constructs.Construct") == "constructs"
        assert synth_profile._module("Callback invoke produce") == "Callback"
        low = {"targets": {"Create aws-cdk-lib.aws_iam.Role": 10, "Create aws-cdk-lib.CfnResource": 5}}
        high = {"targets": {"Create aws-cdk-lib.aws_iam.Role": 50, "Create aws-cdk-lib.CfnResource": 5}}
        assert synth_profile._per_environment_by_module(low, high, 20) == {"aws-cdk-lib.aws_iam": 2.0}

    def test_phases_split_at_the_apps_synth(self) -> None:
        profile = {
            "total_cpu_s": 10.0,
            "phases": {
                "construction": {
                    "requests": {"Create": 90},
                    "callbacks": {},
                    "python_cpu_s": 2.0,
                    "kernel_cpu_s": 3.0,
                },
                "total": {
                    "requests": {"Create": 90, "Invoke": 10},
                    "callbacks": {"invoke": 4},
                    "python_cpu_s": 2.5,
                    "kernel_cpu_s": 6.0,
                },
            },
        }
        assert synth_profile.phase_figures(profile) == {
            "total_cpu_s": 10.0,
            "cli_cpu_s": 1.5,
            "python_construction_cpu_s": 2.0,
            "python_synthesis_cpu_s": 0.5,
            "kernel_construction_cpu_s": 3.0,
            "kernel_synthesis_cpu_s": 3.0,
            "construction_round_trips": 90,
            "synthesis_round_trips": 10,
            "callbacks": 4,
        }

    def test_the_profiled_command_runs_the_app_through_profile_app(self, tmp_path: Path) -> None:
        command = synth_profile.profiled_command(
            ["/venv/bin/python", "/repo/app.py"], tmp_path / "p.json", None, skip_packs=["KmsEcdhChecks"]
        )
        assert command.split() == [
            "/venv/bin/python",
            "-P",
            str(synth_profile.PROFILE_APP),
            "--skip-plugin",
            "KmsEcdhChecks",
            str(tmp_path / "p.json"),
            "--",
            "/repo/app.py",
        ]
