"""Figures from reports (matplotlib, Agg backend, PNG).

* :func:`plot_accuracy` -- test accuracy vs epoch, one line per initializer (mean over seeds) with
  a band from the worst to the best seed; from a run's ``epochs.csv``.
* :func:`plot_losses` -- train and test loss vs epoch on a log axis, same layout (the deep
  experiment's loss curves: a stalled net sits at ln 10 = 2.30, the loss of a uniform guess).
* :func:`plot_probes` -- per-layer std of activations and variance of the back-propagated
  gradient at initialization, one line per initializer, log axis (the figure of Glorot & Bengio
  2010, Fig. 6-7, and He et al. 2015); from ``probes.csv``.
* :func:`plot_leaderboard` -- per experiment, the schemes ranked by mean final accuracy, each
  with its 95% interval over seeds, a scheme from outside initcore highlighted, He's mean marked;
  from ``leaderboard.csv`` (one row per scheme: readable with 20+ schemes, where 20 overlapping
  accuracy curves are not).
* :func:`plot_report_dir` -- every figure a report folder has the data for (``initcore plot``).

Each function returns the paths it wrote; nothing is shown on screen.
"""

from __future__ import annotations

import io
import math
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: works without a display, in CI and over ssh
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .errors import one_line
from .files import safe_name, write_atomic  # noqa: E402
from .leaderboard import LEADERBOARD_FILE, REFERENCE  # noqa: E402
from .probes import PROBE_COLUMNS, PROBES_FILE  # noqa: E402
from .reports import EPOCHS_FILE, ReportError, check_writable, load  # noqa: E402

DPI = 110  # 7 x 4.5 in at 110 dpi: ~770 x 500 px, 40-90 KB per figure
CHANCE = 0.1


def _colors(names: list[str]) -> dict[str, tuple]:
    """A stable, distinguishable colour per initializer (tab10, then tab20 for the rest)."""
    palette = list(plt.get_cmap("tab10").colors) + list(plt.get_cmap("tab20").colors[1::2])
    return {name: palette[i % len(palette)] for i, name in enumerate(names)}


def _slug(text: str) -> str:
    return safe_name(text, fill="-")  # one sanitizer for every file name built from data


def _groups(epochs: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """One group per experiment (bench reports) or per (dataset, model) (``initcore run``)."""
    keys = ["experiment"] if "experiment" in epochs.columns else ["dataset", "model"]
    groups = []
    for key, part in epochs.groupby(keys, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        groups.append((" ".join(map(str, key)), part))
    return groups


def short_model(name: str) -> str:
    """``mlp-784-256-256-256-10-relu`` -> ``mlp-784-256x3-10-relu`` (runs of equal widths)."""
    parts = str(name).split("-")
    out: list[str] = []
    for part in parts:
        if out and part.isdigit() and out[-1].split("x")[0] == part:
            width, _, count = out[-1].partition("x")
            out[-1] = f"{width}x{int(count or 1) + 1}"
        else:
            out.append(part)
    return "-".join(out)


def _title(name: str, part: pd.DataFrame) -> str:
    seeds = part["seed"].nunique()
    if "experiment" in part.columns:
        model = short_model(part["model"].iloc[0])
        return f"{name}: {part['dataset'].iloc[0]}, {model}, {seeds} seed(s)"
    dataset, _, model = name.partition(" ")
    return f"{dataset}, {short_model(model)}, {seeds} seed(s)"


def _curves(ax, part: pd.DataFrame, column: str, colors: dict, scale: float = 1.0) -> None:
    """Mean over seeds per epoch as a line, min..max over seeds as a band, per initializer."""
    for init, rows in part.groupby("init", sort=False):
        table = rows.pivot_table(index="epoch", columns="seed", values=column, dropna=False)
        values = table.to_numpy(dtype=float) * scale
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN epochs of diverged models
            mean = np.nanmean(values, axis=1)
            low, high = np.nanmin(values, axis=1), np.nanmax(values, axis=1)
        ax.plot(table.index, mean, marker="o", ms=3, lw=1.6, color=colors[init], label=init)
        if values.shape[1] > 1:
            ax.fill_between(table.index, low, high, color=colors[init], alpha=0.18, lw=0)


def _save(fig, path: Path) -> Path:
    png = io.BytesIO()
    fig.savefig(png, dpi=DPI, format="png")
    plt.close(fig)
    write_atomic(path, png.getvalue())  # whole or absent, like every other report file
    return path


def _epoch_ticks(ax, part: pd.DataFrame) -> None:
    epochs = sorted(part["epoch"].unique())
    if len(epochs) <= 12:
        ax.set_xticks(epochs)


ZOOM_POINTS = 5.0  # the zoom panel shows the best final accuracy minus this many points


def _zoom_range(part: pd.DataFrame) -> tuple[float, float] | None:
    """(low, high) in % for a zoom panel on the leaders, or None when the full view is enough.

    Wanted when several initializers end within ZOOM_POINTS of the best (a cluster the 0-100%
    axis squashes into one line) while another ends far below it.
    """
    last = part[part["epoch"] == part["epoch"].max()]
    finals = 100 * last.groupby("init")["test_acc"].mean().dropna()
    if finals.empty:
        return None
    top = finals.max()
    leaders = (finals >= top - ZOOM_POINTS).sum()
    if leaders < 2 or finals.min() >= top - 2 * ZOOM_POINTS:
        return None
    high = min(100.0, 100 * part["test_acc"].max() + 0.5)
    return top - ZOOM_POINTS, high


def plot_accuracy(epochs: pd.DataFrame, out_dir: str | Path, suffix: str = "") -> list[Path]:
    """accuracy[-group].png per experiment/model: test accuracy (%) vs epoch per initializer.

    When the leaders cluster near the top while others lag far behind, a second panel zooms on
    the best ZOOM_POINTS points.
    """
    written = []
    groups = _groups(epochs)
    for name, part in groups:
        colors = _colors(list(dict.fromkeys(part["init"])))
        zoom = _zoom_range(part)
        fig, axes = plt.subplots(1, 2 if zoom else 1, figsize=(11 if zoom else 8, 4.5),
                                 squeeze=False)
        for ax, ylim in zip(axes[0], [(0, 100), zoom]):
            _curves(ax, part, "test_acc", colors, scale=100)
            ax.axhline(100 * CHANCE, color="grey", ls=":", lw=1, label="chance (10%)")
            ax.set(xlabel="epoch", ylabel="test accuracy (%)", ylim=ylim)
            _epoch_ticks(ax, part)
            ax.grid(alpha=0.3)
        if zoom:
            axes[0][1].set_title(f"zoom: the best {ZOOM_POINTS:g} points", fontsize=9)
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, fontsize=8, loc="center left",
                   bbox_to_anchor=(0.86 if zoom else 0.81, 0.5))
        fig.suptitle(_title(name, part), fontsize=10)
        fig.tight_layout(rect=(0, 0, 0.86 if zoom else 0.81, 1))
        tag = f"-{_slug(name)}" if len(groups) > 1 else ""
        written.append(_save(fig, Path(out_dir) / f"accuracy{tag}{suffix}.png"))
    return written


def plot_losses(epochs: pd.DataFrame, out_dir: str | Path, suffix: str = "") -> list[Path]:
    """loss[-group].png: train (left) and test (right) cross-entropy vs epoch, log axis."""
    written = []
    groups = _groups(epochs)
    for name, part in groups:
        colors = _colors(list(dict.fromkeys(part["init"])))
        fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
        for ax, column, label in zip(axes, ["train_loss", "test_loss"], ["train", "test"]):
            _curves(ax, part, column, colors)
            ax.axhline(math.log(10), color="grey", ls=":", lw=1, label="ln 10 (uniform guess)")
            ax.set(xlabel="epoch", ylabel="cross-entropy", yscale="log", title=f"{label} loss")
            _epoch_ticks(ax, part)
            ax.grid(alpha=0.3, which="both")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, fontsize=8, loc="center left", bbox_to_anchor=(0.83, 0.5))
        fig.suptitle(_title(name, part), fontsize=10)
        fig.tight_layout(rect=(0, 0, 0.83, 1))
        tag = f"-{_slug(name)}" if len(groups) > 1 else ""
        written.append(_save(fig, Path(out_dir) / f"loss{tag}{suffix}.png"))
    return written


PROBE_PANELS = (("act_std", "std(h_l)", "forward: std of activations"),
                ("grad_preact_var", "Var(dL/dz_l)", "backward: variance of dL/dz"))


def plot_probes(probes: pd.DataFrame, out_dir: str | Path, suffix: str = "") -> list[Path]:
    """probes[-config].png per (activation, depth, width): per-layer panels, one line per init.

    Values <= 0 (an all-zero net) cannot sit on a log axis; those initializers are left out of
    the panel and named in its legend title.
    """
    written = []
    configs = list(probes.groupby(["activation", "depth", "width"], sort=False))
    for (activation, depth, width), part in configs:
        inits = list(dict.fromkeys(part["init"]))
        colors = _colors(inits)
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
        for ax, (metric, label, title) in zip(axes, PROBE_PANELS):
            rows = part[part["metric"] == metric]
            left_out = []
            for init in inits:
                curve = rows[rows["init"] == init].groupby("layer")["value"].mean()
                if curve.empty or (curve <= 0).any() or not np.isfinite(curve).all():
                    left_out.append(init)
                    continue
                ax.plot(curve.index, curve.to_numpy(), lw=1.6, color=colors[init], label=init)
            ax.set(xlabel="layer", ylabel=label, yscale="log", title=title)
            ax.grid(alpha=0.3, which="major")
            if left_out:
                ax.text(0.01, 0.01, "not shown (zero): " + ", ".join(left_out),
                        transform=ax.transAxes, fontsize=7, color="grey")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, fontsize=8, loc="center left", bbox_to_anchor=(0.855, 0.5))
        seeds = part["seed"].nunique()
        steps = int(part["steps"].max()) if "steps" in part.columns else 0
        when = "at initialization" if steps == 0 else f"after {steps} SGD steps"
        fig.suptitle(f"{activation} MLP, {depth} hidden layers of {width}, {when} "
                     f"(mean over {seeds} seed(s), one fixed batch)", fontsize=10)
        fig.tight_layout(rect=(0, 0, 0.855, 1))
        tag = f"-{_slug(activation)}-d{_slug(depth)}-w{_slug(width)}" if len(configs) > 1 else ""
        written.append(_save(fig, Path(out_dir) / f"probes{tag}{suffix}.png"))
    return written


# Columns the epoch figures read (plus experiment, or dataset and model, to group by).
def plot_leaderboard(board: pd.DataFrame, out_dir: str | Path, suffix: str = "") -> list[Path]:
    """One PNG per experiment: schemes ranked top to bottom, mean final accuracy (dot) and its
    95% t-interval over seeds (bar); built-in schemes grey, others (a user's) orange; He's mean
    a dashed line; a scheme that does not train (leaderboard ``trains``) marked with an x; the
    verdict against He (:mod:`initcore.verdicts`) after each name: [>] [<] [=] [?]."""
    keys = [c for c in ("experiment", "dataset", "model") if c in board.columns]
    written = []
    for cell, part in board.groupby(keys[:1], sort=False):
        name = cell[0] if isinstance(cell, tuple) else cell
        part = part.sort_values("rank")
        height = max(2.5, 0.28 * len(part) + 1.2)
        fig, ax = plt.subplots(figsize=(7, height))
        y = np.arange(len(part))[::-1]
        user = (part["source"] != "built-in").to_numpy()
        color = np.where(user, "tab:orange", "0.35")
        mean = 100 * part["acc_mean"].to_numpy(dtype=float)
        low = 100 * part["ci_low"].to_numpy(dtype=float)
        high = 100 * part["ci_high"].to_numpy(dtype=float)
        trains = part["trains"].astype(bool).to_numpy()
        # The axis spans the schemes that train: one at chance would squeeze every interval
        # that matters into a few pixels. Those that do not train sit at the left edge (an x and
        # their accuracy written beside it).
        shown = trains if trains.any() else np.ones_like(trains)
        left = float(np.nanmin(low[shown])) - 1.0
        right = float(np.nanmax(high[shown])) + 0.5
        for yi, m, lo, hi, c, ok in zip(y, mean, low, high, color, trains):
            if ok or not trains.any():
                ax.plot([lo, hi], [yi, yi], color=c, linewidth=2.2, solid_capstyle="butt")
                ax.plot([m], [yi], marker="o", color=c, markersize=6)
            else:
                ax.plot([left], [yi], marker="x", color=c, markersize=6, clip_on=False)
                ax.annotate(f"does not train: {m:.1f}%", (left, yi), xytext=(6, -3),
                            textcoords="offset points", fontsize=8, color=c)
        ax.set_xlim(left, right)
        labels = [f"{r}. {i}" + (" *" if u else "") + _verdict_mark(v)
                  for r, i, u, v in zip(part["rank"], part["init"], user,
                                        part.get("verdict_vs_he", [""] * len(part)))]
        ax.set_yticks(y, labels)
        for tick, u in zip(ax.get_yticklabels(), user):
            tick.set_color("tab:orange" if u else "black")
        reference = part[part["init"] == REFERENCE]
        if not reference.empty:
            ax.axvline(100 * float(reference["acc_mean"].iloc[0]), color="tab:blue",
                       linestyle="--", linewidth=1, label=f"{REFERENCE} mean")
            ax.legend(loc="upper left", fontsize=8, frameon=False)
        ax.set_xlabel("final test accuracy % (mean, 95% interval over seeds)" + (
            f"; vs {REFERENCE}: > better, < worse, = equivalent within "
            f"+-{100 * float(part['margin'].iloc[0]):g} pt, ? undecided"
            if "verdict_vs_he" in part.columns else ""), fontsize=8)
        seeds = int(part["n_seeds"].max())
        ax.set_title(f"{name}: leaderboard, {seeds} seeds" + (
            f" ({short_model(part['model'].iloc[0])})" if "model" in part.columns else ""),
            fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        fig.tight_layout()
        written.append(_save(fig, Path(out_dir) / f"leaderboard-{_slug(name)}{suffix}.png"))
    return written


VERDICT_MARKS = {"better": " [>]", "worse": " [<]", "equivalent": " [=]", "undecided": " [?]"}


def _verdict_mark(verdict) -> str:
    """The leaderboard verdict against He as a short mark after the scheme's name."""
    return VERDICT_MARKS.get(verdict, "") if isinstance(verdict, str) else ""


EPOCH_PLOT_COLUMNS = ["init", "seed", "epoch", "train_loss", "test_loss", "test_acc", "model"]


# Columns each figure reads as numbers: text there is refused before any figure is drawn.
NUMERIC = {EPOCHS_FILE: ["seed", "epoch", "train_loss", "test_loss", "test_acc"],
           PROBES_FILE: ["depth", "width", "seed", "layer", "value"],
           LEADERBOARD_FILE: ["rank", "n_seeds", "acc_mean", "ci_low", "ci_high"]}


def _load_checked(path: Path, required: list[str]) -> pd.DataFrame:
    """``path`` loaded, with ReportError (one line naming it) when it is not a CSV, lacks a
    column the figures need or holds text where they need numbers (or a ``trains`` flag that
    is not True/False) -- rather than a KeyError or TypeError deep inside matplotlib code."""
    try:
        table = load(path)
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise ReportError(f"{path}: not a readable report CSV ({one_line(e)})") from e
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise ReportError(f"{path}: cannot plot it: missing column(s) {', '.join(missing)}")
    if table.empty:
        raise ReportError(f"{path}: cannot plot it: no rows")
    for column in NUMERIC.get(path.name, []):
        values = pd.to_numeric(table[column], errors="coerce")
        bad = values.isna() & table[column].notna()
        if bad.any():
            row = int(bad.values.argmax()) + 2
            raise ReportError(f"{path}: cannot plot it: column {column} holds text "
                              f"(row {row}: {table[column][bad].iloc[0]!r})")
        table[column] = values
    if "trains" in table.columns:
        flags = table["trains"].astype(str).str.lower()
        if not flags.isin(["true", "false"]).all():
            raise ReportError(f"{path}: cannot plot it: column trains holds "
                              f"{table['trains'][~flags.isin(['true', 'false'])].iloc[0]!r}, "
                              "not True/False")
        table["trains"] = flags == "true"
    return table


def plot_report_dir(report_dir: str | Path, out_dir: str | Path | None = None) -> list[Path]:
    """Every figure ``report_dir`` has data for; ReportError if it has neither CSV."""
    report_dir = Path(report_dir)
    if not report_dir.is_dir():
        raise ReportError(f"no report folder at {report_dir}")
    out = check_writable(out_dir if out_dir else report_dir)
    # Every table is loaded and checked before the first figure: a bad one writes nothing.
    tables = {}
    if (report_dir / EPOCHS_FILE).is_file():
        tables[EPOCHS_FILE] = _load_checked(report_dir / EPOCHS_FILE, EPOCH_PLOT_COLUMNS)
    if (report_dir / PROBES_FILE).is_file():
        tables[PROBES_FILE] = _load_checked(report_dir / PROBES_FILE, PROBE_COLUMNS)
    if (report_dir / LEADERBOARD_FILE).is_file():
        required = ["experiment", "rank", "init", "source", "n_seeds", "acc_mean", "ci_low",
                    "ci_high", "trains"]
        tables[LEADERBOARD_FILE] = _load_checked(report_dir / LEADERBOARD_FILE, required)
    written: list[Path] = []
    if EPOCHS_FILE in tables:
        written += plot_accuracy(tables[EPOCHS_FILE], out) + plot_losses(tables[EPOCHS_FILE], out)
    if PROBES_FILE in tables:
        written += plot_probes(tables[PROBES_FILE], out)
    if LEADERBOARD_FILE in tables:
        written += plot_leaderboard(tables[LEADERBOARD_FILE], out)
    if not written:
        raise ReportError(f"nothing to plot in {report_dir}: no {EPOCHS_FILE} or {PROBES_FILE}")
    return written
