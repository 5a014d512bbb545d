"""ktnas: multi-task evolutionary NAS with architecture embedding and transfer rank.

Usage: snakemake --cores 8 --resources gpu=1   (see README.md; config keys in config/README.md)
"""

from snakemake.utils import min_version, validate

min_version("9.0")


# `--configfile FILE` replaces config/config.yaml (it is not merged into it), here and inside cluster jobs,
# which get the same --configfiles; `--config KEY=VALUE` still applies.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


include: "workflow/rules/common.smk"


validate(config, "workflow/schemas/config.schema.yaml")


wildcard_constraints:
    space="|".join(RECIPES),
    run=r"[^/]+",
    seed=r"\d+",


report: "workflow/report/workflow.rst"


include: "workflow/rules/benchmark.smk"
include: "workflow/rules/embedding.smk"
include: "workflow/rules/proxies.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/search.smk"
include: "workflow/rules/retrain.smk"
include: "workflow/rules/export.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_outputs(),


rule darts:
    # DARTS space (paper Tables IV-VI): snakemake darts --cores 8 --resources gpu=1
    input:
        own_target_outputs("darts"),
        export_outputs("darts"),
