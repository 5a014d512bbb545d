"""One runner for every space and method: ``run_search(space, method, seed, tasks, params, paths)``.

The space's recipe (:mod:`ktnas.recipes`) builds the problems, the reproduction operator and the
distance; the method (:mod:`ktnas.methods`) is either a transfer policy of the multi-task loop or a
single-task search run once per task. The CLI (``ktnas search``) and Snakemake both call this.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from ktnas import __version__
from ktnas._fingerprint import code_fingerprint, code_record, library_versions
from ktnas._io import git_sha
from ktnas.baselines.base import TaskContext
from ktnas.methods import METHODS, Method, get_method
from ktnas.recipes import get_recipe
from ktnas.recipes.base import Recipe, SearchPaths, Setup
from ktnas.results import SearchResult, TaskResult
from ktnas.search.checkpoint import Checkpointer

log = logging.getLogger(__name__)


def run_search(
    space: str,
    method: str,
    seed: int,
    tasks: Sequence[str],
    params: Mapping[str, Any] | None = None,
    paths: SearchPaths | None = None,
) -> SearchResult:
    """One seeded search of ``method`` over ``tasks`` of ``space``.

    Resumes from ``paths.checkpoint`` when it exists; the checkpoint is left in place, so that the caller
    deletes it (:func:`clear_checkpoint`) only once the result is safely written.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    paths = paths or SearchPaths()
    recipe = get_recipe(space)
    m = get_method(method)
    if not m.runs_on(recipe.tabular):
        usable = ", ".join(n for n, other in METHODS.items() if other.runs_on(recipe.tabular))
        raise ValueError(
            f"method {method!r} is a single-task benchmark search; space {space} has no counted benchmark "
            f"(use one of: {usable})"
        )
    tasks = list(tasks)
    recipe.check_tasks(tasks, paths.runtime.tasks)
    hp = recipe.params(tasks, params)
    fingerprint = run_fingerprint(space, method, seed, tasks, params, paths)
    setup = recipe.setup(tasks, hp, int(seed), paths)
    started = time.perf_counter()
    if m.multitask:
        summaries = _multitask(recipe, m, setup, tasks, hp, int(seed), paths, fingerprint)
    else:
        summaries = _single_task(recipe, m, setup, hp, int(seed), paths, fingerprint)
    log.info("%s seed %d on %s finished in %.1f s", method, seed, space, time.perf_counter() - started)
    return SearchResult(
        space=space,
        method=method,
        seed=int(seed),
        params=asdict(hp),
        tasks=summaries,
        ktnas_version=__version__,
        git_sha=git_sha(),
        code_fingerprint=code_fingerprint(),
        numpy_version=library_versions()["numpy"],
        torch_version=library_versions()["torch"],
        extra=recipe.result_extra(setup, hp, tasks, paths),
    )


def run_fingerprint(
    space: str,
    method: str,
    seed: int,
    tasks: Sequence[str],
    params: Mapping[str, Any] | None = None,
    paths: SearchPaths | None = None,
) -> dict[str, Any]:
    """What a checkpoint of this run must match to be resumed, or to keep the run's result file: the run
    (space, method, seed, tasks, resolved parameters; run-time settings where the space reads them) and
    the code (:func:`ktnas._fingerprint.code_record`)."""
    recipe = get_recipe(space)
    hp = recipe.params(list(tasks), params)
    fingerprint: dict[str, Any] = {
        "space": space,
        "method": method,
        "seed": int(seed),
        "tasks": list(tasks),
        "params": asdict(hp),
        **code_record(),
    }
    if recipe.reads_runtime:  # a checkpoint resumes only under the run-time settings that wrote it
        fingerprint["runtime"] = (paths or SearchPaths()).runtime.record()
    return fingerprint


def _multitask(
    recipe: Recipe,
    method: Method,
    setup: Setup,
    tasks: Sequence[str],
    hp: Any,
    seed: int,
    paths: SearchPaths,
    fingerprint: dict[str, Any],
) -> list[TaskResult]:
    from ktnas.search.multitask import MultiTaskSearch

    assert method.policy is not None
    n = len(setup.problems)
    policy = method.policy(n, recipe.distance(paths)) if method.needs_distance else method.policy(n)  # type: ignore[call-arg]
    search = MultiTaskSearch(
        setup.space,
        setup.problems,
        recipe.reproduction(setup, tasks, hp, paths),
        policy,
        hp,
        np.random.default_rng(seed),
        Checkpointer(paths.checkpoint, fingerprint),
        recipe.progress(setup, hp, paths),
    )
    recipe.start(setup)
    return search.run()


def _single_task(
    recipe: Recipe,
    method: Method,
    setup: Setup,
    hp: Any,
    seed: int,
    paths: SearchPaths,
    fingerprint: dict[str, Any],
) -> list[TaskResult]:
    searcher = method.search()
    out = []
    for i, problem in enumerate(setup.problems):
        ckpt_path = None if paths.checkpoint is None else Path(f"{paths.checkpoint}.task{i}")
        ckpt = Checkpointer(ckpt_path, fingerprint)
        ctx = TaskContext(ckpt, lambda task, proxy: recipe.proxy_scores(paths, task, proxy))
        out.append(searcher(setup.space, problem, np.random.default_rng([seed, i]), hp, ctx))  # type: ignore[arg-type]
        ckpt.clear()
    return out


def clear_checkpoint(path: str | Path | None) -> None:
    """Delete a run's checkpoint (JSON state and its side-file folder) once its result is written."""
    Checkpointer(path, {}).clear()
