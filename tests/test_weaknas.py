"""WeakNAS (Wu et al. 2021): shrinking sample space, queries drawn from it, budget/optimum stops; the
shared one-hot gene encoding."""

from __future__ import annotations

import numpy as np
import pytest
from toys import problem, toy

from ktnas.baselines.encoding import one_hot_genes
from ktnas.baselines.weaknas import weaknas, weaknas_steps
from ktnas.evaluator import BenchmarkProblem, Evaluator
from ktnas.spaces import get_space


def test_one_hot_genes_marks_one_op_per_edge() -> None:
    space = get_space("nb201")
    uniform = [f"|{op}~0|+|{op}~0|{op}~1|+|{op}~0|{op}~1|{op}~2|" for op in space.ops]
    archs = [*uniform, space.from_index(6111)]  # every op on every edge, plus a mixed cell
    x = one_hot_genes(space, archs)
    assert x.shape == (6, 30)
    assert (x.reshape(6, 6, 5).sum(axis=2) == 1).all()
    for row, a in zip(x.reshape(6, 6, 5), archs, strict=True):
        assert tuple(row.argmax(axis=1)) == space.genes(a)
    with pytest.raises(ValueError, match="at least one architecture"):
        one_hot_genes(space, [])


def test_sample_space_shrinks_and_queries_come_from_it() -> None:
    space, bench = toy()
    prob = problem(bench, space, budget=80, stop=False)
    steps = list(weaknas_steps(space, prob, np.random.default_rng(1), n_init=10, n_per_iter=5, top_n=20))
    sizes = [len(s.sample_space) for s in steps]
    assert sizes[:6] == [400, 200, 100, 50, 25, 20]  # halving, then the top-N floor
    assert all(b < a for a, b in zip(sizes[:5], sizes[1:6], strict=True))
    assert set(sizes[5:]) == {20}
    seen: set[str] = set()
    for step in steps:
        assert set(step.queried) <= set(step.sample_space)  # drawn from the current P_k ...
        assert not set(step.sample_space) & seen  # ... which only holds unqueried cells
        seen |= set(step.queried)
    assert len(seen) == prob.evaluator.n_queries == 80  # stops exactly at the budget, no repeats


def test_weaknas_finds_optimum_of_a_linear_objective_fast_and_deterministically() -> None:
    space, bench = toy()
    found = []
    for seed in range(4):
        runs = [
            weaknas(space, problem(bench, space, 400, True), np.random.default_rng(seed), top_n=10)
            for _ in range(2)
        ]
        assert runs[0] == runs[1]
        assert runs[0].found_at == runs[0].n_queries  # stops at the optimum
        assert runs[0].best_fitness == pytest.approx(bench.table["toy_valid"].max())
        found.append(runs[0].found_at)
    # random search needs ~200 queries on average here, and so would a predictor that ranks at random
    assert np.mean(found) < 60


def test_weaknas_on_trans101_spends_exactly_the_budget() -> None:
    from ktnas.benchmarks import get_task, load_benchmark
    from ktnas.recipes.base import searchable_space

    bench = load_benchmark("trans101")
    space = searchable_space("trans101", bench)
    prob = BenchmarkProblem(Evaluator(bench, get_task("class_scene"), space.all_archs()), 50, False)
    out = weaknas(space, prob, np.random.default_rng(0))
    assert out.n_queries == 50 and len(set(prob.evaluator.queried)) == 50
    assert out.best_arch in space


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"shrink": 1.0}, "shrink"), ({"n_per_iter": 0}, "n_per_iter"), ({"hidden": ()}, "hidden")],
)
def test_weaknas_rejects_bad_hyper_parameters(kwargs: dict, match: str) -> None:
    space, bench = toy(50)
    with pytest.raises(ValueError, match=match):
        weaknas(space, problem(bench, space, 10, False), np.random.default_rng(0), **kwargs)
