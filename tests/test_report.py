"""Tables from per-seed results: long format, totals, run names from folders."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from ktnas.cli import main


def _result(tmp_path, run, seed, found):
    path = tmp_path / run / f"seed{seed}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tasks = [
        {"task": t, "found_at": f, "n_queries": f or 15625, "best_arch": "x", "best_fitness": 0.0}
        for t, f in zip(["cifar10", "cifar100", "imagenet16"], found, strict=True)
    ]
    path.write_text(json.dumps({"space": "nb201", "method": run.split("-")[0], "seed": seed, "tasks": tasks}))
    return path


def test_nb201_table_means_stds_and_totals(tmp_path):
    inputs = [_result(tmp_path, "rea", 0, [10, 20, 30]), _result(tmp_path, "rea", 1, [30, 40, None])]
    csv, md = tmp_path / "t.csv", tmp_path / "t.md"
    assert (
        main(
            [
                "table",
                "--space",
                "nb201",
                "--inputs",
                *map(str, inputs),
                "--out-csv",
                str(csv),
                "--out-md",
                str(md),
            ]
        )
        == 0
    )
    df = pd.read_csv(csv)
    assert list(df.columns) == ["method", "task", "mean", "std", "n_seeds"]
    assert list(df["task"]) == ["cifar10", "cifar100", "imagenet16", "total"]
    row = df.set_index("task")
    assert row.loc["cifar10", "mean"] == 20 and row.loc["cifar10", "std"] == pytest.approx(14.1421, abs=1e-3)
    assert row.loc["imagenet16", "mean"] == (30 + 15625) / 2  # not found: evaluations spent (a lower bound)
    assert row.loc["total", "mean"] == (60 + 15695) / 2 and (row["n_seeds"] == 2).all()
    text = md.read_text()
    assert "1439.6" in text and "never queried the optimum" in text and ": 1." in text


def test_variants_of_one_method_stay_apart(tmp_path):
    inputs = [_result(tmp_path, "ktnas-r0.5", 0, [1, 2, 3]), _result(tmp_path, "ktnas-r0.8", 0, [4, 5, 6])]
    csv, md = tmp_path / "s.csv", tmp_path / "s.md"
    assert (
        main(
            [
                "table",
                "--space",
                "nb201",
                "--study",
                "sensitivity",
                "--inputs",
                *map(str, inputs),
                "--out-csv",
                str(csv),
                "--out-md",
                str(md),
            ]
        )
        == 0
    )
    df = pd.read_csv(csv)
    assert sorted(df["run"].unique()) == ["ktnas-r0.5", "ktnas-r0.8"]
    assert df.set_index(["run", "task"]).loc[("ktnas-r0.8", "total"), "mean"] == 15
