# DARTS: retrain a found genotype from scratch per (run, seed, task); checkpointed every epoch.
rule retrain:
    input:
        seed_manifest,
    output:
        "results/retrain/{space}/{run}/seed{seed}/{task}.json",
    log:
        "logs/retrain/{space}/{run}/seed{seed}/{task}.log",
    benchmark:
        "logs/retrain/{space}/{run}/seed{seed}/{task}.tsv"
    threads: retrain_threads
    resources:
        gpu=gpus,
        mem_mb=retrain_mem,
        runtime=retrain_runtime,
    params:
        hp=retrain_params,
        runtime=runtime_flags,
        checkpoint="results/checkpoints/retrain/{space}/{run}/seed{seed}/{task}.pt",
        code=CODE_FINGERPRINT,
    shell:
        "ktnas darts-retrain --search results/search/{wildcards.space}/{wildcards.run}/seed{wildcards.seed}.json --task {wildcards.task} --params {params.hp:q} "
        "{params.runtime} --checkpoint {params.checkpoint} --out {output} 2> {log}"
