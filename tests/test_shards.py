"""Shards: the plan cuts a grid as promised, a model's numbers do not depend on its grid, shard
runs merge into the single-process run digit for digit, and a merge refuses what does not fit.

The Ray tests (tests/test_ray.py) run the same grids on a local multi-node cluster.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch
from cli_helpers import assert_same_run, text_table

from initcore import profiles, shards
from initcore.cli import main
from initcore.experiments import Experiment
from initcore.grid import train_grid
from initcore.train import Recipe

# ---------------------------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("profile_name", ["smoke", "nightly"])
def test_plan_covers_every_cell_once_with_grids_of_four_or_more(profile_name):
    experiments = profiles.get(profile_name).experiments
    for n in range(1, shards.max_shards(experiments) + 1):
        check_plan(experiments, n)


def check_plan(experiments, n):
    plan = shards.plan(experiments, n)
    assert [s.index for s in plan] == list(range(1, n + 1))
    cells = Counter(c for s in plan for c in s.cells())
    expected = {(e.name, i, s) for e in experiments for i in e.inits for s in e.seeds}
    assert set(cells) == expected and max(cells.values()) == 1
    assert all(s.parts for s in plan), "an empty shard"
    assert min(len(p.inits) * len(p.seeds) for s in plan for p in s.parts) >= shards.MIN_MODELS
    assert plan[0].parts[0].name == experiments[0].name  # profile-wide tests run in shard 1
    for shard in plan:  # a part keeps its experiment's recipe, dataset and bounds
        for part in shard.parts:
            whole = next(e for e in experiments if e.name == part.name)
            assert (part.config, part.dataset, part.bounds) == (whole.config, whole.dataset,
                                                                whole.bounds)


def test_plan_splits_whole_experiments_first_then_seeds_then_inits():
    nightly = profiles.get("nightly").experiments
    by_experiment = shards.plan(nightly, len(nightly))
    assert sorted(p.name for s in by_experiment for p in s.parts) == sorted(
        e.name for e in nightly)  # as many shards as experiments: none is split
    grid = Experiment("g", "mnist", Recipe(), tuple("abcdefgh"), (0, 1, 2))
    by_seed = shards.split(grid, 3)
    assert [(p.inits, p.seeds) for p in by_seed] == [(grid.inits, (s,)) for s in (0, 1, 2)]
    by_init = shards.split(grid, 6)  # 6 > 3 seeds: each seed's 8 inits cut in two
    assert [(len(p.inits), p.seeds) for p in by_init] == [(4, (s,)) for s in (0, 0, 1, 1, 2, 2)]
    # 3 seeds do not go into 2 ranges evenly (16 + 8 models): 4 + 4 inits over all seeds do
    assert [(len(p.inits), p.seeds) for p in shards.split(grid, 2)] == [(4, (0, 1, 2))] * 2


def test_plan_refuses_more_shards_than_grids_of_four(capsys):
    grid = Experiment("g", "mnist-5k", Recipe(), tuple("abcd"), (0, 1))  # 8 models
    assert shards.max_shards([grid]) == 2
    with pytest.raises(ValueError, match="cannot cut this grid into 3 shards: it holds 1 to 2"):
        shards.plan([grid], 3)
    for text in ("0/2", "3/2", "1-2", "a/b", ""):
        with pytest.raises(ValueError, match="--shard must be i/n"):
            shards.parse_shard(text)
    assert shards.parse_shard(" 2/4 ") == (2, 4)


# ---------------------------------------------------------------------------------------------
# Same numbers
# ---------------------------------------------------------------------------------------------

def test_a_models_results_do_not_depend_on_its_grid(small_data):
    """Each model's numbers are bitwise those of the whole grid, whichever part trains it: a
    grid where some models diverge and others do not (lr 1e6: he_normal seed 0 and zeros live
    on, most others turn NaN in epoch 1), since a grid with a dead model takes the other
    branch of the isolation code."""
    config = Recipe(hidden=(32, 16), epochs=2, lr=1e6)
    inits = ("he_normal", "random_large", "lsuv", "orthogonal", "zeros")
    whole = {(r.init, r.seed): r.epochs for r in train_grid(inits, (0, 1, 2), small_data, config)}
    gone = [epochs[-1].diverged for epochs in whole.values()]
    assert any(gone) and not all(gone), f"diverged: {gone}"
    parts = [(inits, (1,)), (inits[:2], (2, 0)), (inits[2:], (0, 2)), (("lsuv",), (1,))]
    compared = 0
    for part_inits, seeds in parts:
        for r in train_grid(part_inits, seeds, small_data, config):
            mine = [(m.train_loss, m.test_loss, m.test_acc, m.diverged) for m in r.epochs]
            theirs = [(m.train_loss, m.test_loss, m.test_acc, m.diverged)
                      for m in whole[(r.init, r.seed)]]
            assert str(mine) == str(theirs), f"{r.init} seed {r.seed} differs in a grid of " \
                                             f"{len(part_inits) * len(seeds)}"
            compared += 1
    assert compared == 5 + 4 + 6 + 1


# ---------------------------------------------------------------------------------------------
# initcore run --shard, initcore merge
# ---------------------------------------------------------------------------------------------

GRID = ["--dataset", "mnist-5k", "--init", "he_normal", "xavier_normal", "lsuv", "zeros",
        "--seeds", "3", "--epochs", "2", "--hidden", "32"]


@pytest.fixture(scope="module")
def shard_runs(tmp_path_factory) -> Path:
    """A single-process run of GRID and its 3 shard runs (1 torch thread: see shards)."""
    reports = tmp_path_factory.mktemp("shards") / "r"
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(["run", *GRID, "--report-dir", str(reports), "--run-id", "single"]) == 0
        for i in (1, 2, 3):
            assert main(["run", *GRID, "--report-dir", str(reports), "--run-id", f"s{i}",
                         "--shard", f"{i}/3"]) == 0
    finally:
        torch.set_num_threads(before)
    return reports


def test_merged_shards_equal_the_single_run_digit_for_digit(shard_runs, capsys):
    reports = shard_runs
    for i in (1, 2, 3):
        record = json.loads((reports / f"s{i}" / "run.json").read_text())["shard"]
        assert (record["index"], record["count"], record["cells"]) == (i, 3, 4)
        assert record["torch_threads"] == 1
    history = text_table(reports, "history.csv")
    assert set(history["run_id"]) == {"single"}, "a shard's partial summary entered the history"
    assert main(["merge", *(str(reports / f"s{i}") for i in (3, 1, 2)),
                 "--report-dir", str(reports), "--run-id", "merged"]) == 0
    assert "merged 3 shard(s): 12 models, 24 epoch rows" in capsys.readouterr().out
    assert_same_run(reports / "single", reports / "merged")
    assert set(text_table(reports / "merged")["grid_size"]) == {"4"}  # what each shard trained
    assert set(text_table(reports, "history.csv")["run_id"]) == {"single", "merged"}
    info = json.loads((reports / "merged" / "run.json").read_text())
    assert [s["name"] for s in info["shards"]] == [f"shard-{i}-of-3" for i in (3, 1, 2)]


def _shard_copy(reports: Path, source: str, name: str, edit) -> Path:
    """A copy of shard ``source`` whose run.json shard record is changed by ``edit``."""
    target = reports / name
    target.mkdir()
    for path in (reports / source).iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    marker = json.loads((target / "run.json").read_text())
    edit(marker["shard"])
    (target / "run.json").write_text(json.dumps(marker))
    return target


@pytest.mark.parametrize("case, expected", [
    ("missing", "cannot merge: 4 cell(s) of the grid in no shard: he_normal seed 2"),
    ("duplicated", "cannot merge: 4 cell(s) in more than one shard: he_normal seed 0"),
    ("commit", "are shards of different runs: their commit differ"),
    ("recipe", "are shards of different runs: their grid (profile, recipes"),
    ("not a shard", "is not a shard run (its run.json has no shard entry)"),
    ("incomplete", "is incomplete (no run.json)"),
])
def test_merge_refuses_in_one_line_and_writes_nothing(shard_runs, case, expected, capsys):
    reports = shard_runs
    s1, s2, s3 = (str(reports / f"s{i}") for i in (1, 2, 3))
    if case == "missing":
        folders = [s1, s2]
    elif case == "duplicated":
        folders = [s1, s1, s2, s3]
    elif case == "commit":
        folders = [s1, s2, str(_shard_copy(reports, "s3", "other-commit",
                                           lambda r: r.update(commit="0000000")))]
    elif case == "recipe":
        folders = [s1, s2, str(_shard_copy(
            reports, "s3", "other-recipe",
            lambda r: r["grid"]["experiments"][0]["recipe"].update(lr=0.1)))]
    elif case == "not a shard":
        folders = [s1, s2, str(reports / "single")]
    else:
        broken = _shard_copy(reports, "s3", "broken", lambda r: None)
        (broken / "run.json").unlink()
        folders = [s1, s2, str(broken)]
    before = sorted(p.name for p in reports.iterdir())
    assert main(["merge", *folders, "--report-dir", str(reports), "--run-id", "m-" +
                 case.replace(" ", "-")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("initcore: error: ") and expected in err and err.count("\n") == 1, err
    assert sorted(p.name for p in reports.iterdir()) == before, "a refused merge wrote a file"


def test_run_shard_usage_errors_are_one_line(workdir, capsys):
    for extra, expected in ((["--shard", "4/3"], "--shard must be i/n"),
                            (["--shard", "1/4"], "cannot cut this grid into 4 shards"),
                            (["--shard", "1/2", "--no-grid"], "cannot be sharded"),
                            (["--shards", "2"], "need --backend ray"),
                            (["--backend", "ray", "--shard", "1/2"], "pick one")):
        assert main(["run", *GRID, *extra]) == 2, extra
        err = capsys.readouterr().err
        assert expected in err and err.count("\n") == 1, err
    assert not (workdir / "reports").exists() or not any((workdir / "reports").iterdir())



# ---------------------------------------------------------------------------------------------
# Without the ray extra
# ---------------------------------------------------------------------------------------------

RAY_PROBE = """
import sys
import initcore.cli, initcore.session, initcore.shards, initcore.ray_backend
print("ray" in sys.modules)
"""


def test_ray_is_imported_only_when_its_backend_runs():
    proc = subprocess.run([sys.executable, "-c", RAY_PROBE], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False", "importing initcore loaded ray"


def test_backend_ray_without_the_extra_is_one_line(workdir, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    assert main(["run", *GRID, "--backend", "ray"]) == 2
    err = capsys.readouterr().err
    assert "--backend ray needs Ray: pip install -e '.[ray]'" in err and err.count("\n") == 1
    assert not (workdir / "reports").exists() or not any((workdir / "reports").iterdir())
