"""Where synthesis time goes, per environment: the project's app and its replay (``benchmarks.synth_replay``'s
floor) profiled under the CDK CLI at several environment counts.

python -m benchmarks.synth_profile                       # 3 and 23 environments, both sides
python -m benchmarks.synth_profile --environments 3 100  # other counts
python -m benchmarks.synth_profile --cprofile DIR        # also cProfile the Python side (CPU), by package
python -m benchmarks.synth_profile --runs 3              # medians of three runs
python -m benchmarks.synth_profile --skip-pack '*'       # both apps without their rule packs
python -m benchmarks.synth_profile --skip-pack KmsEcdhChecks  # without one of them

For each count and side: the CPU seconds of the CLI, of the app's Python process and of its jsii kernel
(Node), each before the app's ``synth()`` (construction) and during it (synthesis, the cdk-nag packs among
it), the jsii round trips by kind and the kernel's callbacks into Python (``benchmarks/profile_app.py``
counts them); then what each further environment costs, as the difference between the largest and the
smallest count. A diagnostic, not a figure: docs/performance.md quotes it.
"""

from __future__ import annotations

import argparse
import json
import pstats
import shlex
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmarks import PROJECT_ROOT, organisation, replay
from benchmarks.synth import children_cpu_seconds, cli_environment
from benchmarks.synth_replay import (
    CLI_ARGS,
    PROJECT_SETTINGS,
    REPLAY_APP,
    SPEC_FILE,
    app_command,
    differences,
    nag_packs,
    read_templates,
)
from devtools import CDK_CLI, use_project_node

PROFILE_APP = PROJECT_ROOT / "benchmarks" / "profile_app.py"
SIDES = ("project", "replay")
# Where a Python function's own CPU time is counted, by the first folder of its file that names a package.
PACKAGES = (
    "kmsecdh_cdk",
    "stacks",
    "kmsecdh",
    "jsii",
    "typeguard",
    "cattr",
    "attr",
    "aws_cdk",
    "cdk_nag",
    "constructs",
)


def profiled_command(
    command: Sequence[str], result: Path, cprofile: Path | None, skip_packs: Sequence[str] = ()
) -> str:
    """``command`` (an interpreter and an app file with its arguments) run through profile_app.py, the rule
    packs of the classes named in ``skip_packs`` left out (``*``: all)."""
    interpreter, *app = command
    options = ["--cprofile", str(cprofile)] if cprofile is not None else []
    for pack in skip_packs:
        options += ["--skip-plugin", pack]
    return shlex.join([interpreter, "-P", str(PROFILE_APP), *options, str(result), "--", *app])


def run(app_dir: Path, output: Path, result: Path) -> dict[str, Any]:
    """``cdk synth`` of the (profiled) app in ``app_dir``; its profile with the whole run's CPU seconds."""
    cpu_before = children_cpu_seconds()
    completed = subprocess.run(
        [str(CDK_CLI), *CLI_ARGS, "--output", str(output)],
        cwd=app_dir,
        env=cli_environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    total = children_cpu_seconds() - cpu_before
    if completed.returncode != 0:
        raise RuntimeError(
            f"cdk synth in {app_dir} failed ({completed.returncode}):\n{completed.stderr[-3000:]}"
        )
    profile = json.loads(result.read_text())
    profile["total_cpu_s"] = total
    return profile


def profile(
    count: int, scratch: Path, cprofile: Path | None, skip_packs: Sequence[str] = ()
) -> dict[str, dict[str, Any]]:
    """The project's app for ``count`` generated environments and its replay, profiled (without the rule
    packs named in ``skip_packs``)."""
    settings = json.loads(PROJECT_SETTINGS.read_text())
    context = organisation.context_for(settings, count)
    found = {}
    for side in SIDES:
        app_dir = scratch / f"{side}-{count}"
        app_dir.mkdir()
        if side == "project":
            command = shlex.split(app_command(settings))
        else:
            command = [sys.executable, str(REPLAY_APP), str(scratch / f"{SPEC_FILE}-{count}")]
        cprofile_file = None if cprofile is None else cprofile / f"{side}-{count}.prof"
        result = app_dir / "profile.json"
        organisation.write_app_settings(
            app_dir,
            context,
            profiled_command(command, result, cprofile_file, skip_packs),
            PROJECT_SETTINGS,
        )
        output = app_dir / "cdk.out"
        found[side] = run(app_dir, output, result)
        if side == "project":
            (scratch / f"{SPEC_FILE}-{count}").write_text(json.dumps(replay.spec(output, nag_packs())))
            reference = read_templates(output)
        elif differences(reference, read_templates(output)):
            raise RuntimeError(f"the replay of {count} environments differs from the project")
        if cprofile_file is not None:
            found[side]["python_cpu_by_package"] = cpu_by_package(cprofile_file)
    return found


def cpu_by_package(profile_file: Path) -> dict[str, float]:
    """The Python side's own CPU seconds (cProfile's tottime, process time) by package."""
    stats = pstats.Stats(str(profile_file))
    totals: Counter[str] = Counter()
    for (filename, _, function), (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        parts = Path(filename).parts
        package = next((part for part in parts if part in PACKAGES), None)
        if package is None:
            package = (
                "builtins" if filename == "~" else f"other ({function if filename == '~' else 'stdlib'})"
            )
        totals[package] += own
    return {package: round(seconds, 2) for package, seconds in totals.most_common()}


def phase_figures(profile_result: Mapping[str, Any]) -> dict[str, float]:
    """CPU seconds and round trips of a profile: the CLI, then Python and the kernel in each phase."""
    construction, total = profile_result["phases"]["construction"], profile_result["phases"]["total"]
    requests = sum(total["requests"].values())
    construction_requests = sum(construction["requests"].values())
    return {
        "total_cpu_s": profile_result["total_cpu_s"],
        "cli_cpu_s": profile_result["total_cpu_s"] - total["python_cpu_s"] - total["kernel_cpu_s"],
        "python_construction_cpu_s": construction["python_cpu_s"],
        "python_synthesis_cpu_s": total["python_cpu_s"] - construction["python_cpu_s"],
        "kernel_construction_cpu_s": construction["kernel_cpu_s"],
        "kernel_synthesis_cpu_s": total["kernel_cpu_s"] - construction["kernel_cpu_s"],
        "construction_round_trips": construction_requests,
        "synthesis_round_trips": requests - construction_requests,
        "callbacks": sum(total["callbacks"].values()),
    }


def _module(target: str) -> str:
    """The jsii module of a round trip's target ("Create aws-cdk-lib.aws_iam.PolicyStatement" ->
    "aws-cdk-lib.aws_iam"; core classes -> "aws-cdk-lib"); callbacks and completions by their kind."""
    kind, _, rest = target.partition(" ")
    if kind in ("Callback", "_Complete"):
        return kind
    parts = rest.split(".")
    return ".".join(part for part in parts[:2] if not part[:1].isupper()) or rest


def _per_environment_by_module(
    low: Mapping[str, Any], high: Mapping[str, Any], further: int
) -> dict[str, float]:
    counts: Counter[str] = Counter()
    for target, calls in high["targets"].items():
        counts[_module(target)] += calls
    for target, calls in low["targets"].items():
        counts[_module(target)] -= calls
    return {module: calls / further for module, calls in counts.items() if calls}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.synth_profile", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--environments", type=int, nargs="+", default=[3, 23])
    parser.add_argument(
        "--cprofile", type=Path, help="also cProfile the Python side, .prof files into this folder"
    )
    parser.add_argument("--output", type=Path, help="write every figure as JSON here too")
    parser.add_argument("--runs", type=int, default=1, help="profile each count this often: medians")
    parser.add_argument(
        "--skip-pack",
        action="append",
        default=[],
        metavar="CLASS",
        help="both apps without this rule pack (a class name, e.g. KmsEcdhChecks; '*': every pack)",
    )
    args = parser.parse_args(argv)
    use_project_node()
    if args.cprofile is not None:
        args.cprofile.mkdir(parents=True, exist_ok=True)
    counts = sorted(set(args.environments))
    runs: dict[int, list[dict[str, dict[str, Any]]]] = {count: [] for count in counts}
    with tempfile.TemporaryDirectory(prefix="kmsecdh-synth-profile-") as scratch:
        for index in range(args.runs):
            for count in counts:
                sys.stderr.write(f"synth_profile: {count} environments, run {index + 1} ...\n")
                directory = Path(scratch) / f"{count}-{index}"
                directory.mkdir()
                runs[count].append(profile(count, directory, args.cprofile, args.skip_pack))
    results = {count: runs[count][0] for count in counts}  # round trips are the same every run
    figures = {
        count: {
            side: {
                name: statistics.median(phase_figures(run[side])[name] for run in runs[count])
                for name in phase_figures(results[count][side])
            }
            for side in SIDES
        }
        for count in counts
    }
    names = list(figures[counts[0]]["project"])
    print("| figure | " + " | ".join(f"{side} {count}" for count in counts for side in SIDES) + " |")
    print("| --- |" + " --- |" * (len(counts) * len(SIDES)))
    for name in names:
        cells = " | ".join(f"{figures[count][side][name]:.2f}" for count in counts for side in SIDES)
        print(f"| {name} | {cells} |")
    if len(counts) > 1:
        low, high = counts[0], counts[-1]
        print(f"\nper further environment ({low} to {high}):")
        for name in names:
            costs = {
                side: (figures[high][side][name] - figures[low][side][name]) / (high - low) for side in SIDES
            }
            print(f"  {name}: project {costs['project']:.3f}, replay {costs['replay']:.3f}")
        print(f"\njsii round trips per further environment ({low} to {high}), by module:")
        by_module = {
            side: _per_environment_by_module(results[low][side], results[high][side], high - low)
            for side in SIDES
        }
        for module in sorted(
            set(by_module["project"]) | set(by_module["replay"]),
            key=lambda m: -by_module["project"].get(m, 0),
        ):
            project, floor = by_module["project"].get(module, 0), by_module["replay"].get(module, 0)
            print(f"  {module}: project {project:.1f}, replay {floor:.1f}")
        top = results[high]["project"]["targets"]
        print(f"\njsii round trips of the project at {high} environments, by target (top 25 of {len(top)}):")
        for target, calls in list(top.items())[:25]:
            print(f"  {calls:7d}  {target}")
    for count in counts:
        for side in SIDES:
            by_package = results[count][side].get("python_cpu_by_package")
            if by_package is not None:
                print(f"\nPython CPU by package (cProfile), {side} at {count}: {by_package}")
    if args.output is not None:
        args.output.write_text(json.dumps({"figures": figures, "profiles": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
