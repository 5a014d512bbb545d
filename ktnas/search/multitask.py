"""The multi-task evolutionary loop: Algorithm 4 of the paper, made precise in docs/reproduction.md §2.5.

Tasks run in lockstep. Phase A reproduces, evaluates and selects every task and labels its last
transfers; phase B builds each task's next transfer population TP from the other tasks' populations with
a :class:`~ktnas.search.policies.TransferPolicy` (transfer rank for KTNAS). The same loop, with other policies, gives the
single-task, EMT-NAS-, MTNAS- and random-transfer baselines.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from ktnas.params import LoopParams
from ktnas.results import TaskResult
from ktnas.search.base import Individual, rng_state, set_rng_state, sort_population, top_k
from ktnas.search.checkpoint import Checkpointer
from ktnas.search.policies import Candidate, TransferPolicy
from ktnas.search.problem import Problem
from ktnas.search.reproduction import Brood, Child
from ktnas.search.transfer import HistoricalTransferredSet, Selection, select_by_score
from ktnas.spaces.base import SearchSpace

log = logging.getLogger(__name__)


class Reproduction(Protocol):
    def initial(
        self, space: SearchSpace, problem: Problem, k: int, rng: np.random.Generator
    ) -> list[str]: ...

    def offspring_many(
        self, space: SearchSpace, broods: Sequence[Brood], k: int, rng: np.random.Generator
    ) -> list[list[Child]]: ...


class _TaskState:
    def __init__(self, hts: HistoricalTransferredSet) -> None:
        self.population: list[Individual] = []
        self.transferred: list[str] = []
        self.hts = hts
        # diagnostics of the current generation, written to the trace by _record
        self.selection = Selection()
        self.source_rank: list[int] = []
        self.labels: list[float | None] = []
        self.child_in_elite: list[bool | None] = []
        self.births = 0
        self.frozen = False
        self.trace: list[dict[str, Any]] = []

    def born(self) -> int:
        self.births += 1
        return self.births - 1

    def state_dict(self) -> dict[str, Any]:
        return {
            "population": [i.to_dict() for i in self.population],
            "transferred": list(self.transferred),
            "hts": self.hts.state_dict(),
            "births": self.births,
            "frozen": self.frozen,
            "trace": self.trace,
        }

    def load_state_dict(self, s: dict[str, Any]) -> None:
        self.population = [Individual.from_dict(d) for d in s["population"]]
        self.transferred = list(s["transferred"])
        self.hts.load_state_dict(s["hts"])
        self.births, self.frozen, self.trace = s["births"], s["frozen"], s["trace"]


#: called after every generation (checkpoint written) with the generation and every task's trace so far
Progress = Callable[[int, Sequence[Sequence[dict[str, Any]]]], None]


class MultiTaskSearch:
    """Algorithm 4 over N ≥ 1 tasks (N = 1 only makes sense with the ``none`` policy).

    ``progress``: a hook the space's recipe may give (DARTS: the log line with ETA and the metrics CSV).
    """

    def __init__(
        self,
        space: SearchSpace,
        problems: Sequence[Problem],
        reproduction: Reproduction,
        policy: TransferPolicy,
        config: LoopParams,
        rng: np.random.Generator,
        checkpointer: Checkpointer | None = None,
        progress: Progress | None = None,
    ) -> None:
        if policy.transfers and len(problems) < 2:
            raise ValueError("a transfer policy needs at least 2 tasks")
        self.space, self.problems, self.reproduction = space, list(problems), reproduction
        self.policy, self.config, self.rng = policy, config, rng
        self.checkpointer = checkpointer or Checkpointer(None, {})
        self.progress = progress
        self.tasks = [_TaskState(policy.make_hts(config)) for _ in problems]
        self.generation = 0

    # -- public ---------------------------------------------------------------------------------------
    def run(self) -> list[TaskResult]:
        """Run (or resume) the search; returns one summary per task."""
        from tqdm.auto import tqdm  # only a run shows progress; importing the loop stays cheap

        state = self.checkpointer.load()
        if state is None:
            self._initialise()
            self._checkpoint()
            self._progress()
        else:
            self._restore(state)
        total = self.config.generations
        with tqdm(
            total=total, initial=self.generation + 1, desc="generations", disable=None, leave=False
        ) as bar:
            while self.generation + 1 < total and not all(t.frozen for t in self.tasks):
                self.generation += 1
                self._phase_a()
                self._phase_b()
                self._end_generation()
                self._record()
                self._checkpoint()
                self._progress()
                bar.update(1)
        return [self._summary(i) for i in range(len(self.tasks))]

    # -- steps ------------------------------------------------------------------------------------------
    def _initialise(self) -> None:
        k = self.config.population_size
        for task, problem in zip(self.tasks, self.problems, strict=True):
            archs = self.reproduction.initial(self.space, problem, k, self.rng)
            fitness = problem.evaluate_initial(archs)
            task.population = top_k(
                (Individual(a, f, task.born()) for a, f in zip(archs, fitness, strict=True)), k
            )
            task.frozen = problem.finished()
        # TP_1: M random members of the other tasks' initial populations (docs/reproduction.md §2.5)
        for i, task in enumerate(self.tasks):
            if self.policy.transfers:
                pool = self._candidates(i)
                self._set_transferred(
                    task, pool, select_by_score(np.zeros(len(pool)), self.config.n_transferred, self.rng)
                )
        self._end_generation()
        self._record()

    def _phase_a(self) -> None:
        k = self.config.population_size
        active = [i for i, task in enumerate(self.tasks) if not task.frozen]
        # every task's offspring first (the same draws as task by task: nothing below draws from rng), so
        # that an operator can share work between tasks (one batched fit of the tasks' predictors)
        broods = [
            Brood(self.problems[i], self.tasks[i].population, self.tasks[i].transferred) for i in active
        ]
        for i, kids in zip(
            active, self.reproduction.offspring_many(self.space, broods, k, self.rng), strict=True
        ):
            task, problem = self.tasks[i], self.problems[i]
            parent_archs = [p.arch for p in task.population]
            parent_fit, kid_fit = problem.evaluate_generation(
                self.generation, parent_archs, task.transferred, [c.arch for c in kids]
            )
            if parent_fit is not None:
                for ind, f in zip(task.population, parent_fit, strict=True):
                    ind.fitness = f
            present = set(parent_archs)
            offspring = [
                Individual(c.arch, f, task.born(), c.parents)
                for c, f in zip(kids, kid_fit, strict=True)
                if c.arch not in present  # not a new individual (docs/reproduction.md §2.1, last bullet)
            ]
            previous = task.population
            task.population = top_k(task.population + offspring, k)
            elite = {ind.arch for ind in task.population[: self.config.n_elite]}
            children: dict[str, list[Individual]] = {}
            for o in offspring:
                for p in o.parents:
                    children.setdefault(p, []).append(o)
            labels = self.policy.label(
                task.transferred, children, previous, task.population, self.config.n_elite
            )
            given = dict(labels)
            task.labels = [given.get(s) for s in task.transferred]
            task.child_in_elite = [
                any(o.arch in elite for o in children[s]) if s in children else None for s in task.transferred
            ]
            task.hts.update(labels, self.generation)
            self.policy.observe(i, labels, self.rng)
            task.frozen = problem.finished()

    def _phase_b(self) -> None:
        for i, task in enumerate(self.tasks):
            if task.frozen or not self.policy.transfers:
                self._set_transferred(task, [], Selection())
                continue
            pool = self._candidates(i)
            self._set_transferred(
                task, pool, self.policy.select(i, pool, task.hts, self.config.n_transferred, self.rng)
            )

    @staticmethod
    def _set_transferred(task: _TaskState, pool: Sequence[Candidate], selection: Selection) -> None:
        task.transferred = [pool[j].arch for j in selection.chosen]
        task.source_rank = [pool[j].rank for j in selection.chosen]
        task.selection = selection

    def _end_generation(self) -> None:
        """The problems' end-of-generation hook, e.g. DARTS evaluates the task's best on the full
        validation split and keeps the best seen (docs/reproduction.md §3.3.7)."""
        for task, problem in zip(self.tasks, self.problems, strict=True):
            if not task.frozen:
                problem.end_generation(self.generation, task.population[0].arch)

    def _candidates(self, target: int) -> list[Candidate]:
        """C_t^i: the other tasks' populations, ordered (task, fitness desc, key), deduplicated."""
        out: dict[str, Candidate] = {}
        for j, task in enumerate(self.tasks):
            if j == target:
                continue
            for rank, ind in enumerate(sort_population(task.population)):
                out.setdefault(ind.arch, Candidate(ind.arch, j, ind.fitness, rank))
        return list(out.values())

    def _record(self) -> None:
        for task, problem in zip(self.tasks, self.problems, strict=True):
            best = task.population[0] if task.population else None
            entry: dict[str, Any] = {
                "generation": self.generation,
                "best_arch": best.arch if best else None,
                "best_fitness": best.fitness if best else None,
                "transferred": list(task.transferred),
                "hts_size": len(task.hts),
                # transfer diagnostics: labels / child_in_elite refer to the previous entry's transferred
                # (used this generation); the rest to this entry's (see ktnas.report.transfer_diagnostics)
                "labels": list(task.labels),
                "child_in_elite": list(task.child_in_elite),
                "source_rank": list(task.source_rank),
                "by_score": list(task.selection.by_score),
                "scores": None if task.selection.scores is None else list(task.selection.scores),
                "phi": None if task.selection.phi is None else list(task.selection.phi),
                **problem.trace_fields(),
            }
            task.labels, task.child_in_elite = [], []
            task.trace.append(entry)

    def _progress(self) -> None:
        if self.progress is not None:
            self.progress(self.generation, [task.trace for task in self.tasks])

    # -- checkpointing ----------------------------------------------------------------------------------
    def _checkpoint(self) -> None:
        directory = self.checkpointer.directory
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            for problem in self.problems:
                problem.save_files(directory, self.generation)
        self.checkpointer.save(
            {
                "generation": self.generation,
                "rng": rng_state(self.rng),
                "tasks": [t.state_dict() for t in self.tasks],
                "problems": [p.state_dict() for p in self.problems],
                "policy": self.policy.state_dict(),
            }
        )

    def _restore(self, state: dict[str, Any]) -> None:
        self.generation = state["generation"]
        set_rng_state(self.rng, state["rng"])
        for task, s in zip(self.tasks, state["tasks"], strict=True):
            task.load_state_dict(s)
        for problem, s in zip(self.problems, state["problems"], strict=True):
            problem.load_state_dict(s)
            directory = self.checkpointer.directory
            if directory is not None:
                problem.load_files(directory, self.generation)
        self.policy.load_state_dict(state["policy"])

    def _summary(self, i: int) -> TaskResult:
        task, problem = self.tasks[i], self.problems[i]
        best = task.population[0]
        return TaskResult(
            task=problem.name,
            best_arch=problem.chosen_arch(best.arch),
            best_fitness=best.fitness,
            generations=self.generation + 1,
            trace=task.trace,
            extra=problem.summary(),
        )
