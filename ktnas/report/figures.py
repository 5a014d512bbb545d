"""Figures as PNG (matplotlib, Agg): paper Fig. 5 (convergence), Fig. 6 (rank of transferred
architectures) and Fig. 2 (Kendall τ between TransNAS-Bench-101 tasks)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ktnas._io import atomic_path
from ktnas.results import SearchResult


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def trace_frame(results: Sequence[SearchResult]) -> pd.DataFrame:
    """One row per (method, seed, task, generation) with the best fitness and the transferred cells."""
    rows = []
    for res in results:
        for t in res.tasks:
            for entry in t.trace or []:
                rows.append(
                    {
                        "method": res.method,
                        "seed": res.seed,
                        "task": t.task,
                        "generation": entry["generation"],
                        "best_fitness": entry["best_fitness"],
                        "transferred": entry["transferred"],
                    }
                )
    return pd.DataFrame(rows)


def _save(fig: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=150, bbox_inches="tight")


def plot_convergence(results: Sequence[SearchResult], path: Path) -> None:
    """Fig. 5: best validation accuracy per generation, mean ± std band over seeds, one panel per task."""
    plt = _pyplot()
    df = trace_frame(results)
    tasks = list(dict.fromkeys(df["task"]))
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.4), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        sub = df[df["task"] == task]
        for method, g in sub.groupby("method", sort=False):
            stats = g.groupby("generation")["best_fitness"].agg(["mean", "std"]).fillna(0.0)
            x = stats.index.to_numpy()
            ax.plot(x, stats["mean"], label=method, lw=1.5)
            ax.fill_between(x, stats["mean"] - stats["std"], stats["mean"] + stats["std"], alpha=0.2)
        ax.set_title(task)
        ax.set_xlabel("generation")
        ax.set_ylabel("best validation accuracy (%)")
        ax.grid(alpha=0.3)
    axes[0][0].legend()
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def transfer_rank_frame(results: Sequence[SearchResult], benchmark: Any) -> pd.DataFrame:
    """Mean benchmark rank (1 = best in the table) of each generation's transferred cells."""
    from ktnas.benchmarks import get_task

    df = trace_frame(results)
    ranks: dict[str, pd.Series] = {}
    for task in df["task"].unique():
        spec = get_task(task)
        fit = pd.Series(spec.fitness(benchmark.table[spec.fitness_column]), index=benchmark.table.index)
        ranks[task] = fit.rank(ascending=False, method="min")
    rows = []
    for r in df.itertuples():
        if r.transferred:
            rows.append(
                {
                    "method": r.method,
                    "generation": r.generation,
                    "mean_rank": float(np.mean([ranks[r.task][a] for a in r.transferred])),
                }
            )
    return pd.DataFrame(rows, columns=["method", "generation", "mean_rank"])


def plot_transfer_rank(results: Sequence[SearchResult], benchmark: Any, path: Path) -> None:
    """Fig. 6: mean benchmark rank of the transferred architectures per generation (log scale)."""
    plt = _pyplot()
    df = transfer_rank_frame(results, benchmark)
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for method, g in df.groupby("method", sort=False):
        s = g.groupby("generation")["mean_rank"].mean()
        ax.plot(s.index, s.to_numpy(), label=f"{method} (mean {s.mean():.0f})", lw=1.5)
    ax.set_yscale("log")
    ax.set_xlabel("generation")
    ax.set_ylabel("mean rank of transferred cells (1 = best)")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def plot_kendall(results: Sequence[SearchResult], benchmark: Any, path: Path) -> None:
    """Fig. 2: Kendall τ between the benchmark's task rankings."""
    from ktnas.report.trans101 import kendall_matrix, plot_kendall_heatmap

    plot_kendall_heatmap(kendall_matrix(benchmark), path)


def _convergence(results: Sequence[SearchResult], benchmark: Any, path: Path) -> None:
    plot_convergence(results, path)


#: figure kind -> (results, benchmark, output path) -> None
FIGURES: dict[str, Callable[[Sequence[SearchResult], Any, Path], None]] = {
    "convergence": _convergence,
    "transfer_rank": plot_transfer_rank,
    "kendall": plot_kendall,
}
