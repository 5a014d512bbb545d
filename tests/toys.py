"""Small test fixtures shared by several test modules: a linear toy benchmark on NAS-Bench-201 cells
and a one-hot token distance (imported as ``from toys import ...``; pytest puts ``tests/`` on the path)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from ktnas.benchmarks import Benchmark, Direction, TaskSpec
from ktnas.evaluator import BenchmarkProblem, Evaluator
from ktnas.spaces import get_space
from ktnas.spaces.base import SearchSpace
from ktnas.spaces.restricted import RestrictedSpace

TOY_TASK = TaskSpec("toy", "nb201", "toy_valid", "toy_valid", Direction.MAXIMIZE, "linear toy objective")


def toy(n_cells: int = 400, seed: int = 0) -> tuple[RestrictedSpace, Benchmark]:
    """``n_cells`` random NAS-Bench-201 cells whose fitness is a random linear function of the ops."""
    base = get_space("nb201")
    rng = np.random.default_rng(seed)
    cells = [base.from_index(int(i)) for i in rng.choice(15625, size=n_cells, replace=False)]
    space = RestrictedSpace(base, cells)
    archs = space.all_archs()
    weight = rng.normal(size=(6, 5))
    fit = [sum(weight[k, g] for k, g in enumerate(space.genes(a))) for a in archs]
    table = pd.DataFrame({"toy_valid": fit}, index=pd.Index(archs, name="arch"))
    return space, Benchmark("nb201", table, "toy")


def problem(bench: Benchmark, space: RestrictedSpace, budget: int, stop: bool) -> BenchmarkProblem:
    return BenchmarkProblem(Evaluator(bench, TOY_TASK, space.all_archs()), budget, stop)


def onehot_distance(space: SearchSpace) -> Callable[[Sequence[str], Sequence[str]], np.ndarray]:
    """1 − cosine of the normalised one-hot token vectors: a cheap stand-in for an embedding table."""
    vocab = {t: i for i, t in enumerate(space.vocabulary()[0])}

    def vec(a: str) -> np.ndarray:
        v = np.zeros(len(vocab))
        for t in space.tokens(a)[0]:
            v[vocab[t]] = 1
        return v / np.linalg.norm(v)

    def dist(a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        return 1 - np.array([vec(x) for x in a]) @ np.array([vec(y) for y in b]).T

    return dist
