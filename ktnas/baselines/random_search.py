"""``rs``: uniform random search without repetition (paper Tables II and III)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ktnas.baselines.base import TaskContext, task_result
from ktnas.results import TaskResult
from ktnas.search.base import rng_state, set_rng_state
from ktnas.search.checkpoint import Checkpointer
from ktnas.spaces.base import SearchSpace

if TYPE_CHECKING:
    from ktnas.evaluator import BenchmarkProblem
    from ktnas.params import BenchmarkParams


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


# -- the registered method (ktnas.methods.METHODS) -------------------------------------------------------
def run_random_search(
    space: SearchSpace,
    problem: BenchmarkProblem,
    rng: np.random.Generator,
    hp: BenchmarkParams,
    ctx: TaskContext,
) -> TaskResult:
    """``rs``: uniform sampling without repetition."""
    return random_search(space, problem, rng, ctx.checkpointer)
