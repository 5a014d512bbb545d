import json

from ktnas import __version__
from ktnas.config import (
    darts_retrain_params,
    darts_search_params,
    nb201_runs,
    validate_config,
)
from ktnas.darts import retrain_config, search_params

# one clear message naming the bad key and the allowed values, before any job starts
config.update(validate_config(config))

NB201_RUNS = nb201_runs(config)
NB201_TASKS = ",".join(config["nb201"]["tasks"])
# bump when a change in ktnas would change results (Snakemake does not notice edits to a package)
RESULTS_VERSION = __version__


def run_of(wildcards):
    return NB201_RUNS[wildcards.run]


def run_files(group):
    return [
        f"results/search/nb201/{r.name}/seed{s}.json"
        for r in NB201_RUNS.values()
        if r.group == group
        for s in range(r.seeds)
    ]


def embedding_file(encoding):
    main = config["embedding"]["method"]
    return (
        "results/embeddings/nb201.parquet"
        if encoding == main
        else f"results/embeddings/nb201-{encoding}.parquet"
    )


def proxy_file():
    return (
        []
        if config["proxies"]["source"] == "bundled"
        else ["results/proxies/nb201.parquet"]
    )


def all_outputs():
    out = ["results/embeddings/nb201.parquet", "results/tables/nb201_evaluations.csv"]
    groups = {r.group for r in NB201_RUNS.values()}
    if "figures" in groups:
        out += [
            "results/figures/nb201_convergence.png",
            "results/figures/nb201_transfer_rank.png",
        ]
    if "sensitivity" in groups:
        out.append("results/tables/nb201_sensitivity.csv")
    if "ablation" in groups:
        out.append("results/tables/nb201_embedding_ablation.csv")
    if config["trans101"].get("methods"):
        out += [
            "results/tables/trans101_performance.csv",
            "results/figures/trans101_kendall.png",
        ]
    return out


# DARTS job sizes (threads, mem_mb, runtime of darts_search / darts_retrain) follow the configured
# networks: the paper's settings (search C=20, batch 128, K=20, T=200; retraining C>=20, 11 cells, batch 64,
# 600 epochs) get the full request below, smaller configurations (config/test.yaml) a proportionally
# smaller one, down to 1 CPU, 2 GB, 30 min. `threads` is also the CPU count the SLURM plugin asks for.
# A site can still override any of these with `set-resources`.
def _job_size(scale, work, cpus, mem_mb, runtime):
    return {
        "threads": max(1, min(cpus, round(cpus * scale))),
        "mem_mb": max(2000, min(mem_mb, round(mem_mb * scale))),
        "runtime": max(30, min(runtime, round(runtime * scale * work))),  # minutes
    }


def darts_search_size(wildcards):
    hp = search_params(
        wildcards.darts_group, darts_search_params(config, wildcards.darts_group)
    )
    scale = hp.channels * hp.batch_size / (20 * 128)
    work = hp.population_size * hp.generations / (20 * 200)
    return _job_size(scale, work, cpus=8, mem_mb=32000, runtime=1440)


def darts_retrain_size(wildcards):
    hp = retrain_config(
        wildcards.task,
        darts_retrain_params(config, wildcards.darts_group, wildcards.task),
    )
    scale = hp.channels * hp.layers * hp.batch_size / (20 * 11 * 64)
    return _job_size(scale, hp.epochs / 600, cpus=8, mem_mb=16000, runtime=2880)
