"""Recipes: the Recipe object, its optimizers and schedules against torch.optim, input scaling,
layers without biases, and the TOML recipe files (the shipped ones included; no full training).
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import torch
from cli_helpers import files_under

from initcore import cli, data, initializers, profiles, recipes, regression, reports
from initcore.data import Dataset, rescale
from initcore.grid import adam_step, sgd_momentum_step, stack_parameters, train_grid
from initcore.models import MLP
from initcore.residual_schemes import RESIDUAL_SCHEMES
from initcore.train import Recipe, build_model, train

# ---------------------------------------------------------------------------------------------
# The Recipe object
# ---------------------------------------------------------------------------------------------


def test_train_config_is_the_recipe() -> None:
    assert Recipe is Recipe, "Recipe must stay an alias of Recipe"
    seed = Recipe()
    got = (seed.optimizer, seed.weight_decay, seed.schedule, seed.bias, seed.input_scaling)
    assert got == ("sgd", 0.0, "constant", True, "symmetric"), (
        f"the default recipe must be the seed notebook's, got {got}")


@pytest.mark.parametrize("field, value, words", [
    ("optimizer", "rmsprop", "optimizer"), ("schedule", "linear", "schedule"),
    ("input_scaling", "minmax", "input scaling"), ("bias", "yes", "bias"),
    ("weight_decay", -1e-4, "weight decay"), ("weight_decay", math.nan, "weight decay"),
    ("step_size", 0, "step size"), ("step_size", 2.5, "step size"),
    ("gamma", 0.0, "gamma"), ("gamma", 1.5, "gamma"),
    ("betas", (0.9,), "betas"), ("betas", (0.9, 1.0), "betas"),
    ("eps", 0.0, "eps"), ("lr", True, "learning rate"),
])
def test_recipe_rejects_nonsense(field: str, value, words: str) -> None:
    with pytest.raises(ValueError) as info:
        Recipe(**{field: value})
    message = str(info.value)
    assert words in message and "\n" not in message, (
        f"Recipe({field}={value!r}): one line that says {words!r}, got {message!r}")
    assert repr(value) in message, f"Recipe({field}={value!r}): show the bad value: {message}"


def test_recipe_describe_names_what_changes_the_numbers() -> None:
    assert Recipe().describe() == (
        "sgd lr=0.01 momentum=0.9 wd=0 batch=64 epochs=10 inputs=symmetric"), Recipe().describe()
    adam = Recipe(optimizer="adam", lr=1e-3, weight_decay=5e-4, schedule="step", step_size=3,
                  gamma=0.5, input_scaling="unit")
    assert adam.describe() == ("adam lr=0.001 betas=0.9,0.999 eps=1e-08 wd=0.0005 step=3x0.5 "
                               "batch=64 epochs=10 inputs=unit"), adam.describe()
    assert Recipe(bias=False).model_name(784, 10) == "mlp-784-256-128-10-relu-nobias"


# ---------------------------------------------------------------------------------------------
# Schedules against torch.optim.lr_scheduler
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("recipe", [
    Recipe(schedule="step", step_size=3, gamma=0.5, epochs=20, lr=0.1),
    Recipe(schedule="step", step_size=12, gamma=0.7, epochs=20, lr=0.1),  # the ZerO notebook
    Recipe(schedule="cosine", epochs=17, lr=0.05),
    Recipe(schedule="constant", epochs=5, lr=0.01),
], ids=lambda r: r.describe())
def test_lr_at_equals_torch_scheduler(recipe: Recipe) -> None:
    """The grid's closed form against StepLR / CosineAnnealingLR stepped once per epoch:
    CosineAnnealingLR's chainable form differs by rounding only (measured <= 2e-17)."""
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=recipe.lr)
    if recipe.schedule == "step":
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, recipe.step_size, recipe.gamma)
    elif recipe.schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=recipe.epochs)
    else:
        scheduler = torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)
    for epoch in range(1, recipe.epochs + 1):
        torch_lr = optimizer.param_groups[0]["lr"]
        assert math.isclose(recipe.lr_at(epoch), torch_lr, rel_tol=1e-12, abs_tol=1e-15), (
            f"epoch {epoch}: lr_at {recipe.lr_at(epoch)!r} vs torch {torch_lr!r}")
        optimizer.step()
        scheduler.step()


# ---------------------------------------------------------------------------------------------
# The grid's hand-written steps against torch.optim (float64: the mathematics, not rounding)
# ---------------------------------------------------------------------------------------------

STEP_CASES = [
    Recipe(optimizer="adam", lr=1e-3),
    Recipe(optimizer="adam", lr=3e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=1e-2),
    Recipe(optimizer="adam", lr=1e-3, bias=False),
    Recipe(optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=5e-3),
    Recipe(optimizer="sgd", lr=0.1, momentum=0.0, weight_decay=1e-2, bias=False),
]


@pytest.mark.parametrize("recipe", STEP_CASES,
                         ids=lambda r: r.describe() + ("" if r.bias else " nobias"))
def test_grid_step_equals_torch_optim(small_data: Dataset, recipe: Recipe) -> None:
    """Six steps of the grid's Adam / SGD-with-weight-decay step against torch.optim.Adam /
    SGD on the same batches, the learning rate changed halfway (as a schedule does), three
    models at once. Measured in float64: <= 3e-15 relative (weights), losses equal to 1e-15."""
    cells = [("he_normal", 0), ("xavier_uniform", 1), ("torch_default", 2)]
    models = [initializers.initialize(MLP([784, 32, 16, 10], "tanh", bias=recipe.bias), n, s)
              .double() for n, s in cells]
    params = stack_parameters(models, torch.device("cpu"))
    if recipe.optimizer == "adam":
        state = [None if p is None else (torch.zeros_like(p), torch.zeros_like(p))
                 for p in params]
        optimizers = [torch.optim.Adam(m.parameters(), lr=recipe.lr, betas=recipe.betas,
                                       eps=recipe.eps, weight_decay=recipe.weight_decay)
                      for m in models]
    else:
        state = [None if p is None else torch.zeros_like(p) for p in params]
        optimizers = [torch.optim.SGD(m.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                                      weight_decay=recipe.weight_decay) for m in models]
    alive = torch.ones(len(models), dtype=torch.bool)
    for step in range(1, 7):
        lr = recipe.lr if step <= 3 else recipe.lr * 0.3
        x = small_data.x_train[64 * step:64 * (step + 1)].double()
        y = small_data.y_train[64 * step:64 * (step + 1)]
        xs, ys = x.expand(len(models), -1, -1), y.expand(len(models), -1)
        if recipe.optimizer == "adam":
            losses = adam_step(params, state, xs, ys, alive, "tanh", lr, recipe.betas,
                               recipe.eps, recipe.weight_decay, step)
        else:
            losses = sgd_momentum_step(params, state, xs, ys, alive, "tanh", lr,
                                       recipe.momentum, recipe.weight_decay)
        for g, (model, optimizer) in enumerate(zip(models, optimizers)):
            optimizer.param_groups[0]["lr"] = lr
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            assert math.isclose(losses[g].item(), loss.item(), rel_tol=1e-12), (
                f"step {step} model {g}: loss {losses[g].item()} vs torch {loss.item()}")
    for g, model in enumerate(models):
        for i, layer in enumerate(initializers.linear_layers(model)):
            pairs = [(params[2 * i][g].T, layer.weight)]
            if recipe.bias:
                pairs.append((params[2 * i + 1][g, 0], layer.bias))
            else:
                assert layer.bias is None and params[2 * i + 1] is None, "no bias expected"
            for mine, ref in pairs:
                err = ((mine - ref).abs().max() / ref.abs().max()).item()
                assert err < 1e-12, f"model {g} layer {i}: grid differs by {err:.3g} relative"


# ---------------------------------------------------------------------------------------------
# The two trainers with recipes other than the seed's (float32, one to three short epochs)
# ---------------------------------------------------------------------------------------------

TRAINER_CASES = [
    Recipe(hidden=(64, 32), optimizer="adam", lr=1e-3, weight_decay=1e-3, schedule="cosine",
           epochs=3),
    Recipe(hidden=(64, 32), weight_decay=1e-2, schedule="step", step_size=1, gamma=0.5,
           epochs=3),
    Recipe(hidden=(64, 32), bias=False, input_scaling="unit", lr=0.1, momentum=0.0, epochs=2),
    Recipe(hidden=(64, 32), activation="selu", input_scaling="standard", lr=1e-3, momentum=0.0,
           batch_size=128, epochs=2),
]


@pytest.mark.parametrize("recipe", TRAINER_CASES,
                         ids=lambda r: r.describe() + ("" if r.bias else " nobias"))
def test_grid_trainer_matches_torch_optim_trainer(small_data: Dataset, recipe: Recipe) -> None:
    """train() (torch.optim + lr_scheduler) and train_grid() (hand-written, closed-form
    schedule) on the same recipe: measured train losses <= 1e-6 relative apart, no test digit
    flipped; tolerances as tests/test_grid.py's (1e-4 relative, one digit of 1,000)."""
    for grid in train_grid(["he_normal", "lsuv"], [0], small_data, recipe):
        single = train(grid.init, 0, small_data, recipe)
        assert len(grid.epochs) == len(single.epochs) == recipe.epochs
        for g, s in zip(grid.epochs, single.epochs):
            where = f"{grid.init} epoch {s.epoch}"
            assert math.isclose(g.train_loss, s.train_loss, rel_tol=1e-4, abs_tol=1e-6), (
                f"{where}: train loss grid {g.train_loss!r} vs single {s.train_loss!r}")
            assert abs(g.test_acc - s.test_acc) <= 1e-3 + 1e-6, (
                f"{where}: test acc grid {g.test_acc!r} vs single {s.test_acc!r}")
        if not recipe.bias:
            assert all(layer.bias is None for layer in initializers.linear_layers(grid.model))


# ---------------------------------------------------------------------------------------------
# Input scaling and layers without biases
# ---------------------------------------------------------------------------------------------

def test_rescale_unit_standard_symmetric(small_data: Dataset) -> None:
    unit = rescale(small_data, "unit")
    assert unit.scaling == "unit" and small_data.scaling == "symmetric", "the original is kept"
    assert unit.x_train.min() >= 0 and unit.x_train.max() <= 1, "unit inputs lie in [0, 1]"
    # float32 rounding of (x + 1) / 2 against pixel / 255: measured <= 6e-8
    pixels = torch.round(unit.x_train * 255)
    err = (unit.x_train - pixels / 255).abs().max().item()
    assert err < 1e-6, f"unit inputs differ from pixel / 255 by {err}"
    standard = rescale(small_data, "standard")
    mean, std = standard.x_train.double().mean().item(), standard.x_train.double().std().item()
    assert abs(mean) < 1e-5 and abs(std - 1) < 1e-5, f"standardized train: {mean}, {std}"
    assert standard.x_test.shape == small_data.x_test.shape
    assert rescale(small_data, "symmetric") is small_data, "no copy when nothing changes"
    with pytest.raises(ValueError, match="input scaling"):
        rescale(small_data, "minmax")


def test_standard_scaling_of_mnist_uses_torchvision_constants(mnist_dir: Path) -> None:
    """MNIST's training pixels have mean 0.1307 and std 0.3081 (the constants of
    Normalize((0.1307,), (0.3081,))): 'standard' must reproduce them."""
    mnist = data.load("mnist", mnist_dir)
    unit = rescale(mnist, "unit").x_train.double()
    assert (round(unit.mean().item(), 4), round(unit.std().item(), 4)) == (0.1307, 0.3081)


@pytest.mark.parametrize("name", [n for n in initializers.list_initializers()
                                  if n not in RESIDUAL_SCHEMES])
def test_every_scheme_initializes_a_net_without_biases(small_data: Dataset, name: str) -> None:
    model = build_model(name, 0, small_data, Recipe(hidden=(32, 16), bias=False))
    layers = initializers.linear_layers(model)
    assert layers and all(layer.bias is None for layer in layers), f"{name}: biases present"
    assert all(torch.isfinite(layer.weight).all() for layer in layers), f"{name}: NaN weights"


# ---------------------------------------------------------------------------------------------
# TOML recipe files
# ---------------------------------------------------------------------------------------------

def test_shipped_zero_recipe_builds_the_papers_net(small_data: Dataset) -> None:
    """The ZerO notebook: 784-784-2048-2048-10 ReLU without biases, plain SGD lr 0.1,
    StepLR(12, 0.7), batch 64, 20 epochs, [0, 1] inputs."""
    recipe = recipes.shipped("zero_mnist")
    assert recipe == Recipe(hidden=(784, 2048, 2048), bias=False, input_scaling="unit",
                            epochs=20, batch_size=64, lr=0.1, momentum=0.0, schedule="step",
                            step_size=12, gamma=0.7), recipe
    model = build_model("he_normal", 0, small_data, recipe)
    shapes = [tuple(layer.weight.shape) for layer in initializers.linear_layers(model)]
    assert shapes == [(784, 784), (2048, 784), (2048, 2048), (10, 2048)], shapes
    assert all(layer.bias is None for layer in initializers.linear_layers(model))
    assert [recipe.lr_at(e) for e in (1, 12, 13, 20)] == [0.1, 0.1, 0.1 * 0.7, 0.1 * 0.7]


def test_shipped_snn_recipe_builds_the_papers_net(small_data: Dataset) -> None:
    """The SNN tutorial: 784-512-256-10 SELU, plain SGD lr 1e-3, batch 128, 20 epochs,
    standardized inputs."""
    recipe = recipes.shipped("snn_mnist")
    assert recipe == Recipe(hidden=(512, 256), activation="selu", input_scaling="standard",
                            epochs=20, batch_size=128, lr=1e-3, momentum=0.0), recipe
    model = build_model("lecun_normal", 0, small_data, recipe)
    assert model.describe() == "mlp-784-512-256-10-selu"
    assert isinstance(model[2], torch.nn.SELU), model


def test_every_shipped_recipe_loads_and_says_where_it_comes_from() -> None:
    assert {"zero_mnist", "snn_mnist"} <= set(recipes.list_shipped())
    for name in recipes.list_shipped():
        about = recipes.about(recipes.shipped_path(name))
        assert {"paper", "code", "published"} <= set(about), f"{name}: [about] lacks {about}"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "my.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, words", [
    ('optimiser = "adam"\n', "unknown key 'optimiser'"),
    ('lr = "fast"\n', "lr must be a number"),
    ("epochs = 2.5\n", "epochs must be an integer"),
    ('schedule = "linear"\n', "schedule must be one of"),
    ("hidden = [64, 0]\n", "hidden widths"),
    ("bias = 1\n", "bias must be a boolean"),
    ("lr = \n", "not valid TOML"),
    ('[about]\npaper = 3\n', "[about] must be a table of strings"),
])
def test_bad_recipe_file_is_one_line_naming_file_and_key(tmp_path: Path, text: str,
                                                          words: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(recipes.RecipeError) as info:
        recipes.load(path)
    message = str(info.value)
    assert str(path) in message and words in message and "\n" not in message, message


def test_recipe_file_keeps_defaults_for_missing_keys(tmp_path: Path) -> None:
    recipe = recipes.load(_write(tmp_path, 'optimizer = "adam"\nlr = 0.001\n'))
    assert recipe == replace(Recipe(), optimizer="adam", lr=0.001), recipe
    base = Recipe(epochs=3)
    assert recipes.load(_write(tmp_path, "lr = 0.1\n"), base) == replace(base, lr=0.1)


def test_missing_recipe_file_and_unknown_shipped_name(tmp_path: Path) -> None:
    with pytest.raises(recipes.RecipeError, match="cannot read"):
        recipes.load(tmp_path / "absent.toml")
    with pytest.raises(recipes.RecipeError, match="zero_mnist"):
        recipes.shipped("nope")


# ---------------------------------------------------------------------------------------------
# The command line: flags, --recipe, and what the reports record
# ---------------------------------------------------------------------------------------------

def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err, f"{argv}: traceback:\n{err}"
    return code, out, err


@pytest.mark.parametrize("args, words", [
    (["--optimizer", "rmsprop"], "--optimizer"),
    (["--schedule", "linear"], "--schedule"),
    (["--input-scaling", "minmax"], "--input-scaling"),
    (["--weight-decay", "-1"], "weight decay"),
    (["--gamma", "2"], "gamma"),
    (["--recipe", "{tmp}/absent.toml"], "absent.toml"),
    (["--recipe", "{tmp}/bad.toml"], "unknown key 'optimiser'"),
    (["--recipe", "{tmp}/bad_value.toml"], "bad_value.toml: learning rate must be"),
])
def test_cli_bad_recipe_input_one_line_exit_2_no_files(workdir: Path, capsys, args,
                                                         words) -> None:
    (workdir / "bad.toml").write_text('optimiser = "adam"\n')
    (workdir / "bad_value.toml").write_text("lr = -0.1\n")
    before = files_under(workdir)
    argv = ["run", "--hidden", "16", "--epochs", "1", "--seeds", "1", "--init", "he_normal",
            "--report-dir", str(workdir / "reports"), *[a.format(tmp=workdir) for a in args]]
    code, out, err = _run(argv, capsys)
    assert code == cli.EXIT_USAGE, f"{args}: exit {code}, expected 2:\n{err}"
    assert err.startswith("initcore: error: ") and len(err.splitlines()) == 1, repr(err)
    assert words in err, f"{args}: the error should say {words!r}: {err!r}"
    assert sorted(set(files_under(workdir)) - set(before)) == [], "files written on an error"


def test_cli_recipe_file_and_flags_reach_the_reports(workdir: Path, capsys) -> None:
    """A recipe file, a flag overriding one of its keys, and the recipe in every report row
    and in run.json."""
    path = workdir / "mine.toml"
    path.write_text('optimizer = "adam"\nlr = 0.001\nschedule = "cosine"\nepochs = 2\n'
                    'input_scaling = "unit"\n[about]\npaper = "none"\n')
    argv = ["run", "--recipe", str(path), "--lr", "0.002", "--no-bias", "--hidden", "16",
            "--init", "he_normal", "--seeds", "1", "--report-dir", str(workdir / "r"),
            "--run-id", "x"]
    code, out, err = _run(argv, capsys)
    assert code == 0, f"exit {code}: {err}"
    expected = Recipe(hidden=(16,), bias=False, optimizer="adam", lr=0.002, schedule="cosine",
                      epochs=2, input_scaling="unit")
    assert expected.describe() in out, f"the run should print its recipe:\n{out}"
    for name in (reports.EPOCHS_FILE, reports.SUMMARY_FILE):
        table = pd.read_csv(workdir / "r" / "x" / name)
        assert (table["recipe"] == expected.describe()).all(), f"{name}: {table['recipe']}"
        assert (table["model"] == "mlp-784-16-10-relu-nobias").all(), table["model"]
    record = json.loads((workdir / "r" / "x" / reports.MARKER_FILE).read_text())
    assert record["recipe"] == expected.as_dict(), record["recipe"]


def test_cli_shipped_recipe_by_name(workdir: Path, capsys) -> None:
    """--recipe zero_mnist finds the shipped file; flags shrink it to a one-epoch run."""
    argv = ["run", "--recipe", "zero_mnist", "--hidden", "16", "--epochs", "1", "--init",
            "he_normal", "--seeds", "1", "--report-dir", str(workdir / "r"), "--run-id", "z"]
    code, out, err = _run(argv, capsys)
    assert code == 0, f"exit {code}: {err}"
    summary = pd.read_csv(workdir / "r" / "z" / reports.SUMMARY_FILE)
    expected = replace(recipes.shipped("zero_mnist"), hidden=(16,), epochs=1).describe()
    assert summary["recipe"].tolist() == [expected], summary["recipe"].tolist()


# ---------------------------------------------------------------------------------------------
# The regression gate keys on the recipe
# ---------------------------------------------------------------------------------------------

def _summary(recipe: str | None, acc: float) -> pd.DataFrame:
    row = {"run_id": "r", "dataset": "mnist-5k", "model": "mlp-784-256-128-10-relu",
           "init": "he_normal", "n_seeds": 3, "n_diverged": 0, "epochs": 3, "acc_mean": acc,
           "acc_std": 0.01}
    if recipe is not None:
        row["recipe"] = recipe
    return pd.DataFrame([row])


def test_gate_compares_cells_of_the_same_recipe_only() -> None:
    seed, adam = Recipe().describe(), Recipe(optimizer="adam", lr=1e-3).describe()
    base = pd.concat([_summary(seed, 0.90), _summary(adam, 0.80)], ignore_index=True)
    current = pd.concat([_summary(adam, 0.80), _summary(seed, 0.90)], ignore_index=True)
    verdicts = regression.compare(base, current)
    assert len(verdicts) == 2 and not any(v.regressed for v in verdicts), (
        [v.message for v in verdicts])
    # The same cell under another recipe is another cell: not compared, named unjudged.
    unjudged = regression.unjudged_cells(_summary(seed, 0.90), _summary(adam, 0.80))
    assert len(unjudged) == 1 and "missing" in unjudged[0], unjudged


def test_gate_reads_baselines_written_before_the_recipe_column() -> None:
    """A baseline written before the recipe column (the nightly and seed baselines still are) is
    keyed as before (experiment, dataset, model, init) and still judges a current report that
    has one."""
    old = regression.load_summary(Path(__file__).parents[1] / "reports" / "baseline" / "smoke")
    old = old.drop(columns="recipe", errors="ignore")  # as it was written before the column
    current = old.assign(recipe=Recipe(epochs=3).describe())
    assert regression.key_columns(old, current) == ["experiment", "dataset", "model", "init"]
    verdicts = regression.compare(old, current)
    assert verdicts and not any(v.regressed for v in verdicts)
    worse = current.assign(acc_mean=current["acc_mean"] - 0.05)
    assert any(v.regressed for v in regression.compare(old, worse)), "a drop must still count"


# ---------------------------------------------------------------------------------------------
# The paper profile (never trained here: ~45 min on 2 CPU cores)
# ---------------------------------------------------------------------------------------------

def test_paper_profile_trains_the_shipped_recipes() -> None:
    paper = profiles.get("paper")
    by_name = {e.name: e for e in paper.experiments}
    assert set(by_name) == {"zero-mlp", "snn-selu", "snn-relu"}, set(by_name)
    assert by_name["zero-mlp"].config == recipes.shipped("zero_mnist")
    assert by_name["snn-selu"].config == recipes.shipped("snn_mnist")
    assert by_name["snn-relu"].config == replace(recipes.shipped("snn_mnist"), activation="relu")
    assert "he_normal" in by_name["zero-mlp"].inits, "the notebook's Random init"
    assert by_name["snn-selu"].inits == ("lecun_normal",)
    assert by_name["snn-relu"].inits == ("torch_default",)
    assert all(e.dataset == "mnist" for e in paper.experiments), "the papers used full MNIST"


def test_paper_profile_is_not_in_ci() -> None:
    ci = (Path(__file__).parents[1] / ".ci" / "run").read_text()
    assert "paper" not in ci, "the paper profile takes ~45 min: CI must not run it"


def _notebook_zero(m: int, n: int) -> torch.Tensor:
    """ZerO_Init_on_matrix of the ZerO notebook (example_mnist.ipynb), for W of shape (m, n)."""
    from scipy.linalg import hadamard

    if m <= n:
        return torch.eye(m, n)
    c = math.ceil(math.log2(m))
    p = 2 ** c
    return torch.eye(m, p) @ (torch.tensor(hadamard(p)).float() / 2 ** (c / 2)) @ torch.eye(p, n)


def test_zero_hadamard_is_the_notebooks_init_on_the_zero_net(small_data: Dataset) -> None:
    """The README's ZerO numbers were measured with the notebook's own function (a stand-in
    registered by the measuring script, before zero_hadamard was in the registry): the
    registered scheme must give the same weights on the paper's net."""
    if "zero_hadamard" not in initializers.list_initializers():
        pytest.skip("zero_hadamard is not registered in this build")
    model = build_model("zero_hadamard", 0, small_data, recipes.shipped("zero_mnist"))
    for layer in initializers.linear_layers(model):
        expected = _notebook_zero(*layer.weight.shape)
        err = (layer.weight - expected).abs().max().item()
        assert err < 1e-6, f"{tuple(layer.weight.shape)}: differs from the notebook by {err}"
