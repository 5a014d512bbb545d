"""Would training more GCN predictors together pay? CPU per predictor fit against the number trained as one.

``ktnas.predictors.gcn.fit_many`` trains the predictors of one search's tasks (3 on TransNAS-Bench-101) as
one stacked model. Issue 18 proposed going further: run the seeds of a job in lockstep, so that one
stacked model holds the predictors of many seeds (24 = 8 seeds x 3 tasks, 75 = a 25-seed job). This script
measures that before anyone restructures the searches for it. It fits groups of P predictors
(P = 1, 3, 24, 75) on random TransNAS-Bench-101 cells with random targets, at each training-set size a
search meets (10 to 50 cells), and prints the CPU seconds per predictor fit (process time, one thread,
the median of the repeats, sizes and group sizes interleaved) and the ratio against P = 3, today's
grouping. It also checks that the first predictors' trained weights (three, or P if fewer) are the same at
every P (``fit_many``'s floats do not depend on P), so the comparison is between two ways of computing one result.

Usage: ``python scripts/group_size_speed.py [--sizes 10 20 30 40 50] [--groups 1 3 24 75] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict

import numpy as np
import torch

from ktnas.predictors.gcn import GCNPredictor, fit_many, shared_graphs
from ktnas.spaces import Trans101Space

BASE = 3  # the predictors of one search (its three tasks), trained as one model today


def training_sets(cells: list[str], p: int, b: int, seed: int) -> list[tuple[list[str], np.ndarray]]:
    """``p`` training sets of ``b`` distinct cells with random targets; set i does not depend on ``p``."""
    sets = []
    for i in range(p):
        rng = np.random.default_rng([seed, b, i])
        idx = rng.choice(len(cells), b, replace=False)
        sets.append(([cells[j] for j in idx], rng.random(b)))
    return sets


def fit_group(cells: list[str], p: int, b: int, seed: int) -> tuple[float, list[list[torch.Tensor]]]:
    """CPU seconds per predictor of one ``fit_many`` over ``p`` predictors, and the first three's weights."""
    graphs = shared_graphs(Trans101Space())
    predictors = [GCNPredictor(seed=1000 * seed + i, graphs=graphs) for i in range(p)]
    data = training_sets(cells, p, b, seed)
    start = time.process_time()
    fit_many(predictors, data)
    cpu = time.process_time() - start
    return cpu / p, [list(pred._params or []) for pred in predictors[:BASE]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 20, 30, 40, 50])
    ap.add_argument("--groups", type=int, nargs="+", default=[1, 3, 24, 75])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    if BASE not in args.groups or min(args.groups) < 1 or min(args.sizes) < 2 or args.repeats < 1:
        ap.error(f"--groups must include {BASE} and be >= 1, --sizes >= 2, --repeats >= 1")
    torch.set_num_threads(1)
    cells = Trans101Space().all_archs()
    # warm-up, on a seed no repeat uses: first-call costs stay out of the timings
    fit_group(cells, BASE, args.sizes[0], seed=args.repeats)
    times: dict[tuple[int, int], list[float]] = defaultdict(list)
    same: dict[tuple[int, int], bool] = {}
    for rep in range(args.repeats):
        for b in args.sizes:
            reference = None
            for p in sorted(args.groups, key=lambda g: (g != BASE, g)):  # BASE first: the reference weights
                per_fit, weights = fit_group(cells, p, b, seed=rep)
                times[b, p].append(per_fit)
                if p == BASE:
                    reference = weights
                elif reference is not None:  # the first min(p, 3) predictors
                    equal = all(
                        torch.equal(x, y)
                        for w, r in zip(weights, reference[: len(weights)], strict=True)
                        for x, y in zip(w, r, strict=True)
                    )
                    same[b, p] = same.get((b, p), True) and equal
    groups = sorted(args.groups)
    print("CPU ms per predictor fit (200 epochs), median of", args.repeats, "repeats; ratio = P=3 / P")
    print(
        "| cells | "
        + " | ".join(f"P={p}" for p in groups)
        + " | "
        + " | ".join(f"ratio P={p}" for p in groups if p != BASE)
        + " |"
    )
    print("|---" * (2 * len(groups)) + "|")
    for b in args.sizes:
        med = {p: statistics.median(times[b, p]) for p in groups}
        cols = [f"{1000 * med[p]:.1f}" for p in groups]
        ratios = [f"{med[BASE] / med[p]:.2f}x" for p in groups if p != BASE]
        print(f"| {b} | " + " | ".join(cols) + " | " + " | ".join(ratios) + " |")
    if same:
        bad = sorted(k for k, ok in same.items() if not ok)
        if bad:
            raise SystemExit(f"weights differ from those of P=3 at (cells, P) = {bad}")
        print("weights of the first predictors identical to those of P=3 at every size and P")


if __name__ == "__main__":
    main()
