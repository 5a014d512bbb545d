"""WeakNAS (Wu et al., "Stronger NAS with Weaker Predictors", NeurIPS 2021): iterated weak predictors.

Instead of one strong predictor of the whole space, each iteration fits a *weak* predictor to the cells
queried so far and only uses it to pick the sub-space where the next few samples come from (paper §2,
Alg. 1, "progressive weak predictor approximation"):

1. query ``n_init`` cells drawn uniformly from the whole (finite) space;
2. fit a fresh MLP to every queried cell (one-hot op per edge → fitness, standardised);
3. rank the unqueried cells by prediction; the top ``size_k`` of them are the sample space P_k;
4. query ``n_per_iter`` cells drawn uniformly from P_k (the paper's "uniform" sampling from the top-N);
   repeat from 2 until the problem is finished (optimum queried, or budget spent).

The sample space shrinks geometrically, ``size_k = max(top_n, floor(shrink * size_{k-1}))`` from the whole
space down to the paper's top-N, and then stays there. Each predictor re-ranks every unqueried cell (as the
authors' release does) rather than only the previous P_k: a nested shrink would lose for good any cell an
early, very weak predictor ranks low, and at the floor it would run out of cells.

Hyper-parameters (NAS-Bench-201 settings of the authors' release, github.com/VITA-Group/WeakNAS README):

===================  =========  ============================================================================
``n_init``           10         release: ``--init_sample 10``
``n_per_iter``       10         release: ``--sample_each_iter 10``
``top_n``            100        release: ``--top_start 100 --top_end 100`` (top-N sample space)
``shrink``           0.5        ours: the release keeps N fixed (its schedule can decay N from a start to an
                                end value); we halve from the whole space to N, so P_k shrinks every
                                iteration until the floor
``hidden``           (64, 64)   ours, for cost: the release uses a 4×1000 ReLU MLP (sklearn
                                ``MLPRegressor``), far over this project's CPU budget per seed
``epochs``, ``lr``   200, 1e-2  ours: full-batch Adam steps; the release trains 100 epochs of Adam at 1e-3,
                                which a 64-wide net needs more and larger steps to match
``weight_decay``     1e-4       sklearn's default L2 penalty ``alpha`` that the release inherits
===================  =========  ============================================================================
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ktnas.baselines.base import task_result
from ktnas.baselines.encoding import encode_space
from ktnas.evaluator import BenchmarkProblem
from ktnas.results import TaskResult
from ktnas.spaces.base import SearchSpace


@dataclass(frozen=True)
class WeakNASStep:
    """One iteration: the sample space P_k (best predicted first) and the cells queried from it."""

    iteration: int
    sample_space: tuple[str, ...]
    queried: tuple[str, ...]


class _MLP:
    """Small ReLU regressor trained with full-batch Adam on standardised targets (numpy, one thread)."""

    def __init__(self, hidden: Sequence[int], epochs: int, lr: float, weight_decay: float) -> None:
        self.hidden = tuple(hidden)
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.weights: list[np.ndarray] = []
        self.biases: list[np.ndarray] = []

    def fit(self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> _MLP:
        """Full-batch Adam on the squared error (docs/reproduction.md §4). Every parameter lives in one flat
        buffer (weights, then biases, layer by layer) so that an Adam step is a dozen whole-buffer numpy
        operations; each element sees the same operations in the same order as a per-layer update, so
        the result is bit-identical to it, only cheaper."""
        n = x.shape[0]
        scale = float(y.std()) or 1.0
        target = ((y - y.mean()) / scale)[:, None]
        sizes = [x.shape[1], *self.hidden, 1]
        shapes = list(zip(sizes[:-1], sizes[1:], strict=True))
        n_w = sum(a * b for a, b in shapes)
        size = n_w + sum(sizes[1:])
        flat, grad = np.zeros(size), np.empty(size)
        self.weights, self.biases = _views(flat, shapes), _views(flat[n_w:], [(b,) for b in sizes[1:]])
        grad_w, grad_b = _views(grad, shapes), _views(grad[n_w:], [(b,) for b in sizes[1:]])
        # Glorot-uniform initialisation, as sklearn's MLPRegressor (the paper's predictor) does
        for w, (a, b) in zip(self.weights, shapes, strict=True):
            w[...] = rng.uniform(-np.sqrt(6 / (a + b)), np.sqrt(6 / (a + b)), size=(a, b))
        m, v, tmp, step_size = np.zeros(size), np.zeros(size), np.empty(size), np.empty(size)
        decay = np.empty(n_w)
        acts = [x, *(np.empty((n, b)) for b in sizes[1:])]  # input, then each layer's output
        deltas = [np.empty((n, a)) for a in sizes[:-1]]  # back-propagated error at each layer's input
        last = len(shapes) - 1
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        for step in range(1, self.epochs + 1):
            for layer, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
                z = acts[layer + 1]
                np.matmul(acts[layer], weight, out=z)
                z += bias
                if layer < last:
                    np.maximum(z, 0.0, out=z)
            delta = acts[-1] - target
            delta /= n
            np.multiply(flat[:n_w], self.weight_decay, out=decay)
            decay /= n
            for layer in range(last, -1, -1):
                np.matmul(acts[layer].T, delta, out=grad_w[layer])
                np.sum(delta, axis=0, out=grad_b[layer])
                if layer > 0:
                    np.matmul(delta, self.weights[layer].T, out=deltas[layer])
                    deltas[layer] *= acts[layer] > 0
                    delta = deltas[layer]
            grad[:n_w] += decay
            lr_t = self.lr * np.sqrt(1 - beta2**step) / (1 - beta1**step)
            m *= beta1
            np.multiply(grad, 1 - beta1, out=tmp)
            m += tmp
            v *= beta2
            np.multiply(grad, 1 - beta2, out=tmp)
            tmp *= grad
            v += tmp
            np.sqrt(v, out=tmp)
            tmp += eps
            np.multiply(m, lr_t, out=step_size)
            step_size /= tmp
            flat -= step_size
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Standardised prediction (only the ranking matters to the search)."""
        z = x
        for layer, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            z = z @ w
            z += b
            if layer < len(self.weights) - 1:
                np.maximum(z, 0.0, out=z)
        return z[:, 0]


def _views(buf: np.ndarray, shapes: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
    """Consecutive C-ordered views of ``buf`` with the given shapes."""
    out, at = [], 0
    for shape in shapes:
        k = int(np.prod(shape))
        out.append(buf[at : at + k].reshape(shape))
        at += k
    return out


def top_ranked(pred: np.ndarray, size: int) -> np.ndarray:
    """``np.argsort(-pred, kind="stable")[:size]``: the ``size`` highest predictions, ties by position;
    a partition finds the candidates, so only they are sorted."""
    neg = -pred
    if size < neg.size:
        kth = np.partition(neg, size - 1)[size - 1]
        if not np.isnan(kth):
            cand = np.flatnonzero(neg <= kth)
            return cand[np.argsort(neg[cand], kind="stable")[:size]]
    return np.argsort(neg, kind="stable")[:size]


def weaknas_steps(
    space: SearchSpace,
    problem: BenchmarkProblem,
    rng: np.random.Generator,
    *,
    n_init: int = 10,
    n_per_iter: int = 10,
    top_n: int = 100,
    shrink: float = 0.5,
    hidden: Sequence[int] = (64, 64),
    epochs: int = 200,
    lr: float = 1e-2,
    weight_decay: float = 1e-4,
) -> Iterator[WeakNASStep]:
    """Run WeakNAS, yielding each iteration's sample space and queries (iteration 0: the random start).

    The settings are described in :func:`weaknas`; stops when ``problem.finished()`` or no unqueried
    cell is left.
    """
    _check(n_init, n_per_iter, top_n, shrink, hidden, epochs, lr, weight_decay)
    archs, x, queried, fitness = encode_space(space, problem)

    pool = np.flatnonzero(~queried)
    size = len(archs)
    start = rng.choice(pool, size=min(n_init, pool.size), replace=False)
    yield WeakNASStep(0, _names(archs, pool), _query(problem, archs, start, queried, fitness, rng))

    iteration = 0
    while not problem.finished():
        pool = np.flatnonzero(~queried)
        if pool.size == 0:
            break
        iteration += 1
        size = max(top_n, int(size * shrink))
        train = np.flatnonzero(queried & np.isfinite(fitness))  # -inf (over budget) never trains
        model = _MLP(hidden, epochs, lr, weight_decay).fit(x[train], fitness[train], rng)
        sample_space = pool[top_ranked(model.predict(x[pool]), size)]
        picks = rng.choice(sample_space, size=min(n_per_iter, sample_space.size), replace=False)
        done = _query(problem, archs, picks, queried, fitness, rng)
        yield WeakNASStep(iteration, _names(archs, sample_space), done)


def weaknas(
    space: SearchSpace, problem: BenchmarkProblem, rng: np.random.Generator, **settings: Any
) -> TaskResult:
    """WeakNAS (Wu et al. 2021, Alg. 1) on a finite space until the problem is finished.

    ``n_init`` random cells, then per iteration a fresh MLP (``hidden`` ReLU layers, ``epochs`` Adam steps
    at ``lr``, L2 ``weight_decay``) ranks the unqueried cells; ``n_per_iter`` cells are drawn uniformly
    from the top ``size_k`` (halved by ``shrink`` each iteration, never below ``top_n``). ``settings`` are
    the keyword arguments of :func:`weaknas_steps`; defaults and their sources: module docstring.
    """
    for _ in weaknas_steps(space, problem, rng, **settings):
        pass
    return task_result(problem)


def _names(archs: Sequence[str], rows: np.ndarray) -> tuple[str, ...]:
    return tuple(map(archs.__getitem__, rows.tolist()))


def _query(
    problem: BenchmarkProblem,
    archs: Sequence[str],
    picks: np.ndarray,
    queried: np.ndarray,
    fitness: np.ndarray,
    rng: np.random.Generator,
) -> tuple[str, ...]:
    """Query ``picks`` one by one, stopping the moment the problem is finished."""
    done = []
    for i in picks:
        if problem.finished():
            break
        (fitness[i],) = problem.evaluate_initial([archs[int(i)]])
        queried[i] = True
        done.append(archs[int(i)])
    return tuple(done)


def _check(
    n_init: int,
    n_per_iter: int,
    top_n: int,
    shrink: float,
    hidden: Sequence[int],
    epochs: int,
    lr: float,
    weight_decay: float,
) -> None:
    for name, value in (("n_init", n_init), ("n_per_iter", n_per_iter), ("top_n", top_n), ("epochs", epochs)):
        if value < 1:
            raise ValueError(f"weaknas: {name} must be >= 1, got {value}")
    if not 0 < shrink < 1:
        raise ValueError(f"weaknas: shrink must lie in (0, 1) so the sample space shrinks, got {shrink}")
    if not hidden or any(h < 1 for h in hidden):
        raise ValueError(f"weaknas: hidden must list at least one layer width >= 1, got {tuple(hidden)}")
    if not lr > 0:
        raise ValueError(f"weaknas: lr must be > 0, got {lr}")
    if weight_decay < 0:
        raise ValueError(f"weaknas: weight_decay must be >= 0, got {weight_decay}")


__all__ = ["WeakNASStep", "weaknas", "weaknas_steps"]
