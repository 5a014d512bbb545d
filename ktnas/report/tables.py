"""Tables from per-seed search results: CSV in long format plus a Markdown twin (paper Tables II, III,
VII- and VIII-style)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ktnas.results import SearchResult

#: paper Table II (docs/method.md §7): evaluations until the best architecture is found
PAPER_TABLE_II: dict[str, tuple[float, float, float, float]] = {
    "rs": (7782.1, 7621.2, 7726.1, 23129.4),
    "rea": (563.2, 438.2, 715.1, 1439.6),
    "zero": (230.8, 18.4, 213.0, 462.2),
    "mtnas": (106.0, 30.1, 92.3, 228.4),
    "ktnas_random": (105.8, 51.6, 66.1, 223.5),
    "ktnas": (100.7, 27.9, 60.0, 188.5),
}


def evaluations_frame(results: Sequence[SearchResult], label: str = "method") -> pd.DataFrame:
    """Per-seed evaluations-to-optimum: one row per (label, seed, task); ``censored`` when the optimum
    was never queried (the value is then the evaluations spent, a lower bound)."""
    rows = []
    for res in results:
        for t in res.tasks:
            found = t.found_at
            rows.append(
                {
                    label: res.run if label == "run" else res.method,
                    "seed": res.seed,
                    "task": t.task,
                    "evaluations": found if found is not None else t.n_queries,
                    "censored": found is None,
                }
            )
    return pd.DataFrame(rows)


def summarise(long: pd.DataFrame, label: str, row_order: Sequence[str], value: str) -> pd.DataFrame:
    """mean/std/n_seeds of ``value`` over seeds per (label, task); labels in order of appearance, tasks
    in ``row_order``."""
    g = long.groupby([label, "task"], sort=False)[value]
    table = pd.DataFrame({"mean": g.mean(), "std": g.std(ddof=1), "n_seeds": g.count()}).reset_index()
    order = {t: i for i, t in enumerate(row_order)}
    labels = {m: i for i, m in enumerate(dict.fromkeys(long[label]))}
    table = table.sort_values(by=[label, "task"], key=lambda s: s.map(labels if s.name == label else order))
    return table.reset_index(drop=True)


def summarise_evaluations(per_seed: pd.DataFrame, label: str, task_order: Sequence[str]) -> pd.DataFrame:
    """Evaluations to the optimum per task, plus ``total`` = the per-seed sum over tasks."""
    totals = per_seed.groupby([label, "seed"], sort=False)["evaluations"].sum().reset_index()
    totals["task"] = "total"
    both = pd.concat([per_seed[[label, "seed", "task", "evaluations"]], totals], ignore_index=True)
    return summarise(both, label, [*task_order, "total"], "evaluations")


def markdown_table(df: pd.DataFrame, floatfmt: str = ".1f") -> str:
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, row in df.iterrows():
        cells = []
        for c in cols:
            v = row[c]
            cells.append(
                format(v, floatfmt) if isinstance(v, float | np.floating) and np.isfinite(v) else str(v)
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def nb201_markdown(table: pd.DataFrame, per_seed: pd.DataFrame) -> str:
    tasks = [t for t in dict.fromkeys(table["task"]) if t != "total"] + ["total"]
    wide = table.pivot(index="method", columns="task", values="mean").reindex(columns=tasks)
    wide = wide.reindex(list(dict.fromkeys(table["method"])))
    std = table.pivot(index="method", columns="task", values="std").reindex(columns=tasks)
    n = table.groupby("method")["n_seeds"].min()
    lines = [
        "# NAS-Bench-201: evaluations until the best architecture is found",
        "",
        "Mean ± std over seeds (lower is better). `paper` = KTNAS paper Table II (mean of 10 runs).",
        "",
        "| method | " + " | ".join(tasks) + " | seeds | paper total |",
        "|---|" + "---|" * (len(tasks) + 2),
    ]
    for m in wide.index:
        cells = [f"{wide.loc[m, t]:.1f} ± {std.loc[m, t]:.1f}" for t in tasks]
        paper = PAPER_TABLE_II.get(str(m))
        lines.append(f"| {m} | " + " | ".join(cells) + f" | {n[m]} | {paper[3] if paper else '–'} |")
    censored = per_seed[per_seed["censored"]]
    lines += ["", f"Runs that never queried the optimum (value = evaluations spent): {len(censored)}.", ""]
    return "\n".join(lines)


def evaluations_table(results: Sequence[SearchResult], study: str) -> tuple[pd.DataFrame, str]:
    """Table II (``main``: one row per method) or a KTNAS study (one row per run variant)."""
    tasks = [t.task for t in results[0].tasks]
    if study == "main":
        per_seed = evaluations_frame(results)
        table = summarise_evaluations(per_seed, "method", tasks)
        return table, nb201_markdown(table, per_seed)
    per_seed = evaluations_frame(results, label="run")
    table = summarise_evaluations(per_seed, "run", tasks)
    title = STUDY_TITLES.get(study, study)
    md = f"# NAS-Bench-201: {title}\n\nEvaluations until the best architecture is found.\n\n"
    return table, md + markdown_table(table)


STUDY_TITLES = {"sensitivity": "Sensitivity of KTNAS (r, m, M)", "ablation": "Embedding ablation"}
