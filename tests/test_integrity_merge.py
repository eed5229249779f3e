"""``initcore merge`` on tampered shards (issue 19, group 8): a shard whose epochs.csv lacks a
column, whose run.json grid was edited, whose accuracies disagree with its own summary, with
duplicated epoch rows or a ``diverged`` flag that is not True/False is refused in one line
(exit 2, nothing written) -- before: KeyError/TypeError tracebacks or a silent merge.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from test_shards import _shard_copy, shard_runs  # noqa: F401  (shard_runs: a fixture)

from initcore.cli import main


def _edit_rows(folder: Path, edit) -> None:
    path = folder / "epochs.csv"
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    edit(table).to_csv(path, index=False)


def _set_acc(table: pd.DataFrame) -> pd.DataFrame:
    table.loc[table.index[-1], "test_acc"] = "0.999"  # a better number, typed in by hand
    return table


def _grid(record: dict) -> None:
    record["grid"] = {"experiments": [{"experiment": "x", "inits": "he_normal", "seeds": 3}]}


@pytest.mark.parametrize("case, rows, marker, expected", [
    ("no-init", lambda t: t.drop(columns="init"), None, "missing column(s) init"),
    ("no-acc", lambda t: t.drop(columns="test_acc"), None, "missing column(s) test_acc"),
    ("grid", None, _grid, "the shard's grid is not as written"),
    ("edited-acc", _set_acc, None, "disagree on"),
    ("dup-rows", lambda t: pd.concat([t, t.iloc[[0]]]), None, "duplicated epoch row"),
    ("maybe", lambda t: t.assign(diverged="maybe"), None, "'maybe', not True/False"),
])
def test_merge_refuses_tampered_shards(shard_runs, capsys, case, rows,  # noqa: F811
                                       marker, expected) -> None:
    reports = shard_runs
    tampered = _shard_copy(reports, "s3", f"t-{case}", marker or (lambda r: None))
    if rows is not None:
        _edit_rows(tampered, rows)
    before = sorted(p.name for p in reports.iterdir())
    code = main(["merge", str(tampered), str(reports / "s1"), str(reports / "s2"),
                 "--report-dir", str(reports), "--run-id", f"m-{case}"])
    err = capsys.readouterr().err
    assert code == 2, f"exit {code}: {err}"
    assert err.startswith("initcore: error: ") and err.count("\n") == 1, err
    assert expected in err and "t-" + case in err, err
    assert sorted(p.name for p in reports.iterdir()) == before, "a refused merge wrote a file"
