"""Neural predictor search (Wen et al., "Neural Predictor for Neural Architecture Search", ECCV 2020).

The paper's method (its Sec. 3, the one-stage regression variant; the two-stage cascade, which first
trains a classifier to discard weak architectures, is not used): query N random architectures, train a
GCN regressor on the N (architecture, accuracy) pairs, predict every architecture of the space, and
query the top-K by prediction, best first.

Extension so that a run can go on until the optimum (NAS-Bench-201 counts evaluations until the best cell
is first queried): after each batch of K the GCN is retrained from scratch on every queried cell and the
next K best-predicted unseen cells are queried. With a budget of N + K queries (TransNAS-Bench-101: 25 +
25 of 50) this is exactly the paper's protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from ktnas.baselines.archive import Archive, enumerate_space, initial_size
from ktnas.baselines.base import task_result
from ktnas.evaluator import BenchmarkProblem
from ktnas.results import TaskResult
from ktnas.spaces.base import SearchSpace


class Predictor(Protocol):
    """What the search needs from a performance predictor."""

    def fit(self, archs: Sequence[str], y: np.ndarray) -> Any: ...

    def predict(self, archs: Sequence[str]) -> np.ndarray: ...


def neural_predictor(
    space: SearchSpace,
    problem: BenchmarkProblem,
    rng: np.random.Generator,
    *,
    n_initial: int | None = None,
    batch_size: int = 100,
    epochs: int = 200,
    make_predictor: Callable[[int], Predictor] | None = None,
) -> TaskResult:
    """GCN neural-predictor search over a finite ``space`` until ``problem`` is finished.

    - ``n_initial`` (N): random cells queried first; default 100, capped at half the budget (our
      choice, a priori).
    - ``batch_size`` (K): cells queried per trained predictor, best-predicted unseen first; 100 (our
      choice: each round retrains the GCN and predicts all 15,625 NB201 cells, about 1.5 s CPU, so
      rounds must be few).
    - ``epochs``: training epochs of :class:`~ktnas.predictors.gcn.GCNPredictor` (its default, 200;
      the GCN itself is the project's: 3 layers of 64, Adam 1e-3, retrained from scratch each round).
    - ``make_predictor``: seed -> predictor with ``fit``/``predict``; default the GCN on the space's
      cell graphs (a :class:`~ktnas.spaces.restricted.RestrictedSpace` uses its base space's).

    Each predictor gets a seed drawn from ``rng``, so a run is reproducible from ``rng`` alone.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    archs = enumerate_space(space, "neural_predictor")
    n0 = initial_size(n_initial, problem, len(archs))
    make = make_predictor if make_predictor is not None else _gcn_factory(space, epochs)

    archive = Archive(problem)
    first = rng.choice(len(archs), size=n0, replace=False)
    archive.query((archs[int(i)] for i in first), rng)
    seen = problem.evaluator.seen
    while not problem.finished():
        train, y = archive.training_set()
        unseen = np.array([not seen(a) for a in archs])
        if not unseen.any():
            break
        predictor = make(int(rng.integers(2**31)))
        predictor.fit(train, y)
        # predict the whole space (the same list every round: its encoding is cached), rank the unseen
        pred = np.asarray(predictor.predict(archs), dtype=np.float64)
        pred = np.where(np.isfinite(pred), pred, -np.inf)
        candidates = np.flatnonzero(unseen)
        order = candidates[np.argsort(-pred[candidates], kind="stable")]
        archive.query((archs[int(i)] for i in order[:batch_size]), rng)
    return task_result(problem)


def _gcn_factory(space: SearchSpace, epochs: int) -> Callable[[int], Predictor]:
    from ktnas.predictors.gcn import GCNPredictor, shared_graphs
    from ktnas.spaces.nb201 import CellSpace
    from ktnas.spaces.restricted import RestrictedSpace

    cells = space.base if isinstance(space, RestrictedSpace) else space
    if not isinstance(cells, CellSpace):
        raise ValueError(
            f"neural_predictor's GCN needs a cell space (nb201, trans101), got {space.name!r}; "
            "pass make_predictor= for another space"
        )
    graphs = shared_graphs(cells)  # shared by every predictor of the process: each cell is encoded once
    return lambda seed: GCNPredictor(seed, graphs=graphs, epochs=epochs)


__all__ = ["Predictor", "neural_predictor"]
