"""Task relatedness (paper Fig. 2): Kendall τ between the tasks' architecture rankings, for any benchmark."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from ktnas._io import atomic_path
from ktnas.benchmarks import Benchmark


def kendall_matrix(benchmark: Benchmark, tasks: Sequence[str] | None = None) -> pd.DataFrame:
    """Kendall τ-b between every pair of tasks over the benchmark's cells (Fig. 2).

    Each task's metric is turned into higher-is-better fitness first (room layout's loss is negated),
    so a positive τ means two tasks agree on which cells are better. Cells missing a task's metric are
    left out of that pair.
    """
    specs = {t.name: t for t in benchmark.tasks()}
    names = list(tasks) if tasks is not None else list(specs)
    unknown = [n for n in names if n not in specs]
    if unknown:
        raise ValueError(
            f"kendall_matrix: tasks {unknown} not in the {benchmark.space} benchmark; "
            f"choose from {', '.join(specs)}"
        )
    fitness = {n: specs[n].fitness(benchmark.table[specs[n].fitness_column]) for n in names}
    out = np.eye(len(names))
    for i, a in enumerate(names):
        for j in range(i + 1, len(names)):
            b = names[j]
            ok = np.isfinite(fitness[a]) & np.isfinite(fitness[b])
            tau = kendalltau(fitness[a][ok], fitness[b][ok]).statistic
            out[i, j] = out[j, i] = tau
    return pd.DataFrame(out, index=pd.Index(names, name="task"), columns=pd.Index(names, name="task"))


def plot_kendall_heatmap(df: pd.DataFrame, path: str | os.PathLike[str], title: str | None = None) -> None:
    """Write the τ matrix as an annotated heatmap PNG (atomically; Agg canvas, no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    values = df.to_numpy(dtype=np.float64)
    n = len(df)
    fig = Figure(figsize=(1.1 * n + 2.0, 1.0 * n + 1.5), dpi=150)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    im = ax.imshow(values, cmap="RdBu_r", vmin=-1.0, vmax=1.0)
    labels = [str(c) for c in df.columns]
    ax.set_xticks(range(n), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(df.index)), [str(r) for r in df.index])
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            ax.text(
                j,
                i,
                f"{v:.2f}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if abs(v) > 0.6 else "black",
            )
    fig.colorbar(im, ax=ax, label="Kendall τ")
    ax.set_title(title or "Kendall τ between task rankings")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
