"""``rea`` and ``zero``: regularized (aging) evolution, classic or with a zero-cost warm-up and
pre-screen ("Zero" in paper Table II; docs/reproduction.md §3.1.2 (D32), §3.1.3)."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from ktnas.baselines.base import TaskContext, task_result
from ktnas.results import TaskResult
from ktnas.search.base import Individual, rng_state, set_rng_state, tournament
from ktnas.search.checkpoint import Checkpointer
from ktnas.search.reproduction import ProxyREA
from ktnas.spaces.base import SearchSpace

if TYPE_CHECKING:
    from ktnas.evaluator import BenchmarkProblem
    from ktnas.params import BenchmarkParams

#: aging REA stops after this many steps per allowed evaluation, whatever happens (cached proposals are free)
_STEP_FACTOR = 50


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

    Without ``proxy`` this is the classic algorithm (docs/reproduction.md §3.1.3): a random initial population,
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


# -- the registered methods (ktnas.methods.METHODS) -----------------------------------------------------
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
    """``zero``: REA with the zero-cost warm-up and pre-screen of docs/reproduction.md §3.1.2 (D32)."""
    proxy = ctx.proxy(problem.name, hp.proxy)
    return aging_evolution(
        space, problem, rng, hp.population_size, hp.tournament_size, proxy, hp.n_candidates, hp.warmup,
        ctx.checkpointer,
    )  # fmt: skip
