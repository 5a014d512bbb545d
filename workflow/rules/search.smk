rule search_nb201:
    input:
        benchmark="results/benchmarks/nb201.parquet",
        embedding=lambda wc: embedding_file(run_of(wc).embedding),
        proxies=proxy_file(),
    output:
        "results/search/nb201/{run}/seed{seed}.json",
    log:
        "logs/search/nb201/{run}/seed{seed}.log",
    benchmark:
        "benchmarks/search_nb201_{run}_seed{seed}.tsv"
    wildcard_constraints:
        seed=r"\d+",
    params:
        method=lambda wc: run_of(wc).method,
        hp=lambda wc: json.dumps(run_of(wc).params, sort_keys=True),
        tasks=NB201_TASKS,
        proxies=lambda wc, input: f"--proxies {input.proxies}" if input.proxies else "",
        checkpoint="results/checkpoints/nb201/{run}/seed{seed}.json",
        version=RESULTS_VERSION,
    shell:
        "ktnas search --space nb201 --method {params.method} --seed {wildcards.seed} "
        "--tasks {params.tasks} --params {params.hp:q} --benchmark {input.benchmark} "
        "--embedding {input.embedding} {params.proxies} --checkpoint {params.checkpoint} "
        "--out {output} 2> {log}"
