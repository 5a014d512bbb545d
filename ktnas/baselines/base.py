"""What every single-task baseline shares with the runner: its context, its signature and its result."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ktnas.results import TaskResult
from ktnas.search.checkpoint import Checkpointer

if TYPE_CHECKING:
    import numpy as np

    from ktnas.evaluator import BenchmarkProblem
    from ktnas.params import BenchmarkParams
    from ktnas.spaces.base import SearchSpace


@dataclass(frozen=True)
class TaskContext:
    """What a single-task search may use besides its problem: a checkpoint and the task's proxy scores."""

    checkpointer: Checkpointer
    proxy: Callable[[str, str], dict[str, float]]  # (task, proxy name) -> arch -> score


#: (space, problem, rng, params, context) -> the task's result
Searcher = Callable[
    ["SearchSpace", "BenchmarkProblem", "np.random.Generator", "BenchmarkParams", TaskContext], TaskResult
]


def task_result(problem: BenchmarkProblem) -> TaskResult:
    """A single-task baseline's result: the best queried cell and the problem's evaluation counts."""
    arch, fitness = problem.best_queried()
    return TaskResult(problem.name, arch, fitness, extra=problem.summary())
