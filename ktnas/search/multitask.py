"""The multi-task evolutionary loop: Algorithm 4 of the paper, made precise in spec §3.4.

Tasks run in lockstep. Phase A reproduces, evaluates and selects every task and labels its last
transfers; phase B builds each task's next transfer population TP from the other tasks' populations with
a :class:`TransferPolicy` (transfer rank for KTNAS). The same loop, with other policies, gives the
single-task, EMT-NAS-, MTNAS- and random-transfer baselines.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np
from tqdm.auto import tqdm

from ktnas.search.base import Individual, rng_state, set_rng_state, sort_population, top_k
from ktnas.search.checkpoint import Checkpointer
from ktnas.search.problem import Problem
from ktnas.search.reproduction import Child
from ktnas.search.transfer import (
    DistanceFn,
    HistoricalTransferredSet,
    Selection,
    label_transfers,
    select_by_score,
    transfer_rank,
)
from ktnas.spaces.base import SearchSpace

log = logging.getLogger(__name__)


class Reproduction(Protocol):
    def initial(
        self, space: SearchSpace, problem: Problem, k: int, rng: np.random.Generator
    ) -> list[str]: ...

    def offspring(
        self,
        space: SearchSpace,
        problem: Problem,
        population: Sequence[Individual],
        transferred: Sequence[str],
        k: int,
        rng: np.random.Generator,
    ) -> list[Child]: ...


@dataclass(frozen=True)
class Candidate:
    arch: str
    task: int
    fitness: float
    rank: int  # rank within its own task's population (0 = best)


# --- transfer policies ------------------------------------------------------------------------------
class TransferPolicy:
    """Chooses TP_{t+1}^i from the other tasks' candidates. Subclasses override :meth:`_select`, and may
    override :meth:`label` and :meth:`make_hts` (the transfer-study selectors do)."""

    name = "none"
    transfers = True
    needs_distance = False  # built with an architecture distance (an embedding table)

    def __init__(self, n_tasks: int) -> None:
        self.n_tasks = n_tasks

    def select(
        self,
        target: int,
        candidates: Sequence[Candidate],
        hts: HistoricalTransferredSet,
        n: int,
        rng: np.random.Generator,
    ) -> Selection:
        """The chosen candidates (indices in transfer order) with the diagnostics of the choice."""
        if not self.transfers or n == 0 or not candidates:
            return Selection()
        return self._select(target, candidates, hts, n, rng)

    def _select(
        self,
        target: int,
        candidates: Sequence[Candidate],
        hts: HistoricalTransferredSet,
        n: int,
        rng: np.random.Generator,
    ) -> Selection:
        raise NotImplementedError

    def make_hts(self, config: MultiTaskConfig) -> HistoricalTransferredSet:
        """The historical transferred set of one task (Algorithm 1)."""
        return HistoricalTransferredSet(config.saved_generations)

    def label(
        self,
        transferred: Sequence[str],
        children: Mapping[str, Sequence[Individual]],
        parents: Sequence[Individual],
        survivors: Sequence[Individual],
        n_elite: int,
    ) -> list[tuple[str, float]]:
        """Labels of the last transfers (spec §2.3): ``children`` maps a parent to its new offspring,
        ``parents`` is P_t, ``survivors`` is P_{t+1} best first, its first ``n_elite`` the elite."""
        elite = {ind.arch for ind in survivors[:n_elite]}
        return label_transfers(
            transferred, {s: [o.arch for o in kids] for s, kids in children.items()}, elite
        )

    def observe(self, target: int, labels: Sequence[tuple[str, float]], rng: np.random.Generator) -> None:
        """Feedback after labelling (used by the adaptive MTNAS policy)."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None


class NoTransfer(TransferPolicy):
    """Single-tasking: the KTNAS machinery with no transfer."""

    name = "none"
    transfers = False


class RandomTransfer(TransferPolicy):
    """ "KTNAS w/o transfer rank": M uniformly random candidates (spec §3.4 notes)."""

    name = "random"

    def _select(
        self,
        target: int,
        candidates: Sequence[Candidate],
        hts: HistoricalTransferredSet,
        n: int,
        rng: np.random.Generator,
    ) -> Selection:
        return select_by_score(np.zeros(len(candidates)), n, rng)


class RankTransfer(TransferPolicy):
    """KTNAS: transfer rank over the historical transferred set (Algorithms 2–3)."""

    name = "rank"
    needs_distance = True

    def __init__(self, n_tasks: int, distance: DistanceFn) -> None:
        super().__init__(n_tasks)
        self.distance = distance

    def _select(
        self,
        target: int,
        candidates: Sequence[Candidate],
        hts: HistoricalTransferredSet,
        n: int,
        rng: np.random.Generator,
    ) -> Selection:
        phi = transfer_rank(hts.archs, hts.labels, [c.arch for c in candidates], self.distance)
        return select_by_score(phi, n, rng, phi=phi)


class FittestTransfer(TransferPolicy):
    """EMT-NAS-style: the M fittest candidates by their own task's fitness. Fitness scales differ
    between tasks, so candidates are compared by their rank within their own population, ties by task."""

    name = "fittest"

    def _select(
        self,
        target: int,
        candidates: Sequence[Candidate],
        hts: HistoricalTransferredSet,
        n: int,
        rng: np.random.Generator,
    ) -> Selection:
        order = sorted(range(len(candidates)), key=lambda i: (candidates[i].rank, candidates[i].task))
        scores = tuple(-float(c.rank) for c in candidates)
        return Selection(tuple(order[:n]), (True,) * len(order[:n]), scores)


class AdaptiveTransfer(RandomTransfer):
    """MTNAS-style adaptive transfer frequency (our reconstruction, see README): each task transfers M
    random candidates with probability p; p moves by ``step`` up after a generation with a positive
    transfer and down after one with only negatives, within [p_min, 1]."""

    name = "adaptive"

    def __init__(self, n_tasks: int, p0: float = 0.5, step: float = 0.1, p_min: float = 0.1) -> None:
        super().__init__(n_tasks)
        self.p = [p0] * n_tasks
        self.step, self.p_min = step, p_min

    def _select(
        self,
        target: int,
        candidates: Sequence[Candidate],
        hts: HistoricalTransferredSet,
        n: int,
        rng: np.random.Generator,
    ) -> Selection:
        if rng.random() >= self.p[target]:
            return Selection()
        return super()._select(target, candidates, hts, n, rng)

    def observe(self, target: int, labels: Sequence[tuple[str, float]], rng: np.random.Generator) -> None:
        if labels:
            delta = self.step if any(lab > 0 for _, lab in labels) else -self.step
            self.p[target] = float(min(1.0, max(self.p_min, self.p[target] + delta)))

    def state_dict(self) -> dict[str, Any]:
        return {"p": list(self.p)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.p = list(state["p"])


POLICIES: dict[str, type[TransferPolicy]] = {
    "none": NoTransfer,
    "random": RandomTransfer,
    "rank": RankTransfer,
    "fittest": FittestTransfer,
    "adaptive": AdaptiveTransfer,
}


def make_policy(name: str, n_tasks: int, distance: DistanceFn | None = None) -> TransferPolicy:
    if name not in POLICIES:
        raise ValueError(f"unknown transfer policy {name!r}; choose one of {', '.join(POLICIES)}")
    cls = POLICIES[name]
    if cls.needs_distance:
        if distance is None:
            raise ValueError(f"transfer policy {name!r} needs an architecture distance (an embedding table)")
        return cls(n_tasks, distance)  # type: ignore[call-arg]
    return cls(n_tasks)


def needs_distance(policy: str | None) -> bool:
    """Whether the named transfer policy is built with an architecture distance."""
    return policy is not None and policy in POLICIES and POLICIES[policy].needs_distance


# --- the loop --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MultiTaskConfig:
    """Hyper-parameters of paper Table I (defaults: NAS-Bench-201 column)."""

    population_size: int = 10  # K
    n_transferred: int = 4  # M
    elite_ratio: float = 0.2  # r
    saved_generations: int = 5  # m
    generations: int = 100  # T (generation 0 is the initialisation)

    def __post_init__(self) -> None:
        if self.population_size < 2:
            raise ValueError(f"population size K must be >= 2, got {self.population_size}")
        if not 0 < self.elite_ratio <= 1:
            raise ValueError(f"ranking ratio r must be in (0, 1], got {self.elite_ratio}")
        if not 0 <= self.n_transferred <= self.population_size:
            raise ValueError(f"transferred individuals M must be in 0..K, got {self.n_transferred}")
        if self.saved_generations < 1:
            raise ValueError(f"saved generations m must be >= 1, got {self.saved_generations}")
        if self.generations < 1:
            raise ValueError(f"generations T must be >= 1, got {self.generations}")

    @property
    def n_elite(self) -> int:
        return math.floor(self.elite_ratio * self.population_size)

    @classmethod
    def from_params(cls, params: Any) -> MultiTaskConfig:
        """The loop's settings from any hyper-parameter object that has these five fields."""
        return cls(**{f: getattr(params, f) for f in cls.__dataclass_fields__})


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


class MultiTaskSearch:
    """Algorithm 4 over N ≥ 1 tasks (N = 1 only makes sense with the ``none`` policy)."""

    def __init__(
        self,
        space: SearchSpace,
        problems: Sequence[Problem],
        reproduction: Reproduction,
        policy: TransferPolicy,
        config: MultiTaskConfig,
        rng: np.random.Generator,
        checkpointer: Checkpointer | None = None,
        progress: bool = True,
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
    def run(self) -> list[dict[str, Any]]:
        """Run (or resume) the search; returns one summary per task."""
        state = self.checkpointer.load()
        if state is None:
            self._initialise()
            self._checkpoint()
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
                bar.update(1)
        return [self._summary(i) for i in range(len(self.tasks))]

    # -- steps ------------------------------------------------------------------------------------------
    def _initialise(self) -> None:
        k = self.config.population_size
        for task, problem in zip(self.tasks, self.problems, strict=True):
            archs = self.reproduction.initial(self.space, problem, k, self.rng)
            fitness = problem.evaluate_initial(archs, self.rng)
            task.population = top_k(
                (Individual(a, f, task.born()) for a, f in zip(archs, fitness, strict=True)), k
            )
            task.frozen = problem.finished()
        # TP_1: M random members of the other tasks' initial populations (spec §3.4)
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
        for i, (task, problem) in enumerate(zip(self.tasks, self.problems, strict=True)):
            if task.frozen:
                continue
            kids = self.reproduction.offspring(
                self.space, problem, task.population, task.transferred, k, self.rng
            )
            parent_archs = [p.arch for p in task.population]
            parent_fit, kid_fit = problem.evaluate_generation(
                self.generation, parent_archs, task.transferred, [c.arch for c in kids], self.rng
            )
            if parent_fit is not None:
                for ind, f in zip(task.population, parent_fit, strict=True):
                    ind.fitness = f
            present = set(parent_archs)
            offspring = [
                Individual(c.arch, f, task.born(), c.parents)
                for c, f in zip(kids, kid_fit, strict=True)
                if c.arch not in present  # not a new individual (spec §2.3, last bullet)
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
        """Optional per-problem hook, e.g. DARTS evaluates the task's best on the full validation split
        and keeps the best seen (spec §5.7)."""
        for task, problem in zip(self.tasks, self.problems, strict=True):
            hook = getattr(problem, "end_generation", None)
            if hook is not None and not task.frozen:
                hook(self.generation, task.population[0].arch)

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
            }
            task.labels, task.child_in_elite = [], []
            evaluator = getattr(problem, "evaluator", None)
            if evaluator is not None:
                entry["n_queries"] = evaluator.n_queries
            task.trace.append(entry)

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

    def _summary(self, i: int) -> dict[str, Any]:
        task, problem = self.tasks[i], self.problems[i]
        best = task.population[0]
        out: dict[str, Any] = {
            "task": problem.name,
            "best_arch": best.arch,
            "best_fitness": best.fitness,
            "generations": self.generation + 1,
            "trace": task.trace,
        }
        evaluator = getattr(problem, "evaluator", None)
        if evaluator is not None:
            out["found_at"] = evaluator.found_at
            out["n_queries"] = evaluator.n_queries
        extra = getattr(problem, "summary", None)
        if extra is not None:
            out.update(extra())
        return out


def config_dict(config: MultiTaskConfig) -> dict[str, Any]:
    return asdict(config)
