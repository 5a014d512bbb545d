"""LaNAS (Wang et al. 2021): learned good/bad splits, leaves that satisfy their path's constraints, UCB
selection, and the search loop's stops."""

from __future__ import annotations

import numpy as np
import pytest
from toys import problem, toy

from ktnas.baselines.encoding import one_hot_genes
from ktnas.baselines.lanas import LaNASNode, LatentActionTree, lanas
from ktnas.evaluator import BenchmarkProblem, Evaluator


@pytest.fixture
def encoded() -> tuple[np.ndarray, np.ndarray]:
    """(one-hot cells, linear fitness) of the toy space."""
    space, bench = toy()
    archs = space.all_archs()
    return one_hot_genes(space, archs), bench.table.loc[archs, "toy_valid"].to_numpy()


def _leaves(node: LaNASNode) -> list[LaNASNode]:
    if node.left is None or node.right is None:
        return [node]
    return _leaves(node.left) + _leaves(node.right)


def test_split_sends_the_better_samples_to_the_left(encoded: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = encoded
    rng = np.random.default_rng(0)
    held = rng.choice(len(y), size=60, replace=False)  # more samples than features: a real fit
    root = LatentActionTree(height=2, c=0.1).build(x[held], y[held], x[:0])
    assert root.left is not None and root.right is not None
    left, right = y[held][root.left.samples], y[held][root.right.samples]
    # on a linear objective the regressor is exact, so the split is "at least the node mean" by truth
    assert set(root.left.samples) == set(np.flatnonzero(y[held] >= y[held].mean()))
    assert left.min() > right.max() and left.mean() > right.mean()
    assert len(left) + len(right) == 60


def test_selected_leaf_satisfies_every_constraint_on_its_path(encoded: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = encoded
    rng = np.random.default_rng(1)
    held = rng.choice(len(y), size=80, replace=False)
    rest = np.setdiff1d(np.arange(len(y)), held)
    tree = LatentActionTree(height=4, c=0.1)
    root = tree.build(x[held], y[held], x[rest])
    assert sum(leaf.n_candidates for leaf in _leaves(root)) == len(rest)  # a partition of the unqueried
    leaves = {id(tree.select(np.random.default_rng(s))) for s in range(20)}
    checked = 0
    for leaf in _leaves(root):
        if id(leaf) not in leaves:
            continue
        assert leaf.depth == len(leaf.path()) and leaf.path()
        for node, turns_left in leaf.path():
            assert (node.goes_left(x[held][leaf.samples]) == turns_left).all()
            assert (node.goes_left(x[rest][leaf.candidates]) == turns_left).all()
        checked += 1
    assert checked >= 1


def test_without_exploration_the_search_descends_the_good_branch(
    encoded: tuple[np.ndarray, np.ndarray],
) -> None:
    x, y = encoded
    held = np.random.default_rng(2).choice(len(y), size=80, replace=False)
    rest = np.setdiff1d(np.arange(len(y)), held)
    tree = LatentActionTree(height=3, c=0.0)
    tree.build(x[held], y[held], x[rest])
    leaf = tree.select(np.random.default_rng(0))
    assert [left for _, left in leaf.path()] == [True, True]
    cand = tree.sample(leaf, np.random.default_rng(0))
    assert cand not in leaf.candidates and tree.root is not None
    assert tree.root.n_candidates == len(rest) - 1
    n_before = tree.root.n
    tree.backpropagate(leaf, float(y.max()))
    assert tree.root.n == n_before + 1 and leaf.mean <= 1.0


def test_lanas_beats_random_on_a_linear_objective_and_is_deterministic() -> None:
    space, bench = toy()
    found = []
    for seed in range(4):
        runs = [lanas(space, problem(bench, space, 400, True), np.random.default_rng(seed)) for _ in range(2)]
        assert runs[0] == runs[1]
        assert runs[0].found_at == runs[0].n_queries  # stops at the optimum
        found.append(runs[0].found_at)
    # random search needs ~200 queries on average here
    assert np.mean(found) < 120


def test_lanas_on_trans101_spends_exactly_the_budget() -> None:
    from ktnas.benchmarks import get_task, load_benchmark
    from ktnas.recipes.base import searchable_space

    bench = load_benchmark("trans101")
    space = searchable_space("trans101", bench)
    prob = BenchmarkProblem(Evaluator(bench, get_task("room_layout"), space.all_archs()), 50, False)
    out = lanas(space, prob, np.random.default_rng(0))
    assert out.n_queries == 50 and len(set(prob.evaluator.queried)) == 50
    assert out.best_arch in space


@pytest.mark.parametrize(("kwargs", "match"), [({"height": 0}, "height"), ({"c": -1.0}, "c must be")])
def test_lanas_rejects_bad_hyper_parameters(kwargs: dict, match: str) -> None:
    space, bench = toy(50)
    with pytest.raises(ValueError, match=match):
        lanas(space, problem(bench, space, 10, False), np.random.default_rng(0), **kwargs)
