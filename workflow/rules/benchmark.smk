rule benchmark_nb201:
    output:
        "results/benchmarks/nb201.parquet",
    params:
        source=config["benchmarks"]["nb201"],
        version=RESULTS_VERSION,
    log:
        "logs/benchmark/nb201.log",
    benchmark:
        "benchmarks/benchmark_nb201.tsv"
    shell:
        "ktnas benchmark --space nb201 --source {params.source:q} --out {output} 2> {log}"
