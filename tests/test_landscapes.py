"""The main NAS-Bench-201 comparison on several fitness landscapes: the landscape parameter, the runs the
config asks for, the landscape table and the results page's section (issue: one landscape only)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ktnas.benchmarks import get_task, load_benchmark
from ktnas.plan import space_runs
from ktnas.recipes import get_recipe
from ktnas.report.nb201 import landscape_table
from ktnas.report.results_page import FAILS, HOLDS, read_landscapes, results_page
from ktnas.report.spaces import page_specs
from ktnas.report.tables import csv_text
from ktnas.results import SearchResult, TaskResult
from ktnas.runner import run_search

TASKS = ["cifar10", "cifar100", "imagenet16"]
SPECS = page_specs()


def test_a_task_on_another_landscape_reads_that_column_and_unknown_ones_are_refused() -> None:
    load_benchmark("nb201")
    spec = get_task("cifar10")
    assert spec.on(None) is spec
    assert spec.on("test_acc").fitness_column == "cifar10_test_acc"
    assert spec.on("valid_acc_12ep").fitness_column == "cifar10_valid_acc_12ep"
    with pytest.raises(ValueError, match="fitness 'train_acc' is not a landscape of task cifar10"):
        spec.on("train_acc")
    load_benchmark("trans101")
    with pytest.raises(ValueError, match="not a landscape of task class_object"):
        get_task("class_object").on("test_acc")


def test_a_search_on_the_test_landscape_stops_at_the_test_optimum() -> None:
    bench = load_benchmark("nb201").table
    res = run_search("nb201", "rs", 0, ["cifar10"], {"fitness": "test_acc"})
    best = res.tasks[0].best_arch
    assert bench.loc[best, "cifar10_test_acc"] == bench["cifar10_test_acc"].max()
    assert res.params["fitness"] == "test_acc"
    default = run_search("nb201", "rs", 0, ["cifar10"])
    assert default.params["fitness"] is None
    assert bench.loc[default.tasks[0].best_arch, "cifar10_valid_acc"] == bench["cifar10_valid_acc"].max()


def test_config_runs_the_listed_methods_on_each_landscape_and_checks_the_names() -> None:
    recipe = get_recipe("nb201")
    section = {
        "tasks": TASKS,
        "seeds": 3,
        "methods": {"rea": {}, "ktnas": {}},
        "landscapes": {"seeds": 2, "fitness": ["valid_acc", "test_acc"], "methods": ["rea", "ktnas"]},
    }
    runs = space_runs(recipe, {"nb201": section})
    land = {n: r for n, r in runs.items() if r.study == "landscapes"}
    assert set(land) == {
        "land-valid_acc-rea",
        "land-valid_acc-ktnas",
        "land-test_acc-rea",
        "land-test_acc-ktnas",
    }
    assert land["land-test_acc-ktnas"].params["fitness"] == "test_acc" and land[
        "land-test_acc-ktnas"
    ].seeds == (0, 1)
    assert "fitness" not in runs["ktnas"].params  # the main runs keep the default landscape
    with pytest.raises(ValueError, match=r"nb201.landscapes.methods: 'mtnas' is not in nb201.methods"):
        space_runs(
            recipe, {"nb201": {**section, "landscapes": {**section["landscapes"], "methods": ["mtnas"]}}}
        )
    moved = space_runs(recipe, {"nb201": {**section, "fitness": "valid_acc_12ep"}})
    assert moved["rea"].params["fitness"] == "valid_acc_12ep"  # the space's landscape for every run
    with pytest.raises(ValueError, match="fitness 'test_acc' is not a landscape of trans101"):
        get_recipe("trans101").check_params(
            "trans101.methods.rea", "rea", ["class_object"], {"fitness": "test_acc"}
        )


def test_the_recipe_knows_the_benchmark_s_landscapes_without_loading_it() -> None:
    from ktnas.benchmarks.nb201 import LANDSCAPES

    assert get_recipe("nb201").landscapes == LANDSCAPES


def _res(method: str, seed: int, total: int, fitness: str | None) -> SearchResult:
    tasks = [
        TaskResult(t, "a", 1.0, extra={"found_at": v, "n_queries": v})
        for t, v in zip(TASKS, (total - 2, 1, 1), strict=True)
    ]
    return SearchResult("nb201", method, seed, {"fitness": fitness}, tasks, "0", "x")


def _landscape_results() -> list[SearchResult]:
    """valid_acc: ktnas always 5 below single and ktnas_random; test_acc: ktnas 5 above both."""
    out = []
    for s in range(8):
        out += [
            _res("single", s, 40 + s, None),
            _res("ktnas_random", s, 41 + s, None),
            _res("ktnas", s, 35 + s, None),
        ]
        out += [_res("single", s, 40 + s, "test_acc"), _res("ktnas_random", s, 41 + s, "test_acc")]
        out += [_res("ktnas", s, 45 + s, "test_acc")]
    return out


def test_landscape_table_tests_against_single_and_ktnas_within_each_landscape() -> None:
    table, md = landscape_table(_landscape_results())
    assert list(dict.fromkeys(table["landscape"])) == ["valid_acc", "test_acc"]
    total = table[table["task"] == "total"].set_index(["landscape", "method"])
    assert total.loc[("valid_acc", "ktnas"), "mean"] == pytest.approx(38.5)
    # 8 paired differences of the same sign: exact two-sided p = 2 / 2**8, Holm over 2 rows
    assert total.loc[("valid_acc", "ktnas"), "p_single_raw"] == pytest.approx(2 / 2**8)
    assert total.loc[("valid_acc", "ktnas"), "p_vs_single"] == pytest.approx(2 * 2 / 2**8)
    assert total.loc[("test_acc", "single"), "p_vs_ktnas"] == pytest.approx(2 * 2 / 2**8)
    assert np.isnan(total.loc[("test_acc", "single"), "p_vs_single"])
    assert "| ktnas | 38.5* |" in md and "test_acc: mean" in md


def test_the_page_decides_each_claim_on_each_landscape(tmp_path) -> None:
    table, _ = landscape_table(_landscape_results())
    path = tmp_path / "nb201_landscapes.csv"
    path.write_text(csv_text(table))
    assert pd.read_csv(path)["p_single_raw"].min() == pytest.approx(
        2 / 2**8, rel=1e-3
    )  # 4 significant digits
    lands = read_landscapes(path, SPECS)
    assert list(lands) == ["valid_acc", "test_acc"] and lands["test_acc"].headline == "total"
    page = results_page([], SPECS, None, [path])
    section = page.split("## The claims on other fitness landscapes")[1]
    row = next(line for line in section.splitlines() if line.startswith("| (b) KTNAS beats KTNAS without"))
    assert row.endswith(f"| {HOLDS} | {FAILS} |")  # lower on valid_acc, higher on test_acc
    assert "(e)" not in section.split("Against single")[0]  # decided on transfer traces, not on a table
    with pytest.raises(ValueError, match="not a landscape table"):
        other = tmp_path / "x.csv"
        pd.DataFrame({"method": ["a"], "task": ["total"]}).to_csv(other, index=False)
        read_landscapes(other, SPECS)
