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
                        "n_queries": entry.get("n_queries"),
                        "best_fitness": entry["best_fitness"],
                        "transferred": entry["transferred"],
                    }
                )
    return pd.DataFrame(rows)


def _save(fig: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=150, bbox_inches="tight")


#: points of the common evaluation grid of Fig. 5 (log-spaced, rounded to whole evaluations)
GRID_POINTS = 200


def best_so_far(n_queries: np.ndarray, best: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The step function of one trace on ``grid``: the best fitness reached within each evaluation count
    (NaN before the trace's first entry; the last value carries on once the run has stopped)."""
    order = np.argsort(n_queries, kind="stable")
    nq = np.asarray(n_queries, dtype=np.float64)[order]
    reached = np.maximum.accumulate(np.asarray(best, dtype=np.float64)[order])
    idx = np.searchsorted(nq, grid, side="right") - 1
    out = np.full(grid.shape, np.nan)
    ok = idx >= 0
    out[ok] = reached[idx[ok]]
    return out


def convergence_frame(results: Sequence[SearchResult], points: int = GRID_POINTS) -> pd.DataFrame:
    """Fig. 5's curves: per (method, task) and evaluation count of a common log-spaced grid, the mean
    over seeds of the best fitness reached so far and its 95% t-interval (``scipy.stats.t``; NaN with one
    seed). A grid point is kept only where every seed of the method has started."""
    from scipy.stats import t as student_t

    df = trace_frame(results)
    if df.empty:
        raise ValueError("no generation traces in the inputs: Fig. 5 needs multi-task runs (e.g. fig-ktnas)")
    if df["n_queries"].isna().any():
        raise ValueError(
            "a trace lacks n_queries (written by older ktnas versions); rerun those searches for Fig. 5"
        )
    rows = []
    for task, sub in df.groupby("task", sort=False):
        lo, hi = float(sub["n_queries"].min()), float(sub["n_queries"].max())
        grid = np.unique(np.round(np.geomspace(max(lo, 1.0), max(hi, 1.0), points)))
        for method, g in sub.groupby("method", sort=False):
            curves = np.vstack(
                [
                    best_so_far(s["n_queries"].to_numpy(), s["best_fitness"].to_numpy(), grid)
                    for _, s in g.groupby("seed", sort=False)
                ]
            )
            full = ~np.isnan(curves).any(axis=0)
            n = curves.shape[0]
            mean = curves[:, full].mean(axis=0)
            if n > 1:
                half = student_t.ppf(0.975, n - 1) * curves[:, full].std(axis=0, ddof=1) / np.sqrt(n)
            else:
                half = np.full(mean.shape, np.nan)
            rows.append(
                pd.DataFrame(
                    {
                        "method": method,
                        "task": task,
                        "evaluations": grid[full],
                        "mean": mean,
                        "low": mean - half,
                        "high": mean + half,
                        "n_seeds": n,
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


def _fitness_label(task: str) -> str:
    """Axis label of a task's search fitness, from its TaskSpec (losses are negated, so say so)."""
    from ktnas.benchmarks import get_task

    try:
        spec = get_task(task)
    except ValueError:
        return "best search fitness so far"
    sign = "" if int(spec.direction) > 0 else "−"
    return f"best validation {sign}metric so far ({spec.unit})"


def plot_convergence(results: Sequence[SearchResult], path: Path) -> None:
    """Fig. 5: best validation accuracy reached by each number of benchmark evaluations (log scale), mean
    over seeds with a 95% t-interval band, one panel per task."""
    from matplotlib.ticker import FuncFormatter

    plt = _pyplot()
    df = convergence_frame(results)
    tasks = list(dict.fromkeys(df["task"]))
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.4), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        sub = df[df["task"] == task]
        for method, g in sub.groupby("method", sort=False):
            x = g["evaluations"].to_numpy()
            (line,) = ax.step(
                x, g["mean"], where="post", label=f"{method} (n={g['n_seeds'].iloc[0]})", lw=1.5
            )
            ax.fill_between(x, g["low"], g["high"], step="post", alpha=0.2, color=line.get_color())
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        span = sub["evaluations"].max() / sub["evaluations"].min()
        if span < 30:  # under ~1.5 decades the major ticks alone are too few: label 20, 50 (and 30, 40)
            digits = "2345" if span < 10 else "25"
            ax.xaxis.set_minor_formatter(
                FuncFormatter(lambda v, _, d=digits: f"{v:g}" if f"{v:g}"[0] in d else "")
            )
        ax.set_title(task)
        ax.set_xlabel("benchmark evaluations")
        ax.set_ylabel(_fitness_label(task))
        ax.grid(alpha=0.3, which="both")
    axes[0][0].legend(title="mean, 95% t-interval")
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def transfer_rank_frame(results: Sequence[SearchResult], benchmark: Any) -> pd.DataFrame:
    """Mean benchmark rank (1 = best in the table) of each generation's transferred cells, one row per
    (method, seed, task, generation) that transferred any."""
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
                    "seed": r.seed,
                    "task": r.task,
                    "generation": r.generation,
                    "mean_rank": float(np.mean([ranks[r.task][a] for a in r.transferred])),
                }
            )
    return pd.DataFrame(rows, columns=["method", "seed", "task", "generation", "mean_rank"])


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
    from ktnas.report.kendall import kendall_matrix, plot_kendall_heatmap

    plot_kendall_heatmap(kendall_matrix(benchmark), path)


def _convergence(results: Sequence[SearchResult], benchmark: Any, path: Path) -> None:
    plot_convergence(results, path)


#: figure kind -> (results, benchmark, output path) -> None
FIGURES: dict[str, Callable[[Sequence[SearchResult], Any, Path], None]] = {
    "convergence": _convergence,
    "transfer_rank": plot_transfer_rank,
    "kendall": plot_kendall,
}
