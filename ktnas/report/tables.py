"""Tables from per-seed search results: CSV in long format plus a Markdown twin (paper Tables II, III,
VII- and VIII-style)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ktnas._io import KtnasError, write_text

#: paper Table II (spec §7): evaluations until the best architecture is found
PAPER_TABLE_II: dict[str, tuple[float, float, float, float]] = {
    "rs": (7782.1, 7621.2, 7726.1, 23129.4),
    "rea": (563.2, 438.2, 715.1, 1439.6),
    "zero": (230.8, 18.4, 213.0, 462.2),
    "mtnas": (106.0, 30.1, 92.3, 228.4),
    "ktnas_random": (105.8, 51.6, 66.1, 223.5),
    "ktnas": (100.7, 27.9, 60.0, 188.5),
}


def load_results(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """Search results; each gets ``run`` = its folder name (``results/search/<space>/<run>/seedN.json``),
    which tells apart variants of one method (e.g. ``ktnas-r0.5``)."""
    out = []
    for p in paths:
        try:
            res = json.loads(Path(p).read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise KtnasError(
                f"{p}: unreadable search result ({err}); delete it and rerun its search job"
            ) from None
        res.setdefault("run", Path(p).parent.name)
        out.append(res)
    return out


def evaluations_frame(results: Sequence[dict[str, Any]], label: str = "method") -> pd.DataFrame:
    """Per-seed evaluations-to-optimum: one row per (label, seed, task); ``censored`` when the optimum
    was never queried (the value is then the evaluations spent, a lower bound)."""
    rows = []
    for res in results:
        for t in res["tasks"]:
            found = t.get("found_at")
            rows.append(
                {
                    label: res["run"] if label == "run" else res["method"],
                    "seed": res["seed"],
                    "task": t["task"],
                    "evaluations": found if found is not None else t["n_queries"],
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


def aggregate_cli(args: argparse.Namespace) -> None:
    results = load_results(args.inputs)
    if args.kind == "nb201":
        per_seed = evaluations_frame(results)
        table = summarise_evaluations(per_seed, "method", [t["task"] for t in results[0]["tasks"]])
        md = nb201_markdown(table, per_seed)
    elif args.kind in ("sensitivity", "ablation"):
        per_seed = evaluations_frame(results, label="run")
        table = summarise_evaluations(per_seed, "run", [t["task"] for t in results[0]["tasks"]])
        title = "Sensitivity of KTNAS (r, m, M)" if args.kind == "sensitivity" else "Embedding ablation"
        md = f"# NAS-Bench-201: {title}\n\nEvaluations until the best architecture is found.\n\n"
        md += markdown_table(table)
    else:
        from ktnas.report.trans101_tables import trans101_table

        table, md = trans101_table(results, args.benchmark)
    write_text(args.out_csv, table.to_csv(index=False, float_format="%.4f"))
    write_text(args.out_md, md)
