# One job per (space, run, chunk of seeds): the job runs its seeds in one process, writes one result file
# per seed (results/search/{space}/{run}/seed{N}.json) and a manifest listing them (the declared output).
# `code` is the code fingerprint: a job reruns when the code that determines its results changes, as when
# its parameters do. Checkpoints (results/checkpoints/...) are not outputs, so a killed or failed job keeps
# them: its rerun keeps the seeds it finished and resumes the interrupted one from its last generation; a
# job that completed clears them, so a forced rerun (-R, --forcerun) searches every seed again.
rule search:
    input:
        unpack(search_inputs),
    output:
        "results/search/{space}/{run}/seeds{first}-{last}.done",
    log:
        "logs/search/{space}/{run}/seeds{first}-{last}.log",
    benchmark:
        "logs/search/{space}/{run}/seeds{first}-{last}.tsv"
    wildcard_constraints:
        first=r"\d+",
        last=r"\d+",
    threads: search_threads
    resources:
        gpu=gpus,
        mem_mb=search_mem,
        runtime=search_runtime,
    params:
        method=run_method,
        tasks=run_tasks,
        hp=run_params,
        flags=search_flags,
        runtime=runtime_flags,
        out=seed_pattern("results/search"),
        checkpoint=seed_pattern("results/checkpoints"),
        code=CODE_FINGERPRINT,
    shell:
        "ktnas search --space {wildcards.space} --method {params.method} --seeds {wildcards.first}-{wildcards.last} "
        "--tasks {params.tasks} --params {params.hp:q} {params.flags} {params.runtime} "
        "--checkpoint {params.checkpoint:q} --out {params.out:q} --manifest {output} 2> {log}"


# A run whose searches an earlier run already makes (Run.same_as: same method, parameters, tasks and
# encoding on more seeds, e.g. a study's default point and the main ktnas row) gets byte-for-byte copies of
# that run's result files instead of a search job: redone whenever they are (and, like a search, whenever
# the code fingerprint changes).
rule reuse:
    input:
        reused_inputs,
    output:
        "results/search/{reused}/seeds{first}-{last}.done",
    log:
        "logs/search/{reused}/seeds{first}-{last}.log",
    wildcard_constraints:
        reused=REUSED,
        first=r"\d+",
        last=r"\d+",
    localrule: True
    params:
        code=CODE_FINGERPRINT,
    run:
        copy_reused(wildcards, output[0], log[0])


ruleorder: reuse > search
