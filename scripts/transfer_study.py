"""Transfer study (docs/transfer-study.md): run the methods seed by seed in one process, then tabulate.

    python scripts/transfer_study.py run --space nb201 --seeds 0-99 --out /tmp/transfer_study/nb201 \
        --embedding /tmp/nb201emb.parquet
    python scripts/transfer_study.py table --space nb201 --results /tmp/transfer_study/nb201 --seeds 0-99

``run`` writes ``<out>/<method>/seed<N>.json`` (an existing file is kept, so an interrupted run resumes),
one search at a time, methods in the plan's order, and applies the plan's cut rule (§3.3) from the
measured time per seed of the first method. ``table`` prints, per method, n, mean, median and paired
two-sided Wilcoxon p-values against each ``--versus`` method, Holm-corrected over each column; with
``--choose`` it applies the plan's selection rule (§3.2) to the study's candidates.

Outcome per seed: NB201, the total over tasks of the evaluations until each task's optimum is first
queried (the evaluations spent when it never is); TransNAS-Bench-101, the found cells' rank averaged over
tasks. This script lives outside the package because it runs searches (reports never import runners).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from ktnas._io import write_json, write_text
from ktnas.report.tables import evaluations_frame, load_results, markdown_table
from ktnas.search.selectors import SELECTORS

ROOT = Path(__file__).resolve().parents[1]
BASELINES = ["ktnas", "ktnas_random", "emtnas", "mtnas", "single"]
#: the plan's candidates in its priority order (cut from the end, ties to the earlier)
CANDIDATES = [f"ktnas_{name}" for name in SELECTORS]
BUDGET_MIN = 45.0  # plan §3.3: projected total above this cuts candidates


def parse_seeds(text: str) -> list[int]:
    """``0-99`` or ``1,5,7`` (or a mix) → sorted seeds."""
    seeds: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        seeds.update(range(int(lo), int(hi or lo) + 1))
    return sorted(seeds)


def method_params(space: str, method: str) -> tuple[list[str], dict[str, Any]]:
    """(tasks, hyper-parameters) from config/config.yaml; study methods use those of ``ktnas``."""
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())[space]
    methods = cfg["methods"]
    return list(cfg["tasks"]), dict(methods.get(method, methods["ktnas"]))


def run(args: argparse.Namespace) -> None:
    from ktnas.experiments import run_benchmark_search

    methods = args.methods or [*BASELINES, *CANDIDATES]
    seeds = parse_seeds(args.seeds)
    per_seed: float | None = None
    i = 0
    while i < len(methods):
        method = methods[i]
        tasks, params = method_params(args.space, method)
        started, ran = time.perf_counter(), 0
        for seed in seeds:
            path = args.out / method / f"seed{seed}.json"
            if path.exists():
                continue
            result = run_benchmark_search(
                args.space, method, seed, tasks, params, embedding_path=args.embedding, progress=False
            )
            write_json(path, result)
            ran += 1
        elapsed = time.perf_counter() - started
        print(f"{method}: {ran} seeds run in {elapsed:.0f} s", file=sys.stderr, flush=True)
        if per_seed is None and ran:
            per_seed = elapsed / ran
            projected = per_seed * len(seeds) * len(methods) / 60
            while projected > args.budget_min and any(m in CANDIDATES for m in methods[i + 1 :]):
                dropped = next(m for m in reversed(methods) if m in CANDIDATES)
                methods.remove(dropped)
                projected = per_seed * len(seeds) * len(methods) / 60
                print(f"cut rule: dropped {dropped} (projected {projected:.0f} min)", file=sys.stderr)
            print(f"{per_seed:.2f} s/seed, projected {projected:.0f} min in all", file=sys.stderr, flush=True)
        i += 1


def outcomes(space: str, results: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per (method, seed) with ``value`` (lower is better)."""
    if space == "nb201":
        per = evaluations_frame(results)
        return per.groupby(["method", "seed"], sort=False)["evaluations"].sum().reset_index(name="value")
    from ktnas.report.trans101_tables import found_frame

    per = found_frame(results)
    return per.groupby(["method", "seed"], sort=False)["rank"].mean().reset_index(name="value")


def wilcoxon_p(a: pd.Series, b: pd.Series) -> float:
    """Paired two-sided Wilcoxon signed-rank p over the shared seeds (1.0 when every pair is equal)."""
    from scipy.stats import wilcoxon

    shared = a.index.intersection(b.index)
    diff = a[shared].to_numpy(dtype=float) - b[shared].to_numpy(dtype=float)
    if len(shared) == 0:
        return float("nan")
    if not np.any(diff):
        return 1.0
    return float(wilcoxon(a[shared].to_numpy(dtype=float), b[shared].to_numpy(dtype=float)).pvalue)


def holm(p: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values (NaN entries stay NaN and are not counted)."""
    p_arr = np.asarray(p, dtype=float)
    valid = np.flatnonzero(~np.isnan(p_arr))
    adj = np.full(len(p_arr), np.nan)
    running = 0.0
    for i, idx in enumerate(valid[np.argsort(p_arr[valid], kind="stable")]):
        running = max(running, min(1.0, (len(valid) - i) * p_arr[idx]))
        adj[idx] = running
    return adj.tolist()


def study_table(values: pd.DataFrame, versus: Sequence[str]) -> pd.DataFrame:
    wide = values.pivot(index="seed", columns="method", values="value")
    methods = list(dict.fromkeys(values["method"]))
    table = pd.DataFrame(
        {
            "method": methods,
            "n": [int(wide[m].notna().sum()) for m in methods],
            "mean": [float(wide[m].mean()) for m in methods],
            "median": [float(wide[m].median()) for m in methods],
        }
    )
    for ref in versus:
        if ref not in wide:
            continue
        raw = [np.nan if m == ref else wilcoxon_p(wide[m].dropna(), wide[ref].dropna()) for m in methods]
        table[f"p_vs_{ref}_holm"] = holm(raw)
    return table


def choose(table: pd.DataFrame) -> str:
    """Plan §3.2: the candidate with the lowest mean; means within 0.5 → lower median; then plan order."""
    cands = table[table["method"].isin(CANDIDATES)].copy()
    if cands.empty:
        raise SystemExit("no study candidate in the results; nothing to choose")
    cands["order"] = cands["method"].map(CANDIDATES.index)
    best = cands.sort_values(["mean", "order"]).iloc[0]
    close = cands[cands["mean"] - best["mean"] < 0.5]
    return str(close.sort_values(["median", "order"]).iloc[0]["method"])


def table_cmd(args: argparse.Namespace) -> None:
    from ktnas.report.transfer_diagnostics import diagnostics_table, plot_diagnostics

    seeds = set(parse_seeds(args.seeds))
    files = sorted(args.results.glob("*/seed*.json"))
    results = [r for r in load_results(files) if r["seed"] in seeds]
    if args.methods:
        results = [r for r in results if r["method"] in set(args.methods)]
    order = {m: i for i, m in enumerate(args.methods or [*BASELINES, *CANDIDATES])}
    results.sort(key=lambda r: (order.get(r["method"], len(order)), r["method"], r["seed"]))
    values = outcomes(args.space, results)
    table = study_table(values, args.versus)
    label = "total evaluations to the optimum" if args.space == "nb201" else "average rank of the found cell"
    md = f"# Transfer study, {args.space}, seeds {args.seeds}: {label} (lower is better)\n\n"
    md += "Paired two-sided Wilcoxon signed-rank over shared seeds, Holm-corrected per column.\n\n"
    md += markdown_table(table, ".4g")
    chosen = None
    if args.choose:
        chosen = choose(table)
        md += f"\nChosen by the pre-registered rule (lowest mean among candidates): **{chosen}**\n"
    print(md)
    tag = args.seeds.replace(",", "_")
    write_text(args.results / f"table_{tag}.md", md)
    write_text(args.results / f"table_{tag}.csv", table.to_csv(index=False, float_format="%.6g"))
    if args.diagnostics:
        wanted = list(dict.fromkeys([*args.diagnostics, *([chosen] if chosen else [])]))
        sub = [r for r in results if r["method"] in wanted]
        diag = diagnostics_table(sub)
        diag_md = "# Transfer diagnostics\n\n" + markdown_table(diag, ".3f")
        print(diag_md)
        write_text(args.results / f"diagnostics_{tag}.md", diag_md)
        plot_diagnostics(sub, args.results / f"diagnostics_{tag}.png")
        full = diagnostics_table([r for r in results if r["method"] != "single"])
        write_text(args.results / f"diagnostics_all_{tag}.csv", full.to_csv(index=False, float_format="%.4f"))
        write_text(args.results / f"diagnostics_all_{tag}.md", markdown_table(full, ".3f"))


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run the searches, one after another, writing per-seed JSONs")
    r.add_argument("--space", default="nb201", choices=["nb201", "trans101"])
    r.add_argument("--seeds", default="0-99")
    r.add_argument("--methods", nargs="*", default=None, help="default: baselines then candidates")
    r.add_argument("--embedding", type=Path, required=True)
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--budget-min", type=float, default=BUDGET_MIN)
    r.set_defaults(func=run)
    t = sub.add_parser("table", help="the study table from per-seed JSONs")
    t.add_argument("--space", default="nb201", choices=["nb201", "trans101"])
    t.add_argument("--results", type=Path, required=True)
    t.add_argument("--seeds", default="0-99")
    t.add_argument("--methods", nargs="*", default=None)
    t.add_argument("--versus", nargs="*", default=["ktnas", "emtnas"])
    t.add_argument("--choose", action="store_true", help="apply the selection rule (development seeds)")
    t.add_argument("--diagnostics", nargs="*", default=None, help="methods for the diagnostics table/figure")
    t.set_defaults(func=table_cmd)
    args = ap.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
