"""The residual MLP, its schemes, their roles API, the torch.func grid trainer and MNIST-1D.

Small nets (width 16-32, 2-8 blocks, 1,000 rows, 1 epoch): the properties checked do not depend
on size. The growth law at depth 64 x 256 is a bench test (bench/test_residual.py).
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import nn

import initcore
from initcore import cli, initializers, recipes, reports
from initcore import residual_schemes as rs
from initcore.data import Dataset, rescale
from initcore.grid import train_grid
from initcore.models import MLP, ResMLP
from initcore.train import Recipe, build_model, train

SMALL = Recipe(arch="resmlp", blocks=3, width=24, epochs=1)


def test_resmlp_forward_shapes_and_name() -> None:
    model = ResMLP(784, 32, 4, 10, branch_layers=2, scalar_bias=True)
    x = torch.randn(5, 1, 28, 28)
    assert model(x).shape == (5, 10), "logits (B, C)"
    stream = model.stream(x)
    assert len(stream) == 5 and all(h.shape == (5, 32) for h in stream), "h_0..h_L, (B, w)"
    assert model.describe() == "resmlp-784-4x32-b2-10-relu-sbias", model.describe()
    assert SMALL.model_name(784, 10) == "resmlp-784-3x24-b2-10-relu", SMALL.model_name(784, 10)
    assert replace(SMALL, bias=False, branch_gain=False).model_name(784, 10) == (
        "resmlp-784-3x24-b2-10-relu-nogain-nobias")


def test_resmlp_block_is_fixups_basic_block() -> None:
    """With every scalar set, a 2-layer block computes Fixup's FixupBasicBlock (no final relu):
    h + scale * W2 (relu(W1 (h + s1) + b1 + s2) + s3) + b2 * scale + s4."""
    block = ResMLP(8, 6, 1, 3, scalar_bias=True).blocks[0]
    with torch.no_grad():
        block.scalar_bias.copy_(torch.tensor([0.1, -0.2, 0.3, 0.4]))
        block.gain.fill_(0.7)
    h = torch.randn(4, 6)
    w1, w2 = block.branch
    z = w2(torch.relu(w1(h + 0.1) - 0.2) + 0.3)
    expected = h + 0.7 * z + 0.4
    assert torch.allclose(block(h), expected, atol=1e-6), "block != Fixup's basic block"


def test_layer_roles_mark_each_branch_last_layer() -> None:
    roles = [role for _, role in rs.layer_roles(ResMLP(10, 8, 3, 4, branch_layers=2))]
    assert [r.kind for r in roles] == ["input"] + ["branch"] * 6 + ["output"], roles
    assert [r.index for r in roles] == list(range(8)), "index = place among the Linear layers"
    last = [(r.block, r.position) for r in roles if r.branch_last]
    assert last == [(0, 1), (1, 1), (2, 1)], f"branch_last on {last}"
    assert all(r.n_blocks == 3 and r.branch_layers == 2 for r in roles)
    mlp = [role.kind for _, role in rs.layer_roles(MLP([10, 8, 8, 4]))]
    assert mlp == ["input", "hidden", "output"], mlp


def test_residual_schemes_refuse_a_plain_mlp(small_data: Dataset) -> None:
    for name in rs.RESIDUAL_SCHEMES:
        with pytest.raises(ValueError, match="residual nets") as info:
            build_model(name, 0, small_data, Recipe(hidden=(16,)))
        assert "\n" not in str(info.value), f"{name}: one line, got {info.value}"


@pytest.mark.parametrize("name", rs.RESIDUAL_SCHEMES)
@pytest.mark.parametrize("branch_layers", [1, 2])
def test_zero_branch_schemes_start_at_the_identity(name, branch_layers, small_data) -> None:
    """Fixup, SkipInit, ReZero and ZerO make every branch output exactly 0 at init: the stream
    leaves every block as it entered (growth 0 bits, bit for bit); depth-scaled He does not."""
    config = replace(SMALL, blocks=8, branch_layers=branch_layers, scalar_bias=True)
    model = build_model(name, 0, small_data, config)
    stream = model.stream(small_data.x_train[:64])
    same = all(torch.equal(stream[0], h) for h in stream[1:])
    assert same == (name != "he_depth_scaled"), f"{name}: stream unchanged by the blocks: {same}"


def test_fixup_follows_the_reference_rules(small_data: Dataset) -> None:
    """hongyi-zhang/Fixup: classifier 0 (weight and bias), each branch's last layer 0, the first
    N(0, 2/fan) x L^(-1/2) (m = 2); scale 1 and scalar biases 0."""
    config = replace(SMALL, blocks=16, width=64, scalar_bias=True)
    model = build_model("fixup", 0, small_data, config)
    assert model.head.weight.abs().max() == 0 and model.head.bias.abs().max() == 0
    firsts = torch.cat([b.branch[0].weight.flatten() for b in model.blocks])
    expected = math.sqrt(2 / 64) / math.sqrt(16)
    assert firsts.std().item() == pytest.approx(expected, rel=0.02), "N(0, 2/w) / sqrt(L)"
    assert all(b.branch[1].weight.abs().max() == 0 for b in model.blocks)
    assert all(b.gain.item() == 1.0 and b.scalar_bias.abs().max() == 0 for b in model.blocks)


def test_depth_scaled_he_scales_the_last_branch_layer(small_data: Dataset) -> None:
    config = replace(SMALL, blocks=16, width=64)
    model = build_model("he_depth_scaled", 0, small_data, config)
    firsts = torch.cat([b.branch[0].weight.flatten() for b in model.blocks])
    lasts = torch.cat([b.branch[1].weight.flatten() for b in model.blocks])
    assert firsts.std().item() == pytest.approx(math.sqrt(2 / 64), rel=0.02)
    assert lasts.std().item() == pytest.approx(math.sqrt(2 / 64) / 4, rel=0.02), "x 1/sqrt(16)"


def test_skipinit_and_rezero_zero_the_gain_and_need_it(small_data: Dataset) -> None:
    for name in ("skipinit", "rezero"):
        model = build_model(name, 0, small_data, SMALL)
        assert all(b.gain.item() == 0.0 for b in model.blocks), f"{name}: gain 0"
        with pytest.raises(ValueError, match="needs the branch gain"):
            build_model(name, 0, small_data, replace(SMALL, branch_gain=False))


def test_zero_residual_is_deterministic_identity_then_zero(small_data: Dataset) -> None:
    a = build_model("zero_residual", 0, small_data, SMALL)
    b = build_model("zero_residual", 1, small_data, SMALL)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters())), "seedless"
    eye = torch.eye(24)
    assert all(torch.equal(blk.branch[0].weight, eye) for blk in a.blocks), "branch W1 = I"
    assert torch.equal(a.input.weight, torch.eye(24, 784)), "stem: I* keeps the first 24 pixels"


def test_predicted_growth_matches_the_formula_for_he() -> None:
    """sum_l log2(1 + g_l) from the drawn weights is L log2 3 for He (g = 2) within sampling."""
    model = ResMLP(784, 256, 16, 10)
    initializers.get("he_normal")(model, torch.Generator().manual_seed(0))
    predicted = rs.predicted_growth_bits(model)
    assert predicted == pytest.approx(rs.theory_growth_bits(2.0, 16), abs=0.1), predicted


def test_user_per_layer_scheme_reads_roles(small_data: Dataset) -> None:
    """A user's per-layer scheme that takes ``role`` sees where each layer sits."""

    @initcore.register("test_zero_last_branch", "He, each branch's last layer 0")
    def zero_last(weight, generator, *, role):
        if role.branch_last:
            weight.zero_()
        else:
            nn.init.kaiming_normal_(weight, nonlinearity="relu", generator=generator)

    try:
        model = build_model("test_zero_last_branch", 0, small_data, SMALL)
        assert all(b.branch[1].weight.abs().max() == 0 for b in model.blocks)
        assert all(b.branch[0].weight.abs().max() > 0 for b in model.blocks)
        assert model.head.weight.abs().max() > 0
        mlp = build_model("test_zero_last_branch", 0, small_data, Recipe(hidden=(16, 16)))
        assert all(layer.weight.abs().max() > 0 for layer in initializers.linear_layers(mlp))
    finally:
        initializers.unregister("test_zero_last_branch")


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_resmlp_grid_agrees_with_train(optimizer: str, small_data: Dataset) -> None:
    """The torch.func grid and the single-model trainer: same losses and accuracies to float
    tolerance (1 epoch; the grid's batched matmuls round differently)."""
    config = replace(SMALL, optimizer=optimizer, lr=0.01 if optimizer == "sgd" else 0.001,
                     weight_decay=1e-4, scalar_bias=True)
    grid = train_grid(["he_normal", "fixup", "rezero"], [0, 1], small_data, config)
    for cell in grid:
        single = train(cell.init, cell.seed, small_data, config)
        a, b = cell.epochs[-1], single.epochs[-1]
        assert a.train_loss == pytest.approx(b.train_loss, rel=1e-4), (cell.init, cell.seed)
        assert a.test_loss == pytest.approx(b.test_loss, rel=1e-4), (cell.init, cell.seed)
        assert abs(a.test_acc - b.test_acc) <= 0.002, (cell.init, cell.seed, a, b)
        for p, q in zip(cell.model.parameters(), single.model.parameters()):
            assert torch.allclose(p, q, rtol=1e-3, atol=1e-4), f"{cell.init} {cell.seed}"


def test_resmlp_grid_isolates_a_diverged_model(small_data: Dataset) -> None:
    """Plain He at depth 32 x 64 blows up (3^32 in mean square): it is marked diverged and
    frozen while Fixup, trained beside it, ends exactly as when trained alone."""
    config = replace(SMALL, blocks=32, width=64, lr=0.05)
    both = train_grid(["he_normal", "fixup"], [0], small_data, config)
    alone = train_grid(["fixup"], [0], small_data, config)
    assert both[0].diverged, "He at depth 32 should diverge"
    assert not both[1].diverged and len(both[1].epochs) == len(alone[0].epochs) == 1
    x, y = both[1].epochs[0], alone[0].epochs[0]
    assert x.test_acc == y.test_acc, f"fixup beside He {x.test_acc} vs alone {y.test_acc}"
    assert x.train_loss == pytest.approx(y.train_loss, rel=1e-6), "fixup changed by He's NaN"


def test_recipe_rejects_bad_residual_fields() -> None:
    for bad in ({"arch": "cnn"}, {"blocks": -1}, {"width": 0}, {"branch_layers": 3},
                {"branch_gain": 1}, {"blocks": True}):
        with pytest.raises(ValueError) as info:
            Recipe(**bad)
        assert "\n" not in str(info.value), f"{bad}: one line"


def test_recipe_refuses_per_layer_multipliers_on_a_resmlp() -> None:
    """muP's per-layer multipliers (one per Linear layer of an MLP) and a residual net: a ResMLP
    also has gains and scalar biases, so a resmlp recipe with any of them is refused in one line
    rather than trained with some parameters silently left out."""
    for name in ("init_mult", "lr_mult", "bias_lr_mult"):
        with pytest.raises(ValueError, match="resmlp") as info:
            Recipe(arch="resmlp", blocks=1, **{name: (1.0, 1.0, 1.0, 1.0)})
        assert "\n" not in str(info.value)
    assert Recipe(hidden=(8,), lr_mult=(1.0, 0.5)).lr_mult == (1.0, 0.5), "MLPs keep them"


def test_user_scheme_is_checked_on_the_resmlp_it_will_train() -> None:
    """A user's scheme is tried on a resmlp recipe's own net, not only on MLPs: one that breaks
    on a branch layer fails before any work, naming the residual net."""
    from initcore.user_schemes import architectures_of, check_scheme

    @initcore.register("test_breaks_on_branches", "He, but NaN in every branch")
    def breaks(weight, generator, *, role):
        nn.init.kaiming_normal_(weight, nonlinearity="relu", generator=generator)
        if role.kind == "branch":
            weight.fill_(math.nan)

    try:
        check_scheme("test_breaks_on_branches", architectures_of([Recipe(hidden=(16,))]))
        archs = architectures_of([Recipe(arch="resmlp", blocks=2, width=16)])
        with pytest.raises(ValueError, match="resmlp-784-2x16-b2-10-relu") as info:
            check_scheme("test_breaks_on_branches", archs)
        assert "NaN" in str(info.value) and "\n" not in str(info.value)
    finally:
        initializers.unregister("test_breaks_on_branches")


def test_recipe_file_holds_the_residual_fields(tmp_path: Path) -> None:
    path = tmp_path / "res.toml"
    path.write_text('arch = "resmlp"\nblocks = 64\nwidth = 256\nbranch_layers = 1\n'
                    'scalar_bias = true\n')
    recipe = recipes.load(path)
    assert (recipe.arch, recipe.blocks, recipe.width, recipe.branch_layers,
            recipe.scalar_bias) == ("resmlp", 64, 256, 1, True), recipe
    path.write_text('blocks = "many"\n')
    with pytest.raises(recipes.RecipeError, match="blocks"):
        recipes.load(path)


def test_cli_run_trains_a_resmlp(workdir: Path, capsys) -> None:
    code = cli.main(["run", "--arch", "resmlp", "--blocks", "2", "--width", "16",
                     "--init", "fixup", "rezero", "--seeds", "1", "--epochs", "1",
                     "--report-dir", str(workdir / "r"), "--run-id", "res"])
    out, err = capsys.readouterr()
    assert code == 0, f"exit {code}: {err}"
    epochs = reports.load(workdir / "r" / "res")
    assert set(epochs["model"]) == {"resmlp-784-2x16-b2-10-relu"}, set(epochs["model"])
    assert set(epochs["init"]) == {"fixup", "rezero"}
    assert epochs["test_acc"].between(0.2, 1).all(), epochs["test_acc"]


def test_cli_residual_scheme_on_an_mlp_is_one_line(workdir: Path, capsys) -> None:
    code = cli.main(["run", "--init", "fixup", "--seeds", "1", "--epochs", "1",
                     "--report-dir", str(workdir / "r")])
    _, err = capsys.readouterr()
    assert code != 0 and "Traceback" not in err and "residual" in err, (code, err)


def test_init_all_means_the_schemes_that_build_the_recipes_nets() -> None:
    """``--init all`` on an MLP leaves the residual-net schemes out (they cannot build it; the
    Ray tests' ``--init all`` run exited 2 on Fixup before this); on a ResMLP it has them."""
    from initcore.cli.common import resolve_inits

    on_mlp = resolve_inits(["all"], [Recipe()])
    on_resmlp = resolve_inits(["all"], [Recipe(arch="resmlp", blocks=2, width=16)])
    assert not set(initializers.RESIDUAL_SCHEMES) & set(on_mlp), on_mlp
    assert set(initializers.RESIDUAL_SCHEMES) <= set(on_resmlp), on_resmlp
    assert "he_normal" in on_mlp and "he_normal" in on_resmlp


def test_mnist1d_is_generated_offline_at_the_published_size() -> None:
    pytest.importorskip("mnist1d")
    from initcore import data

    mnist1d = data.load("mnist1d")
    assert (mnist1d.x_train.shape, mnist1d.x_test.shape) == ((4000, 40), (1000, 40))
    counts = mnist1d.y_train.bincount(minlength=10).tolist()
    assert len(counts) == 10 and all(350 <= c <= 450 for c in counts), f"~400 a class: {counts}"
    for scaling in ("unit", "symmetric", "standard"):
        assert rescale(mnist1d, scaling) is mnist1d, f"signals kept as generated ({scaling})"


def test_recipe_without_hidden_layers_is_logistic_regression(small_data: Dataset) -> None:
    """hidden = () (MNIST-1D's logistic baseline): one Linear layer, in both trainers."""
    config = Recipe(hidden=(), epochs=1)
    model = build_model("torch_default", 0, small_data, config)
    layers = initializers.linear_layers(model)
    assert [(lin.in_features, lin.out_features) for lin in layers] == [(784, 10)], layers
    grid = train_grid(["torch_default"], [0], small_data, config)[0]
    single = train("torch_default", 0, small_data, config)
    assert grid.final_acc == pytest.approx(single.final_acc, abs=0.002) and grid.final_acc > 0.6
