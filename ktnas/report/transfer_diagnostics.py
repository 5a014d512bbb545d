"""Transfer diagnostics from search results (docs/transfer-study.md §3.4): how labels, transfer rank
and the random fill shape what a multi-task method transfers.

Trace fields read, per generation entry of a task (written by ``MultiTaskSearch._record``):

* ``transferred`` — TP selected at the end of this generation; ``source_rank`` (0 = best in its own
  population), ``by_score`` (decided by the score, not by Algorithm 3's random fill) align with it;
* ``scores`` / ``phi`` — the selector's score and transfer rank of every candidate (``phi`` is None for
  policies without one: fittest, random, adaptive);
* ``labels`` / ``child_in_elite`` — outcome of the *previous* entry's ``transferred``, used in this
  generation: the policy's label (None: no child) and whether a child entered the target's elite.

Source ranks are 0-based (0 = best in the source population, as the loop's ``Candidate.rank``); target
ranks are 1-based ranks in the target task's benchmark table (1 = best), as in the Fig. 6 reproduction.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ktnas._io import atomic_path, write_text
from ktnas.report.tables import load_results, markdown_table

#: |φ| below this counts as φ = 0 (graded and weighted φ are sums of floats)
ZERO = 1e-9


@cache
def _target_ranks(space: str, task: str) -> pd.Series:
    from ktnas.benchmarks import get_task, load_benchmark

    bench = load_benchmark(space)
    spec = get_task(task)
    fit = pd.Series(spec.fitness(bench.table[spec.fitness_column]), index=bench.table.index)
    return fit.rank(ascending=False, method="min")


def transfers_frame(results: Sequence[dict[str, Any]], target_rank: bool = True) -> pd.DataFrame:
    """One row per transferred cell: method, seed, task, generation, arch, source_rank (0 = best),
    by_score, target_rank (benchmark rank on the target task), label and child_in_elite (None: no child
    or the run ended before the outcome)."""
    rows = []
    for res in results:
        for t in res["tasks"]:
            ranks = _target_ranks(res["space"], t["task"]) if target_rank else None
            trace = t.get("trace", [])
            for k, entry in enumerate(trace):
                if "source_rank" not in entry:
                    continue  # a result from before the diagnostics were recorded
                n = len(entry["transferred"])
                nxt = trace[k + 1] if k + 1 < len(trace) else {"labels": [], "child_in_elite": []}
                # no outcome when the run ended, or the task stopped before using these transfers (a task
                # can find its optimum in its initial population and still get an initial TP)
                used = len(nxt["labels"]) == n
                labels = nxt["labels"] if used else [None] * n
                elite = nxt["child_in_elite"] if used else [None] * n
                for j, arch in enumerate(entry["transferred"]):
                    rows.append(
                        {
                            "method": res["method"],
                            "seed": res["seed"],
                            "task": t["task"],
                            "generation": entry["generation"],
                            "arch": arch,
                            "source_rank": entry["source_rank"][j],
                            "by_score": bool(entry["by_score"][j]),
                            "target_rank": float(ranks[arch]) if ranks is not None else np.nan,
                            "label": labels[j],
                            "child_in_elite": elite[j],
                        }
                    )
    cols = [
        "method",
        "seed",
        "task",
        "generation",
        "arch",
        "source_rank",
        "by_score",
        "target_rank",
        "label",
        "child_in_elite",
    ]
    return pd.DataFrame(rows, columns=cols)


def phi_values(results: Sequence[dict[str, Any]]) -> dict[str, np.ndarray]:
    """method -> every candidate's φ over all selections (empty for methods without φ)."""
    out: dict[str, list[np.ndarray]] = {}
    for res in results:
        bucket = out.setdefault(res["method"], [])
        for t in res["tasks"]:
            for entry in t.get("trace", []):
                if entry.get("phi") is not None and entry.get("transferred"):
                    bucket.append(np.asarray(entry["phi"], dtype=np.float64))
    return {m: np.concatenate(v) if v else np.zeros(0) for m, v in out.items()}


def diagnostics_table(results: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Per method: positive-label rate, fractions φ > 0 / < 0 / = 0, fraction decided by score, mean
    source and target ranks of transferred cells, rate of transferred cells whose child enters the elite.

    Only the policy's own choices count: the initial TP (generation 0, random for every method) is left
    out, and so are its labels."""
    tf = transfers_frame(results)
    tf = tf[tf["generation"] >= 1]
    phis = phi_values(results)
    rows = []
    for method in dict.fromkeys(r["method"] for r in results):
        sub = tf[tf["method"] == method]
        if sub.empty:
            continue
        labels = sub["label"].dropna().astype(float)
        elite = sub["child_in_elite"].dropna().astype(bool)
        phi = phis.get(method, np.zeros(0))
        rows.append(
            {
                "method": method,
                "transfers": len(sub),
                "labels": len(labels),
                "positive_label_rate": float((labels > 0).mean()) if len(labels) else np.nan,
                "phi_pos": float((phi > ZERO).mean()) if len(phi) else np.nan,
                "phi_neg": float((phi < -ZERO).mean()) if len(phi) else np.nan,
                "phi_zero": float((np.abs(phi) <= ZERO).mean()) if len(phi) else np.nan,
                "by_score": float(sub["by_score"].mean()),
                "source_rank": float(sub["source_rank"].mean()),
                "target_rank": float(sub["target_rank"].mean()),
                "child_elite_rate": float(elite.mean()) if len(elite) else np.nan,
            }
        )
    return pd.DataFrame(rows)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_diagnostics(results: Sequence[dict[str, Any]], path: str | Path, min_runs: int = 10) -> None:
    """Three panels: positive-label rate per generation, φ distribution, mean source rank per generation
    (means over seeds and tasks; a method's curve stops where fewer than ``min_runs`` (seed, task) runs
    still transfer, since searches stop at the optimum and the last few generations are noise)."""
    plt = _pyplot()
    tf = transfers_frame(results, target_rank=False)
    tf = tf[tf["generation"] >= 1]
    live = (
        tf.drop_duplicates(["method", "generation", "seed", "task"]).groupby(["method", "generation"]).size()
    )
    tf = tf[[live.get((m, g), 0) >= min_runs for m, g in zip(tf["method"], tf["generation"], strict=True)]]
    phis = phi_values(results)
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    palette = plt.get_cmap("tab10")
    color = {m: palette(i % 10) for i, m in enumerate(dict.fromkeys(r["method"] for r in results))}
    for method, g in tf.groupby("method", sort=False):
        lab = g.dropna(subset=["label"])
        rate = lab.assign(pos=lab["label"].astype(float) > 0).groupby("generation")["pos"].mean()
        axes[0].plot(rate.index, rate.to_numpy(), label=method, lw=1.2, color=color[method])
        src = g.groupby("generation")["source_rank"].mean()
        axes[2].plot(src.index, src.to_numpy(), label=method, lw=1.2, color=color[method])
    bins = np.arange(-8.25, 8.5, 0.5)
    for method, phi in phis.items():
        if len(phi):
            axes[1].hist(
                np.clip(phi, -8, 8),
                bins=bins,
                histtype="step",
                density=True,
                label=method,
                lw=1.2,
                color=color[method],
            )
    axes[0].set(xlabel="generation (transfer made)", ylabel="positive-label rate", title="labels")
    axes[1].set(xlabel="φ of candidates (clipped to ±8)", ylabel="density", title="transfer rank φ")
    axes[1].set_yscale("log")
    axes[2].set(xlabel="generation", ylabel="mean source rank (0 = best)", title="transferred cells")
    for ax in axes:
        ax.grid(alpha=0.3)
    for ax in axes[1:]:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=130, bbox_inches="tight")
    plt.close(fig)


def result_files(inputs: Sequence[Path]) -> list[Path]:
    """Result JSONs: files as given, folders searched recursively for ``*.json``."""
    files: list[Path] = []
    for p in inputs:
        files.extend(sorted(p.rglob("*.json")) if p.is_dir() else [p])
    return files


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+", type=Path, help="result JSON files or folders of them")
    ap.add_argument("--methods", nargs="*", default=None, help="only these methods (default: all)")
    ap.add_argument("--out-md", type=Path, default=None)
    ap.add_argument("--out-csv", type=Path, default=None)
    ap.add_argument("--out-png", type=Path, default=None)
    args = ap.parse_args(argv)
    results = load_results(result_files(args.inputs))
    if args.methods:
        keep = set(args.methods)
        results = [r for r in results if r["method"] in keep]
    table = diagnostics_table(results)
    md = "# Transfer diagnostics\n\n" + markdown_table(table, ".3f")
    print(md)
    if args.out_md:
        write_text(args.out_md, md)
    if args.out_csv:
        write_text(args.out_csv, table.to_csv(index=False, float_format="%.4f"))
    if args.out_png:
        plot_diagnostics(results, args.out_png)


if __name__ == "__main__":
    main()
