"""Check the CUDA path end to end and project what `snakemake darts` costs in GPU-days.

    python scripts/gpu_check.py                 # on a GPU: at most about 5 minutes
    python scripts/gpu_check.py --device cpu    # smoke mode: tiny networks, a few seconds of CPU

On a GPU it runs, with mixed precision and channels_last, on random CIFAR-shaped data:

1. a multi-task DARTS search of a few generations (two tasks, the configured supernet);
2. one retraining epoch of a found cell (the configured network);
3. short throughput measurements at each task group's settings (supernet training, fitness
   evaluation, retraining, testing), in images per second;
4. the tests marked ``cuda``;

and prints the images/s, the peak GPU memory and the projected GPU-days of each paper table at the
settings of the config (``--config``, default config/config.yaml): the number of images each table's
searches and retrainings process (docs/guide/gpus.md gives the formula) divided by the measured
throughput. The smoke mode runs steps 1–3 with tiny networks and prints the image counts, but no
GPU-days: a CPU's throughput says nothing about a GPU's.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import subprocess
import sys
import time
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from medmnist import INFO  # noqa: E402

from ktnas.config import load_config  # noqa: E402
from ktnas.params import Runtime  # noqa: E402
from ktnas.plan import group_retrain_params, group_search_params  # noqa: E402
from ktnas.recipes import get_recipe  # noqa: E402
from ktnas.recipes.darts import get_group, retrain_config  # noqa: E402

#: images per split of each paper dataset (search train, search validation, retraining train, test):
#: CIFAR and (Fashion-)MNIST from docs/reproduction.md §3.3.8; MedMNIST from the official split sizes that
#: the medmnist package lists (medmnist.INFO)
SIZES: dict[str, tuple[int, int, int, int]] = {
    "cifar10": (40_000, 10_000, 50_000, 10_000),
    "cifar100": (40_000, 10_000, 50_000, 10_000),
    "mnist": (48_000, 12_000, 60_000, 10_000),
    "fashion_mnist": (48_000, 12_000, 60_000, 10_000),
    **{
        task: (n["train"], n["val"], n["train"], n["test"])
        for task in ("pathmnist", "organamnist", "organcmnist", "organsmnist")
        for n in [INFO[task]["n_samples"]]
    },
}
#: the task groups `snakemake darts` builds (paper Tables IV, V, VI)
TABLES = {"cifar": "Table IV", "mnist": "Table V", "medmnist": "Table VI"}


@dataclasses.dataclass(frozen=True)
class Work:
    """Images one table's jobs process: supernet training, forward-only (fitness, validation),
    retraining and testing."""

    search_train: int = 0
    search_eval: int = 0
    retrain_train: int = 0
    retrain_test: int = 0


def table_work(config: Mapping[str, Any], group: str) -> tuple[Work, int]:
    """Images of one search and its retrainings (one method, one seed) of ``group``, and how many
    (method, seed) pairs the table has. Per task t with search train / validation splits S_t / W_t,
    retraining train / test splits R_t / Q_t: T·S_t trained and K·V + (T−1)·2K·V + T·W_t evaluated
    (fitness of P at generation 0; then of O and, with reeval_parents, of P again; the best on the
    whole validation split every generation), V = min(fitness_images, W_t); E·R_t retrained and E·Q_t
    tested (a test after every epoch)."""
    darts = config["darts"]
    tasks = get_group(group).tasks
    hp: Any = get_recipe("darts").params(tasks, group_search_params(config, "darts", group))
    k, t = hp.population_size, hp.generations
    w = Work()
    for task in tasks:
        s, val, r, q = SIZES[task]
        v = min(hp.fitness_images, val)
        per_gen = (2 if hp.reeval_parents else 1) * k * v
        e = retrain_config(task, group_retrain_params(config, "darts", group, task)).epochs
        w = Work(
            w.search_train + t * s,
            w.search_eval + k * v + (t - 1) * per_gen + t * val,
            w.retrain_train + e * r,
            w.retrain_test + e * q,
        )
    return w, len(darts["methods"]) * int(darts["seeds"])


# -- data and measurements ------------------------------------------------------------------------------


def fake_splits(task: str, n: int, seed: int = 0) -> Any:
    """Random images shaped like ``task``'s (its spec: size, channels, classes), ``n`` per split."""
    from ktnas.training.data import ImageSet, Splits, get_dataset_spec

    spec = get_dataset_spec(task)
    g = torch.Generator().manual_seed(seed)

    def part() -> ImageSet:
        images = torch.randint(
            0, 256, (n, spec.channels, spec.size, spec.size), dtype=torch.uint8, generator=g
        )
        return ImageSet(images, torch.randint(0, spec.num_classes, (n,), generator=g))

    return Splits(spec, part(), part(), part(), part())


def rate(images: int, seconds: float) -> float:
    return images / seconds if seconds > 0 else float("nan")


def measure_search(
    task: str, hp: Any, runtime: Runtime, batches: int, warm_up: bool = True
) -> tuple[float, float]:
    """Supernet training and fitness images/s at ``hp``'s settings on ``task``-shaped data."""
    from ktnas.spaces.darts import DartsSpace
    from ktnas.training.device import synchronize
    from ktnas.training.search_task import SearchConfig, WeightSharingTask

    n = max(hp.batch_size * batches, hp.fitness_images)
    cfg = SearchConfig(**hp.supernet(), generations=hp.generations)
    wst = WeightSharingTask(fake_splits(task, n), cfg, runtime, name=task)
    rng = np.random.default_rng(0)
    archs = [DartsSpace().sample(rng) for _ in range(4)]
    if warm_up:  # kernels chosen, memory allocated
        wst.train_epoch(archs, 0)
        wst.evaluate(archs[:1])
    train = wst.train_epoch(archs, 1)["images_per_s"]
    synchronize(wst.device)
    start = time.perf_counter()
    wst.evaluate(archs)
    synchronize(wst.device)
    return train, rate(len(archs) * min(hp.fitness_images, n), time.perf_counter() - start)


def measure_retrain(
    task: str, cfg: Any, runtime: Runtime, batches: int, warm_up: bool = True
) -> tuple[float, float]:
    """Retraining and test images/s of ``cfg`` on ``task``-shaped data: one capped epoch (after a
    warm-up one), its training rate, and its test rate from the epoch's remaining time."""
    from ktnas.spaces.darts import DartsSpace
    from ktnas.training.retrain import retrain

    n = max(cfg.batch_size * batches, cfg.eval_batch_size)
    arch = DartsSpace().sample(np.random.default_rng(1))
    rt = dataclasses.replace(runtime, max_train_batches=batches, max_eval_images=n)
    cfg = dataclasses.replace(cfg, epochs=2)
    if warm_up:
        retrain(arch, fake_splits(task, n), cfg, rt, stop_after=1, download=False)
    start = time.perf_counter()
    out = retrain(arch, fake_splits(task, n), dataclasses.replace(cfg, epochs=1), rt, download=False)
    total = time.perf_counter() - start
    h = out["history"][-1]
    return h["images_per_s"], rate(n, total - h["seconds"])


def end_to_end(runtime: Runtime, hp: Any, n: int, generations: int, rcfg: Any, out: Path) -> dict[str, Any]:
    """A KTNAS-random search of ``generations`` generations over two CIFAR-shaped tasks, then one
    retraining epoch of the first task's cell: the whole DARTS path on ``runtime.device``."""
    from ktnas.methods import get_method
    from ktnas.search.multitask import MultiTaskSearch
    from ktnas.search.reproduction import GeneticAlgorithm
    from ktnas.spaces.darts import DartsSpace
    from ktnas.training.darts_problem import DartsProblem, SearchClock, WallClock
    from ktnas.training.retrain import retrain
    from ktnas.training.search_task import SearchConfig, WeightSharingTask

    hp = dataclasses.replace(hp, generations=generations)
    clock = WallClock()
    problems = []
    for i, task in enumerate(("cifar10", "cifar100")):
        cfg = SearchConfig(**hp.supernet(), generations=generations, seed=i)
        wst = WeightSharingTask(fake_splits(task, n, seed=i), cfg, runtime, name=task)
        problems.append(DartsProblem(wst, parent_prob=hp.parent_prob, clock=clock))
    space = DartsSpace()
    method = get_method("ktnas_random")
    assert method.policy is not None
    search = MultiTaskSearch(
        space,
        problems,
        GeneticAlgorithm(partial(space.mutate, p_m=hp.mutation_prob), hp.tournament_size),  # type: ignore[call-arg]
        method.policy(len(problems)),  # type: ignore[call-arg]
        hp,
        np.random.default_rng(0),
        progress=SearchClock(problems, clock, generations, out / "search.metrics.csv"),
    )
    clock.restore(0.0)
    results = search.run()
    retrained = retrain(
        results[0].best_arch,
        fake_splits("cifar10", n),
        dataclasses.replace(rcfg, epochs=1),
        runtime,
        download=False,
        metrics=out / "retrain.metrics.csv",
    )
    return {
        "search_s": clock.elapsed(),
        "search_images_per_s": float(np.mean([p.throughput() for p in problems])),
        "retrain_images_per_s": retrained["images_per_s"],
        "retrain_test_acc": retrained["test_acc"],
    }


# -- the check ------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default=None, help="cpu: the smoke mode; default: a GPU (docs/guide/gpus.md)")
    ap.add_argument("--config", type=Path, default=ROOT / "config" / "config.yaml")
    ap.add_argument("--out", type=Path, default=Path("results/gpu_check"), help="folder of the metrics CSVs")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from ktnas.training.device import device_name, pick_device

    smoke = args.device == "cpu"
    if not smoke and not torch.cuda.is_available():
        raise SystemExit(
            "no CUDA device here: run `python scripts/gpu_check.py --device cpu` for the smoke mode"
        )
    device = pick_device(args.device)
    config = load_config(args.config)
    runtime = Runtime(device=str(device))
    args.out.mkdir(parents=True, exist_ok=True)
    tiny = {"channels": 4, "batch_size": 8, "val_batch_size": 32, "fitness_images": 16}
    retrain_tiny = {"channels": 4, "layers": 3, "batch_size": 8, "eval_batch_size": 32, "auxiliary": False}
    batches = 2 if smoke else 30
    if smoke:
        torch.set_num_threads(1)  # tiny networks: more threads only contend
    print(
        f"device: {device_name(device) if smoke else f'{device} ({device_name(device)})'}{' — smoke mode: tiny networks' if smoke else ''}"
    )

    cifar_hp: Any = get_recipe("darts").params(
        get_group("cifar").tasks, {**group_search_params(config, "darts", "cifar"), **(tiny if smoke else {})}
    )
    cifar_rcfg = retrain_config(
        "cifar10",
        {**group_retrain_params(config, "darts", "cifar", "cifar10"), **(retrain_tiny if smoke else {})},
    )
    n = 32 if smoke else 2048
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    generations = 2 if smoke else 3
    e2e = end_to_end(
        dataclasses.replace(runtime, max_train_batches=batches) if smoke else runtime,
        dataclasses.replace(cifar_hp, population_size=2, n_transferred=1, fitness_images=16)
        if smoke
        else cifar_hp,
        n,
        generations,
        cifar_rcfg,
        args.out,
    )
    print(
        f"end to end: search of {generations} generations {e2e['search_s']:.1f} s, "
        f"{e2e['search_images_per_s']:.0f} images/s; retraining epoch {e2e['retrain_images_per_s']:.0f} images/s; "
        f"metrics in {args.out}/"
    )

    print("\nthroughput at each group's settings (images/s):")
    print(f"{'group':<10}{'task':<15}{'supernet train':>16}{'fitness':>10}{'retrain':>10}{'test':>10}")
    rows = []
    for group in list(TABLES)[:1] if smoke else TABLES:  # smoke: one group shows the measurement runs
        tasks = get_group(group).tasks
        params = {**group_search_params(config, "darts", group), **(tiny if smoke else {})}
        hp: Any = get_recipe("darts").params(tasks, params)
        train, fit = measure_search(tasks[0], hp, runtime, batches, warm_up=not smoke)
        rates = []
        for task in dict.fromkeys(
            tasks[:2]
        ):  # the group's retraining networks (C, classes) differ at most here
            rcfg = retrain_config(
                task,
                {**group_retrain_params(config, "darts", group, task), **(retrain_tiny if smoke else {})},
            )
            rates.append(measure_retrain(task, rcfg, runtime, batches, warm_up=not smoke))
            print(
                f"{group:<10}{task:<15}{train:>16.0f}{fit:>10.0f}{rates[-1][0]:>10.0f}{rates[-1][1]:>10.0f}"
            )
        rows.append(
            (group, train, fit, float(np.mean([r[0] for r in rates])), float(np.mean([r[1] for r in rates])))
        )
    if device.type == "cuda":
        print(f"\npeak GPU memory: {torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB")

    print(f"\n`snakemake darts` at {args.config.name}: images per table (millions) and projected GPU-days")
    print(
        f"{'table':<20}{'runs':>6}{'search train':>14}{'search eval':>13}{'retrain':>10}{'test':>8}{'GPU-days':>10}"
    )
    total_days = 0.0
    measured = {row[0]: row[1:] for row in rows}
    for group in TABLES:
        w, runs = table_work(config, group)
        train, fit, rtrain, rtest = measured.get(group, (float("nan"),) * 4)
        days = (
            runs
            * (
                w.search_train / train
                + w.search_eval / fit
                + w.retrain_train / rtrain
                + w.retrain_test / rtest
            )
            / 86400
        )
        total_days += days
        shown = "-" if smoke else f"{days:.0f}"
        print(
            f"{TABLES[group] + ' (' + group + ')':<20}{runs:>6}{runs * w.search_train / 1e6:>14.0f}"
            f"{runs * w.search_eval / 1e6:>13.0f}{runs * w.retrain_train / 1e6:>10.0f}"
            f"{runs * w.retrain_test / 1e6:>8.0f}{shown:>10}"
        )
    if smoke:
        print("GPU-days: not projected from a CPU smoke run (run this script on a GPU)")
    else:
        print(f"total: {total_days:.0f} GPU-days on {device_name(device)}")

    if smoke:
        print("\ntests marked cuda: not run (no CUDA in smoke mode)")
        return 0
    print("\ntests marked cuda:")
    return subprocess.call(
        [sys.executable, "-m", "pytest", "-q", "-m", "cuda", str(ROOT / "tests")], cwd=ROOT
    )


if __name__ == "__main__":
    raise SystemExit(main())
