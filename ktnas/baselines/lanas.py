"""LaNAS (Wang et al., "Sample-Efficient Neural Architecture Search by Learning Actions for Monte Carlo
Tree Search", TPAMI 2021): learned space partitions searched with a Monte-Carlo tree.

Each search round (paper §3, Alg. 1):

1. **learn the partition** — build a binary tree of at most ``height`` levels over the queried cells.
   Every internal node fits a linear regressor (least squares on the one-hot op encoding) to the
   samples it holds; a cell goes to the *left* ("good") child when the regressor predicts at least the
   node's mean fitness, otherwise to the *right* ("bad") child. The same test routes every unqueried
   cell of the finite space, so a leaf is the set of cells meeting all the linear constraints on its
   path (the paper samples such cells by rejection; here the space is enumerated once).
2. **select** — descend from the root by UCB, ``mean + 2 c sqrt(2 ln n_parent / n_child)`` on fitness
   normalised to the range queried so far (the release's accuracies lie in [0, 1]);
3. **sample** — query a uniformly chosen unqueried cell of the chosen leaf, and back-propagate its
   fitness (count and mean) up the path; repeat 2–3 ``samples_per_tree`` times, then rebuild.

Hyper-parameters (the authors' NAS-Bench-101 release, github.com/facebookresearch/LaMCTS ``LaNAS``):

====================  =======  ===========================================================================
``height``            5        release: ``MCTS(search_space, 5, ...)``, a full tree of 2^5 - 1 = 31 nodes
``c``                 0.1      release: ``Cp = 0.1``
``n_init``            10       release: 10 random networks before the first tree
``samples_per_tree``  20       release: 20 select/sample steps per tree rebuild
====================  =======  ===========================================================================

Choices of ours: the regressor is fitted in closed form (minimum-norm least squares) instead of the
release's Adam steps on a linear layer; a node with fewer than two samples, equal fitness, or a split
that would leave a side without samples stays a leaf (the tree is *at most* ``height`` levels); a child
whose region holds no unqueried cell is skipped during selection, so every selected leaf can be sampled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ktnas.baselines.base import task_result
from ktnas.baselines.encoding import encode_space
from ktnas.evaluator import BenchmarkProblem
from ktnas.results import TaskResult
from ktnas.spaces.base import SearchSpace


@dataclass(eq=False)
class LaNASNode:
    """One region of the learned partition.

    ``samples``/``candidates`` index the arrays given to :meth:`LatentActionTree.build`; an internal node
    keeps its split (``weights``, ``bias``, ``threshold``), a leaf its unqueried ``candidates``.
    """

    depth: int
    parent: LaNASNode | None
    is_left: bool  # which child of the parent (the root: True)
    samples: np.ndarray
    n: int  # samples seen (build time plus back-propagated queries)
    mean: float  # their mean normalised fitness
    n_candidates: int = 0
    candidates: list[int] = field(default_factory=list)
    weights: np.ndarray | None = None
    bias: float = 0.0
    threshold: float = 0.0
    left: LaNASNode | None = None
    right: LaNASNode | None = None

    @property
    def is_leaf(self) -> bool:
        return self.left is None

    def goes_left(self, x: np.ndarray) -> np.ndarray:
        """The node's learned action: True where the regressor predicts at least the node mean."""
        if self.weights is None:
            raise ValueError("goes_left is defined on internal nodes only; this node is a leaf")
        return np.asarray(x @ self.weights + self.bias >= self.threshold)

    def path(self) -> list[tuple[LaNASNode, bool]]:
        """(ancestor, whether the path turns left there), root first."""
        steps: list[tuple[LaNASNode, bool]] = []
        node = self
        while node.parent is not None:
            steps.append((node.parent, node.is_left))
            node = node.parent
        return steps[::-1]


class LatentActionTree:
    """The Monte-Carlo tree of LaNAS (paper §3.1–3.2): learned linear splits, UCB selection."""

    def __init__(self, height: int, c: float) -> None:
        if height < 1:
            raise ValueError(f"lanas: height must be >= 1 (1 = no split), got {height}")
        if c < 0:
            raise ValueError(f"lanas: exploration constant c must be >= 0, got {c}")
        self.height = height
        self.c = c
        self._lo = 0.0
        self._span = 1.0
        self.root: LaNASNode | None = None
        self._log: dict[int, float] = {}  # n -> np.log(n), the UCB's only transcendental

    def normalise(self, y: np.ndarray | float) -> np.ndarray:
        return (np.asarray(y, dtype=np.float64) - self._lo) / self._span

    def build(
        self, x_samples: np.ndarray, y: np.ndarray, x_candidates: np.ndarray, rows: np.ndarray | None = None
    ) -> LaNASNode:
        """Learn the partition from the queried cells ``(x_samples, y)`` and route the candidates: the rows
        of ``x_candidates``, or with ``rows`` the rows ``x_candidates[rows]`` (candidate i is row
        ``rows[i]``; each node gathers its candidates' rows once instead of a copy of them all first)."""
        y = np.asarray(y, dtype=np.float64)
        if len(y) == 0 or len(y) != len(x_samples):
            raise ValueError(
                f"lanas: need >= 1 sample and one fitness per sample, got {len(x_samples)}/{len(y)}"
            )
        self._lo = float(y.min())
        self._span = float(y.max() - y.min()) or 1.0
        self._xs, self._y, self._xc = x_samples, y, x_candidates
        self._rows = rows
        n_cand = len(x_candidates) if rows is None else len(rows)
        self.root = self._grow(0, None, True, np.arange(len(y)), np.arange(n_cand))
        return self.root

    def _grow(
        self, depth: int, parent: LaNASNode | None, is_left: bool, samples: np.ndarray, cands: np.ndarray
    ) -> LaNASNode:
        ys = self._y[samples]
        node = LaNASNode(depth, parent, is_left, samples, len(samples), float(self.normalise(ys).mean()))
        if depth < self.height - 1 and len(samples) >= 2 and np.ptp(ys) > 0:
            xs = self._xs[samples]
            design = np.empty((len(samples), xs.shape[1] + 1))
            design[:, :-1] = xs
            design[:, -1] = 1.0
            coef = np.linalg.lstsq(design, ys, rcond=None)[0]
            node.weights, node.bias, node.threshold = coef[:-1], float(coef[-1]), float(ys.mean())
            left_s = node.goes_left(xs)
            if left_s.any() and not left_s.all():
                left_c = (
                    node.goes_left(self._candidate_rows(cands)) if len(cands) else np.zeros(0, dtype=bool)
                )
                node.left = self._grow(depth + 1, node, True, samples[left_s], cands[left_c])
                node.right = self._grow(depth + 1, node, False, samples[~left_s], cands[~left_c])
                node.n_candidates = node.left.n_candidates + node.right.n_candidates
                return node
            node.weights = None  # no usable split: the node stays a leaf
        node.candidates = cands.tolist()
        node.n_candidates = len(cands)
        return node

    def _candidate_rows(self, cands: np.ndarray) -> np.ndarray:
        return self._xc[cands] if self._rows is None else self._xc[self._rows[cands]]

    def ucb(self, child: LaNASNode) -> float:
        if child.n == 0 or child.parent is None:
            return float("inf")
        n = child.parent.n
        log_n = self._log.get(n)
        if log_n is None:
            log_n = self._log[n] = float(np.log(n))
        # the float operations of mean + 2 c sqrt(2 ln n / n_child), in numpy's order (IEEE sqrt: exact)
        return child.mean + 2 * self.c * math.sqrt(2 * log_n / child.n)

    def select(self, rng: np.random.Generator) -> LaNASNode:
        """Descend by UCB (ties at random) through children that still hold unqueried cells."""
        if self.root is None or self.root.n_candidates == 0:
            raise ValueError("lanas: select needs a built tree with at least one unqueried candidate")
        node = self.root
        while node.left is not None and node.right is not None:
            kids = [k for k in (node.left, node.right) if k.n_candidates > 0]
            scores = [self.ucb(k) for k in kids]
            best = [i for i, s in enumerate(scores) if s == max(scores)]
            # rng.choice(best) draws exactly integers(0, len(best), dtype=int64) (none for one element)
            node = kids[best[int(rng.integers(0, len(best), dtype=np.int64))]]
        return node

    def sample(self, leaf: LaNASNode, rng: np.random.Generator) -> int:
        """Remove and return a uniformly chosen candidate of ``leaf`` (an index into ``x_candidates``)."""
        if not leaf.candidates:
            raise ValueError("lanas: the leaf holds no unqueried candidate; select() never returns such")
        cand = leaf.candidates.pop(int(rng.integers(len(leaf.candidates))))
        node: LaNASNode | None = leaf
        while node is not None:
            node.n_candidates -= 1
            node = node.parent
        return cand

    def backpropagate(self, leaf: LaNASNode, fitness: float) -> None:
        """Add a queried fitness to the count and mean of every node from ``leaf`` to the root."""
        value = (float(fitness) - self._lo) / self._span  # normalise() on a float
        node: LaNASNode | None = leaf
        while node is not None:
            node.mean = (node.mean * node.n + value) / (node.n + 1)
            node.n += 1
            node = node.parent


def lanas(
    space: SearchSpace,
    problem: BenchmarkProblem,
    rng: np.random.Generator,
    *,
    height: int = 5,
    c: float = 0.1,
    n_init: int = 10,
    samples_per_tree: int = 20,
) -> TaskResult:
    """LaNAS (Wang et al. 2021) on a finite space until the problem is finished.

    ``n_init`` random cells; then repeatedly a :class:`LatentActionTree` of at most ``height`` levels is
    learned from all queried cells and ``samples_per_tree`` cells are drawn by UCB selection (exploration
    constant ``c``) before the tree is rebuilt. Defaults and their sources: module docstring.
    """
    for name, value in (("n_init", n_init), ("samples_per_tree", samples_per_tree)):
        if value < 1:
            raise ValueError(f"lanas: {name} must be >= 1, got {value}")
    tree = LatentActionTree(height, c)  # validates height and c
    archs, x, queried, fitness = encode_space(space, problem)

    pool = np.flatnonzero(~queried)
    for i in rng.choice(pool, size=min(n_init, pool.size), replace=False):
        if problem.finished():
            break
        (fitness[i],) = problem.evaluate_initial([archs[int(i)]])
        queried[i] = True

    while not problem.finished():
        pool = np.flatnonzero(~queried)
        if pool.size == 0:
            break
        train = np.flatnonzero(queried & np.isfinite(fitness))  # -inf (over budget) never trains
        tree.build(x[train], fitness[train], x, rows=pool)
        for _ in range(samples_per_tree):
            if problem.finished() or tree.root is None or tree.root.n_candidates == 0:
                break
            leaf = tree.select(rng)
            cell = int(pool[tree.sample(leaf, rng)])
            (fitness[cell],) = problem.evaluate_initial([archs[cell]])
            queried[cell] = True
            if np.isfinite(fitness[cell]):
                tree.backpropagate(leaf, float(fitness[cell]))
    return task_result(problem)


__all__ = ["LaNASNode", "LatentActionTree", "lanas"]
