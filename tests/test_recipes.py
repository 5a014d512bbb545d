"""A fourth space plugs in as one recipe and one registry entry (plus its tables and their registry entry):
the loop, the runner, the CLI and the table command serve it unchanged (docs/reproduction.md §2.5)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from ktnas import recipes
from ktnas.cli import main
from ktnas.params import BenchmarkParams
from ktnas.recipes.base import Recipe, SearchPaths, Setup
from ktnas.report.results_page import TableSpec
from ktnas.report.spaces import TABLES
from ktnas.results import SearchResult
from ktnas.search.problem import Problem
from ktnas.search.reproduction import ProxyREA
from ktnas.spaces.base import SearchSpace

N_BITS = 8


class BitSpace(SearchSpace):
    """Bit strings of length 8 ("01101001"); mutation flips one bit."""

    name: ClassVar[str] = "bits"
    expected_form: ClassVar[str] = "eight characters 0/1"

    def _parse(self, arch: str) -> tuple[int, ...]:
        if len(arch) != N_BITS or set(arch) - {"0", "1"}:
            raise ValueError("not 8 bits")
        return tuple(int(c) for c in arch)

    def _format(self, genes: tuple[int, ...]) -> str:
        return "".join(map(str, genes))

    def sample(self, rng: np.random.Generator) -> str:
        return self._format(tuple(int(b) for b in rng.integers(0, 2, N_BITS)))

    def mutate(self, arch: str, rng: np.random.Generator) -> str:
        g = list(self._parse(arch))
        i = int(rng.integers(N_BITS))
        g[i] = 1 - g[i]
        return self._format(tuple(g))

    def crossover(self, a: str, b: str, rng: np.random.Generator) -> tuple[str, str]:
        return a[:4] + b[4:], b[:4] + a[4:]

    def to_graph(self, arch: str) -> nx.DiGraph:
        g = nx.DiGraph()
        g.add_nodes_from((i, {"token": f"{i}:{c}"}) for i, c in enumerate(arch))
        return g

    def tokens(self, arch: str) -> list[list[str]]:
        return [[f"{i}:{c}" for i, c in enumerate(arch)]]

    def vocabulary(self) -> list[list[str]]:
        return [[f"{i}:{c}" for i in range(N_BITS) for c in "01"]]


class OneMax(Problem):
    """Fitness = number of bits equal to the task's target string; stops at the target."""

    def __init__(self, name: str, target: str) -> None:
        self.name, self.target, self.evaluated = name, target, 0
        self.found = False

    def _fit(self, archs: Sequence[str]) -> list[float]:
        self.evaluated += len(archs)
        fits = [float(sum(a == b for a, b in zip(x, self.target, strict=True))) for x in archs]
        self.found = self.found or N_BITS in fits
        return fits

    def evaluate_initial(self, archs: Sequence[str]) -> list[float]:
        return self._fit(archs)

    def evaluate_generation(
        self, generation: int, parents: Sequence[str], transferred: Sequence[str], offspring: Sequence[str]
    ) -> tuple[list[float] | None, list[float]]:
        return None, self._fit(offspring)

    def finished(self) -> bool:
        return self.found

    def summary(self) -> dict[str, Any]:
        return {"evaluated": self.evaluated}


class BitsRecipe(Recipe):
    name: ClassVar[str] = "bits"
    description: ClassVar[str] = "toy space: OneMax towards a per-task target string"
    params_class: ClassVar[type[BenchmarkParams]] = BenchmarkParams
    TARGETS: ClassVar[dict[str, str]] = {"a": "11110000", "b": "11111000", "c": "01110000"}

    def task_groups(self) -> dict[str, tuple[str, ...]]:
        return {"all": tuple(self.TARGETS)}

    def setup(self, tasks: Sequence[str], hp: Any, seed: int, paths: SearchPaths) -> Setup:
        return Setup(BitSpace(), [OneMax(t, self.TARGETS[t]) for t in tasks])

    def reproduction(self, setup: Setup, tasks: Sequence[str], hp: Any, paths: SearchPaths) -> Any:
        return ProxyREA(None, hp.tournament_size)

    def distance(self, paths: SearchPaths) -> Any:
        def hamming(a: Sequence[str], b: Sequence[str]) -> np.ndarray:
            return np.array([[sum(x != y for x, y in zip(u, v, strict=True)) / N_BITS for v in b] for u in a])

        return hamming


def bits_table(
    inputs: Sequence[Path], study: str, benchmark: str | Path | None, versus: str | None = None
) -> tuple[pd.DataFrame, str]:
    rows = [
        {"method": r.method, "seed": r.seed, "task": t.task, "evaluated": t.extra["evaluated"]}
        for r in map(SearchResult.load, inputs)
        for t in r.tasks
    ]
    df = pd.DataFrame(rows).groupby(["method", "task"], as_index=False)["evaluated"].mean()
    return df, df.to_string()


@pytest.fixture
def bits(monkeypatch):
    monkeypatch.setitem(recipes.RECIPES, "bits", BitsRecipe)
    monkeypatch.setitem(TABLES, "bits", TableSpec(bits_table))


@pytest.mark.parametrize("method", ["single", "ktnas_random", "emtnas", "ktnas"])
def test_a_toy_space_runs_every_multitask_method_through_the_one_runner(bits, method):
    from ktnas.runner import run_search

    result = run_search("bits", method, 0, ["a", "b", "c"], {"generations": 30, "population_size": 6})
    assert [t.task for t in result.tasks] == ["a", "b", "c"]
    for t in result.tasks:
        assert t.best_fitness == N_BITS and t.best_arch == BitsRecipe.TARGETS[t.task]  # OneMax is easy
        assert t.extra["evaluated"] >= 6 and len(t.trace or []) == t.generations
    again = run_search("bits", method, 0, ["a", "b", "c"], {"generations": 30, "population_size": 6})
    assert again.to_dict() == result.to_dict()


def test_a_toy_space_through_the_cli_search_and_table(bits, tmp_path):
    outs = []
    for seed in (0, 1):
        out = tmp_path / "ktnas" / f"seed{seed}.json"
        args = ["search", "--space", "bits", "--method", "ktnas", "--seed", str(seed), "--tasks", "a,b",
                "--params", json.dumps({"generations": 20, "population_size": 6}), "--out", str(out)]  # fmt: skip
        assert main(args) == 0
        outs.append(out)
    csv, md = tmp_path / "t.csv", tmp_path / "t.md"
    args = [
        "table",
        "--space",
        "bits",
        "--inputs",
        *map(str, outs),
        "--out-csv",
        str(csv),
        "--out-md",
        str(md),
    ]
    assert main(args) == 0
    assert pd.read_csv(csv)["task"].tolist() == ["a", "b"]


def test_single_task_benchmark_methods_refuse_a_space_without_a_counted_benchmark(bits):
    from ktnas.runner import run_search

    with pytest.raises(ValueError, match="'rea' is a single-task benchmark search; space bits"):
        run_search("bits", "rea", 0, ["a", "b"])
