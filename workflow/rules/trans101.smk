localrules:
    table_trans101,
    figure_trans101_kendall,


rule benchmark_trans101:
    output:
        "results/benchmarks/trans101.parquet",
    log:
        "logs/benchmark/trans101.log",
    params:
        source=config["benchmarks"]["trans101"],
        version=RESULTS_VERSION,
    shell:
        "ktnas benchmark --space trans101 --source {params.source:q} --out {output} 2> {log}"


rule embed_trans101:
    output:
        "results/embeddings/trans101.parquet",
    log:
        "logs/embed/trans101.log",
    benchmark:
        "benchmarks/embed_trans101.tsv"
    params:
        method=config["embedding"]["method"],
        dim=config["embedding"]["dim"],
        seed=config["embedding"]["seed"],
        version=RESULTS_VERSION,
    shell:
        "ktnas embed --space trans101 --method {params.method} --dim {params.dim} --seed {params.seed} "
        "--out {output} 2> {log}"


rule search_trans101:
    input:
        benchmark="results/benchmarks/trans101.parquet",
        embedding="results/embeddings/trans101.parquet",
    output:
        "results/search/trans101/{method}/seed{seed}.json",
    log:
        "logs/search/trans101/{method}/seed{seed}.log",
    benchmark:
        "benchmarks/search_trans101_{method}_seed{seed}.tsv"
    wildcard_constraints:
        seed=r"\d+",
    params:
        hp=lambda wc: json.dumps(
            config["trans101"]["methods"][wc.method], sort_keys=True
        ),
        tasks=",".join(config["trans101"]["tasks"]),
        checkpoint="results/checkpoints/trans101/{method}/seed{seed}.json",
        version=RESULTS_VERSION,
    shell:
        "ktnas search --space trans101 --method {wildcards.method} --seed {wildcards.seed} "
        "--tasks {params.tasks} --params {params.hp:q} --benchmark {input.benchmark} "
        "--embedding {input.embedding} --checkpoint {params.checkpoint} --out {output} 2> {log}"


rule table_trans101:
    input:
        runs=expand(
            "results/search/trans101/{method}/seed{seed}.json",
            method=list(config["trans101"].get("methods") or {}),
            seed=range(config["trans101"]["seeds"]),
        ),
        benchmark="results/benchmarks/trans101.parquet",
    output:
        csv=report(
            "results/tables/trans101_performance.csv",
            caption="../report/trans101_performance.rst",
            category="TransNAS-Bench-101",
        ),
        md="results/tables/trans101_performance.md",
    log:
        "logs/tables/trans101_performance.log",
    shell:
        "ktnas aggregate --kind trans101 --inputs {input.runs} --benchmark {input.benchmark} "
        "--out-csv {output.csv} --out-md {output.md} 2> {log}"


rule figure_trans101_kendall:
    input:
        "results/benchmarks/trans101.parquet",
    output:
        report(
            "results/figures/trans101_kendall.png",
            caption="../report/trans101_kendall.rst",
            category="TransNAS-Bench-101",
        ),
    log:
        "logs/figures/trans101_kendall.log",
    shell:
        "ktnas figure --kind trans101_kendall --benchmark {input} --out {output} 2> {log}"
