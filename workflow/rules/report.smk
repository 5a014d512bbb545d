# results/tables/{space}_transfer.* are the transfer diagnostics, not a study table
ruleorder: diagnostics > table


# seconds of work each: never worth a cluster job
localrules:
    table,
    diagnostics,
    figure,
    results_page,
    publish,
    transfer_study,


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
        files=table_files,
        reference=reference_flag,
        benchmark=benchmark_flag,
        versus=versus_flag,
    shell:
        "ktnas table --space {wildcards.space} --study {wildcards.study} "
        "--inputs {params.files} {params.reference} {params.benchmark} {params.versus} "
        "--out-csv {output.csv} --out-md {output.md} 2> {log}"


rule diagnostics:
    # transfer diagnostics of every multi-task method of the main table (docs/transfer-study.md §3.4)
    input:
        diagnostics_manifests,
    output:
        csv=report(
            "results/tables/{space}_transfer.csv",
            caption="../report/table.rst",
            category="{space}",
        ),
        md="results/tables/{space}_transfer.md",
        png=report(
            "results/figures/{space}_transfer.png",
            caption="../report/figure.rst",
            category="{space}",
        ),
    log:
        "logs/tables/{space}_transfer.log",
    params:
        files=diagnostics_files,
    shell:
        "ktnas diagnostics --inputs {params.files} --out-csv {output.csv} --out-md {output.md} "
        "--out-png {output.png} 2> {log}"


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


rule results_page:
    # an output under results/ stays inside the working directory of `snakemake -d DIR` and never
    # overwrites docs/; `snakemake publish` copies it there
    input:
        unpack(results_page_inputs),
    output:
        report(RESULTS_PAGE, caption="../report/results_page.rst", category="results"),
    log:
        "logs/docs/results_page.log",
    params:
        transfer=transfer_flags,
        landscapes=landscape_flags,
    shell:
        "ktnas results-page --tables {input.tables} {params.transfer} {params.landscapes} --out {output} 2> {log}"


rule publish:
    # `snakemake publish`: the default pipeline, then its results page becomes the repository's
    # docs/results.md (the page names the commit it was built from); never part of the default target.
    # No output: the repository's page is no file of the working directory, so the copy always runs.
    input:
        RESULTS_PAGE,
    log:
        "logs/docs/publish.log",
    params:
        page=PUBLISHED_PAGE,
    shell:
        "cp {input} {params.page} 2> {log}"


rule transfer_study:
    # `snakemake transfer_study`: the concluded transfer-selector study (docs/transfer-study.md), never
    # part of the default target: the selectors of nb201.transfer_study beside every main method on
    # the development seeds, and beside every held-out run (versus nb201.heldout.versus) on the held-out seeds
    input:
        transfer_study_outputs(),
