# Zero-cost proxies of every NB201 cell, one job per (dataset, chunk); only when proxies.source=compute.
# A finished chunk is never recomputed, so a killed pipeline resumes where it stopped.
localrules:
    proxies_merge,


rule proxies_chunk:
    output:
        "results/proxies/nb201/{dataset}/chunk{chunk}.parquet",
    log:
        "logs/proxies/nb201/{dataset}/chunk{chunk}.log",
    benchmark:
        "logs/proxies/nb201/{dataset}/chunk{chunk}.tsv"
    resources:
        gpu=1 if proxy_device().startswith("cuda") else 0,
    params:
        proxies=",".join(config["proxies"]["proxies"]),
        n_chunks=config["proxies"]["chunks"],
        limit=(
            f"--limit {config['max_proxy_cells']}" if config["max_proxy_cells"] else ""
        ),
        device=proxy_device(),
        code=CODE_FINGERPRINT,
    shell:
        "ktnas proxies compute --dataset {wildcards.dataset} --proxies {params.proxies} "
        "--chunk {wildcards.chunk} --n-chunks {params.n_chunks} {params.limit} --device {params.device} "
        "--out {output} 2> {log}"


rule proxies_merge:
    input:
        expand(
            "results/proxies/nb201/{dataset}/chunk{chunk}.parquet",
            dataset=config["nb201"]["tasks"],
            chunk=range(config["proxies"]["chunks"]),
        ),
    output:
        "results/proxies/nb201.parquet",
    log:
        "logs/proxies/nb201_merge.log",
    shell:
        "ktnas proxies merge --inputs {input} --out {output} 2> {log}"
