"""A run's verdicts as a markdown summary, for CI pages (GitHub Actions' job summary).

    ## initcore: smoke profile, run nightly-42
    **2 regression(s)** in 39 of 39 baseline cells judged (regression gate: Welch, Holm 0.01)
    | cell | current | baseline | drop (pt) | verdict |
    ...
    ### Leaderboard (top 5 per experiment, and every scheme of your own)

``pytest bench`` and ``initcore compare`` build it with :func:`summary` and hand it to
:func:`publish`: appended to the file ``$GITHUB_STEP_SUMMARY`` names when that is set (GitHub
Actions shows that file on the run's page), and written to ``--markdown FILE`` when given.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from . import leaderboard, regression, reports
from .files import write_atomic

STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"  # set by GitHub Actions: the job summary file
TOP = 5  # leaderboard rows shown per experiment (every user scheme is shown too)


def table(frame: pd.DataFrame) -> list[str]:
    """``frame`` as a GitHub-flavoured markdown table (``|`` in cells escaped)."""
    def cell(value) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(c) for c in frame.columns) + " |",
             "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |"
              for row in frame.itertuples(index=False)]
    return lines


def gate_lines(baseline: pd.DataFrame, current: pd.DataFrame) -> list[str]:
    """The regression gate's result: cells judged, the regressions (each cell a row)."""
    verdicts = regression.compare(baseline, current)
    keys = regression.key_columns(baseline, current)
    n_cells = len(baseline.drop_duplicates(keys))
    unjudged = regression.unjudged_cells(baseline, current)
    regressed = [v for v in verdicts if v.regressed]
    head = (f"**{len(regressed)} regression(s)**" if regressed else "**no regression**")
    lines = [f"{head}: {n_cells - len(unjudged)} of {n_cells} baseline cells judged "
             f"({regression.count_tests(baseline, current)} accuracy tests, Welch, Holm "
             f"family-wise alpha {regression.ALPHA:g})", ""]
    if unjudged:
        lines += [f"**{len(unjudged)} cell(s) could not be judged**: "
                  + "; ".join(unjudged[:10]) + (" ..." if len(unjudged) > 10 else ""), ""]
    if regressed:
        lines += [f"- {v.message}" for v in regressed] + [""]
    return lines


def board_lines(board: pd.DataFrame, top: int = TOP) -> list[str]:
    """Per experiment, the ``top`` schemes by mean final accuracy and every user scheme."""
    if board.empty:
        return []
    lines = [f"### Leaderboard (top {top} per experiment, and every scheme of your own)", ""]
    shown = board[(board["rank"] <= top) | (board["source"] == "user")]
    frame = pd.DataFrame({
        "experiment": shown.get("experiment", shown["dataset"]),
        "#": shown["rank"],
        "init": [f"{i} (yours)" if s == "user" else i
                 for i, s in zip(shown["init"], shown["source"])],
        "acc % (mean ± std)": [_percent(m, s) for m, s in zip(shown["acc_mean"],
                                                              shown["acc_std"])],
        "95% CI": [f"{100 * lo:.2f}–{100 * hi:.2f}" if pd.notna(lo) else ""
                   for lo, hi in zip(shown["ci_low"], shown["ci_high"])],
        "seeds": shown["n_seeds"],
        "vs best built-in": [_versus(v, d) for v, d in zip(shown["vs_best"],
                                                            shown["vs_best_pt"])],
    })
    return lines + table(frame) + [""]


def _percent(mean: float, std: float) -> str:
    if pd.isna(mean):
        return "n/a"
    return f"{100 * mean:.2f} ± {100 * std:.2f}" if pd.notna(std) else f"{100 * mean:.2f}"


def _versus(verdict, diff_pt: float) -> str:
    if not isinstance(verdict, str) or not verdict or pd.isna(diff_pt):
        return ""
    return f"{verdict} ({diff_pt:+.2f} pt)"


def summary(current: str | Path, baseline: str | Path | None, title: str,
            not_judged: str = "no baseline given") -> str:
    """The markdown summary of the run folder ``current``: the gate against ``baseline`` (a
    folder or summary CSV; None: not judged, because ``not_judged``; absent: said so) and the
    run's leaderboard."""
    current = Path(current)
    lines = [f"## {title}", ""]
    cur = regression.load_summary(current)
    if baseline is None:
        lines += [f"not judged: {not_judged}", ""]
    elif not Path(baseline).exists():
        lines += [f"not judged: no baseline at {baseline}", ""]
    else:
        lines += gate_lines(regression.load_summary(baseline), cur)
    folder = current if current.is_dir() else current.parent
    board = folder / leaderboard.LEADERBOARD_FILE
    if board.is_file():
        lines += board_lines(reports.load(board))
    return "\n".join(lines) + "\n"


def publish(text: str, path: str | Path | None = None) -> list[Path]:
    """Append ``text`` to ``$GITHUB_STEP_SUMMARY`` when it is set, and write it to ``path``
    when given (atomically, replacing the file); returns the files written."""
    written = []
    step = os.environ.get(STEP_SUMMARY_ENV)
    if step:
        with open(step, "a", encoding="utf-8") as f:
            f.write(text + "\n")
        written.append(Path(step))
    if path is not None:
        write_atomic(Path(path), text)
        written.append(Path(path))
    return written
