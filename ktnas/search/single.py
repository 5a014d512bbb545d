"""Single-task baselines: random search and regularized (aging) evolution, optionally with a zero-cost
warm-up and pre-screen ("Zero" in paper Table II; docs/method.md §6.1.3 (D32))."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from ktnas.results import TaskResult
from ktnas.search.base import Individual, rng_state, set_rng_state, tournament
from ktnas.search.checkpoint import Checkpointer
from ktnas.search.reproduction import ProxyREA
from ktnas.spaces.base import SearchSpace

if TYPE_CHECKING:
    from ktnas.evaluator import BenchmarkProblem
    from ktnas.methods import TaskContext
    from ktnas.params import BenchmarkParams

#: aging REA stops after this many steps per allowed evaluation, whatever happens (cached proposals are free)
_STEP_FACTOR = 50


def random_search(
    space: SearchSpace,
    problem: BenchmarkProblem,
    rng: np.random.Generator,
    checkpointer: Checkpointer | None = None,
    chunk: int = 1000,
) -> TaskResult:
    """Uniform sampling without repetition until the problem is finished (optimum or budget)."""
    ckpt = checkpointer or Checkpointer(None, {})
    state = ckpt.load()
    if state is not None:
        set_rng_state(rng, state["rng"])
        problem.load_state_dict(state["problem"])
    size = space.size()
    if size is not None and size <= 100_000:
        # a permutation of the whole space, redrawn identically on resume from the saved RNG state
        start_rng = rng_state(rng)
        order = rng.permutation(size)
        archs = space.all_archs()
        seen = problem.evaluator.n_queries
        for n, idx in enumerate(order[seen:], start=seen):
            if problem.finished():
                break
            problem.evaluate_initial([archs[int(idx)]])
            if (n + 1) % chunk == 0:
                ckpt.save({"rng": start_rng, "problem": problem.state_dict()})
        set_rng_state(rng, start_rng)
    else:
        while not problem.finished():
            problem.evaluate_initial([space.sample(rng)])
    return task_result(problem)


def aging_evolution(
    space: SearchSpace,
    problem: BenchmarkProblem,
    rng: np.random.Generator,
    population_size: int = 10,
    tournament_size: int = 5,
    proxy: Mapping[str, float] | None = None,
    n_candidates: int = 10,
    warmup: int = 3000,
    checkpointer: Checkpointer | None = None,
    checkpoint_every: int = 100,
) -> TaskResult:
    """Regularized evolution (Real et al. 2019): tournament parent, one-edge mutation, the oldest dies.

    Without ``proxy`` this is the classic algorithm (docs/method.md §6.1.4): a random initial population,
    and every child is kept, whether or not it was queried before; a re-query costs nothing but the child
    still ages the population. With ``proxy`` (method ``zero``), the initial population is the proxy's
    top-K of ``warmup`` random cells and each step queries the best-by-proxy of ``n_candidates`` mutants
    new to the task (the multi-task loop's proposal rule).
    """
    ckpt = checkpointer or Checkpointer(None, {})
    proposer = ProxyREA(proxy, tournament_size, n_candidates, warmup)
    state = ckpt.load()
    if state is None:
        archs = proposer.initial(space, problem, population_size, rng)
        fits = problem.evaluate_initial(archs)
        pop = deque(Individual(a, f, i) for i, (a, f) in enumerate(zip(archs, fits, strict=True)))
        step = 0
    else:
        set_rng_state(rng, state["rng"])
        problem.load_state_dict(state["problem"])
        pop = deque(Individual.from_dict(d) for d in state["population"])
        step = state["step"]
    births = max(ind.birth for ind in pop) + 1
    max_steps = _STEP_FACTOR * problem.max_evaluations
    while not problem.finished() and step < max_steps:
        parent = tournament(list(pop), tournament_size, rng)
        if proxy is None:  # classic REA: one mutation, kept even if queried before (a re-query is free)
            child = space.mutate(parent.arch, rng)
        else:
            child = proposer.propose(space, parent.arch, problem, {i.arch for i in pop}, rng)
        (fit,) = problem.evaluate_initial([child])
        pop.append(Individual(child, fit, births, (parent.arch,)))
        births += 1
        pop.popleft()
        step += 1
        if step % checkpoint_every == 0:
            ckpt.save(
                {
                    "rng": rng_state(rng),
                    "problem": problem.state_dict(),
                    "population": [i.to_dict() for i in pop],
                    "step": step,
                }
            )
    return task_result(problem)


def task_result(problem: BenchmarkProblem) -> TaskResult:
    """A single-task baseline's result: the best queried cell and the problem's evaluation counts."""
    arch, fitness = problem.best_queried()
    return TaskResult(problem.name, arch, fitness, extra=problem.summary())


# -- the registered methods (ktnas.methods.METHODS) -----------------------------------------------------
def run_random_search(
    space: SearchSpace,
    problem: BenchmarkProblem,
    rng: np.random.Generator,
    hp: BenchmarkParams,
    ctx: TaskContext,
) -> TaskResult:
    """``rs``: uniform sampling without repetition."""
    return random_search(space, problem, rng, ctx.checkpointer)


def run_rea(
    space: SearchSpace,
    problem: BenchmarkProblem,
    rng: np.random.Generator,
    hp: BenchmarkParams,
    ctx: TaskContext,
) -> TaskResult:
    """``rea``: regularized evolution with population K and tournament S."""
    return aging_evolution(
        space, problem, rng, hp.population_size, hp.tournament_size, None, hp.n_candidates, hp.warmup,
        ctx.checkpointer,
    )  # fmt: skip


def run_zero(
    space: SearchSpace,
    problem: BenchmarkProblem,
    rng: np.random.Generator,
    hp: BenchmarkParams,
    ctx: TaskContext,
) -> TaskResult:
    """``zero``: REA with the zero-cost warm-up and pre-screen of docs/method.md §6.1.3 (D32)."""
    proxy = ctx.proxy(problem.name, hp.proxy)
    return aging_evolution(
        space, problem, rng, hp.population_size, hp.tournament_size, proxy, hp.n_candidates, hp.warmup,
        ctx.checkpointer,
    )  # fmt: skip
