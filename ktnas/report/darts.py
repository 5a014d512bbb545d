"""The DARTS space's tables (paper Tables IV–VI): test accuracy after retraining, parameters and search cost
per (method, task), beside the paper's rows, from ``ktnas darts-retrain`` results (:data:`SPEC`; not on the
results page).

CSV columns: ``method, task, test_acc_mean, test_acc_std, params_m, gpu_days, n_seeds`` (final-epoch test
accuracy after retraining, docs/reproduction.md §3.3.9 (a ktnas decision); search cost of the whole multi-task
search, §3.3.5), then ``best_test_acc_mean`` (best epoch, logged separately as §3.3.9 asks) and
``supernet_test_acc_mean`` / ``supernet_test_acc_std`` (the §3.3.10 (a) supernet protocol, the
code-comparable number on MNIST/MedMNIST).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ktnas._io import KtnasError
from ktnas.report.results_page import TableSpec

#: the tables' task columns, in the order of each task group's tasks (the recipe's groups:
#: :data:`ktnas.recipes.darts.GROUPS`; a test keeps the two equal)
TASK_GROUPS: tuple[tuple[str, ...], ...] = (
    ("cifar10", "cifar100"),
    ("mnist", "fashion_mnist"),
    ("pathmnist", "organamnist", "organcmnist", "organsmnist"),
    ("digits", "digits_parity"),
    ("synthetic", "synthetic_b"),
)

COLUMNS = ["method", "task", "test_acc_mean", "test_acc_std", "params_m", "gpu_days", "n_seeds"]
EXTRA = ["best_test_acc_mean", "supernet_test_acc_mean", "supernet_test_acc_std"]

#: paper Tables IV–VI (docs/reproduction.md §5): (test acc %, ± std) per task and GPU days (Table IV: days; V–VI: % vs single)
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
    task_order = {t: i for tasks in TASK_GROUPS for i, t in enumerate(tasks)}
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
        "Test accuracy (%) after retraining from scratch, final epoch (docs/reproduction.md §3.3.9), mean ± std over seeds; "
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
            "Supernet protocol (docs/reproduction.md §3.3.10 (a)): the best genotype's test accuracy with its saved supernet "
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


def build(
    inputs: Sequence[Path], study: str, benchmark: str | Path | None, versus: str | None = None
) -> tuple[pd.DataFrame, str]:
    """One task group's table from its retraining results (``study``, ``benchmark`` and ``versus`` unused)."""
    return darts_table(inputs)


#: Tables IV–VI; not on the results page
SPEC = TableSpec(build)
