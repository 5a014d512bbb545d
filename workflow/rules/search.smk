# One seeded search per (space, run, seed). Checkpoints (results/checkpoints/...) are not outputs, so a
# killed or failed job keeps them and resumes from its last generation when rerun.
rule search:
    input:
        unpack(search_inputs),
    output:
        "results/search/{space}/{run}/seed{seed}.json",
    log:
        "logs/search/{space}/{run}/seed{seed}.log",
    benchmark:
        "logs/search/{space}/{run}/seed{seed}.tsv"
    resources:
        gpu=gpus,
    params:
        method=run_method,
        tasks=run_tasks,
        hp=run_params,
        flags=search_flags,
        data_root=config["data_root"],
        checkpoint="results/checkpoints/{space}/{run}/seed{seed}.json",
        version=RESULTS_VERSION,
    shell:
        "ktnas search --space {wildcards.space} --method {params.method} --seed {wildcards.seed} "
        "--tasks {params.tasks} --params {params.hp:q} {params.flags} --data-root {params.data_root:q} "
        "--checkpoint {params.checkpoint} --out {output} 2> {log}"
