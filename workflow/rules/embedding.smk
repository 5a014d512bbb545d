rule embed_nb201:
    output:
        "results/embeddings/nb201.parquet",
    log:
        "logs/embed/nb201.log",
    benchmark:
        "benchmarks/embed_nb201.tsv"
    params:
        method=config["embedding"]["method"],
        dim=config["embedding"]["dim"],
        seed=config["embedding"]["seed"],
        version=RESULTS_VERSION,
    shell:
        "ktnas embed --space nb201 --method {params.method} --dim {params.dim} --seed {params.seed} "
        "--out {output} 2> {log}"


rule embed_nb201_encoding:
    # Table VIII ablation: other architecture encodings than the configured one
    output:
        "results/embeddings/nb201-{encoding}.parquet",
    log:
        "logs/embed/nb201-{encoding}.log",
    benchmark:
        "benchmarks/embed_nb201-{encoding}.tsv"
    wildcard_constraints:
        encoding="node2vec|onehot|path",
    params:
        dim=config["embedding"]["dim"],
        seed=config["embedding"]["seed"],
        version=RESULTS_VERSION,
    shell:
        "ktnas embed --space nb201 --method {wildcards.encoding} --dim {params.dim} --seed {params.seed} "
        "--out {output} 2> {log}"
