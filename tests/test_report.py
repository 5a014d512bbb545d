"""Tables from per-seed results: long format, totals, run names from folders, medians, paired tests
against ktnas or the default setting, Holm's adjustment and the paper's numbers beside ours."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from ktnas.cli import main
from ktnas.report.nb201 import evaluations_table
from ktnas.report.stats import holm, paired_wilcoxon
from ktnas.report.tables import csv_text, study_references
from ktnas.results import SearchResult, TaskResult

NB201 = ["cifar10", "cifar100", "imagenet16"]


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
    assert list(df.columns) == [
        "method", "task", "mean", "std", "n_seeds", "median", "p_vs_ktnas", "p_raw", "reference"
    ]  # fmt: skip
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


# -- statistics ---------------------------------------------------------------------------------------


def test_holm_matches_hand_computed_values():
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04; running max 0.02, 0.03, 0.06,
    # 0.06; back in input order, the NaN left out of the family (m = 4, not 5)
    got = holm([0.01, float("nan"), 0.04, 0.03, 0.005])
    np.testing.assert_allclose(got, [0.03, np.nan, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.5, 0.6]), [1.0, 1.0])  # 2 × 0.5 = 1.0 caps, then the running max
    np.testing.assert_allclose(holm([0.03]), [0.03])
    assert np.isnan(holm([float("nan")])).all() and holm([]).size == 0


def test_paired_wilcoxon_over_shared_seeds_with_known_scipy_values():
    y = pd.Series(100.0, index=range(8))
    # differences +1..+6 on seeds 0-5 (seeds 6, 7 only in y): the exact two-sided p is 2/2**6
    x = pd.Series([101.0, 102, 103, 104, 105, 106], index=range(6))
    assert paired_wilcoxon(x, y) == (pytest.approx(0.03125), 6)
    # +1..+5, -6: 14 of the 64 sign patterns have W- <= 6, so p = 2 * 14/64
    x2 = pd.Series([101.0, 102, 103, 104, 105, 94], index=range(6))
    assert paired_wilcoxon(x2, y)[0] == pytest.approx(0.4375)
    p, n = paired_wilcoxon(x.iloc[:5], y)  # five shared seeds: not tested
    assert math.isnan(p) and n == 5
    assert math.isnan(paired_wilcoxon(y, y)[0])  # all differences zero: not tested


# -- Table II with tests ------------------------------------------------------------------------------


def _res(run, seed, found, method=None, params=None):
    tasks = [
        TaskResult(task=t, best_arch="x", best_fitness=0.0, extra={"found_at": f, "n_queries": f})
        for t, f in zip(NB201, found, strict=True)
    ]
    return SearchResult(
        "nb201", method or run.split("-")[0], seed, dict(params or {}), tasks, "0", "x", run=run
    )


def _row(table, label, task):
    return table.set_index([table.columns[0], "task"]).loc[(label, task)]


def _main_results(deltas):
    """ktnas with cifar10 = 10 + seed; each other method adds its deltas to cifar10 only."""
    out = [_res("ktnas", s, [10 + s, 5, 5]) for s in range(6)]
    for name, d in deltas.items():
        out += [_res(name, s, [10 + s + d[s], 5, 5]) for s in range(6)]
    return out


def test_table_medians_p_values_and_holm_across_rows():
    table, md = evaluations_table(
        _main_results({"rea": [1, 2, 3, 4, 5, 6], "rs": [1, 2, 3, 4, 5, -6]}), "main"
    )
    rea, rs, k = _row(table, "rea", "total"), _row(table, "rs", "total"), _row(table, "ktnas", "total")
    assert k["median"] == 22.5 and rea["median"] == 26.0  # totals 20..25 and 21, 23, .., 31
    assert rea["p_raw"] == pytest.approx(0.03125) and rs["p_raw"] == pytest.approx(0.4375)
    # Holm over the two rows: 2 × 0.03125 = 0.0625, then max(0.0625, 0.4375)
    assert rea["p_vs_ktnas"] == pytest.approx(0.0625) and rs["p_vs_ktnas"] == pytest.approx(0.4375)
    assert rea["reference"] == "ktnas" and pd.isna(k["p_vs_ktnas"]) and pd.isna(k["reference"])
    assert pd.isna(_row(table, "rea", "cifar100")["p_raw"])  # identical per-seed values: not tested
    assert "*" not in md.split("| rea |")[1].splitlines()[0]  # 0.0625 after Holm: no mark


def test_mark_on_significant_rows_and_seed_counts():
    table, md = evaluations_table(_main_results({"rea": [1, 2, 3, 4, 5, 6]}), "main")
    assert _row(table, "rea", "total")["p_vs_ktnas"] == pytest.approx(0.03125)  # a family of one
    rea_line = next(line for line in md.splitlines() if line.startswith("| rea |"))
    cells = [c.strip() for c in rea_line.strip("|").split("|")]
    assert cells[7] == "26.0 ± 3.7*" and cells[-2] == "0.0312" and cells[-1] == "6"
    assert cells[3] == "5.0 ± 0.0" and cells[4] == "438.2"  # untested column: no mark; the paper beside
    assert "fewer than 6 shared seeds" in md


def test_few_shared_seeds_give_a_dash():
    results = [_res("ktnas", s, [10 + s, 5, 5]) for s in range(6)]
    results += [_res("rea", s, [20 + s, 5, 5]) for s in range(4, 10)]  # only seeds 4, 5 shared
    table, md = evaluations_table(results, "main")
    assert pd.isna(_row(table, "rea", "total")["p_raw"])
    rea_line = next(line for line in md.splitlines() if line.startswith("| rea |"))
    assert rea_line.rstrip(" |").endswith("| – | 6") and "*" not in rea_line


def test_paper_numbers_beside_ours_and_no_paper_only_rows():
    results = [_res("ktnas", 0, [1, 2, 3]), _res("single", 0, [1, 2, 3])]
    _, md = evaluations_table(results, "main")
    ktnas_line = next(line for line in md.splitlines() if line.startswith("| ktnas |"))
    assert [c.strip() for c in ktnas_line.strip("|").split("|")][1:9] == [
        "1.0", "100.7", "2.0", "27.9", "3.0", "60.0", "6.0", "188.5"
    ]  # fmt: skip
    single_line = next(line for line in md.splitlines() if line.startswith("| single |"))
    assert single_line.count("| – |") >= 2  # the paper has no single-task row
    assert "| gcn |" not in md and "| lanas |" not in md  # paper rows we lack are skipped


def test_csv_keeps_small_p_values():
    table, _ = evaluations_table(_main_results({"rea": [1, 2, 3, 4, 5, 6]}), "main")
    table.loc[0, "p_raw"] = 1.234e-7
    text = csv_text(table)
    assert text.splitlines()[0] == "method,task,mean,std,n_seeds,median,p_vs_ktnas,p_raw,reference"
    assert "1.234e-07" in text


# -- the default setting of a study --------------------------------------------------------------------

BASE = {"elite_ratio": 0.2, "saved_generations": 5, "n_transferred": 4}


def _variant(name, **changed):
    return name, {**BASE, **changed}


def test_study_references_pick_the_default_setting():
    runs = dict(
        [
            _variant("ktnas-r0.2"),
            _variant("ktnas-r0.5", elite_ratio=0.5),
            _variant("ktnas-m1", saved_generations=1),
            _variant("ktnas-m5"),
            _variant("ktnas-M8", n_transferred=8),
            _variant("ktnas-emb-onehot"),
            _variant("ktnas-emb-node2vec"),
        ]
    )
    refs = study_references(runs)
    assert refs["ktnas-r0.5"] == "ktnas-r0.2" and refs["ktnas-m1"] == "ktnas-m5"
    assert refs["ktnas-emb-onehot"] == "ktnas-emb-node2vec"
    assert refs["ktnas-r0.2"] == "ktnas-r0.2" and refs["ktnas-emb-node2vec"] == "ktnas-emb-node2vec"
    assert refs["ktnas-M8"] is None  # no ktnas-M4 and no ktnas run: nothing to compare with
    assert study_references({**runs, "ktnas": BASE})["ktnas-M8"] == "ktnas"  # the fallback
    # the default is the value ktnas ran with, not a fixed name
    moved = {
        "ktnas": {**BASE, "elite_ratio": 0.5},
        **dict([_variant("ktnas-r0.2"), _variant("ktnas-r0.5", elite_ratio=0.5)]),
    }
    assert study_references(moved)["ktnas-r0.2"] == "ktnas-r0.5"


def test_sensitivity_table_tests_against_the_default_variant():
    results = []
    for s in range(6):
        results += [
            _res("ktnas-r0.2", s, [10 + s, 5, 5], params=BASE),
            _res("ktnas-r0.5", s, [11 + 2 * s, 5, 5], params={**BASE, "elite_ratio": 0.5}),  # +1..+6
            _res("ktnas-m1", s, [100 + s, 5, 5], params={**BASE, "saved_generations": 1}),  # no ktnas-m5
        ]
    table, md = evaluations_table(results, "sensitivity")
    assert _row(table, "ktnas-r0.5", "total")["reference"] == "ktnas-r0.2"
    assert _row(table, "ktnas-r0.5", "total")["p_raw"] == pytest.approx(0.03125)
    assert pd.isna(_row(table, "ktnas-m1", "total")["p_raw"]) and pd.isna(
        _row(table, "ktnas-m1", "total")["reference"]
    )
    m1_line = next(line for line in md.splitlines() if line.startswith("| ktnas-m1 |"))
    assert m1_line.rstrip(" |").endswith("| – | – | 6")
    # with the ktnas run passed too, ktnas-m1 falls back to it
    table2, _ = evaluations_table(
        results + [_res("ktnas", s, [10 + s, 5, 5], params=BASE) for s in range(6)], "sensitivity"
    )
    assert _row(table2, "ktnas-m1", "total")["reference"] == "ktnas"
    assert _row(table2, "ktnas-m1", "total")["p_raw"] == pytest.approx(0.03125)
    # where every variant has its default, the passed ktnas run is no row of the study
    with_default = [r for r in results if r.run != "ktnas-m1"]
    table3, _ = evaluations_table(
        with_default + [_res("ktnas", s, [1, 1, 1], params=BASE) for s in range(6)], "sensitivity"
    )
    assert list(dict.fromkeys(table3["run"])) == ["ktnas-r0.2", "ktnas-r0.5"]


# -- Fig. 5 --------------------------------------------------------------------------------------------


def _traced(method, seed, steps):
    """A multi-task result whose one task's trace has (n_queries, best_fitness) per generation."""
    trace = [
        {"generation": g, "n_queries": q, "best_fitness": f, "transferred": []}
        for g, (q, f) in enumerate(steps)
    ]
    task = TaskResult("cifar10", "x", steps[-1][1], len(steps), trace)
    return SearchResult("nb201", method, seed, {}, [task], "0", "x")


def test_best_so_far_is_a_step_function_on_the_grid():
    from ktnas.report.figures import best_so_far

    grid = np.array([5.0, 10, 15, 20, 25, 40])
    got = best_so_far(np.array([10, 20, 30]), np.array([1.0, 3.0, 2.0]), grid)
    np.testing.assert_allclose(got, [np.nan, 1, 1, 3, 3, 3])  # best so far: a later dip does not count


def test_convergence_frame_mean_and_t_interval_over_seeds():
    from scipy.stats import t

    from ktnas.report.figures import convergence_frame

    results = [_traced("ktnas", 0, [(10, 1.0), (20, 2.0)]), _traced("ktnas", 1, [(10, 3.0), (20, 4.0)])]
    results.append(_traced("ktnas", 2, [(10, 2.0), (20, 6.0), (30, 6.0)]))  # runs of different lengths
    df = convergence_frame(results, points=50).set_index("evaluations")
    assert df.index.min() == 10 and df.index.max() == 30
    half = t.ppf(0.975, 2) * np.std([2.0, 4.0, 6.0], ddof=1) / np.sqrt(3)
    assert df.loc[20, "mean"] == pytest.approx(4.0) and df.loc[25, "mean"] == pytest.approx(4.0)
    assert df.loc[20, "high"] - df.loc[20, "mean"] == pytest.approx(half)
    assert (df["n_seeds"] == 3).all()


def test_convergence_figure_writes_a_png(tmp_path):
    from ktnas.report.figures import FIGURES

    results = [
        _traced(m, s, [(10, 1.0 + s), (20, 2.0 + s), (40, 2.5 + s)])
        for m in ("ktnas", "mtnas")
        for s in (0, 1)
    ]
    out = tmp_path / "fig5.png"
    FIGURES["convergence"](results, None, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000


def test_convergence_refuses_traces_without_evaluation_counts():
    from ktnas.report.figures import convergence_frame

    res = _traced("ktnas", 0, [(10, 1.0)])
    del res.tasks[0].trace[0]["n_queries"]
    with pytest.raises(ValueError, match="lacks n_queries"):
        convergence_frame([res])


# -- Table III -----------------------------------------------------------------------------------------


def test_trans101_table_tests_avg_rank_and_keeps_the_paper_beside():
    from scipy.stats import wilcoxon

    from ktnas.benchmarks import load_benchmark
    from ktnas.report.trans101 import found_frame, trans101_table

    cells = list(load_benchmark("trans101").table.index)
    tasks = ["class_object", "class_scene", "room_layout"]

    def res(method, seed, cell):
        found = [TaskResult(t, cells[cell], 0.0) for t in tasks]
        return SearchResult("trans101", method, seed, {}, found, "0", "x")

    results = [res("ktnas", s, s) for s in range(7)] + [res("rea", s, 100 + 50 * s) for s in range(7)]
    results += [res("single", s, 3 * s) for s in range(7)]
    table, md = trans101_table(results)
    per = found_frame(results).groupby(["method", "seed"])["rank"].mean()
    expected = wilcoxon(per["rea"].to_numpy() - per["ktnas"].to_numpy()).pvalue
    rea = _row(table, "rea", "avg_rank")
    assert rea["p_raw"] == pytest.approx(expected) and rea["median"] == pytest.approx(per["rea"].median())
    assert rea["p_vs_ktnas"] >= rea["p_raw"]  # Holm over rea and single
    ktnas_line = next(line for line in md.splitlines() if line.startswith("| ktnas |"))
    cols = [c.strip() for c in ktnas_line.strip("|").split("|")]
    assert cols[2] == "46.07" and cols[8] == "5.50" and cols[-1] == "7"
    single_line = next(line for line in md.splitlines() if line.startswith("| single |"))
    assert [c.strip() for c in single_line.strip("|").split("|")][2] == "–"
    assert "| nsganetv2 |" not in md and "| optimum (searched cells) |" in md
