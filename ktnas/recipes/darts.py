"""The DARTS cell space (docs/method.md §5; paper Tables IV–VI): one weight-sharing supernet per task,
the EMT-NAS-style GA, fitness on a fixed validation subset; the found genotypes are retrained afterwards
(``ktnas darts-retrain``). Torch is imported only when a run is set up."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ktnas._io import KtnasError
from ktnas.params import DartsParams, LoopParams
from ktnas.recipes.base import Recipe, Run, SearchPaths, Setup, task_seed

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class DartsGroup:
    """Tasks searched together (one table of the paper) and their default settings (§1.5, §5.8–§5.10)."""

    name: str
    tasks: tuple[str, ...]
    #: search hyper-parameters that differ from :class:`~ktnas.params.DartsParams`' defaults
    search_defaults: Mapping[str, Any] = field(default_factory=dict)
    #: retraining settings per task that differ from :class:`~ktnas.training.retrain.RetrainConfig`'s
    retrain_defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    description: str = ""


GROUPS: dict[str, DartsGroup] = {
    g.name: g
    for g in (
        DartsGroup(
            "cifar",
            ("cifar10", "cifar100"),
            retrain_defaults={"cifar10": {"channels": 48}, "cifar100": {"channels": 42}},
            description="paper Table IV: CIFAR-10/100, retrained 600 epochs (C=48 / 42)",
        ),
        DartsGroup(
            "mnist",
            ("mnist", "fashion_mnist"),
            retrain_defaults={t: {"channels": 20} for t in ("mnist", "fashion_mnist")},
            description="paper Table V: MNIST / Fashion-MNIST (§5.10: supernet (a) and retrain (b) with C=20)",
        ),
        DartsGroup(
            "medmnist",
            ("pathmnist", "organamnist", "organcmnist", "organsmnist"),
            search_defaults={"population_size": 40, "channels": 48, "drop_path_start": 25},
            retrain_defaults={
                t: {"channels": 20} for t in ("pathmnist", "organamnist", "organcmnist", "organsmnist")
            },
            description="paper Table VI: four MedMNIST tasks, K=40 and a C=48 supernet (authors' med config)",
        ),
        DartsGroup(
            "digits",
            ("digits", "digits_parity"),
            description="real images for the smoke run (CI): scikit-learn's bundled 8×8 digits at 16×16, "
            "the digit (10 classes) and its parity (2 classes), one shared split (never downloads)",
        ),
        DartsGroup(
            "synthetic",
            ("synthetic", "synthetic_b"),
            description="two generated tasks for the unit tests (never downloads)",
        ),
    )
}


def get_group(name: str) -> DartsGroup:
    try:
        return GROUPS[name]
    except KeyError:
        raise ValueError(f"unknown DARTS task group {name!r}; choose one of {', '.join(GROUPS)}") from None


def group_of(tasks: Sequence[str]) -> DartsGroup:
    """The group whose tasks are exactly ``tasks`` (in that order)."""
    for g in GROUPS.values():
        if tuple(tasks) == g.tasks:
            return g
    groups = "; ".join(f"{g.name}: {','.join(g.tasks)}" for g in GROUPS.values())
    raise ValueError(f"DARTS tasks {','.join(tasks)} are not a task group; use one of {groups}")


class DartsRecipe(Recipe):
    name: ClassVar[str] = "darts"
    description: ClassVar[str] = "DARTS cells: weight-sharing multi-task search, then retraining"
    params_class: ClassVar[type[LoopParams]] = DartsParams
    default_target: ClassVar[bool] = False
    gpus: ClassVar[int] = 1
    reads_runtime: ClassVar[bool] = True

    def datasets(self, tasks: Sequence[str]) -> list[str]:
        return list(tasks)

    def task_groups(self) -> dict[str, tuple[str, ...]]:
        return {g.name: g.tasks for g in GROUPS.values()}

    def params(self, tasks: Sequence[str], overrides: Mapping[str, Any] | None = None) -> LoopParams:
        """Defaults < the group's defaults (e.g. K=40, C=48 for MedMNIST) < ``overrides``."""
        return DartsParams.from_mapping({**group_of(tasks).search_defaults, **(overrides or {})})

    def runs(self, config: Mapping[str, Any]) -> dict[str, Run]:
        """One run per (task group, method), named ``{group}-{method}``, with its retraining settings."""
        darts = config.get("darts") or {}
        emb = config.get("embedding", {}).get("method", "node2vec")
        runs: dict[str, Run] = {}
        for group, settings in (darts.get("groups") or {}).items():
            tasks = GROUPS[group].tasks
            for task in (settings or {}).get("retrain_tasks") or {}:
                if task not in tasks:
                    raise ValueError(
                        f"config key darts.groups.{group}.retrain_tasks: {task!r} is not a task of group "
                        f"{group}; use one of: {', '.join(tasks)}"
                    )
            hp = darts_search_params(config, group)
            retrain = {t: darts_retrain_params(config, group, t) for t in tasks}
            for m in darts.get("methods", []):
                self.check_params(f"darts.groups.{group}", m, tasks, hp)
                name = f"{group}-{m}"
                seeds = tuple(range(darts["seeds"]))
                runs[name] = Run("darts", name, m, hp, seeds, tasks, group, emb, retrain)
        return runs

    def setup(self, tasks: Sequence[str], hp: Any, seed: int, paths: SearchPaths) -> Setup:
        from ktnas.spaces.darts import DartsSpace
        from ktnas.training.darts_problem import DartsProblem, WallClock
        from ktnas.training.search_task import SearchConfig, WeightSharingTask

        group_of(tasks)
        clock = WallClock()
        problems = []
        for i, task in enumerate(tasks):
            cfg = SearchConfig(**hp.supernet(), generations=hp.generations, seed=task_seed(seed, i))
            wst = WeightSharingTask(task, cfg, paths.runtime)
            problems.append(
                DartsProblem(
                    wst,
                    parent_prob=hp.parent_prob,
                    reeval_parents=hp.reeval_parents,
                    supernet_test=hp.supernet_test,
                    clock=clock,
                )
            )
        return Setup(DartsSpace(), list(problems), {"clock": clock})

    def reproduction(self, setup: Setup, tasks: Sequence[str], hp: Any, paths: SearchPaths) -> Any:
        from ktnas.search.reproduction import GeneticAlgorithm

        mutate = partial(setup.space.mutate, p_m=hp.mutation_prob)  # type: ignore[call-arg]
        return GeneticAlgorithm(mutate, hp.tournament_size)

    def job_size(self, run: Run, n_seeds: int, task: str | None = None) -> dict[str, int]:
        """The paper-scale jobs (search: C=20, batch 128, K=20, T=200; retraining: C=20, 11 cells, batch 64,
        600 epochs) ask 8 CPUs, 32 GB / 16 GB and 24 h / 48 h per seed; smaller configurations (the test
        config) proportionally less, down to 1 CPU, 2 GB and 30 min."""
        if task is None:
            hp: Any = self.params(run.tasks, run.params)
            scale = hp.channels * hp.batch_size / (20 * 128)
            work = hp.population_size * hp.generations / (20 * 200)
            cpus, mem_mb, runtime = 8, 32000, 1440
        else:
            hp = retrain_config(task, run.retrain[task])
            scale = hp.channels * hp.layers * hp.batch_size / (20 * 11 * 64)
            work = hp.epochs / 600
            cpus, mem_mb, runtime = 8, 16000, 2880
        return {
            "threads": max(1, min(cpus, round(cpus * scale))),
            "mem_mb": max(2000, min(mem_mb, round(mem_mb * scale))),
            "runtime": max(30, min(runtime * n_seeds, round(runtime * scale * work * n_seeds))),
        }

    def start(self, setup: Setup) -> None:
        setup.state["clock"].restore(0.0)  # a resumed run restores the time spent before its checkpoint

    def result_extra(self, setup: Setup, hp: Any, tasks: Sequence[str], paths: SearchPaths) -> dict[str, Any]:
        """Search cost (§5.5: GPU days = wall-clock seconds / 86,400, data loading excluded), device and
        the run-time settings (§7.4)."""
        from ktnas.training.device import device_name

        seconds = setup.state["clock"].elapsed()
        device = setup.problems[0].task.device  # type: ignore[attr-defined]
        rates = [p.throughput() for p in setup.problems]  # type: ignore[attr-defined]
        rates = [r for r in rates if np.isfinite(r)]
        return {
            "group": group_of(tasks).name,
            "embedding": None if paths.embedding is None else str(paths.embedding),
            "device": str(device),
            "device_name": device_name(device),
            "runtime": paths.runtime.record(),
            "search_seconds": seconds,
            "gpu_days": seconds / 86400.0,
            "images_per_s": float(np.mean(rates)) if rates else float("nan"),
        }

    def table(
        self, inputs: Sequence[Path], study: str, benchmark: str | Path | None, versus: str | None = None
    ) -> tuple[pd.DataFrame, str]:
        return darts_table(inputs)


def retrain_defaults(task: str) -> dict[str, Any]:
    """The task's retraining defaults (C=48/42 on CIFAR, 20 on 28×28 data)."""
    out: dict[str, Any] = {}
    for grp in GROUPS.values():
        out.update(grp.retrain_defaults.get(task, {}))
    return out


def retrain_params(task: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Retraining settings of ``task``: its defaults (C=48/42 on CIFAR, 20 on 28×28 data) < ``params``;
    what ``ktnas darts-retrain`` hands :func:`ktnas.training.stages.run_darts_retrain`."""
    return {**retrain_defaults(task), **(params or {})}


def retrain_config(task: str, params: Mapping[str, Any] | None = None, seed: int = 0) -> Any:
    """RetrainConfig defaults < the task's defaults < ``params``; ``seed`` applies unless ``params``
    sets one."""
    from ktnas.training import stages

    return stages.retrain_config(retrain_params(task, params), seed)


def darts_search_params(config: Mapping[str, Any], group: str) -> dict[str, Any]:
    """Search hyper-parameters of ``group``: darts.search, then darts.groups.<group>.search."""
    darts = config.get("darts", {})
    group_cfg = (darts.get("groups") or {}).get(group) or {}
    return {**(darts.get("search") or {}), **(group_cfg.get("search") or {})}


def darts_retrain_params(config: Mapping[str, Any], group: str, task: str) -> dict[str, Any]:
    """Retraining settings of ``task``: darts.retrain < the group's retrain < its retrain_tasks.<task>."""
    darts = config.get("darts", {})
    group_cfg = (darts.get("groups") or {}).get(group) or {}
    per_task = (group_cfg.get("retrain_tasks") or {}).get(task) or {}
    return {**(darts.get("retrain") or {}), **(group_cfg.get("retrain") or {}), **per_task}


# -- Tables IV–VI ----------------------------------------------------------------------------------------
# DARTS-space tables (paper Tables IV–VI) from per-(method, seed, task) retraining results.
#
# CSV columns: ``method, task, test_acc_mean, test_acc_std, params_m, gpu_days, n_seeds`` (final-epoch test
# accuracy after retraining, docs/method.md §5.9 (a ktnas decision); search cost of the whole multi-task search, §5.5), then
# ``best_test_acc_mean`` (best epoch, logged separately as §5.9 asks) and ``supernet_test_acc_mean`` /
# ``supernet_test_acc_std`` (the §5.10 (a) supernet protocol, the code-comparable number on MNIST/MedMNIST).

COLUMNS = ["method", "task", "test_acc_mean", "test_acc_std", "params_m", "gpu_days", "n_seeds"]
EXTRA = ["best_test_acc_mean", "supernet_test_acc_mean", "supernet_test_acc_std"]

#: paper Tables IV–VI (docs/method.md §7): (test acc %, ± std) per task and GPU days (Table IV: days; V–VI: % vs single)
PAPER: dict[str, dict[str, tuple[float, float]]] = {
    "single": {"cifar10": (96.64, 0.18), "cifar100": (80.82, 0.71), "mnist": (99.40, 0.13),
               "fashion_mnist": (93.70, 0.42), "pathmnist": (88.36, 1.41), "organamnist": (93.64, 0.41),
               "organcmnist": (91.18, 0.48), "organsmnist": (80.42, 0.52)},
    "emtnas": {"cifar10": (97.04, 0.04), "cifar100": (82.60, 0.38), "mnist": (99.40, 0.09),
               "fashion_mnist": (93.86, 0.68), "pathmnist": (88.60, 3.09), "organamnist": (94.32, 0.44),
               "organcmnist": (91.40, 0.73), "organsmnist": (80.72, 0.94)},
    "mtnas": {"cifar10": (97.25, 0.04), "cifar100": (82.55, 0.45)},  # Table IV only; no params reported
    "ktnas_random": {"cifar10": (96.63, 0.16), "cifar100": (80.79, 0.10), "mnist": (99.56, 0.07),
                     "fashion_mnist": (93.30, 0.52), "pathmnist": (90.04, 0.85), "organamnist": (94.22, 0.39),
                     "organcmnist": (91.50, 0.48), "organsmnist": (80.57, 0.73)},
    "ktnas": {"cifar10": (97.12, 0.10), "cifar100": (82.93, 0.19), "mnist": (99.62, 0.17),
              "fashion_mnist": (94.36, 0.46), "pathmnist": (90.54, 1.31), "organamnist": (94.38, 0.20),
              "organcmnist": (91.57, 0.38), "organsmnist": (80.80, 0.63)},
}  # fmt: skip
PAPER_PARAMS: dict[str, dict[str, float]] = {
    "single": {"cifar10": 2.41, "cifar100": 2.19},
    "emtnas": {"cifar10": 2.91, "cifar100": 2.97},
    "ktnas_random": {"cifar10": 3.00, "cifar100": 3.07},
    "ktnas": {"cifar10": 2.97, "cifar100": 2.92},
}
PAPER_COST: dict[str, dict[str, float]] = {
    "cifar": {"single": 0.46, "emtnas": 0.42, "mtnas": 0.50, "ktnas_random": 0.62, "ktnas": 0.48},  # GPU days
    "mnist": {"single": 0.0, "emtnas": 2.65, "ktnas_random": 4.47, "ktnas": -10.28},  # % vs single
    "medmnist": {"single": 0.0, "emtnas": -9.55, "ktnas_random": 11.27, "ktnas": -7.93},  # % vs single
}


def per_seed_frame(results: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per retraining result (method, seed, task)."""
    import pandas as pd

    rows = []
    for r in results:
        sup = r.get("supernet_test_acc")
        rows.append(
            {
                "group": r["group"],
                "method": r["method"],
                "seed": r["seed"],
                "task": r["task"],
                "test_acc": r["test_acc"],
                "best_test_acc": r["best_test_acc"],
                "params_m": r["params_m"],
                "gpu_days": r["search_gpu_days"],
                "supernet_test_acc": float("nan") if sup is None else sup,
                "finished": r.get("finished", True),
            }
        )
    return pd.DataFrame(rows)


def darts_summary(per_seed: pd.DataFrame) -> pd.DataFrame:
    """Mean ± std (ddof 1) over seeds per (method, task), methods in paper order, tasks in group order."""
    import pandas as pd

    g = per_seed.groupby(["method", "task"], sort=False)
    table = pd.DataFrame(
        {
            "test_acc_mean": g["test_acc"].mean(),
            "test_acc_std": g["test_acc"].std(ddof=1),
            "params_m": g["params_m"].mean(),
            "gpu_days": g["gpu_days"].mean(),
            "n_seeds": g["seed"].nunique(),
            "best_test_acc_mean": g["best_test_acc"].mean(),
            "supernet_test_acc_mean": g["supernet_test_acc"].mean(),
            "supernet_test_acc_std": g["supernet_test_acc"].std(ddof=1),
        }
    ).reset_index()
    method_order = {m: i for i, m in enumerate(PAPER)}
    task_order = {t: i for grp in GROUPS.values() for i, t in enumerate(grp.tasks)}
    table = table.sort_values(
        by=["method", "task"],
        key=lambda s: s.map(method_order if s.name == "method" else task_order).fillna(len(method_order)),
        kind="stable",
    )
    return table[COLUMNS + EXTRA].reset_index(drop=True)


def _paper_row(method: str, tasks: Sequence[str], groups: Sequence[str]) -> str:
    cells = []
    for t in tasks:
        acc, params = PAPER[method].get(t), PAPER_PARAMS.get(method, {}).get(t)
        cells += [f"{acc[0]:.2f} ± {acc[1]:.2f}" if acc else "–", f"{params:.2f}" if params else "–"]
    cost = PAPER_COST.get(groups[0], {}).get(method) if len(groups) == 1 else None
    days = f"{cost:.2f}" if cost is not None and groups[0] == "cifar" else "–"
    pct = f"{cost:+.2f}" if cost is not None and groups[0] != "cifar" else "–"
    return f"| paper {method} | " + " | ".join(cells) + f" | {days} | {pct} | 5 |"


def _pm(mean: float, std: float) -> str:
    if not np.isfinite(mean):
        return "–"
    return f"{mean:.2f} ± {std:.2f}" if np.isfinite(std) else f"{mean:.2f}"


def darts_markdown(table: pd.DataFrame, per_seed: pd.DataFrame) -> str:
    groups = list(dict.fromkeys(per_seed["group"]))
    tasks = list(dict.fromkeys(table["task"]))
    methods = list(dict.fromkeys(table["method"]))
    cell = {(r.method, r.task): r for r in table.itertuples(index=False)}
    cost = table.groupby("method", sort=False)["gpu_days"].mean()
    base = cost.get("single")
    lines = [
        f"# DARTS space: {', '.join(groups)}",
        "",
        "Test accuracy (%) after retraining from scratch, final epoch (docs/method.md §5.9), mean ± std over seeds; "
        "params in M (auxiliary head excluded). GPU days = wall time of the whole multi-task search / 86,400 "
        "(mean over seeds); `%` = relative to single-tasking. `paper` = the paper's row (Tables IV–VI).",
        "",
        "| method | " + " | ".join(f"{t} | params" for t in tasks) + " | GPU days | GPU days (%) | seeds |",
        "|---|" + "---|---|" * len(tasks) + "---|---|---|",
    ]
    for m in methods:
        cells = []
        for t in tasks:
            r = cell.get((m, t))
            cells += [_pm(r.test_acc_mean, r.test_acc_std), f"{r.params_m:.2f}"] if r else ["–", "–"]
        pct = f"{100 * (cost[m] / base - 1):+.2f}" if base and np.isfinite(base) and base > 0 else "–"
        n = min(cell[(m, t)].n_seeds for t in tasks if (m, t) in cell)
        lines.append(f"| {m} | " + " | ".join(cells) + f" | {cost[m]:.4f} | {pct} | {n} |")
        if m in PAPER and any(t in PAPER[m] for t in tasks):
            lines.append(_paper_row(m, tasks, groups))
    if per_seed["supernet_test_acc"].notna().any():
        lines += [
            "",
            "Supernet protocol (docs/method.md §5.10 (a)): the best genotype's test accuracy with its saved supernet "
            "weights, no augmentation (the code-comparable number on MNIST / MedMNIST).",
            "",
            "| method | " + " | ".join(tasks) + " |",
            "|---|" + "---|" * len(tasks),
        ]
        for m in methods:
            cells = [
                _pm(cell[(m, t)].supernet_test_acc_mean, cell[(m, t)].supernet_test_acc_std)
                if (m, t) in cell
                else "–"
                for t in tasks
            ]
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
    unfinished = per_seed[~per_seed["finished"].astype(bool)]
    if len(unfinished):
        lines += ["", f"Unfinished retrainings included: {len(unfinished)}."]
    return "\n".join(lines) + "\n"


def darts_table(inputs: Sequence[Path]) -> tuple[pd.DataFrame, str]:
    """(CSV table, Markdown) of retraining results; every input must be a ``ktnas darts-retrain`` result."""
    results = []
    for p in inputs:
        try:
            results.append(json.loads(Path(p).read_text()))
        except (OSError, json.JSONDecodeError) as err:
            raise KtnasError(
                f"{p}: unreadable retraining result ({err}); delete it and rerun its job"
            ) from None
    bad = [i for i, r in enumerate(results) if "test_acc" not in r or "protocol" not in r]
    if bad:
        raise ValueError(
            f"input #{bad[0]} is not a DARTS retraining result (ktnas darts-retrain); pass only those files"
        )
    per_seed = per_seed_frame(results)
    table = darts_summary(per_seed)
    return table, darts_markdown(table, per_seed)
