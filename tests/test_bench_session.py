"""`pytest bench` end to end, in a child pytest, as a user runs it.

The crash this guards against: pytest-benchmark 5.3 takes `--benchmark-json` as a path where
earlier releases took an open file, and the suite handed it a file object; every test passed and
the session died in pytest-benchmark's save_json with a traceback. Whatever pytest-benchmark is
installed, the session must end cleanly and leave a parseable `benchmark.json` in the run folder.
Small on purpose: one seed of a tiny profile (tests/cli_helpers.py), not the smoke profile.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import cli_helpers
import pandas as pd
import pytest

from initcore import markdown, reports

ROOT = Path(__file__).resolve().parents[1]


def run_bench(*args: str, report_dir: Path) -> subprocess.CompletedProcess:
    return cli_helpers.run_bench("--report-dir", str(report_dir), *args)


def the_run_folder(report_dir: Path) -> Path:
    folders = [p for p in report_dir.iterdir() if p.is_dir()]
    assert len(folders) == 1, f"expected one run folder in {report_dir}: {folders}"
    return folders[0]


def test_bench_session_leaves_strict_benchmark_json_and_markdown(tmp_path: Path) -> None:
    """One small session (one seed, the he_normal cells and a peak-memory benchmark), checked
    for everything such a session leaves:

    * a parseable benchmark.json in the run folder with he_normal's raw timings, and no
      pytest-benchmark private storage left behind;
    * every JSON file strict: the peak-memory benchmark's device_peak_mb is NaN on a CPU and must
      be written as null, as must anything in run.json;
    * with $GITHUB_STEP_SUMMARY set the run's verdicts are appended to it, and --markdown writes
      the same text."""
    step = tmp_path / "step.md"
    reports_dir = tmp_path / "r"
    # The tiny profile (cli_helpers; none of this depends on the profile's size: the smoke
    # profile made this test 65 s under `pytest tests -n 2`), with a baseline of its own that
    # the gate judges: he_normal's cells at 10 % (far below what it trains to: no regression).
    tiny, env = cli_helpers.tiny_profile(tmp_path)
    baseline = tmp_path / "baseline"
    (baseline / "tiny").mkdir(parents=True)
    pd.DataFrame({"experiment": ["seed-recipe", "second"], "dataset": "mnist-5k",
                  "init": "he_normal", "n_seeds": 3, "n_diverged": 0, "epochs": 1,
                  "acc_mean": 0.1, "acc_std": 0.01}).to_csv(baseline / "tiny" / "summary.csv",
                                                           index=False)
    proc = cli_helpers.run_bench(
        *tiny, "--report-dir", str(reports_dir), "--seeds", "1", "--run-id", "1e5",
        "--baseline-dir", str(baseline), "--markdown", str(tmp_path / "run.md"),
        # One peak-memory benchmark (each measures in a fresh process, ~4.5 s), he_normal's
        # timing and the tests that train both experiments; not every test whose name has
        # he_normal in it (the residual and deep checks added ~5 s and write no JSON).
        "-k", "peak_memory and seed-recipe or he_normal and (init_cost or trains_above_chance)",
        env={markdown.STEP_SUMMARY_ENV: str(step), **env})
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"pytest bench failed (exit {proc.returncode}):\n{output[-4000:]}"
    assert "Traceback" not in output, f"a traceback in the session:\n{output[-4000:]}"
    run = the_run_folder(reports_dir)
    saved = json.loads((run / "benchmark.json").read_text())
    names = [b["name"] for b in saved["benchmarks"]]
    assert any("he_normal" in name for name in names), f"he_normal's timing missing: {names}"
    assert all(b["stats"]["data"] for b in saved["benchmarks"]), "raw timings should be kept"
    assert not (run / ".benchmark-storage").exists(), (
        f"pytest-benchmark's private storage left behind in {run}: {list(run.iterdir())}")
    assert {"epochs.csv", "summary.csv", "run.json"} <= {p.name for p in run.iterdir()}

    files = sorted(reports_dir.rglob("*.json"))
    assert {p.name for p in files} >= {"benchmark.json", "run.json"}, files
    for path in files:
        cli_helpers.strict_load(path.read_text())  # raises on NaN / Infinity
    peaks = [b["extra_info"]["device_peak_mb"] for b in saved["benchmarks"]
             if "device_peak_mb" in b["extra_info"]]
    assert peaks and all(p is None for p in peaks), f"CPU run: no device peak -> null: {peaks}"
    text = (tmp_path / "run.md").read_text()
    assert step.read_text() == text + "\n", "the step summary holds the same text"
    assert text.startswith("## initcore: tiny profile, run 1e5"), text
    assert "2 of 2 baseline cells judged" in text and "### Leaderboard" in text, text
    assert reports.load(run)["run_id"].eq("1e5").all()


@pytest.mark.parametrize("option", ["--benchmark-json", "--benchmark-autosave"])
def test_bench_session_leaves_user_routed_json_alone(tmp_path: Path, option: str) -> None:
    """A user who routes pytest-benchmark's output gets it where they asked, and the run folder
    gets no second copy."""
    target = tmp_path / "mine.json"
    storage = tmp_path / "storage"
    args = ([option, str(target)] if option == "--benchmark-json"
            else [option, "--benchmark-storage", str(storage)])
    proc = run_bench(*args, "-k", "init_cost and he_normal", report_dir=tmp_path / "reports")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Traceback" not in output, output[-4000:]
    written = [target] if option == "--benchmark-json" else sorted(storage.glob("*/*.json"))
    assert written and all(json.loads(p.read_text())["benchmarks"] for p in written), (
        f"no JSON where {option} asked: {list(tmp_path.rglob('*.json'))}")
    assert not list((tmp_path / "reports").rglob("benchmark.json")), "a second copy was made"


USER_MODULE = '''
import initcore


@initcore.register("my_init", "N(0, 1.5/fan_in)",
                   claims=[initcore.not_worse_than("he_normal", "seed-recipe")])
def my_init(weight, generator):
    weight.normal_(0.0, (1.5 / weight.shape[1]) ** 0.5, generator=generator)


def broken(weight, generator):
    weight.fill_(float("nan"))
'''


def test_bench_from_a_scratch_folder_with_a_user_scheme(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """README "Benchmark your own initializer": from a folder that is not the repository, with
    the scheme in a file there, `pytest bench --init mymodule:my_init` trains it in every
    experiment, tests it and ranks it in leaderboard.csv.

    Started with PYTEST_XDIST_WORKER set, as a child of an xdist worker inherits it: the plugin
    once took that for being a worker itself and wrote no run.json, leaderboard or summary
    (14 failures under `pytest tests -n 2`); it asks the config (``workerinput``) now."""
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    (tmp_path / "mymodule.py").write_text(USER_MODULE)
    # On the tiny profile (cli_helpers), not smoke (65 s under `pytest tests -n 2`): a user
    # scheme is trained, tested and ranked in every experiment of whatever profile runs, and
    # the tiny one has smoke's reference experiment ("seed-recipe", the claim's) and a second.
    # It has no committed baseline: --no-baseline (smoke's has no row of my_init either).
    tiny, env = cli_helpers.tiny_profile(tmp_path)
    proc = cli_helpers.run_bench(*tiny, "--no-baseline", "--init", "mymodule:my_init",
                                 "--seeds", "2", "--report-dir", "r", "-k", "my_init", "-rA",
                                 cwd=tmp_path, env=env)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Traceback" not in output, output[-4000:]
    # The claim's own outcome (-rA lists every test's): "not worse than he_normal" held.
    claim = [line for line in output.splitlines() if "test_scheme_claim[my_init" in line
             and line.split()[0] in ("PASSED", "FAILED", "SKIPPED", "ERROR")]
    assert len(claim) == 1 and claim[0].startswith("PASSED "), (
        f"the claim test of my_init did not pass: {claim or output[-3000:]}")
    run = the_run_folder(tmp_path / "r")
    board = pd.read_csv(run / "leaderboard.csv")
    mine = board[board["init"] == "my_init"]
    assert set(mine["experiment"]) == {"seed-recipe", "second"}
    assert (mine["source"] == "user").all() and mine["best_builtin"].notna().all()
    assert "leaderboard seed-recipe" in output and "my_init *" in output
    theory = pd.read_csv(run / "theory.csv")
    assert theory[theory["init"] == "my_init"]["n_var_half_mean"].between(0.7, 0.8).all()
    assert (run / "run.json").exists()


def test_bench_bad_user_scheme_is_one_line_exit_2(tmp_path: Path) -> None:
    (tmp_path / "mymodule.py").write_text(USER_MODULE)
    proc = cli_helpers.run_bench("--init", "mymodule:broken", "--report-dir", "r", cwd=tmp_path)
    output = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 2, output
    assert output.splitlines() == [
        "Exit: initcore: initializer 'broken' left NaN or inf in 1.weight "
        "(on a 784-64-64-10 MLP)"], output  # the architecture it failed on (issue 19)
    assert not (tmp_path / "r").exists(), "nothing is written for a refused session"
