"""The WeakNAS, LaNAS and NSGA-NetV2 baselines made cheaper compute the same floats and draw the same random
numbers as before: the old code paths kept in ``scripts/baselines_speed.py`` against the current ones on
toy problems (the script itself checks the benchmark searches, docs/method.md §7.3)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

import numpy as np
import pytest
from toys import problem, toy

from ktnas.baselines.encoding import encoded_space, one_hot_genes
from ktnas.baselines.nsganetv2 import nsganetv2, one_hot
from ktnas.baselines.weaknas import _MLP, top_ranked, weaknas
from ktnas.spaces import get_space
from ktnas.spaces.restricted import RestrictedSpace

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "baselines_speed.py"


@pytest.fixture(scope="module")
def speed() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("baselines_speed", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["baselines_speed"] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules["baselines_speed"]


@pytest.mark.parametrize(("n", "hidden"), [(7, (64, 64)), (60, (64, 64)), (25, (8,)), (30, (16, 8, 4))])
def test_mlp_matches_the_per_layer_adam_loop_bit_for_bit(speed: ModuleType, n: int, hidden: tuple) -> None:
    rng = np.random.default_rng(n)
    x = np.eye(30)[rng.integers(0, 30, size=n)] + np.eye(30)[rng.integers(0, 30, size=n)]
    y = rng.normal(size=n)
    new = _MLP(hidden, 40, 1e-2, 1e-4).fit(x, y, np.random.default_rng(1))
    old = speed.OldMLP(hidden, 40, 1e-2, 1e-4).fit(x, y, np.random.default_rng(1))
    for a, b in zip([*new.weights, *new.biases], [*old.weights, *old.biases], strict=True):
        assert np.array_equal(a, b)
    queries = np.eye(30)[rng.integers(0, 30, size=200)]
    assert np.array_equal(new.predict(queries), old.predict(queries))


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


def _runs(speed: ModuleType, method: str, run: Callable[[], Any]) -> tuple[Any, Any]:
    patches = [mock.patch.object(obj, name, value) for obj, name, value in speed.OLD[method]]
    for p in patches:
        p.start()
    try:
        old = run()
    finally:
        for p in patches:
            p.stop()
    return old, run()


@pytest.mark.parametrize("stop", [True, False])
def test_old_and_new_paths_give_identical_results_on_a_toy(speed: ModuleType, stop: bool) -> None:
    space, bench = toy(300, seed=2)
    for seed in range(2):

        def run_weaknas(seed: int = seed) -> Any:
            return weaknas(space, problem(bench, space, 60, stop), np.random.default_rng(seed), top_n=20)

        def run_lanas(seed: int = seed) -> Any:
            prob = problem(bench, space, 80, stop)
            return speed.lanas_mod.lanas(space, prob, np.random.default_rng(seed)), prob.evaluator.queried

        def run_nsganetv2(seed: int = seed) -> Any:
            prob = problem(bench, space, 40, stop)
            out = nsganetv2(space, prob, np.random.default_rng(seed), pop_size=10, generations=3, n_folds=4)
            return out, prob.evaluator.queried

        for method, run in (("weaknas", run_weaknas), ("lanas", run_lanas), ("nsganetv2", run_nsganetv2)):
            old, new = _runs(speed, method, run)
            assert old == new, method


def test_cached_repair_draws_what_rng_choice_drew(speed: ModuleType) -> None:
    from ktnas.benchmarks import load_benchmark
    from ktnas.recipes.base import searchable_space

    space = searchable_space("trans101", load_benchmark("trans101"))
    assert isinstance(space, RestrictedSpace)
    base = space.base
    outside = [a for a in base.all_archs() if a not in space][:40]
    new_rng, old_rng = np.random.default_rng(0), np.random.default_rng(0)
    for arch in outside * 3:  # the second and third rounds hit the cache
        assert space.repair(arch, new_rng) == speed.old_repair(space, arch, old_rng)
    assert new_rng.bit_generator.state == old_rng.bit_generator.state
