"""Predictor-based single-task baselines on toy cell spaces: the neural predictor (Wen et al. 2020) and
single-objective NSGA-NetV2 (Lu et al. 2020)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import pytest

from ktnas.baselines.neural_predictor import neural_predictor
from ktnas.baselines.nsganetv2 import (
    CubicRBF,
    GaussianProcess,
    Ridge,
    adaptive_switching,
    kendall_tau,
    nsganetv2,
    one_hot,
)
from ktnas.benchmarks import Benchmark, Direction, TaskSpec
from ktnas.evaluator import BenchmarkProblem, Evaluator
from ktnas.spaces.restricted import RestrictedSpace
from ktnas.spaces.trans101 import Trans101Space

BASE = Trans101Space()
TASK = TaskSpec("toy", "trans101", "acc", "acc", Direction.MAXIMIZE, "toy accuracy")


def toy(
    free: int, n_ops: int, fitness: Callable[[tuple[int, ...]], float]
) -> tuple[RestrictedSpace, Benchmark]:
    """Trans101 cells whose first ``free`` edges take ops 0..n_ops-1 (the others skip), with a table."""
    cells = [BASE._format(g + (1,) * (6 - free)) for g in itertools.product(range(n_ops), repeat=free)]
    table = pd.DataFrame({"arch": cells, "acc": [fitness(BASE.genes(c)) for c in cells]})
    return RestrictedSpace(BASE, cells), Benchmark("trans101", table.set_index("arch", drop=False), "toy")


def problem(space: RestrictedSpace, bench: Benchmark, budget: int, stop: bool) -> BenchmarkProblem:
    return BenchmarkProblem(Evaluator(bench, TASK, space.all_archs()), budget, stop)


def smooth(g: tuple[int, ...]) -> float:
    """A learnable landscape with one optimum: ops closer to 2 are better, earlier edges matter more."""
    return float(-sum((3 - k) * abs(x - 2) for k, x in enumerate(g[:3])) - 0.1 * g[3])


# -- neural predictor --------------------------------------------------------------------------------
class Planted:
    """A 'predictor' that learns nothing: seeded random scores; it records what it saw."""

    log: list[tuple[list[str], dict[str, float]]] = []

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def fit(self, archs: Sequence[str], y: np.ndarray) -> Planted:
        self.train = list(archs)
        return self

    def predict(self, archs: Sequence[str]) -> np.ndarray:
        out = self.rng.random(len(archs))
        Planted.log.append((self.train, dict(zip(archs, out.tolist(), strict=True))))
        return out


def test_neural_predictor_queries_best_predicted_unseen_cells() -> None:
    space, bench = toy(3, 4, smooth)
    p = problem(space, bench, budget=40, stop=False)
    Planted.log = []
    out = neural_predictor(
        space, p, np.random.default_rng(0), n_initial=10, batch_size=7, make_predictor=Planted
    )
    queried = p.evaluator.queried
    assert out.n_queries == len(queried) == 40 and len(set(queried)) == 40
    assert len(Planted.log) == 5  # rounds after the initial 10: 7 + 7 + 7 + 7 + 2
    done = 10
    for train, pred in Planted.log:
        assert train == queried[:done]  # refitted on every cell queried so far
        batch = queried[done : done + 7]
        for k, arch in enumerate(batch):
            unseen = [a for a in space.all_archs() if a not in set(queried[: done + k])]
            assert arch == max(unseen, key=lambda a: pred[a])  # the best-predicted unseen cell
        done += len(batch)


def test_neural_predictor_gcn_stops_at_optimum_and_is_deterministic() -> None:
    space, bench = toy(3, 4, smooth)
    runs = []
    for _ in range(2):
        p = problem(space, bench, budget=64, stop=True)
        runs.append(
            neural_predictor(space, p, np.random.default_rng(3), n_initial=8, batch_size=8, epochs=20)
        )
    assert runs[0] == runs[1]
    assert runs[0].found_at == runs[0].n_queries <= 64
    assert runs[0].best_fitness == pytest.approx(-0.1)


def test_neural_predictor_rejects_bad_input() -> None:
    space, bench = toy(2, 4, smooth)
    with pytest.raises(ValueError, match="batch_size"):
        neural_predictor(space, problem(space, bench, 10, False), np.random.default_rng(0), batch_size=0)
    with pytest.raises(ValueError, match="n_initial"):
        neural_predictor(space, problem(space, bench, 10, False), np.random.default_rng(0), n_initial=1)
    from ktnas.spaces.darts import DartsSpace

    with pytest.raises(ValueError, match="not enumerable"):
        neural_predictor(DartsSpace(), problem(space, bench, 10, False), np.random.default_rng(0))


# -- NSGA-NetV2 ----------------------------------------------------------------------------------------
class Linear:
    """A planted surrogate: a fixed linear score of the one-hot encoding, whatever the data."""

    def __init__(self, w: np.ndarray, log: list[int] | None = None) -> None:
        self.w, self.log = w, log

    def fit(self, x: np.ndarray, y: np.ndarray) -> Linear:
        if self.log is not None:
            self.log.append(len(y))
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return x @ self.w


def test_nsganetv2_inner_search_optimises_the_surrogate_not_the_table() -> None:
    # the table rewards op 2 everywhere; the planted surrogate rewards op 0, so they disagree
    space, bench = toy(4, 3, lambda g: float(sum(x == 2 for x in g[:4])))
    cells = space.all_archs()
    x_all = one_hot(space, cells)
    w = np.random.default_rng(1).normal(size=x_all.shape[1]) * 0.01
    w[[0, 3, 6, 9]] += 1.0  # op 0 of each free edge: the encoding starts with 4 blocks of 3 ops
    surrogate_score = dict(zip(cells, (x_all @ w).tolist(), strict=True))
    p = problem(space, bench, budget=12 + 3 * 5, stop=False)
    nsganetv2(
        space,
        p,
        np.random.default_rng(0),
        n_initial=12,
        batch_size=5,
        pop_size=10,
        generations=15,
        make_surrogate=lambda: Linear(w),
    )
    queried = p.evaluator.queried
    for it in range(3):
        before = set(queried[: 12 + 5 * it])
        picks = queried[12 + 5 * it : 12 + 5 * (it + 1)]
        best_unseen = sorted((c for c in cells if c not in before), key=lambda c: -surrogate_score[c])[:5]
        assert set(picks) == set(best_unseen)
    # ... which the table ranks worst: the search never improved on its initial archive
    fit = dict(zip(cells, bench.table["acc"].tolist(), strict=True))
    assert max(fit[c] for c in queried[12:]) <= max(fit[c] for c in queried[:12])


def test_nsganetv2_archive_grows_by_the_batch_size() -> None:
    space, bench = toy(3, 4, smooth)
    sizes: list[int] = []
    p = problem(space, bench, budget=10 + 4 * 6, stop=False)
    w = np.zeros(one_hot(space, space.all_archs()).shape[1])
    nsganetv2(
        space,
        p,
        np.random.default_rng(2),
        n_initial=10,
        batch_size=6,
        pop_size=8,
        generations=3,
        make_surrogate=lambda: Linear(w, sizes),
    )
    assert sizes == [10, 16, 22, 28]
    assert p.evaluator.n_queries == 34 and len(set(p.evaluator.queried)) == 34


def test_nsganetv2_adaptive_switching_run_is_deterministic_and_finds_optimum() -> None:
    space, bench = toy(3, 4, smooth)
    runs = []
    for _ in range(2):
        p = problem(space, bench, budget=64, stop=True)
        runs.append(nsganetv2(space, p, np.random.default_rng(5), n_initial=10, pop_size=10, generations=5))
    assert runs[0] == runs[1]
    assert runs[0].found_at == runs[0].n_queries
    assert runs[0].best_fitness == pytest.approx(-0.1)


class Noise:
    def fit(self, x: np.ndarray, y: np.ndarray) -> Noise:
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.random.default_rng(len(x)).random(len(x))


def test_adaptive_switching_picks_the_surrogate_that_ranks_best() -> None:
    rng = np.random.default_rng(0)
    x = np.eye(4)[rng.integers(4, size=(60, 5))].reshape(60, 20)
    y = x @ rng.normal(size=20)
    model = adaptive_switching(x, y, [Noise, Ridge], 10, np.random.default_rng(1))
    assert isinstance(model, Ridge)
    model = adaptive_switching(x, y, [Ridge, Noise], 10, np.random.default_rng(1))
    assert isinstance(model, Ridge)


def test_adaptive_switching_on_a_small_archive() -> None:
    """25 cells in 10 folds (TransNAS-Bench-101's archive): folds of 2 and 3 points still score."""
    rng = np.random.default_rng(0)
    x = np.eye(4)[rng.integers(4, size=(25, 6))].reshape(25, 24)
    y = x @ rng.normal(size=24)
    model = adaptive_switching(x, y, [CubicRBF, GaussianProcess, Ridge], 10, np.random.default_rng(1))
    assert type(model) in (CubicRBF, GaussianProcess, Ridge)


def test_kendall_tau_matches_scipy() -> None:
    from scipy.stats import kendalltau

    rng = np.random.default_rng(0)
    for n in (2, 3, 7, 40):
        a, b = rng.integers(5, size=n).astype(float), rng.normal(size=n)  # ties in a
        ref = kendalltau(a, b).statistic
        assert kendall_tau(a, b) == pytest.approx(ref) or (np.isnan(ref) and np.isnan(kendall_tau(a, b)))
    assert np.isnan(kendall_tau(np.ones(4), np.arange(4.0)))


@pytest.mark.parametrize("make", [CubicRBF, GaussianProcess, Ridge])
def test_surrogates_learn_a_landscape(make: Callable[[], object]) -> None:
    from scipy.stats import kendalltau

    space, bench = toy(4, 4, lambda g: float(-sum((4 - k) * abs(x - 2) for k, x in enumerate(g[:4]))))
    cells = space.all_archs()
    x = one_hot(space, cells)
    y = bench.table.loc[cells, "acc"].to_numpy()
    train = np.random.default_rng(0).permutation(len(cells))[:60]
    test = np.setdiff1d(np.arange(len(cells)), train)
    model = make().fit(x[train], y[train])  # type: ignore[attr-defined]
    assert kendalltau(model.predict(x[test]), y[test]).statistic > 0.6  # type: ignore[attr-defined]
    if make is CubicRBF:  # an interpolant (up to its tiny nugget)
        assert np.allclose(model.predict(x[train]), y[train], atol=1e-3)  # type: ignore[attr-defined]


def test_nsganetv2_rejects_bad_input() -> None:
    space, bench = toy(2, 4, smooth)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="batch_size"):
        nsganetv2(space, problem(space, bench, 10, False), rng, batch_size=0)
    with pytest.raises(ValueError, match="unknown surrogate"):
        nsganetv2(space, problem(space, bench, 10, False), rng, surrogates=("cart",))
    with pytest.raises(ValueError, match="crossover_prob"):
        nsganetv2(space, problem(space, bench, 10, False), rng, crossover_prob=1.5)
