# DARTS space (paper Tables IV-VI; spec §5): weight-sharing search per (task group, method, seed), then
# retraining per (task, found genotype), then one table per group. Only the `darts` target builds these:
#     snakemake darts --cores 8 --resources gpu=1
# Checkpoints (results/checkpoints/darts/...) are not outputs, so a killed or failed job keeps them and
# resumes from its last generation / epoch when rerun.
from ktnas.config import darts_embedding, darts_retrain_params, darts_search_params
from ktnas.darts import DARTS_METHODS, GROUPS

DARTS = config["darts"]
DARTS_GROUPS = {g: GROUPS[g].tasks for g in DARTS["groups"]}
DARTS_EMBEDDING = darts_embedding(config)
DARTS_TASKS = "|".join(t for g in GROUPS.values() for t in g.tasks)


localrules:
    darts_data,  # downloads: login nodes have the internet that compute nodes often lack
    darts_table,


wildcard_constraints:
    darts_group="|".join(GROUPS),
    darts_method="|".join(DARTS_METHODS),


rule embed_darts:
    output:
        "results/embeddings/darts.parquet",
    log:
        "logs/embed/darts.log",
    benchmark:
        "benchmarks/embed_darts.tsv"
    params:
        method=DARTS_EMBEDDING["method"],
        dim=DARTS_EMBEDDING["dim"],
        seed=DARTS_EMBEDDING["seed"],
        corpus=(
            f"--corpus-size {DARTS_EMBEDDING['corpus_size']}"
            if "corpus_size" in DARTS_EMBEDDING
            else ""
        ),
        version=RESULTS_VERSION,
    shell:
        "ktnas embed --space darts --method {params.method} --dim {params.dim} --seed {params.seed} "
        "{params.corpus} --out {output} 2> {log}"


rule darts_data:
    # one download per dataset, before (and outside) the GPU jobs
    output:
        "results/darts/data/{task}.json",
    log:
        "logs/darts/data/{task}.log",
    wildcard_constraints:
        task=DARTS_TASKS,
    params:
        data_root=DARTS["data_root"],
    shell:
        "ktnas darts-data --task {wildcards.task} --data-root {params.data_root:q} --out {output} 2> {log}"


rule darts_search:
    input:
        data=lambda wc: expand(
            "results/darts/data/{task}.json", task=GROUPS[wc.darts_group].tasks
        ),
        embedding=lambda wc: (
            ["results/embeddings/darts.parquet"] if wc.darts_method == "ktnas" else []
        ),
    output:
        "results/darts/search/{darts_group}/{darts_method}/seed{seed}.json",
    log:
        "logs/darts/search/{darts_group}/{darts_method}/seed{seed}.log",
    benchmark:
        "benchmarks/darts_search_{darts_group}_{darts_method}_seed{seed}.tsv"
    wildcard_constraints:
        seed=r"\d+",
    threads: lambda wc: darts_search_size(wc)["threads"]
    resources:
        gpu=1,
        mem_mb=lambda wc: darts_search_size(wc)["mem_mb"],
        runtime=lambda wc: darts_search_size(wc)["runtime"],
    params:
        hp=lambda wc: json.dumps(
            darts_search_params(config, wc.darts_group), sort_keys=True
        ),
        embedding=lambda wc, input: (
            f"--embedding {input.embedding}" if input.embedding else ""
        ),
        data_root=DARTS["data_root"],
        checkpoint="results/checkpoints/darts/search/{darts_group}/{darts_method}/seed{seed}.json",
        version=RESULTS_VERSION,
    shell:
        "ktnas darts-search --group {wildcards.darts_group} --method {wildcards.darts_method} "
        "--seed {wildcards.seed} --params {params.hp:q} --data-root {params.data_root:q} "
        "{params.embedding} --checkpoint {params.checkpoint} --out {output} 2> {log}"


rule darts_retrain:
    input:
        "results/darts/search/{darts_group}/{darts_method}/seed{seed}.json",
    output:
        "results/darts/retrain/{darts_group}/{darts_method}/seed{seed}/{task}.json",
    log:
        "logs/darts/retrain/{darts_group}/{darts_method}/seed{seed}/{task}.log",
    benchmark:
        "benchmarks/darts_retrain_{darts_group}_{darts_method}_seed{seed}_{task}.tsv"
    wildcard_constraints:
        seed=r"\d+",
        task=DARTS_TASKS,
    threads: lambda wc: darts_retrain_size(wc)["threads"]
    resources:
        gpu=1,
        mem_mb=lambda wc: darts_retrain_size(wc)["mem_mb"],
        runtime=lambda wc: darts_retrain_size(wc)["runtime"],
    params:
        hp=lambda wc: json.dumps(
            darts_retrain_params(config, wc.darts_group, wc.task), sort_keys=True
        ),
        data_root=DARTS["data_root"],
        checkpoint="results/checkpoints/darts/retrain/{darts_group}/{darts_method}/seed{seed}/{task}.pt",
        version=RESULTS_VERSION,
    shell:
        "ktnas darts-retrain --search {input} --task {wildcards.task} --params {params.hp:q} "
        "--data-root {params.data_root:q} --checkpoint {params.checkpoint} --out {output} 2> {log}"


rule darts_table:
    input:
        lambda wc: expand(
            "results/darts/retrain/{darts_group}/{darts_method}/seed{seed}/{task}.json",
            darts_group=wc.darts_group,
            darts_method=DARTS["methods"],
            seed=range(DARTS["seeds"]),
            task=GROUPS[wc.darts_group].tasks,
        ),
    output:
        csv=report(
            "results/tables/darts_{darts_group}.csv",
            caption="../report/darts.rst",
            category="DARTS space",
        ),
        md="results/tables/darts_{darts_group}.md",
    log:
        "logs/tables/darts_{darts_group}.log",
    shell:
        "ktnas aggregate --kind darts --inputs {input} --out-csv {output.csv} --out-md {output.md} 2> {log}"


rule darts:
    input:
        expand("results/tables/darts_{darts_group}.csv", darts_group=DARTS_GROUPS),
