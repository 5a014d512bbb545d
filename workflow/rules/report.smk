rule table:
    input:
        unpack(table_inputs),
        reference=reference_files,
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
        benchmark=benchmark_flag,
    shell:
        "ktnas table --space {wildcards.space} --study {wildcards.study} "
        "--inputs {input.results} {input.reference} {params.benchmark} "
        "--out-csv {output.csv} --out-md {output.md} 2> {log}"


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
    shell:
        "ktnas figure --kind {wildcards.kind} --space {wildcards.space} --inputs {input.results} "
        "--benchmark {input.benchmark} --out {output} 2> {log}"


rule results_page:
    # docs/results.md for the repository: `cp results/docs/results.md docs/` after a full run (an output
    # under results/ stays inside the working directory of `snakemake -d DIR` and never overwrites docs/)
    input:
        unpack(results_page_inputs),
    output:
        report(RESULTS_PAGE, caption="../report/results_page.rst", category="results"),
    log:
        "logs/docs/results_page.log",
    params:
        transfer=transfer_flags,
    shell:
        "ktnas results-page --tables {input.tables} {params.transfer} --out {output} 2> {log}"
