localrules:
    table_nb201,
    table_nb201_sensitivity,
    table_nb201_ablation,
    figure_nb201_convergence,
    figure_nb201_transfer_rank,


rule table_nb201:
    input:
        run_files("main"),
    output:
        csv=report(
            "results/tables/nb201_evaluations.csv",
            caption="../report/nb201_evaluations.rst",
            category="NAS-Bench-201",
        ),
        md="results/tables/nb201_evaluations.md",
    log:
        "logs/tables/nb201_evaluations.log",
    shell:
        "ktnas aggregate --kind nb201 --inputs {input} --out-csv {output.csv} --out-md {output.md} 2> {log}"


rule table_nb201_sensitivity:
    input:
        run_files("sensitivity"),
    output:
        csv=report(
            "results/tables/nb201_sensitivity.csv",
            caption="../report/nb201_sensitivity.rst",
            category="NAS-Bench-201",
        ),
        md="results/tables/nb201_sensitivity.md",
    log:
        "logs/tables/nb201_sensitivity.log",
    shell:
        "ktnas aggregate --kind sensitivity --inputs {input} --out-csv {output.csv} --out-md {output.md} 2> {log}"


rule table_nb201_ablation:
    input:
        run_files("ablation"),
    output:
        csv=report(
            "results/tables/nb201_embedding_ablation.csv",
            caption="../report/nb201_ablation.rst",
            category="NAS-Bench-201",
        ),
        md="results/tables/nb201_embedding_ablation.md",
    log:
        "logs/tables/nb201_embedding_ablation.log",
    shell:
        "ktnas aggregate --kind ablation --inputs {input} --out-csv {output.csv} --out-md {output.md} 2> {log}"


rule figure_nb201_convergence:
    input:
        run_files("figures"),
    output:
        report(
            "results/figures/nb201_convergence.png",
            caption="../report/nb201_convergence.rst",
            category="NAS-Bench-201",
        ),
    log:
        "logs/figures/nb201_convergence.log",
    shell:
        "ktnas figure --kind nb201_convergence --inputs {input} --out {output} 2> {log}"


rule figure_nb201_transfer_rank:
    input:
        runs=run_files("figures"),
        benchmark="results/benchmarks/nb201.parquet",
    output:
        report(
            "results/figures/nb201_transfer_rank.png",
            caption="../report/nb201_transfer_rank.rst",
            category="NAS-Bench-201",
        ),
    log:
        "logs/figures/nb201_transfer_rank.log",
    shell:
        "ktnas figure --kind nb201_transfer_rank --inputs {input.runs} --benchmark {input.benchmark} "
        "--out {output} 2> {log}"
