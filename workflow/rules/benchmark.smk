rule benchmark:
    output:
        "results/benchmarks/{space}.parquet",
    log:
        "logs/benchmark/{space}.log",
    benchmark:
        "logs/benchmark/{space}.tsv"
    wildcard_constraints:
        space="|".join(TABULAR),
    params:
        source=benchmark_source,
        code=CODE_FINGERPRINT,
    shell:
        "ktnas benchmark --space {wildcards.space} --source {params.source:q} --out {output} 2> {log}"
