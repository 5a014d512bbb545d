"""Search quality and CPU cost of the WeakNAS and LaNAS baselines (paper Tables II and III rows).

Prints, measured in this run:

1. NAS-Bench-201: evaluations until the task's optimum is first queried, mean and median over seeds, per
   task (cifar10, cifar100, imagenet16) and their total, with CPU seconds per seed and task;
2. TransNAS-Bench-101 (711 cells, 50 queries): mean validation metric of the best queried cell per task
   (class_object / class_scene accuracy, room_layout L2 loss × 100), with CPU seconds per seed and task.

Every run uses ``np.random.default_rng([seed, task_index])``.

Usage: ``python scripts/weaknas_lanas.py [--methods weaknas lanas] [--nb201-seeds 20]
[--trans101-seeds 10]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ktnas.benchmarks import load_benchmark
from ktnas.evaluator import BenchmarkProblem, Evaluator
from ktnas.recipes.base import searchable_space
from ktnas.search.lanas import lanas
from ktnas.search.weaknas import weaknas

METHODS: dict[str, Callable[..., dict[str, Any]]] = {"weaknas": weaknas, "lanas": lanas}
NB201_TASKS = ("cifar10", "cifar100", "imagenet16")
TRANS101_TASKS = ("class_object", "class_scene", "room_layout")


def run(method: str, space_name: str, tasks: tuple[str, ...], seeds: int, budget: int, stop: bool) -> None:
    bench = load_benchmark(space_name)
    space = searchable_space(space_name, bench)
    specs = {t.name: t for t in bench.tasks()}
    print(f"\n{method} on {space_name} ({space.size()} cells, {seeds} seeds, budget {budget})")
    totals = np.zeros(seeds)
    for t_idx, name in enumerate(tasks):
        task = specs[name]
        values, cpu = [], []
        for seed in range(seeds):
            problem = BenchmarkProblem(Evaluator(bench, task, space.all_archs()), budget, stop)
            start = time.process_time()
            out = METHODS[method](space, problem, np.random.default_rng([seed, t_idx]))
            cpu.append(time.process_time() - start)
            if stop:
                values.append(out.found_at if out.found_at is not None else np.nan)
            else:  # report the metric in its own unit (a loss is positive again)
                values.append(float(out.best_fitness) * int(task.direction))
        v = np.asarray(values, dtype=float)
        if stop:
            totals += v
            print(
                f"  {name:12s} evals to optimum: mean {v.mean():8.1f}  median {np.median(v):7.1f}  "
                f"min {v.min():5.0f}  max {v.max():6.0f}  | CPU s/seed {np.mean(cpu):.2f} (max {max(cpu):.2f})"
            )
        else:
            print(
                f"  {name:12s} best valid {task.unit}: mean {v.mean():7.2f}  std {v.std():5.2f}  "
                f"| CPU s/seed {np.mean(cpu):.3f} (max {max(cpu):.3f})"
            )
    if stop:
        print(f"  {'total':12s} evals to optimum: mean {totals.mean():8.1f}  median {np.median(totals):7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--nb201-seeds", type=int, default=20)
    parser.add_argument("--trans101-seeds", type=int, default=10)
    args = parser.parse_args()
    for method in args.methods:
        if args.nb201_seeds:
            run(method, "nb201", NB201_TASKS, args.nb201_seeds, 15625, True)
        if args.trans101_seeds:
            run(method, "trans101", TRANS101_TASKS, args.trans101_seeds, 50, False)


if __name__ == "__main__":
    main()
