"""Shared pieces of the WeakNAS, LaNAS and NSGA-NetV2 baselines: the whole-space encoding, the top-k
ranking, and searches reproducible from their seed (docs/reproduction.md §4)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from toys import problem, toy

from ktnas.baselines.encoding import encoded_space, one_hot_genes
from ktnas.baselines.lanas import lanas
from ktnas.baselines.nsganetv2 import nsganetv2, one_hot
from ktnas.baselines.weaknas import top_ranked, weaknas
from ktnas.spaces import get_space


@pytest.mark.parametrize("size", [1, 5, 37, 199, 200, 400])
def test_top_ranked_is_the_prefix_of_the_stable_argsort(size: int) -> None:
    rng = np.random.default_rng(size)
    pred = np.round(rng.normal(size=200), 1)  # many ties
    assert np.array_equal(top_ranked(pred, size), np.argsort(-pred, kind="stable")[:size])
    pred[rng.choice(200, size=150, replace=False)] = np.nan  # the partition's pivot can be NaN
    pred[:3] = [np.inf, -np.inf, np.inf]
    assert np.array_equal(top_ranked(pred, size), np.argsort(-pred, kind="stable")[:size])


def test_encoded_space_is_read_once_and_equals_the_one_hot_encodings() -> None:
    space = get_space("nb201")
    archs, x, row = encoded_space(space)
    assert archs == space.all_archs() and encoded_space(space)[1] is x
    assert not x.flags.writeable
    assert np.array_equal(x, one_hot_genes(space, archs)) and np.array_equal(x, one_hot(space, archs))
    assert all(row[a] == i for i, a in enumerate(archs[:500]))
    small, _ = toy(50)
    assert encoded_space(small)[1].shape[0] == 50  # another cell set, another entry


@pytest.mark.parametrize("method", ["weaknas", "lanas", "nsganetv2"])
@pytest.mark.parametrize("stop", [True, False])
def test_baselines_are_reproducible_from_their_seed(method: str, stop: bool) -> None:
    """The same seed gives the same result and the same queries, however much of the process's caches
    (encodings, neighbour lists) the first run filled; another seed gives other queries."""
    space, bench = toy(300, seed=2)

    def run(seed: int) -> Any:
        rng = np.random.default_rng(seed)
        if method == "weaknas":
            prob = problem(bench, space, 60, stop)
            out = weaknas(space, prob, rng, top_n=20)
        elif method == "lanas":
            prob = problem(bench, space, 80, stop)
            out = lanas(space, prob, rng)
        else:
            prob = problem(bench, space, 40, stop)
            out = nsganetv2(space, prob, rng, pop_size=10, generations=3, n_folds=4)
        return out, list(prob.evaluator.queried)

    first = run(0)
    assert run(0) == first
    assert run(1)[1] != first[1]
