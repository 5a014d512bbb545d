rule embed:
    output:
        "results/embeddings/{space}.parquet",
    log:
        "logs/embed/{space}.log",
    benchmark:
        "logs/embed/{space}.tsv"
    params:
        settings=embedding_flags,
        code=CODE_FINGERPRINT,
    shell:
        "ktnas embed --space {wildcards.space} {params.settings} --out {output} 2> {log}"


rule embed_encoding:
    # Table VIII ablation: other architecture encodings than the configured one
    output:
        "results/embeddings/{space}-{encoding}.parquet",
    log:
        "logs/embed/{space}-{encoding}.log",
    benchmark:
        "logs/embed/{space}-{encoding}.tsv"
    wildcard_constraints:
        encoding="|".join(ENCODERS),
    params:
        settings=embedding_flags,
        code=CODE_FINGERPRINT,
    shell:
        "ktnas embed --space {wildcards.space} {params.settings} --out {output} 2> {log}"
