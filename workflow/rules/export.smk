# DARTS: every search result's found cells as DARTS genotypes (Python and JSON), the parameter count of
# the retraining network at the run's retraining settings, and a picture of the cells (`ktnas export`).
# Seconds on a CPU: never worth a cluster job.
localrules:
    export,


rule export:
    input:
        seed_manifest,
    output:
        directory("results/export/{space}/{run}/seed{seed}"),
    log:
        "logs/export/{space}/{run}/seed{seed}.log",
    wildcard_constraints:
        space="darts",
    params:
        hp=export_params,
        code=CODE_FINGERPRINT,
    shell:
        "ktnas export results/search/{wildcards.space}/{wildcards.run}/seed{wildcards.seed}.json "
        "--params {params.hp:q} --out {output} > {log} 2>&1"
