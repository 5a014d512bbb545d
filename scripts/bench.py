"""CPU seconds per seed of each part of the pipeline, here and (``--against REV``) at another git revision.

    python scripts/bench.py [--parts P ...] [--seeds 0 1 2] [--repeats 3] [--quick] [--against REV]

Each part runs in its own single-threaded worker process (this script with ``--worker``) that imports
``ktnas`` from the tree being measured (``PYTHONPATH``) and times, with ``time.process_time``, only the
work: the searches go through the ``ktnas`` command line (``ktnas.cli.main``, in the worker), the GCN fit
through ``ktnas.predictors.gcn``. Unless ``--quick``, a worker first runs its part once on an unmeasured seed, so
that loading tables and encodings (paid once per pipeline job of 25-100 seeds) is left out.

With ``--against REV`` the revision is checked out with ``git worktree add`` into a temporary folder, its
embedding tables are built there with its own code, and the two trees' workers alternate, part by part and
repeat by repeat, on the same seeds; the table gives the median over the repeats and the ratio
REV / here (above 1: here is faster). A part that a tree cannot run is reported as such.
docs/reference/performance.md says what the parts cost in the default pipeline.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NB201_TASKS = "cifar10,cifar100,imagenet16"
TRANS101_TASKS = "class_object,class_scene,room_layout"
# the default configuration's hyper-parameters (config/config.yaml)
NB201_MT = {"population_size": 10, "tournament_size": 5, "n_candidates": 10, "warmup": 3000,
            "proxy": "synflow", "elite_ratio": 0.2, "saved_generations": 5, "n_transferred": 4}  # fmt: skip
TRANS101_MT = {"population_size": 10, "tournament_size": 5, "n_candidates": 100, "elite_ratio": 0.2,
               "saved_generations": 5, "n_transferred": 4, "generations": 100, "max_evaluations": 50,
               "stop_at_optimum": False}  # fmt: skip
TRANS101_ST = {"max_evaluations": 50, "stop_at_optimum": False}
# part -> (space, method, tasks, params) of a `ktnas search`; other parts are special-cased in _work
SEARCHES = {
    "nb201-ktnas": ("nb201", "ktnas", NB201_TASKS, NB201_MT),
    "nb201-gcn": ("nb201", "gcn", NB201_TASKS, {}),
    "nb201-weaknas": ("nb201", "weaknas", NB201_TASKS, {}),
    "trans101-ktnas": ("trans101", "ktnas", TRANS101_TASKS, TRANS101_MT),
    "trans101-ktnas-reference": ("trans101", "ktnas", TRANS101_TASKS, TRANS101_MT),
    "trans101-weaknas": ("trans101", "weaknas", "class_object", TRANS101_ST),
}
# BLAS threads that spin while waiting count as CPU time, more so on a busy machine: one thread per worker
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
PARTS = [*SEARCHES, "gcn-fit", "embed-nb201", "embed-trans101"]


class Unsupported(Exception):
    """The tree being measured cannot run this part."""


def _work(part: str, seed: int, data: Path, scratch: Path) -> None:
    """One seed of ``part``, run with the ``ktnas`` that ``PYTHONPATH`` points at."""
    from ktnas.cli import main

    if part in SEARCHES:
        space, method, tasks, params = SEARCHES[part]
        if part.endswith("-reference"):  # the GCN predictor trained by autograd (ktnas.predictors.gcn)
            from ktnas.predictors import gcn

            if not hasattr(gcn, "FAST_PATH"):
                raise Unsupported("no reference GCN path")
            gcn.FAST_PATH = False
        argv = ["search", "--space", space, "--method", method, "--seed", str(seed), "--tasks", tasks]
        argv += ["--params", json.dumps(params), "--device", "cpu", "--out", str(scratch / f"{seed}.json")]
        if method == "ktnas":
            argv += ["--embedding", str(data / f"{space}.parquet")]
        if main(argv) != 0:
            raise RuntimeError(f"ktnas {' '.join(argv)} failed")
    elif part == "gcn-fit":  # what a TransNAS-Bench-101 search fits: its 3 tasks at 10, 20, 30, 40 cells
        import numpy as np

        from ktnas.predictors.gcn import GCNPredictor, fit_many
        from ktnas.spaces.trans101 import Trans101Space

        space, rng = Trans101Space(), np.random.default_rng(seed)
        cells = list(dict.fromkeys(space.sample(rng) for _ in range(400)))
        for n in (10, 20, 30, 40):
            predictors = [GCNPredictor(int(rng.integers(2**31)), space=space) for _ in range(3)]
            fit_many(predictors, [(cells[i * n : (i + 1) * n], rng.normal(size=n)) for i in range(3)])
            for p in predictors:
                p.predict(cells[-100:])
    elif part.startswith("embed-"):
        space = part.removeprefix("embed-")
        out = scratch / f"{space}.parquet"
        if main(["embed", "--space", space, "--method", "node2vec", "--seed", str(seed), "--out", str(out)]):
            raise RuntimeError(f"ktnas embed --space {space} failed")
    else:
        raise ValueError(f"unknown part {part!r}; choose from {', '.join(PARTS)}")


def worker(part: str, seeds: list[int], data: Path, warmup: bool) -> None:
    """Print ``part`` and its CPU seconds per seed (or why it cannot run) as one JSON line."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            if warmup:
                _work(part, 10_000, data, Path(tmp))
            start = time.process_time()
            for seed in seeds:
                _work(part, seed, data, Path(tmp))
            print(json.dumps({"part": part, "cpu_per_seed": (time.process_time() - start) / len(seeds)}))
        except Unsupported as why:
            print(json.dumps({"part": part, "unsupported": str(why)}))


def _measure(tree: Path, part: str, args: argparse.Namespace, data: Path) -> float | str:
    """CPU-s per seed of ``part`` in ``tree``, or a short reason why it gave none."""
    cmd = [sys.executable, __file__, "--worker", part, "--data", str(data), "--seeds", *map(str, args.seeds)]
    env = {**os.environ, "PYTHONPATH": str(tree), **ONE_THREAD}
    quick = ["--quick"] if args.quick else []
    proc = subprocess.run([*cmd, *quick], env=env, cwd=tree, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode or not lines:
        return "failed: " + (proc.stderr.strip().splitlines() or ["no output"])[-1][:60]
    out = json.loads(lines[-1])
    return out["cpu_per_seed"] if "cpu_per_seed" in out else "cannot run: " + out["unsupported"]


def _embeddings(tree: Path, data: Path) -> None:
    """The node2vec tables the ktnas searches read, built by ``tree``'s own code (the default settings)."""
    env = {**os.environ, "PYTHONPATH": str(tree), **ONE_THREAD}
    for space in ("nb201", "trans101"):
        out = str(data / f"{space}.parquet")
        cmd = ["embed", "--space", space, "--method", "node2vec", "--seed", "0", "--out", out]
        # cwd: ``python -m`` puts it first on sys.path
        subprocess.run(
            [sys.executable, "-m", "ktnas", *cmd], env=env, cwd=tree, check=True, capture_output=True
        )


def _cell(value: float | str) -> str:
    return f"{value:.3f}" if isinstance(value, float) else value


def bench(args: argparse.Namespace) -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # so that the worktree is removed
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"here": ROOT}
        if args.against:
            trees[args.against] = Path(tmp) / "against"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(trees[args.against]),
                            args.against], check=True)  # fmt: skip
        try:
            datas = {name: Path(tmp) / f"data-{i}" for i, name in enumerate(trees)}
            if any(SEARCHES.get(p, ("", ""))[1] == "ktnas" for p in args.parts):
                for name, tree in trees.items():
                    datas[name].mkdir()
                    _embeddings(tree, datas[name])
            results: dict[tuple[str, str], list[float | str]] = {}
            for repeat in range(args.repeats):
                for part in args.parts:
                    order = list(trees) if repeat % 2 == 0 else list(reversed(trees))
                    for name in order:
                        value = _measure(trees[name], part, args, datas[name])
                        results.setdefault((part, name), []).append(value)
                        print(f"  repeat {repeat + 1}, {part}, {name}: {_cell(value)}", file=sys.stderr)
        finally:
            if args.against:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(trees[args.against])],
                               check=False)  # fmt: skip
    _table(args, list(trees), results)


def _table(args: argparse.Namespace, names: list[str], results: dict) -> None:
    def median(values: list[float | str]) -> float | str:
        numbers = [v for v in values if isinstance(v, float)]
        return statistics.median(numbers) if len(numbers) == len(values) else values[-1]

    print(f"CPU seconds per seed (seeds {args.seeds}, median of {args.repeats} repeats)\n")
    head = ["part", "CPU-s here"] + ([f"CPU-s at {names[1]}", f"{names[1]} / here"] if len(names) > 1 else [])
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for part in args.parts:
        cells = [median(results[part, name]) for name in names]
        row = [part, *map(_cell, cells)]
        if len(names) > 1:
            ok = all(isinstance(c, float) for c in cells)
            row.append(f"{cells[1] / cells[0]:.2f}x" if ok else "")  # type: ignore[operator]
        print("| " + " | ".join(row) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", nargs="+", default=PARTS, choices=PARTS, metavar="PART",
                        help=f"parts to time (default all: {', '.join(PARTS)})")  # fmt: skip
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="seeds (default 0 1 2)")
    parser.add_argument(
        "--repeats", type=int, default=3, help="repeats per part and tree; the median is shown"
    )
    parser.add_argument("--quick", action="store_true", help="seed 0, one repeat, no warm-up run")
    parser.add_argument("--against", metavar="REV", help="git revision to compare with (e.g. main, a tag)")
    parser.add_argument("--worker", metavar="PART", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, default=Path("."), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.repeats < 1:
        raise ValueError(f"--repeats must be at least 1, got {args.repeats}")
    if args.worker:
        worker(args.worker, args.seeds, args.data, warmup=not args.quick)
        return
    if args.quick:
        args.seeds, args.repeats = [0], 1
    bench(args)


if __name__ == "__main__":
    main()
