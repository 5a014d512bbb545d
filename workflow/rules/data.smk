# downloads: login nodes have the internet that compute nodes often lack
localrules:
    data,


rule data:
    # one download per dataset, before (and outside) the GPU jobs; an own task's data is read and checked
    input:
        own_task_file,
    output:
        "results/data/{task}.json",
    log:
        "logs/data/{task}.log",
    params:
        data_root=config["data_root"],
        own=lambda wc: task_data_flag("darts", [wc.task]),
    shell:
        "ktnas darts-data --task {wildcards.task} --data-root {params.data_root:q} {params.own} --out {output} 2> {log}"
