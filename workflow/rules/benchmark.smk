rule benchmark_nb201:
    output:
        "results/benchmarks/nb201.parquet",
    log:
        "logs/benchmark/nb201.log",
    benchmark:
        "benchmarks/benchmark_nb201.tsv"
    params:
        source=config["benchmarks"]["nb201"],
        version=RESULTS_VERSION,
    shell:
        "ktnas benchmark --space nb201 --source {params.source:q} --out {output} 2> {log}"
