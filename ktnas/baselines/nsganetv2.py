"""NSGA-NetV2-style surrogate-assisted evolution (Lu et al., "NSGANetV2: Evolutionary Multi-Objective
Surrogate-Assisted Neural Architecture Search", ECCV 2020), single objective: accuracy only.

Algorithm 1 of the paper, as its public code runs it, with the second objective dropped:

1. query an initial archive of random cells;
2. fit an accuracy surrogate on the archive, chosen by *adaptive switching*: every surrogate of a pool is
   scored by K-fold cross-validated Kendall tau and the one with the highest mean - std is refitted on
   the whole archive (paper pool: RBF, GP, CART, MLP; here cheap numpy versions of RBF and GP and a
   ridge regression, see :data:`SURROGATES`);
3. an inner evolutionary search (population 40, 20 generations, crossover probability 0.9, as in the
   code) maximises the *surrogate*, started from the best archive cells (the single-objective analogue
   of the non-dominated archive members);
4. the ``batch_size`` best-predicted unseen cells the inner search visited are queried (the paper picks
   them by a subset selection that spreads the Pareto front over the second objective, which does not
   exist here), they join the archive, and 2-4 repeat until the problem is finished.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, Protocol

import numpy as np
import scipy.linalg
from scipy.spatial.distance import cdist
from threadpoolctl import threadpool_limits

from ktnas.baselines.archive import Archive, enumerate_space, initial_size
from ktnas.baselines.base import task_result
from ktnas.baselines.encoding import encoded_space
from ktnas.evaluator import BenchmarkProblem
from ktnas.results import TaskResult
from ktnas.spaces.base import SearchSpace


class Surrogate(Protocol):
    """A regression model on the one-hot encoding of cells (rows of ``x``)."""

    def fit(self, x: np.ndarray, y: np.ndarray) -> Any: ...

    def predict(self, x: np.ndarray) -> np.ndarray: ...


class CubicRBF:
    """Cubic radial basis function interpolant with a linear tail, the default surrogate of the
    NSGANetV2 code; a 1e-6 nugget on the kernel matrix (our choice) keeps the solve stable."""

    def __init__(self, nugget: float = 1e-6) -> None:
        self.nugget = nugget

    def _tail(self, x: np.ndarray) -> np.ndarray:
        return np.hstack([np.ones((len(x), 1)), x[:, self._cols]])

    def fit(self, x: np.ndarray, y: np.ndarray) -> CubicRBF:
        # one-hot columns of a position sum to 1: the tail keeps a subset independent of each other and of
        # the constant, so its block has full rank
        self._cols = _independent_columns(x)
        self._x, self._mean, self._scale = x, float(y.mean()), float(y.std()) or 1.0
        t = (y - self._mean) / self._scale
        phi = cdist(x, x) ** 3 + self.nugget * np.eye(len(x))
        p = self._tail(x)
        m = p.shape[1]
        a = np.block([[phi, p], [p.T, np.zeros((m, m))]])
        b = np.concatenate([t, np.zeros(m)])
        with warnings.catch_warnings():
            warnings.simplefilter("error", scipy.linalg.LinAlgWarning)
            try:
                coef = scipy.linalg.solve(a, b, assume_a="sym")
            except (np.linalg.LinAlgError, scipy.linalg.LinAlgWarning):
                coef = np.linalg.lstsq(a, b, rcond=None)[0]
        self._w, self._c = coef[: len(x)], coef[len(x) :]
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        out = cdist(x, self._x) ** 3 @ self._w + self._tail(x) @ self._c
        return out * self._scale + self._mean


class GaussianProcess:
    """Posterior mean of a GP with a squared-exponential kernel on the one-hot encoding. Hyper-parameters
    are fixed, not fitted (our choice, for cost): length scale = median pairwise distance of the training
    cells, noise variance ``noise`` on standardised targets."""

    def __init__(self, noise: float = 1e-2) -> None:
        self.noise = noise

    def fit(self, x: np.ndarray, y: np.ndarray) -> GaussianProcess:
        d = cdist(x, x)
        off = d[_upper(len(x))]
        median = float(np.median(off)) if off.size else 0.0
        self._ell = median if median > 0 else 1.0
        self._x, self._mean, self._scale = x, float(y.mean()), float(y.std()) or 1.0
        k = np.exp(-0.5 * (d / self._ell) ** 2) + self.noise * np.eye(len(x))
        self._alpha = scipy.linalg.cho_solve(scipy.linalg.cho_factor(k), (y - self._mean) / self._scale)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        k = np.exp(-0.5 * (cdist(x, self._x) / self._ell) ** 2)
        return (k @ self._alpha) * self._scale + self._mean


class Ridge:
    """Linear ridge regression on the one-hot encoding (an additive per-edge-op model), L2 ``alpha``."""

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha

    def fit(self, x: np.ndarray, y: np.ndarray) -> Ridge:
        self._xm, self._ym = x.mean(axis=0), float(y.mean())
        xc = x - self._xm
        self._w = np.linalg.solve(xc.T @ xc + self.alpha * np.eye(x.shape[1]), xc.T @ (y - self._ym))
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return (x - self._xm) @ self._w + self._ym


#: the adaptive-switching pool: name -> surrogate class
SURROGATES: dict[str, Callable[[], Surrogate]] = {"rbf": CubicRBF, "gp": GaussianProcess, "ridge": Ridge}


def nsganetv2(
    space: SearchSpace,
    problem: BenchmarkProblem,
    rng: np.random.Generator,
    *,
    n_initial: int | None = None,
    batch_size: int = 8,
    pop_size: int = 40,
    generations: int = 20,
    crossover_prob: float = 0.9,
    n_folds: int = 10,
    surrogates: Sequence[str] = ("rbf", "gp", "ridge"),
    make_surrogate: Callable[[], Surrogate] | None = None,
) -> TaskResult:
    """Single-objective (accuracy only) NSGA-NetV2 over a finite ``space`` until ``problem`` is finished.

    - ``n_initial``: initial random archive; default 100 as in the NSGANetV2 code, capped at half the
      budget (our choice: 25 of TransNAS-Bench-101's 50).
    - ``batch_size``: cells queried per iteration; 8 as in the code.
    - ``pop_size``, ``generations``, ``crossover_prob``: the inner search (40, 20, 0.9 as in the code);
      its offspring come from ``space.crossover`` then ``space.mutate`` (one edge), survival keeps the
      ``pop_size`` best by surrogate among parents and offspring, duplicates removed.
    - ``n_folds``: cross-validation folds of adaptive switching (10 as in the code).
    - ``surrogates``: the switching pool, names of :data:`SURROGATES`; one name = that surrogate only.
    - ``make_surrogate``: a fixed surrogate instead of switching (e.g. a planted one in tests).
    """
    for name, value in (("batch_size", batch_size), ("pop_size", pop_size), ("n_folds", n_folds)):
        if isinstance(value, bool) or not isinstance(value, int) or value < (2 if name == "n_folds" else 1):
            raise ValueError(f"nsganetv2: {name} must be a positive integer (n_folds >= 2), got {value!r}")
    if isinstance(generations, bool) or not isinstance(generations, int) or generations < 0:
        raise ValueError(f"nsganetv2: generations must be a non-negative integer, got {generations!r}")
    if not 0.0 <= crossover_prob <= 1.0:
        raise ValueError(f"nsganetv2: crossover_prob must lie in [0, 1], got {crossover_prob!r}")
    unknown = [s for s in surrogates if s not in SURROGATES]
    if unknown or not surrogates:
        raise ValueError(
            f"nsganetv2: unknown surrogate(s) {unknown or list(surrogates)}; pool: {list(SURROGATES)}"
        )
    archs = enumerate_space(space, "nsganetv2")
    n0 = initial_size(n_initial, problem, len(archs))
    # small dense solves: a multi-threaded BLAS only waits for its threads (measured 200x slower under
    # load on 2 cores), and one thread keeps results independent of the core count
    with threadpool_limits(limits=1):
        return _search(
            space,
            problem,
            rng,
            archs,
            n0,
            batch_size,
            pop_size,
            generations,
            crossover_prob,
            n_folds,
            [SURROGATES[s] for s in surrogates],
            make_surrogate,
        )


def _search(
    space: SearchSpace,
    problem: BenchmarkProblem,
    rng: np.random.Generator,
    archs: list[str],
    n0: int,
    batch_size: int,
    pop_size: int,
    generations: int,
    crossover_prob: float,
    n_folds: int,
    pool: list[Callable[[], Surrogate]],
    make_surrogate: Callable[[], Surrogate] | None,
) -> TaskResult:
    cells, x_all, row = encoded_space(space)  # one_hot(space, archs), once per process
    if cells != archs:
        raise ValueError(f"nsganetv2: the cells of {space.name} changed order between two reads")
    seen = problem.evaluator.seen

    archive = Archive(problem)
    first = rng.choice(len(archs), size=n0, replace=False)
    archive.query((archs[int(i)] for i in first), rng)
    while not problem.finished():
        train, y = archive.training_set()
        x = x_all[[row[a] for a in train]]
        if make_surrogate is not None:
            model = make_surrogate().fit(x, y)
        else:
            model = adaptive_switching(x, y, pool, n_folds, rng)

        def score(cells: list[str], model: Any = model) -> np.ndarray:
            pred = np.asarray(model.predict(x_all[[row[c] for c in cells]]), dtype=np.float64)
            return np.where(np.isfinite(pred), pred, -np.inf)

        best_first = [train[i] for i in np.argsort(-y, kind="stable")]
        start = best_first[:pop_size]
        while len(start) < pop_size and len(start) < len(archs):
            start = list(dict.fromkeys([*start, space.sample(rng)]))
        visited = inner_search(space, score, start, rng, pop_size, generations, crossover_prob)
        ranked = [c for c in sorted(visited, key=lambda c: -visited[c]) if not seen(c)]
        picks = ranked[:batch_size]
        if len(picks) < batch_size:  # the inner search saw too few new cells: top up at random
            chosen = set(picks)
            rest = [a for a in archs if not seen(a) and a not in chosen]
            extra = rng.permutation(len(rest))[: batch_size - len(picks)]
            picks += [rest[int(i)] for i in extra]
        if not picks:
            break
        archive.query(picks, rng)
    return task_result(problem)


def one_hot(space: SearchSpace, archs: Sequence[str]) -> np.ndarray:
    """(n, sum of op counts) one-hot encoding of each edge's op, from ``space.genes`` (the same matrix as
    :func:`ktnas.baselines.encoding.one_hot_genes`, which the search reads once per process)."""
    genes = np.array([space.genes(a) for a in archs], dtype=np.int64)
    blocks = [np.eye(int(genes[:, j].max()) + 1)[genes[:, j]] for j in range(genes.shape[1])]
    return np.hstack(blocks)


def adaptive_switching(
    x: np.ndarray,
    y: np.ndarray,
    pool: Sequence[Callable[[], Surrogate]],
    n_folds: int,
    rng: np.random.Generator,
) -> Surrogate:
    """NSGANetV2's adaptive switching: K-fold Kendall tau of each surrogate; the highest mean - std wins
    and is refitted on all of (x, y). Folds with fewer than 2 points or a failed fit count as NaN."""
    folds = [f for f in np.array_split(rng.permutation(len(y)), min(n_folds, len(y))) if f.size]
    tau = np.full((len(folds), len(pool)), np.nan)
    for i, test in enumerate(folds):
        trainable = np.setdiff1d(np.arange(len(y)), test, assume_unique=True)
        if trainable.size < 2 or test.size < 2:
            continue
        for j, make in enumerate(pool):
            try:
                pred = make().fit(x[trainable], y[trainable]).predict(x[test])
            except (np.linalg.LinAlgError, ValueError):
                continue
            tau[i, j] = kendall_tau(np.asarray(pred, dtype=np.float64), y[test])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        merit = np.nanmean(tau, axis=0) - np.nanstd(tau, axis=0)
    winner = int(np.nanargmax(merit)) if np.isfinite(merit).any() else 0
    return pool[winner]().fit(x, y)


def kendall_tau(a: np.ndarray, b: np.ndarray) -> float:
    """Kendall's tau-b of two score vectors (``scipy.stats.kendalltau``'s statistic, without its p-value,
    which fails on 2 points); NaN when either vector is constant."""
    i, j = _upper(len(a))
    sa, sb = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
    denom = np.sqrt(float(np.count_nonzero(sa)) * float(np.count_nonzero(sb)))
    return float(np.sum(sa * sb) / denom) if denom > 0 else float("nan")


def inner_search(
    space: SearchSpace,
    score: Callable[[list[str]], np.ndarray],
    start: Sequence[str],
    rng: np.random.Generator,
    pop_size: int,
    generations: int,
    crossover_prob: float,
) -> dict[str, float]:
    """Elitist GA maximising ``score`` (the surrogate): binary tournaments, crossover with probability
    ``crossover_prob``, one-edge mutation of every child, the ``pop_size`` best of parents + offspring
    survive. Returns every visited cell with its score."""
    visited: dict[str, float] = {}

    def evaluate(cells: Sequence[str]) -> None:
        new = [c for c in dict.fromkeys(cells) if c not in visited]
        if new:
            visited.update(zip(new, score(new).tolist(), strict=True))

    pop = list(dict.fromkeys(start))[:pop_size]
    evaluate(pop)

    def pick() -> str:
        # two scalar draws take the same two 32-bit words as rng.integers(len(pop), size=2), cheaper
        i, j = int(rng.integers(len(pop))), int(rng.integers(len(pop)))
        return pop[i] if visited[pop[i]] >= visited[pop[j]] else pop[j]

    for _ in range(generations):
        kids: list[str] = []
        while len(kids) < pop_size:
            a, b = pick(), pick()
            c1, c2 = space.crossover(a, b, rng) if rng.random() < crossover_prob else (a, b)
            kids += [space.mutate(c1, rng), space.mutate(c2, rng)]
        evaluate(kids[:pop_size])
        union = list(dict.fromkeys([*pop, *kids[:pop_size]]))
        order = np.argsort(-np.array([visited[c] for c in union]), kind="stable")
        pop = [union[int(i)] for i in order[:pop_size]]
    return visited


@lru_cache(maxsize=64)
def _upper(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.triu_indices(n, k=1)``, read only, once per size (folds and archives repeat their sizes)."""
    i, j = np.triu_indices(n, k=1)
    i.flags.writeable = j.flags.writeable = False
    return i, j


def _independent_columns(x: np.ndarray) -> np.ndarray:
    """Columns of ``x`` that, with a constant column, are linearly independent (pivoted QR of the
    centred matrix), in increasing order."""
    xc = x - x.mean(axis=0)
    if not np.any(xc):
        return np.zeros(0, dtype=np.int64)
    r, piv = scipy.linalg.qr(xc, mode="r", pivoting=True)
    diag = np.abs(np.diag(r))
    rank = int(np.sum(diag > diag[0] * max(x.shape) * np.finfo(np.float64).eps))
    return np.sort(piv[:rank]).astype(np.int64)


__all__ = [
    "SURROGATES",
    "CubicRBF",
    "GaussianProcess",
    "Ridge",
    "Surrogate",
    "adaptive_switching",
    "inner_search",
    "kendall_tau",
    "nsganetv2",
]
