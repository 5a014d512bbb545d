"""Speed of the WeakNAS, LaNAS and NSGA-NetV2 baselines, old code paths against the current ones, same seeds.

The old paths are kept below as faithful copies of the code before the speed-up (docs/method.md §7.3
describes the methods, which did not change): WeakNAS's per-layer Adam loop (``OldMLP``), its full stable
argsort of the pool and the per-task one-hot encoding of every cell (``old_encode_space``); LaNAS's tree
(build, grow, UCB, select, back-propagation) with a copy of every candidate row before the root gathers
them again; NSGA-NetV2's search with the per-task encoding, the tournament's ``rng.integers(n, size=2)``,
the GP fit that takes the median twice, and ``RestrictedSpace.repair`` recomputing the edit distances
to all allowed cells at every call. The script patches them in, runs the same searches both ways in this
process (interleaved, so load on a shared machine hits both alike, after a warm-up of both on a seed
outside the measured ones), checks that the full result dicts (``SearchResult`` minus ``git_sha`` and
``ktnas_version``) are identical, and prints each method's CPU-time ratio (process time, old / new).

Usage: ``python scripts/baselines_speed.py [--spaces nb201 trans101] [--methods weaknas lanas nsganetv2]
[--seeds 0 1 2 3 4]``. Hyper-parameters: ``config/config.yaml`` <space>.methods.<method>. Run it with one
BLAS thread (``OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1``), as the pipeline's jobs do. Exits 1 when a
result differs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import scipy.linalg
import yaml
from scipy.spatial.distance import cdist

import ktnas.baselines.lanas as lanas_mod
import ktnas.baselines.nsganetv2 as nsg
import ktnas.baselines.weaknas as weaknas_mod
from ktnas.baselines.archive import Archive
from ktnas.baselines.base import task_result
from ktnas.baselines.encoding import one_hot_genes
from ktnas.baselines.lanas import LaNASNode, LatentActionTree
from ktnas.baselines.nsganetv2 import GaussianProcess, Surrogate, adaptive_switching, one_hot
from ktnas.evaluator import BenchmarkProblem
from ktnas.results import TaskResult
from ktnas.runner import run_search
from ktnas.spaces.base import SearchSpace
from ktnas.spaces.restricted import RestrictedSpace

ROOT = Path(__file__).resolve().parents[1]
TASKS = {
    "nb201": ["cifar10", "cifar100", "imagenet16"],
    "trans101": ["class_object", "class_scene", "room_layout"],
}
METHODS = ("weaknas", "lanas", "nsganetv2")


# -- the old code paths (before the speed-up), copied faithfully ------------------------------------------
class OldMLP:
    """Small ReLU regressor trained with full-batch Adam on standardised targets (numpy, one thread)."""

    def __init__(self, hidden: Sequence[int], epochs: int, lr: float, weight_decay: float) -> None:
        self.hidden = tuple(hidden)
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.weights: list[np.ndarray] = []
        self.biases: list[np.ndarray] = []

    def fit(self, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> OldMLP:
        n = x.shape[0]
        scale = float(y.std()) or 1.0
        target = ((y - y.mean()) / scale)[:, None]
        sizes = [x.shape[1], *self.hidden, 1]
        # Glorot-uniform initialisation, as sklearn's MLPRegressor (the paper's predictor) does
        self.weights = [
            rng.uniform(-np.sqrt(6 / (a + b)), np.sqrt(6 / (a + b)), size=(a, b))
            for a, b in zip(sizes[:-1], sizes[1:], strict=True)
        ]
        self.biases = [np.zeros(b) for b in sizes[1:]]
        params = [*self.weights, *self.biases]
        m = [np.zeros_like(p) for p in params]
        v = [np.zeros_like(p) for p in params]
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        for step in range(1, self.epochs + 1):
            acts = self._forward(x)
            delta = (acts[-1] - target) / n
            grads_w: list[np.ndarray] = []
            grads_b: list[np.ndarray] = []
            for layer in range(len(self.weights) - 1, -1, -1):
                grads_w.append(acts[layer].T @ delta + self.weight_decay * self.weights[layer] / n)
                grads_b.append(delta.sum(axis=0))
                if layer > 0:
                    delta = (delta @ self.weights[layer].T) * (acts[layer] > 0)
            grads = [*grads_w[::-1], *grads_b[::-1]]
            lr_t = self.lr * np.sqrt(1 - beta2**step) / (1 - beta1**step)
            for p, g, m_i, v_i in zip(params, grads, m, v, strict=True):
                m_i *= beta1
                m_i += (1 - beta1) * g
                v_i *= beta2
                v_i += (1 - beta2) * g * g
                p -= lr_t * m_i / (np.sqrt(v_i) + eps)
        return self

    def _forward(self, x: np.ndarray) -> list[np.ndarray]:
        acts = [x]
        for layer, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            z = acts[-1] @ w + b
            acts.append(np.maximum(z, 0.0) if layer < len(self.weights) - 1 else z)
        return acts

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Standardised prediction (only the ranking matters to the search)."""
        return self._forward(x)[-1][:, 0]


def old_encode_space(space: Any, problem: Any) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Every cell of the finite ``space``, its :func:`one_hot_genes` rows, and which cells ``problem`` has
    already queried with their fitness (NaN elsewhere): re-reading a queried cell costs nothing."""
    archs = space.all_archs()
    x = one_hot_genes(space, archs)
    index = {a: i for i, a in enumerate(archs)}
    queried = np.zeros(len(archs), dtype=bool)
    fitness = np.full(len(archs), np.nan)
    for a in problem.evaluator.queried:
        if a in index:
            queried[index[a]], fitness[index[a]] = True, problem.evaluator.query(a)
    return archs, x, queried, fitness


def old_build(
    self: LatentActionTree, x_samples: np.ndarray, y: np.ndarray, x_candidates: np.ndarray
) -> LaNASNode:
    """Learn the partition from the queried cells ``(x_samples, y)`` and route ``x_candidates``."""
    y = np.asarray(y, dtype=np.float64)
    if len(y) == 0 or len(y) != len(x_samples):
        raise ValueError(f"lanas: need >= 1 sample and one fitness per sample, got {len(x_samples)}/{len(y)}")
    self._lo = float(y.min())
    self._span = float(y.max() - y.min()) or 1.0
    self._xs, self._y, self._xc = x_samples, y, x_candidates
    self.root = self._grow(0, None, True, np.arange(len(y)), np.arange(len(x_candidates)))
    return self.root


def old_grow(
    self: LatentActionTree,
    depth: int,
    parent: LaNASNode | None,
    is_left: bool,
    samples: np.ndarray,
    cands: np.ndarray,
) -> LaNASNode:
    ys = self._y[samples]
    node = LaNASNode(depth, parent, is_left, samples, len(samples), float(self.normalise(ys).mean()))
    if depth < self.height - 1 and len(samples) >= 2 and np.ptp(ys) > 0:
        design = np.column_stack([self._xs[samples], np.ones(len(samples))])
        coef = np.linalg.lstsq(design, ys, rcond=None)[0]
        node.weights, node.bias, node.threshold = coef[:-1], float(coef[-1]), float(ys.mean())
        left_s = node.goes_left(self._xs[samples])
        if left_s.any() and not left_s.all():
            left_c = node.goes_left(self._xc[cands]) if len(cands) else np.zeros(0, dtype=bool)
            node.left = self._grow(depth + 1, node, True, samples[left_s], cands[left_c])
            node.right = self._grow(depth + 1, node, False, samples[~left_s], cands[~left_c])
            node.n_candidates = node.left.n_candidates + node.right.n_candidates
            return node
        node.weights = None  # no usable split: the node stays a leaf
    node.candidates = cands.tolist()
    node.n_candidates = len(cands)
    return node


def old_ucb(self: LatentActionTree, child: LaNASNode) -> float:
    if child.n == 0 or child.parent is None:
        return float("inf")
    return child.mean + 2 * self.c * float(np.sqrt(2 * np.log(child.parent.n) / child.n))


def old_select(self: LatentActionTree, rng: np.random.Generator) -> LaNASNode:
    """Descend by UCB (ties at random) through children that still hold unqueried cells."""
    if self.root is None or self.root.n_candidates == 0:
        raise ValueError("lanas: select needs a built tree with at least one unqueried candidate")
    node = self.root
    while node.left is not None and node.right is not None:
        kids = [k for k in (node.left, node.right) if k.n_candidates > 0]
        scores = np.array([self.ucb(k) for k in kids])
        best = np.flatnonzero(scores == scores.max())
        node = kids[int(rng.choice(best))]
    return node


def old_backpropagate(self: LatentActionTree, leaf: LaNASNode, fitness: float) -> None:
    """Add a queried fitness to the count and mean of every node from ``leaf`` to the root."""
    value = float(self.normalise(fitness))
    node: LaNASNode | None = leaf
    while node is not None:
        node.mean = (node.mean * node.n + value) / (node.n + 1)
        node.n += 1
        node = node.parent


def old_lanas(
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
    archs, x, queried, fitness = old_encode_space(space, problem)

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
        tree.build(x[train], fitness[train], x[pool])
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


def old_gp_fit(self: GaussianProcess, x: np.ndarray, y: np.ndarray) -> GaussianProcess:
    d = cdist(x, x)
    off = d[np.triu_indices(len(x), k=1)]
    self._ell = float(np.median(off)) if off.size and np.median(off) > 0 else 1.0
    self._x, self._mean, self._scale = x, float(y.mean()), float(y.std()) or 1.0
    k = np.exp(-0.5 * (d / self._ell) ** 2) + self.noise * np.eye(len(x))
    self._alpha = scipy.linalg.cho_solve(scipy.linalg.cho_factor(k), (y - self._mean) / self._scale)
    return self


def old_search(
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
    x_all = one_hot(space, archs)
    row = {a: i for i, a in enumerate(archs)}
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
        visited = old_inner_search(space, score, start, rng, pop_size, generations, crossover_prob)
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


def old_kendall_tau(a: np.ndarray, b: np.ndarray) -> float:
    """Kendall's tau-b of two score vectors (``scipy.stats.kendalltau``'s statistic, without its p-value,
    which fails on 2 points); NaN when either vector is constant."""
    i, j = np.triu_indices(len(a), k=1)
    sa, sb = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
    denom = np.sqrt(float(np.count_nonzero(sa)) * float(np.count_nonzero(sb)))
    return float(np.sum(sa * sb) / denom) if denom > 0 else float("nan")


def old_inner_search(
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
        i, j = rng.integers(len(pop), size=2)
        return pop[int(i)] if visited[pop[int(i)]] >= visited[pop[int(j)]] else pop[int(j)]

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


def old_repair(self: RestrictedSpace, arch: str, rng: np.random.Generator) -> str:
    """``arch`` if allowed, else a uniformly chosen allowed cell at the smallest edit distance."""
    if arch in self._position:
        return arch
    dist = self._distances(arch)
    return self._allowed[int(rng.choice(np.flatnonzero(dist == dist.min())))]


def old_top(pred: np.ndarray, size: int) -> np.ndarray:
    return np.argsort(-pred, kind="stable")[:size]


def old_names(archs: Sequence[str], rows: np.ndarray) -> tuple[str, ...]:
    return tuple(archs[i] for i in rows)


#: method -> (object, attribute, old value) patched in for the old path
OLD: dict[str, list[tuple[Any, str, Any]]] = {
    "weaknas": [
        (weaknas_mod, "_MLP", OldMLP),
        (weaknas_mod, "encode_space", old_encode_space),
        (weaknas_mod, "top_ranked", old_top),
        (weaknas_mod, "_names", old_names),
    ],
    "lanas": [
        (lanas_mod, "lanas", old_lanas),
        (LatentActionTree, "build", old_build),
        (LatentActionTree, "_grow", old_grow),
        (LatentActionTree, "ucb", old_ucb),
        (LatentActionTree, "select", old_select),
        (LatentActionTree, "backpropagate", old_backpropagate),
    ],
    "nsganetv2": [
        (nsg, "_search", old_search),
        (nsg, "kendall_tau", old_kendall_tau),
        (GaussianProcess, "fit", old_gp_fit),
        (RestrictedSpace, "repair", old_repair),
    ],
}


# -- measurement -----------------------------------------------------------------------------------------
def search(space: str, method: str, seed: int, params: dict[str, Any], old: bool) -> dict[str, Any]:
    """One seeded search through the runner; the result dict without the fields that name the code."""
    patches = [mock.patch.object(obj, name, value) for obj, name, value in OLD[method]] if old else []
    for p in patches:
        p.start()
    try:
        out = run_search(space, method, seed, TASKS[space], params).to_dict()
    finally:
        for p in patches:
            p.stop()
    out.pop("git_sha")
    out.pop("ktnas_version")
    return out


def timed(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    t0 = time.process_time()
    out = fn(*args)
    return out, time.process_time() - t0


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Dotted paths where two JSON-like values differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in differences(a.get(k), b.get(k), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{path}[{i}]")
        ]
    return [] if a == b else [path or "."]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spaces", nargs="+", default=list(TASKS), choices=list(TASKS))
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--warmup-seed", type=int, default=1000, help="seed of the unmeasured warm-up runs")
    args = ap.parse_args()
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    print(f"seeds {args.seeds}, CPU seconds per seed (process time), old / new code path")
    failed = False
    for space in args.spaces:
        for method in args.methods:
            params = config[space]["methods"][method] or {}
            for old in (True, False):  # warm-up of both paths: tables, imports, per-process caches
                search(space, method, args.warmup_seed, params, old)
            old_t, new_t = [], []
            for seed in args.seeds:
                r_old, t_old = timed(search, space, method, seed, params, True)
                r_new, t_new = timed(search, space, method, seed, params, False)
                old_t.append(t_old)
                new_t.append(t_new)
                diff = differences(r_old, r_new)
                failed |= bool(diff)
                verdict = "identical results" if not diff else f"DIFFER at {', '.join(diff[:5])}"
                print(f"  {space} {method} seed {seed}: old {t_old:.2f} s, new {t_new:.2f} s, {verdict}")
            print(
                f"{space} {method}: old {statistics.mean(old_t):.2f} s, new {statistics.mean(new_t):.2f} s "
                f"per seed, ratio {sum(old_t) / sum(new_t):.2f}x"
            )
    if failed:
        sys.exit("some results differ between the old and the new code path")


if __name__ == "__main__":
    main()
