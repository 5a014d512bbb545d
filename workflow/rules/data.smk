# downloads: login nodes have the internet that compute nodes often lack
localrules:
    data,


rule data:
    # one download per dataset, before (and outside) the GPU jobs
    output:
        "results/data/{task}.json",
    log:
        "logs/data/{task}.log",
    params:
        data_root=config["data_root"],
    shell:
        "ktnas darts-data --task {wildcards.task} --data-root {params.data_root:q} --out {output} 2> {log}"
