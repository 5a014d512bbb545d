"""Where a pipeline run's CPU went: the jobs' CPU summed by part.

    python scripts/pipeline_cpu.py WORKDIR [--wall SECONDS --total-cpu SECONDS]

Parts: the NB201 predictor searches (``gcn``; ``weaknas``, ``nsganetv2``, ``lanas``), the TransNAS-Bench-101
multi-task methods (main and held-out runs, and the studies, which all fit GCN predictors), the TransNAS
single-task baselines, the NB201 table searches (every other main and held-out run), the NB201 figures,
studies and landscape runs, and the embeddings and benchmark tables. With ``--total-cpu`` (user + system
CPU of the whole ``snakemake`` process, e.g. from ``/usr/bin/time``) it also prints what went outside the
benchmarked jobs (Snakemake itself and the local table, figure and page rules).

A job's CPU is the closing line of its log (``ktnas <stage> finished: ... s CPU``, from the process's own
resource usage, start-up included) where the log has one, else its Snakemake benchmark file
(``logs/**/*.tsv``, ``cpu_time``), which samples the process and so undercounts short jobs. The table says
how many jobs each source gave.
"""

from __future__ import annotations

import argparse
import csv
import re
from collections import defaultdict
from pathlib import Path

MULTITASK = {"single", "emtnas", "mtnas", "ktnas_random", "ktnas", "ktnas_centred"}
NB201_PREDICTORS = {"weaknas", "nsganetv2", "lanas"}
FINISHED = re.compile(r"finished: [0-9.]+ s wall, ([0-9.]+) s CPU")


def job_cpu(tsv: Path) -> tuple[float, str]:
    """CPU seconds of one job and where they came from (``log`` or ``benchmark``)."""
    log = tsv.with_suffix(".log")
    found = FINISHED.findall(log.read_text(errors="replace")) if log.exists() else []
    if found:
        return float(found[-1]), "log"
    with tsv.open() as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return sum(float(r["cpu_time"]) for r in rows), "benchmark"


def part(space: str, run: str) -> str:
    method = run.removeprefix("heldout-")
    if space == "nb201":
        if method == "gcn":
            return "NB201 gcn"
        if method in NB201_PREDICTORS:
            return "NB201 weaknas + nsganetv2 + lanas"
        if run.startswith(("fig-", "ktnas-", "land-")):
            return "NB201 figures, studies, landscapes"
        return "NB201 table searches (main + held-out)"
    if space == "trans101":
        if method in MULTITASK or run.startswith("ktnas-"):
            return "TransNAS multi-task methods and studies (GCN predictor)"
        return "TransNAS single-task baselines"
    return f"{space} searches"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workdir", type=Path, help="the Snakemake working directory of the run")
    ap.add_argument("--wall", type=float, default=None, help="wall seconds of the run, printed beside")
    ap.add_argument("--total-cpu", type=float, default=None, help="CPU seconds of the whole snakemake run")
    args = ap.parse_args()
    cpu: dict[str, float] = defaultdict(float)
    jobs: dict[str, int] = defaultdict(int)
    sources: dict[str, int] = defaultdict(int)
    for tsv in sorted((args.workdir / "logs").rglob("*.tsv")):
        rel = tsv.relative_to(args.workdir / "logs").parts
        if rel[0] == "search":
            name = part(rel[1], rel[2])
        elif rel[0] == "embed":
            name = "embeddings"
        else:
            name = rel[0]
        seconds, source = job_cpu(tsv)
        cpu[name] += seconds
        jobs[name] += 1
        sources[source] += 1
    total = sum(cpu.values())
    print("| part | jobs | CPU-s |\n|---|---|---|")
    for name in sorted(cpu, key=lambda k: -cpu[k]):
        print(f"| {name} | {jobs[name]} | {cpu[name]:.0f} |")
    print(f"| all benchmarked jobs | {sum(jobs.values())} | {total:.0f} |")
    if args.total_cpu is not None:
        print(f"| outside the benchmarked jobs (Snakemake, local rules) | | {args.total_cpu - total:.0f} |")
    print(f"\njob CPU from: {sources['log']} log lines, {sources['benchmark']} benchmark files")
    if args.wall is not None:
        print(f"wall {args.wall:.0f} s")


if __name__ == "__main__":
    main()
