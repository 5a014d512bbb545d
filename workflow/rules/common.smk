# Helpers shared by every stage file (the validated config, its runs, input functions).
import json
import os
import re
import shlex

from ktnas._fingerprint import code_fingerprint
from ktnas.config import embedding_settings, expand_runs, validate_config
from ktnas.embedding import ENCODERS
from ktnas.methods import get_method
from ktnas.plan import (
    METHOD_STUDIES,
    OPT_IN_STUDIES,
    job_size,
    study_versus,
    table_runs,
)
from ktnas.plan import studies as planned_studies
from ktnas.recipes import RECIPES, get_recipe

# one clear message naming the bad key and the allowed values, before any job starts
config.update(validate_config(config))

RUNS = expand_runs(config)
TABULAR = [s for s, r in RECIPES.items() if r.tabular]
# the code that determines a result (ktnas/_fingerprint.py): a parameter of every expensive rule, so that
# a job reruns when that code changes (Snakemake does not notice edits to an imported package)
CODE_FINGERPRINT = code_fingerprint()


def run_of(wc):
    return RUNS[wc.space][wc.run]


def chunks(run):
    """The run's seeds in jobs of ``seeds_per_job`` consecutive seeds: (first, last) pairs."""
    size = (config[run.space] or {}).get("seeds_per_job", 1)
    seeds = list(run.seeds)
    return [
        (c[0], c[-1]) for c in (seeds[i : i + size] for i in range(0, len(seeds), size))
    ]


def manifest(run, first, last):
    return f"results/search/{run.space}/{run.name}/seeds{first}-{last}.done"


# runs whose result files are copies of an earlier identical run's (Run.same_as), as "space/run"; the
# pattern matches nothing when there are none
REUSED = (
    "|".join(
        re.escape(f"{s}/{r.name}")
        for s, runs in RUNS.items()
        for r in runs.values()
        if r.same_as
    )
    or "(?!)"
)


def reused_run(wc):
    space, name = wc.reused.split("/")
    return RUNS[space][name]


def reused_inputs(wc):
    """The manifests of the source run's jobs that hold the seeds of this chunk."""
    run = reused_run(wc)
    source = RUNS[run.space][run.same_as]
    lo, hi = int(wc.first), int(wc.last)
    return [manifest(source, a, b) for a, b in chunks(source) if a <= hi and b >= lo]


def copy_reused(wc, manifest_path, log_path):
    """The reuse rule's job: copy the source run's result files of this chunk and write the manifest."""
    from ktnas.results import reuse_results

    run = reused_run(wc)
    lo, hi = int(wc.first), int(wc.last)
    seeds = [s for s in run.seeds if lo <= s <= hi]
    source = f"results/search/{run.space}/{run.same_as}"
    reuse_results(
        source,
        f"results/search/{run.space}/{run.name}",
        seeds,
        manifest_path,
        run.space,
        run.method,
    )
    with open(log_path, "w") as f:
        f.write(f"{len(seeds)} result files of {source} copied (the same searches)\n")


def runs_of(space, study):
    """The runs a study's table or figure reads (a study that extends another reads its runs too)."""
    return table_runs(RUNS[space], study)


def search_manifests(space, study):
    return [manifest(r, *c) for r in runs_of(space, study) for c in chunks(r)]


def search_files(space, study):
    return [
        f"results/search/{space}/{r.name}/seed{s}.json"
        for r in runs_of(space, study)
        for s in r.seeds
    ]


def search_size(wc):
    """Cluster request of a search job, from its space's recipe (DARTS: sized by the configured networks)."""
    n = int(wc.last) - int(wc.first) + 1
    return job_size(run_of(wc), n)


def retrain_size(wc):
    return job_size(run_of(wc), 1, wc.task)


def search_threads(wc):
    return search_size(wc)["threads"]


def search_mem(wc):
    return search_size(wc)["mem_mb"]


def search_runtime(wc):
    return search_size(wc)["runtime"]


def retrain_threads(wc):
    return retrain_size(wc)["threads"]


def retrain_mem(wc):
    return retrain_size(wc)["mem_mb"]


def retrain_runtime(wc):
    return retrain_size(wc)["runtime"]


def seed_pattern(folder):
    """A function giving the job's per-seed path pattern, ``{seed}`` left for ``ktnas search`` to fill."""

    def pattern(wc):
        return f"{folder}/{wc.space}/{wc.run}/seed{{seed}}.json"

    return pattern


def seed_manifest(wc):
    """The search job (manifest) that wrote the result file of ``wc.seed``."""
    run = run_of(wc)
    first, last = next(c for c in chunks(run) if c[0] <= int(wc.seed) <= c[1])
    return manifest(run, first, last)


def retrain_files(space, study):
    return [
        f"results/retrain/{space}/{r.name}/seed{s}/{t}.json"
        for r in runs_of(space, study)
        for s in r.seeds
        for t in r.retrain
    ]


def studies(space):
    """The studies of a space that its default target (or own target) builds."""
    return planned_studies(RUNS[space])


def transfer_study_outputs():
    """The tables of the concluded transfer-selector study (docs/transfer-study.md), built only by
    `snakemake transfer_study`."""
    return [
        f"results/tables/{space}_{s}.csv"
        for space in RUNS
        for s in planned_studies(RUNS[space], opt_in=True)
        if s in OPT_IN_STUDIES
    ]


def retrained(wc):
    return any(r.retrain for r in runs_of(wc.space, wc.study))


def table_inputs(wc):
    files = (
        retrain_files(wc.space, wc.study)
        if retrained(wc)
        else search_manifests(wc.space, wc.study)
    )
    bench = [f"results/benchmarks/{wc.space}.parquet"] if wc.space in TABULAR else []
    return {"results": files, "benchmark": bench}


def table_files(wc):
    """The per-seed files a table reads (the search jobs' manifests are its declared inputs)."""
    if retrained(wc):
        return " ".join(retrain_files(wc.space, wc.study))
    return " ".join(search_files(wc.space, wc.study))


def embedding_file(space, encoding):
    main = embedding_settings(config, space)["method"]
    suffix = "" if encoding == main else f"-{encoding}"
    return f"results/embeddings/{space}{suffix}.parquet"


def search_inputs(wc):
    """What one search job reads: its benchmark, and only the tables its method uses."""
    run, recipe = run_of(wc), get_recipe(wc.space)
    method = get_method(run.method)
    inputs = {}
    if recipe.tabular:
        inputs["benchmark"] = f"results/benchmarks/{wc.space}.parquet"
    if method.needs_distance:
        inputs["embedding"] = embedding_file(wc.space, run.embedding)
    if recipe.reads_proxies(method) and config["proxies"]["source"] == "compute":
        inputs["proxies"] = f"results/proxies/{wc.space}.parquet"
    inputs["data"] = [f"results/data/{t}.json" for t in recipe.datasets(run.tasks)]
    return inputs


def search_flags(wc, input):
    flags = [
        f"--{key} {input[key]}"
        for key in ("benchmark", "embedding", "proxies")
        if key in input.keys()
    ]
    return " ".join(flags)


def all_outputs():
    """The default target: every table and figure of the spaces that run by default (not DARTS)."""
    out = []
    for space in RUNS:
        if not get_recipe(space).default_target or not RUNS[space]:
            continue
        out += [
            f"results/tables/{space}_{s}.csv" for s in studies(space) if s != "figures"
        ]
        if "figures" in studies(space):
            out += [
                f"results/figures/{space}_{k}.png"
                for k in ("convergence", "transfer_rank")
            ]
        out.append(f"results/figures/{space}_kendall.png")
        if multitask_runs(space):
            out.append(f"results/tables/{space}_transfer.csv")
    if results_page_inputs(None)["tables"]:
        out.append(RESULTS_PAGE)
    return out


# the "Results against the paper" page; inside the working directory (snakemake -d), copied to the
# repository's docs/ by `snakemake publish`
RESULTS_PAGE = "results/docs/results.md"
PUBLISHED_PAGE = os.path.join(workflow.basedir, "docs", "results.md")


def default_spaces():
    return [
        s for s in RUNS if get_recipe(s).default_target and RUNS[s] and s in TABULAR
    ]


def results_page_inputs(wc):
    """The page's tables (every study of the default spaces; landscape tables apart) and, for claim (e),
    the main ktnas and ktnas_random runs of the first default space that has both, with their benchmark.
    """
    tables = [
        f"results/tables/{space}_{s}.csv"
        for space in default_spaces()
        for s in studies(space)
        if s not in ("figures", "landscapes")
    ]
    landscapes = [
        f"results/tables/{space}_landscapes.csv"
        for space in default_spaces()
        if "landscapes" in studies(space)
    ]
    transfer, bench = [], []
    if transfer_runs():
        transfer = [manifest(r, *c) for r in transfer_runs() for c in chunks(r)]
        bench = [f"results/benchmarks/{transfer_runs()[0].space}.parquet"]
    return {
        "tables": tables,
        "landscapes": landscapes,
        "transfer": transfer,
        "benchmark": bench,
    }


def transfer_runs():
    """Claim (e) of the page (paper Fig. 6) compares the cells ktnas and ktnas_random transfer."""
    for space in default_spaces():
        main = {r.name: r for r in runs_of(space, "main")}
        if {"ktnas", "ktnas_random"} <= set(main):
            return [main["ktnas"], main["ktnas_random"]]
    return []


def transfer_flags(wc, input):
    if not input.transfer:
        return ""
    files = [
        f"results/search/{r.space}/{r.name}/seed{s}.json"
        for r in transfer_runs()
        for s in r.seeds
    ]
    return f"--transfer {' '.join(files)} --benchmark {input.benchmark}"


def landscape_flags(wc, input):
    return f"--landscapes {' '.join(input.landscapes)}" if input.landscapes else ""


def reference_files(wc):
    """A study table's fallback reference: the main ktnas run (a row only where a default variant is
    absent; `ktnas table` drops it otherwise)."""
    if (
        wc.study in (*METHOD_STUDIES, "figures", "landscapes")
        or wc.space not in TABULAR
        or "ktnas" not in RUNS[wc.space]
    ):
        return []
    run = RUNS[wc.space]["ktnas"]
    return [manifest(run, *c) for c in chunks(run)]


def versus_flag(wc):
    """The held-out tables test every row against the held-out section's ``versus`` method."""
    versus = study_versus(config, wc.space, wc.study)
    return f"--versus {versus}" if versus else ""


def multitask_runs(space):
    return [r for r in runs_of(space, "main") if get_method(r.method).multitask]


def diagnostics_manifests(wc):
    return [manifest(r, *c) for r in multitask_runs(wc.space) for c in chunks(r)]


def diagnostics_files(wc):
    return " ".join(
        f"results/search/{wc.space}/{r.name}/seed{s}.json"
        for r in multitask_runs(wc.space)
        for s in r.seeds
    )


def reference_flag(wc):
    if not reference_files(wc):
        return ""
    return " ".join(
        f"results/search/{wc.space}/ktnas/seed{s}.json"
        for s in RUNS[wc.space]["ktnas"].seeds
    )


def own_target_outputs(target):
    """The tables of the space built only by its own target (``snakemake darts``)."""
    return [f"results/tables/{target}_{s}.csv" for s in studies(target)]


def export_outputs(space):
    """The export folder (``ktnas export``) of every search result the space's tables read."""
    return sorted(
        {
            f"results/export/{space}/{r.name}/seed{s}"
            for study in studies(space)
            for r in runs_of(space, study)
            for s in r.seeds
        }
    )


def embedding_flags(wc):
    """`ktnas embed` options: the space's embedding settings, or another encoding (Table VIII ablation)."""
    settings = embedding_settings(config, wc.space)
    if "encoding" in wc.keys():
        settings["method"] = wc.encoding
    return " ".join(f"--{k.replace('_', '-')} {v}" for k, v in sorted(settings.items()))


def benchmark_source(wc):
    return config["benchmarks"][wc.space]


def gpus(wc):
    return get_recipe(wc.space).gpus


def run_method(wc):
    return run_of(wc).method


def run_tasks(wc):
    return ",".join(run_of(wc).tasks)


def run_params(wc):
    return json.dumps(run_of(wc).params, sort_keys=True)


def retrain_params(wc):
    return json.dumps(run_of(wc).retrain[wc.task], sort_keys=True)


def export_params(wc):
    """Every task's retraining settings, keyed by task (`ktnas export --params`)."""
    return json.dumps(run_of(wc).retrain, sort_keys=True)


def benchmark_flag(wc, input):
    return f"--benchmark {input.benchmark}" if input.benchmark else ""


def figure_results(wc):
    return [] if wc.kind == "kendall" else search_manifests(wc.space, "figures")


def figure_files(wc):
    return "" if wc.kind == "kendall" else " ".join(search_files(wc.space, "figures"))


def runtime_flags(wc):
    """The run-time options of a job whose space reads them (docs/reproduction.md §6): top-level config keys
    set by a profile or ``--config``; none for a tabular space, so changing them reruns no benchmark job.
    """
    if not get_recipe(wc.space).reads_runtime:
        return ""
    flags = [f"--data-root {shlex.quote(config['data_root'])}"]
    for key in ("device", "max_train_batches", "max_eval_images"):
        if config[key] is not None:
            flags.append(f"--{key.replace('_', '-')} {shlex.quote(str(config[key]))}")
    return " ".join(flags + [task_data_flag(wc.space, run_of(wc).tasks)])


def task_data_flag(space, tasks):
    """``--task-data`` declaring those of ``tasks`` that are own tasks (docs/guide/own-tasks.md), if any;
    a run of built-in tasks only gets none, so declaring a task reruns nothing else."""
    declared = (config.get(space) or {}).get("tasks") or {}
    own = {t: declared[t] for t in tasks if t in declared}
    return f"--task-data {shlex.quote(json.dumps(own, sort_keys=True))}" if own else ""


def own_task_file(wc):
    """The declared file or folder of an own task, so that its data job reruns when it changes."""
    declared = (config.get("darts") or {}).get("tasks") or {}
    return [declared[wc.task]["path"]] if wc.task in declared else []


def proxy_device():
    """The proxy jobs' torch device: the run-time ``device`` when set, else the CPU."""
    return config["device"] or "cpu"
