import json

from ktnas import __version__
from ktnas.config import nb201_runs, validate_config

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
