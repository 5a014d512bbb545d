"""The plan: every search run and study a config asks for (the ``{space}``/``{run}`` wildcards of the
workflow), written once for every space.

A space's recipe (:mod:`ktnas.recipes`) says how one search of it runs; this module reads the config and
says which searches make up each table: a benchmark space's main methods, their held-out repetitions,
figure runs, sensitivity and embedding-ablation variants of ``ktnas``, the main comparison on other fitness
landscapes and the opt-in transfer-selector study; a trained space's runs per task group. Runs whose
searches an earlier run already makes point at it (:func:`reuse_identical`). Job sizes for a cluster come
from the space's recipe (:meth:`~ktnas.recipes.base.Recipe.job_size`: what a search of it costs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ktnas.recipes import RECIPES, Recipe, get_recipe

#: the transfer-selector study (docs/transfer-study.md), concluded: built only by ``snakemake transfer_study``
TRANSFER_STUDY = "transfer_study"
TRANSFER_STUDY_HELDOUT = "transfer_study_heldout"
#: studies whose table has one row per method, each tested against ``versus`` (Table II / III style; the
#: others are figures, landscapes or variants of ktnas, each tested against its default setting)
METHOD_STUDIES = ("main", "heldout", TRANSFER_STUDY, TRANSFER_STUDY_HELDOUT)
#: studies built only by their own target, never by the default one
OPT_IN_STUDIES = (TRANSFER_STUDY, TRANSFER_STUDY_HELDOUT)
#: a study whose table shows another study's runs first, then its own (the selectors beside every method)
EXTENDS = {TRANSFER_STUDY: "main", TRANSFER_STUDY_HELDOUT: "heldout"}


@dataclass(frozen=True)
class Run:
    """One named series of seeded searches: a table row, a figure method or a study variant.

    Its per-seed results are ``results/search/{space}/{name}/seed{N}.json``; ``study`` names the table or
    figure it belongs to (``main``, ``heldout``, ``figures``, ``sensitivity``, ``ablation``,
    ``landscapes``, ``transfer_study``, ``transfer_study_heldout``; a DARTS task group).
    """

    space: str
    name: str
    method: str
    params: dict[str, Any]
    seeds: tuple[int, ...]
    tasks: tuple[str, ...]
    study: str = "main"
    embedding: str = "node2vec"
    retrain: dict[str, dict[str, Any]] = field(default_factory=dict)  # DARTS: task -> retraining settings
    #: the earlier run whose searches these are (same method, parameters, tasks and encoding, a superset
    #: of the seeds): its result files are copied, not searched again (:func:`reuse_identical`)
    same_as: str | None = None


def plan_runs(config: Mapping[str, Any]) -> dict[str, dict[str, Run]]:
    """Every run the config asks for: space -> run name -> :class:`Run`; a space with a counted
    benchmark is planned by :func:`benchmark_runs`, any other by :func:`group_runs`."""
    return {name: space_runs(get_recipe(name), config) for name in RECIPES}


def space_runs(recipe: Recipe, config: Mapping[str, Any]) -> dict[str, Run]:
    """The runs of one space's config section."""
    return benchmark_runs(recipe, config) if recipe.tabular else group_runs(recipe, config)


def benchmark_runs(recipe: Recipe, config: Mapping[str, Any]) -> dict[str, Run]:
    """The methods of a benchmark space's section, their held-out repetitions, figure runs (T
    generations, no stop at the optimum), sensitivity and embedding-ablation variants of ``ktnas``, the
    main comparison on other fitness landscapes, and the transfer-selector study."""
    space = recipe.name
    sec = config.get(space) or {}
    tasks = tuple(sec.get("tasks", ()))
    emb = config.get("embedding", {}).get("method", "node2vec")
    methods: dict[str, dict[str, Any]] = sec.get("methods") or {}
    if sec.get("fitness") is not None:  # the space's landscape, unless a method sets its own
        methods = {m: {"fitness": sec["fitness"], **hp} for m, hp in methods.items()}
    runs: dict[str, Run] = {}
    method_seeds = sec.get("method_seeds") or {}
    for m, hp in methods.items():
        recipe.check_params(f"{space}.methods.{m}", m, tasks, hp)
        seeds = tuple(range(method_seeds.get(m, sec["seeds"])))
        runs[m] = Run(space, m, m, dict(hp), seeds, tasks, embedding=emb)
    held = sec.get("heldout") or {}
    if held and held["versus"] not in methods:
        raise ValueError(
            f"config key {space}.heldout.versus: {held['versus']!r} is not in {space}.methods; add it"
        )
    for m, hp in methods.items() if held else ():
        first = held["first_seed"]
        seeds = tuple(range(first, first + min(method_seeds.get(m, held["seeds"]), held["seeds"])))
        runs[f"heldout-{m}"] = Run(space, f"heldout-{m}", m, dict(hp), seeds, tasks, "heldout", emb)
    fig = sec.get("figures") or {}
    for m in fig.get("methods", []):
        if m not in methods:
            raise ValueError(
                f"config key {space}.figures.methods: {m!r} is not in {space}.methods; add it there"
            )
        hp = dict(methods[m], generations=fig["generations"], stop_at_optimum=False)
        runs[f"fig-{m}"] = Run(space, f"fig-{m}", m, hp, tuple(range(fig["seeds"])), tasks, "figures", emb)
    sens = sec.get("sensitivity") or {}
    abl = sec.get("embedding_ablation") or {}
    study = sec.get(TRANSFER_STUDY) or {}
    base = methods.get("ktnas")
    if (sens or abl or study) and base is None:
        raise ValueError(
            f"config keys {space}.sensitivity / embedding_ablation / transfer_study vary ktnas: "
            f"add ktnas to {space}.methods"
        )
    for key, short in (("elite_ratio", "r"), ("saved_generations", "m"), ("n_transferred", "M")):
        for v in sens.get(key, []):
            name = f"ktnas-{short}{v}"
            hp = dict(base or {}, **{key: v})
            recipe.check_params(f"{space}.sensitivity.{key}", "ktnas", tasks, hp)
            seeds = tuple(range(sens["seeds"]))
            runs[name] = Run(space, name, "ktnas", hp, seeds, tasks, "sensitivity", emb)
    for enc in abl.get("methods", []):
        name = f"ktnas-emb-{enc}"
        seeds = tuple(range(abl["seeds"]))
        runs[name] = Run(space, name, "ktnas", dict(base or {}), seeds, tasks, "ablation", enc)
    land = sec.get("landscapes") or {}
    for fitness in land.get("fitness", []):  # the main comparison on other fitness columns (reporting)
        for m in land.get("methods", []):
            if m not in methods:
                raise ValueError(
                    f"config key {space}.landscapes.methods: {m!r} is not in {space}.methods; add it"
                )
            name = f"land-{fitness}-{m}"
            hp = dict(methods[m], fitness=fitness)
            recipe.check_params(f"{space}.landscapes", m, tasks, hp)
            seeds = tuple(range(land["seeds"]))
            runs[name] = Run(space, name, m, hp, seeds, tasks, "landscapes", emb)
    runs.update(transfer_study_runs(recipe, sec, dict(base or {}), emb, set(runs)))
    return reuse_identical(runs, lambda r: asdict(recipe.params(r.tasks, r.params)))


def transfer_study_runs(
    recipe: Recipe, sec: Mapping[str, Any], base: dict[str, Any], emb: str, taken: set[str]
) -> dict[str, Run]:
    """The concluded transfer-selector study (docs/transfer-study.md): each rejected selector with
    ``ktnas``'s settings on the development seeds (run ``{selector}``, study ``transfer_study``) and on
    the held-out seeds (run ``heldout-{selector}``, study ``transfer_study_heldout``), the result folders
    the default run used to write them to."""
    space = recipe.name
    study = sec.get(TRANSFER_STUDY) or {}
    tasks = tuple(sec.get("tasks", ()))
    held = study.get("heldout") or {}
    if held and not sec.get("heldout"):
        raise ValueError(
            f"config key {space}.transfer_study.heldout: its table sets the selectors beside the runs of "
            f"{space}.heldout (versus its method); add {space}.heldout or remove transfer_study.heldout"
        )
    runs: dict[str, Run] = {}
    for m in study.get("methods", []):
        key = f"{space}.transfer_study.methods"
        if m in taken or f"heldout-{m}" in taken:
            raise ValueError(f"config key {key}: {m!r} is also in {space}.methods; list it in one of the two")
        recipe.check_params(key, m, tasks, base)
        seeds = tuple(range(study["seeds"]))
        runs[m] = Run(space, m, m, dict(base), seeds, tasks, TRANSFER_STUDY, emb)
        if held:
            seeds = tuple(range(held["first_seed"], held["first_seed"] + held["seeds"]))
            name = f"heldout-{m}"
            runs[name] = Run(space, name, m, dict(base), seeds, tasks, TRANSFER_STUDY_HELDOUT, emb)
    return runs


def group_runs(recipe: Recipe, config: Mapping[str, Any]) -> dict[str, Run]:
    """One run per (task group, method) of a trained space, named ``{group}-{method}``, its study the
    group, with the retraining settings of each of its tasks."""
    space = recipe.name
    sec = config.get(space) or {}
    emb = config.get("embedding", {}).get("method", "node2vec")
    groups = recipe.task_groups()
    runs: dict[str, Run] = {}
    for group, settings in (sec.get("groups") or {}).items():
        tasks = tuple((settings or {}).get("tasks") or groups.get(group, ()))
        if not tasks:
            raise ValueError(
                f"config key {space}.groups.{group}: {group!r} is not a built-in group ({', '.join(groups)}); "
                f"list its tasks, e.g. {space}.groups.{group}.tasks: [cifar10, mydata]"
            )
        undeclared = [t for t in tasks if t not in recipe.tasks() and t not in (sec.get("tasks") or {})]
        if undeclared:
            raise ValueError(
                f"config key {space}.groups.{group}.tasks: {', '.join(undeclared)} neither built in nor "
                f"declared; declare own data under {space}.tasks, e.g. {undeclared[0]}: {{path: data/x.npz}}"
            )
        for task in (settings or {}).get("retrain_tasks") or {}:
            if task not in tasks:
                raise ValueError(
                    f"config key {space}.groups.{group}.retrain_tasks: {task!r} is not a task of group "
                    f"{group}; use one of: {', '.join(tasks)}"
                )
        hp = group_search_params(config, space, group)
        retrain = {t: group_retrain_params(config, space, group, t) for t in tasks}
        for m in sec.get("methods", []):
            recipe.check_params(f"{space}.groups.{group}", m, tasks, hp)
            name = f"{group}-{m}"
            seeds = tuple(range(sec["seeds"]))
            runs[name] = Run(space, name, m, hp, seeds, tasks, group, emb, retrain)
    return runs


def group_search_params(config: Mapping[str, Any], space: str, group: str) -> dict[str, Any]:
    """Search hyper-parameters of ``group``: ``{space}.search``, then ``{space}.groups.<group>.search``."""
    sec = config.get(space, {})
    group_cfg = (sec.get("groups") or {}).get(group) or {}
    return {**(sec.get("search") or {}), **(group_cfg.get("search") or {})}


def group_retrain_params(config: Mapping[str, Any], space: str, group: str, task: str) -> dict[str, Any]:
    """Retraining settings of ``task``: ``{space}.retrain`` < the group's ``retrain`` < its
    ``retrain_tasks.<task>``."""
    sec = config.get(space, {})
    group_cfg = (sec.get("groups") or {}).get(group) or {}
    per_task = (group_cfg.get("retrain_tasks") or {}).get(task) or {}
    return {**(sec.get("retrain") or {}), **(group_cfg.get("retrain") or {}), **per_task}


def reuse_identical(runs: Mapping[str, Run], resolve: Callable[[Run], dict[str, Any]]) -> dict[str, Run]:
    """``runs`` with each run whose searches an earlier run already makes (same method, tasks, encoding and
    parameters as ``resolve`` completes them with defaults, on a superset of its seeds, no retraining)
    pointed at that run (:attr:`Run.same_as`). A search's result file depends on nothing else, so the
    copied files are the ones it would write."""
    resolved = {name: resolve(run) for name, run in runs.items()}
    out: dict[str, Run] = {}
    for name, run in runs.items():
        twin = next(
            (
                r
                for r in out.values()
                if r.same_as is None
                and not r.retrain
                and not run.retrain
                and (r.method, r.tasks, r.embedding) == (run.method, run.tasks, run.embedding)
                and resolved[r.name] == resolved[name]
                and set(run.seeds) <= set(r.seeds)
            ),
            None,
        )
        out[name] = replace(run, same_as=twin.name) if twin is not None else run
    return out


def studies(runs: Mapping[str, Run], opt_in: bool = False) -> list[str]:
    """The studies of a space's runs, in plan order; ``opt_in``: also those built only by their own
    target (:data:`OPT_IN_STUDIES`)."""
    found = dict.fromkeys(r.study for r in runs.values())
    return [s for s in found if opt_in or s not in OPT_IN_STUDIES]


def table_runs(runs: Mapping[str, Run], study: str) -> list[Run]:
    """The runs one study's table reads: those of the study it extends (:data:`EXTENDS`), then its own."""
    wanted = [EXTENDS[study], study] if study in EXTENDS else [study]
    return [r for s in wanted for r in runs.values() if r.study == s]


def study_versus(config: Mapping[str, Any], space: str, study: str) -> str | None:
    """The method every row of a study's table is tested against, where it is not ``ktnas``: the
    held-out section's ``versus`` for the held-out tables."""
    held = (config.get(space) or {}).get("heldout") or {}
    if study in ("heldout", TRANSFER_STUDY_HELDOUT) and "versus" in held:
        return str(held["versus"])
    return None


def job_size(run: Run, n_seeds: int, task: str | None = None) -> dict[str, int]:
    """CPUs (``threads``), ``mem_mb`` and ``runtime`` (minutes) a search job of ``n_seeds`` seeds of
    ``run`` asks a cluster for (``task``: a retraining job of that task instead), as its space's recipe
    prices it."""
    retrain = None if task is None else run.retrain[task]
    return get_recipe(run.space).job_size(run.tasks, run.params, n_seeds, task, retrain)


__all__ = [
    "EXTENDS",
    "METHOD_STUDIES",
    "OPT_IN_STUDIES",
    "TRANSFER_STUDY",
    "TRANSFER_STUDY_HELDOUT",
    "Run",
    "benchmark_runs",
    "group_retrain_params",
    "group_runs",
    "group_search_params",
    "job_size",
    "plan_runs",
    "reuse_identical",
    "space_runs",
    "studies",
    "study_versus",
    "table_runs",
]
