# Helpers shared by every rule file: the validated config, the runs it expands to, and input functions.
import json

from ktnas import __version__
from ktnas.config import embedding_settings, expand_runs, validate_config
from ktnas.methods import get_method
from ktnas.recipes import RECIPES, get_recipe

# one clear message naming the bad key and the allowed values, before any job starts
config.update(validate_config(config))

RUNS = expand_runs(config)
TABULAR = [s for s, r in RECIPES.items() if r.tabular]
# bump when a change in ktnas would change results (Snakemake does not notice edits to a package)
RESULTS_VERSION = __version__


wildcard_constraints:
    space="|".join(RECIPES),
    run=r"[^/]+",
    seed=r"\d+",


def run_of(wc):
    return RUNS[wc.space][wc.run]


def search_files(space, study):
    return [
        f"results/search/{space}/{r.name}/seed{s}.json"
        for r in RUNS[space].values()
        if r.study == study
        for s in r.seeds
    ]


def retrain_files(space, study):
    return [
        f"results/retrain/{space}/{r.name}/seed{s}/{t}.json"
        for r in RUNS[space].values()
        if r.study == study
        for s in r.seeds
        for t in r.retrain
    ]


def studies(space):
    return list(dict.fromkeys(r.study for r in RUNS[space].values()))


def table_inputs(wc):
    retrained = any(r.retrain for r in RUNS[wc.space].values() if r.study == wc.study)
    files = (retrain_files if retrained else search_files)(wc.space, wc.study)
    bench = [f"results/benchmarks/{wc.space}.parquet"] if wc.space in TABULAR else []
    return {"results": files, "benchmark": bench}


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
    if results_page_inputs(None)["tables"]:
        out.append(RESULTS_PAGE)
    return out


# the "Results against the paper" page; inside the working directory (snakemake -d), copied to docs/
RESULTS_PAGE = "results/docs/results.md"


def default_spaces():
    return [
        s for s in RUNS if get_recipe(s).default_target and RUNS[s] and s in TABULAR
    ]


def results_page_inputs(wc):
    """The page's tables (every study of the default spaces) and, for claim (e), the main ktnas and
    ktnas_random NAS-Bench-201 runs with their benchmark."""
    tables = [
        f"results/tables/{space}_{s}.csv"
        for space in default_spaces()
        for s in studies(space)
        if s != "figures"
    ]
    main = {r.name for r in RUNS.get("nb201", {}).values() if r.study == "main"}
    transfer, bench = [], []
    if "nb201" in default_spaces() and {"ktnas", "ktnas_random"} <= main:
        transfer = [
            f"results/search/nb201/{run}/seed{s}.json"
            for run in ("ktnas", "ktnas_random")
            for s in RUNS["nb201"][run].seeds
        ]
        bench = ["results/benchmarks/nb201.parquet"]
    return {"tables": tables, "transfer": transfer, "benchmark": bench}


def transfer_flags(wc, input):
    if not input.transfer:
        return ""
    return f"--transfer {' '.join(input.transfer)} --benchmark {input.benchmark}"


def reference_files(wc):
    """A study table's fallback reference: the main ktnas run (a row only where a default variant is
    absent; `ktnas table` drops it otherwise)."""
    if (
        wc.study in ("main", "figures")
        or wc.space not in TABULAR
        or "ktnas" not in RUNS[wc.space]
    ):
        return []
    return [
        f"results/search/{wc.space}/ktnas/seed{s}.json"
        for s in RUNS[wc.space]["ktnas"].seeds
    ]


def darts_outputs():
    return [f"results/tables/darts_{s}.csv" for s in studies("darts")]


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


def benchmark_flag(wc, input):
    return f"--benchmark {input.benchmark}" if input.benchmark else ""


def figure_results(wc):
    return [] if wc.kind == "kendall" else search_files(wc.space, "figures")
