rule table:
    input:
        unpack(table_inputs),
    output:
        csv=report(
            "results/tables/{space}_{study}.csv",
            caption="../report/table.rst",
            category="{space}",
        ),
        md="results/tables/{space}_{study}.md",
    log:
        "logs/tables/{space}_{study}.log",
    params:
        files=table_files,
        benchmark=benchmark_flag,
    shell:
        "ktnas table --space {wildcards.space} --study {wildcards.study} --inputs {params.files} "
        "{params.benchmark} --out-csv {output.csv} --out-md {output.md} 2> {log}"


rule figure:
    input:
        results=figure_results,
        benchmark="results/benchmarks/{space}.parquet",
    output:
        report(
            "results/figures/{space}_{kind}.png",
            caption="../report/figure.rst",
            category="{space}",
        ),
    log:
        "logs/figures/{space}_{kind}.log",
    wildcard_constraints:
        kind="convergence|transfer_rank|kendall",
    params:
        files=figure_files,
    shell:
        "ktnas figure --kind {wildcards.kind} --space {wildcards.space} --inputs {params.files} "
        "--benchmark {input.benchmark} --out {output} 2> {log}"
