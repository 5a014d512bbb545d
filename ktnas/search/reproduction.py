"""Offspring generation per search space: the "EvoNAS method" column of paper Table I.

* :class:`ProxyREA` — NAS-Bench-201: REA mutation with a zero-cost warm-up and pre-screen (docs/reproduction.md §3.1).
* :class:`PredictorEvolution` — TransNAS-Bench-101: mutants ranked by a GCN predictor (docs/reproduction.md §3.2).
* :class:`GeneticAlgorithm` — DARTS space: binary tournament, block crossover, mutation (docs/reproduction.md §3.3.2).

Each returns children with their parent sets, so transfer labelling can attribute credit
(docs/reproduction.md §2.1). Every transferred architecture is the parent of at least one offspring slot.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ktnas.search.base import Individual, clean_score, tournament
from ktnas.search.problem import Problem
from ktnas.spaces.base import SearchSpace


@dataclass(frozen=True)
class Child:
    arch: str
    parents: tuple[str, ...]


@dataclass(frozen=True)
class Brood:
    """What one task's offspring are bred from: its problem, population and transferred cells."""

    problem: Problem
    population: Sequence[Individual]
    transferred: Sequence[str]


class Reproducer:
    """Base of the offspring operators: :meth:`offspring_many` is one :meth:`offspring` call per task, in
    order (an operator that can share work between tasks overrides it, drawing the same random numbers)."""

    def offspring(
        self,
        space: SearchSpace,
        problem: Problem,
        population: Sequence[Individual],
        transferred: Sequence[str],
        k: int,
        rng: np.random.Generator,
    ) -> list[Child]:
        raise NotImplementedError

    def offspring_many(
        self, space: SearchSpace, broods: Sequence[Brood], k: int, rng: np.random.Generator
    ) -> list[list[Child]]:
        return [self.offspring(space, b.problem, b.population, b.transferred, k, rng) for b in broods]


class ProxyREA(Reproducer):
    """REA offspring with a zero-cost proxy: warm-up top-K of ``warmup`` random cells, then each slot
    draws ``n_candidates`` unseen mutants of its parent and keeps the best by proxy (docs/reproduction.md §3.1.2–§3.1.3).

    With ``proxy=None`` it is plain generation-based REA (random initial population, one mutant).
    """

    def __init__(
        self,
        proxy: Mapping[str, float] | None,
        tournament_size: int = 5,
        n_candidates: int = 10,
        warmup: int = 3000,
    ) -> None:
        self.proxy = proxy
        self.tournament_size = tournament_size
        self.n_candidates = n_candidates if proxy is not None else 1
        self.warmup = warmup

    def score(self, arch: str) -> float:
        return 0.0 if self.proxy is None else clean_score(self.proxy.get(arch))

    def initial(self, space: SearchSpace, problem: Problem, k: int, rng: np.random.Generator) -> list[str]:
        n = self.warmup if self.proxy is not None else k
        pool = distinct_samples(space, n, rng)
        if self.proxy is None:
            return pool[:k]
        scores = np.array([self.score(a) for a in pool])
        order = np.argsort(-scores, kind="stable")
        return [pool[i] for i in order[:k]]

    def propose(
        self, space: SearchSpace, parent: str, problem: Problem, taken: set[str], rng: np.random.Generator
    ) -> str:
        """Best-by-proxy of ``n_candidates`` mutants that are new to this task.

        When every mutant was already evaluated (10 draws), the mutants are mutated again, one more
        edit per round, so a converged population keeps exploring instead of re-proposing known cells.
        """
        base = [parent] * self.n_candidates
        for _depth in range(6):
            for _ in range(10):
                mutants = [space.mutate(b, rng) for b in base]
                fresh = [m for m in mutants if m not in taken and not problem.seen(m)]
                if fresh:
                    return max(fresh, key=self.score) if self.proxy is not None else fresh[0]
            base = mutants
        return mutants[0]

    def offspring(
        self,
        space: SearchSpace,
        problem: Problem,
        population: Sequence[Individual],
        transferred: Sequence[str],
        k: int,
        rng: np.random.Generator,
    ) -> list[Child]:
        taken = {ind.arch for ind in population}
        children: list[Child] = []
        parents = list(transferred[:k])
        parents += [tournament(population, self.tournament_size, rng).arch for _ in range(k - len(parents))]
        for parent in parents:
            child = self.propose(space, parent, problem, taken, rng)
            taken.add(child)
            children.append(Child(child, (parent,)))
        return children


class PredictorEvolution(Reproducer):
    """Mutants of tournament parents and transferred cells, ranked by a predictor trained on this task's
    evaluations; the top ``k`` unseen are queried (docs/reproduction.md §3.2.2).

    ``fit_many(predictors, training_sets)`` fits several predictors at once (e.g.
    :func:`ktnas.predictors.gcn.fit_many`, which trains them as one batched model); by default each is
    fitted on its own. Either way a predictor's fit must not depend on the others in the call.
    """

    def __init__(
        self,
        make_predictor: Callable[[int], object],
        history: Callable[[Problem], tuple[list[str], list[float]]],
        tournament_size: int = 5,
        n_candidates: int = 100,
        fit_many: Callable[[Sequence[Any], Sequence[tuple[list[str], np.ndarray]]], None] | None = None,
    ) -> None:
        self.make_predictor = make_predictor
        self.history = history
        self.tournament_size = tournament_size
        self.n_candidates = n_candidates
        self.fit_many = fit_many

    def initial(self, space: SearchSpace, problem: Problem, k: int, rng: np.random.Generator) -> list[str]:
        return distinct_samples(space, k, rng)

    def offspring(
        self,
        space: SearchSpace,
        problem: Problem,
        population: Sequence[Individual],
        transferred: Sequence[str],
        k: int,
        rng: np.random.Generator,
    ) -> list[Child]:
        return self.offspring_many(space, [Brood(problem, population, transferred)], k, rng)[0]

    def offspring_many(
        self, space: SearchSpace, broods: Sequence[Brood], k: int, rng: np.random.Generator
    ) -> list[list[Child]]:
        """The offspring of several tasks, as successive :meth:`offspring` calls would give them: each
        task's mutants and predictor seed are drawn in task order, then the predictors are fitted together.
        """
        drawn, todo, predictors = [], [], []
        for i, brood in enumerate(broods):
            drawn.append(self._candidates(space, brood, k, rng))
            if drawn[-1]:
                todo.append(i)
                predictors.append(self.make_predictor(int(rng.integers(2**31))))
        data = []
        for i in todo:
            archs, fit = self.history(broods[i].problem)
            data.append((archs, np.asarray(fit)))
        if self.fit_many is not None:
            self.fit_many(predictors, data)
        else:
            for predictor, (archs, y) in zip(predictors, data, strict=True):
                predictor.fit(archs, y)  # type: ignore[attr-defined]
        out: list[list[Child]] = [[] for _ in broods]
        for i, predictor in zip(todo, predictors, strict=True):
            candidates = drawn[i]
            archs = list(candidates)
            pred = np.asarray(predictor.predict(archs), dtype=np.float64)  # type: ignore[attr-defined]
            pred = np.where(np.isfinite(pred), pred, -np.inf)
            order = np.argsort(-pred, kind="stable")[:k]
            out[i] = [Child(archs[j], tuple(sorted(candidates[archs[j]]))) for j in order]
        return out

    def _candidates(
        self, space: SearchSpace, brood: Brood, k: int, rng: np.random.Generator
    ) -> dict[str, set[str]]:
        """Unseen mutants of the parents (transferred cells first, then tournament winners), each with the
        parents it was drawn from."""
        problem = brood.problem
        present = {ind.arch for ind in brood.population}
        parents = list(brood.transferred[:k])
        parents += [
            tournament(brood.population, self.tournament_size, rng).arch for _ in range(k - len(parents))
        ]
        per_slot = max(1, self.n_candidates // k)
        candidates: dict[str, set[str]] = {}
        # rounds of one mutant per slot; when mutants stop being new, walk one more edit away
        bases = [p for p in parents for _ in range(per_slot)]
        origin = list(bases)
        for _round in range(60):
            mutants = space.mutate_many(bases, rng)
            for m, parent in zip(mutants, origin, strict=True):
                if m not in present and not problem.seen(m):
                    candidates.setdefault(m, set()).add(parent)
            if len(candidates) >= self.n_candidates:
                break
            if _round % 10 == 9:
                bases = mutants
        return candidates


class GeneticAlgorithm(Reproducer):
    """EMT-NAS-style GA (docs/reproduction.md §3.3.2): binary tournaments, block crossover (p_c=1), per-gene
    mutation. Each transferred architecture is crossed once with a tournament-chosen parent (2 children,
    both credited to both parents); remaining couples come from tournaments over P.
    Offspring duplicating P or earlier offspring are regenerated up to 10 times (docs/reproduction.md §3.3.4).
    """

    def __init__(
        self, mutate: Callable[[str, np.random.Generator], str] | None = None, tournament_size: int = 2
    ) -> None:
        """``mutate``: the space's mutation with its rate bound, e.g. ``partial(darts.mutate, p_m=0.02)``;
        None uses ``space.mutate`` as is."""
        self.mutate = mutate
        self.tournament_size = tournament_size

    def initial(self, space: SearchSpace, problem: Problem, k: int, rng: np.random.Generator) -> list[str]:
        return distinct_samples(space, k, rng)

    def _mate(self, space: SearchSpace, a: str, b: str, rng: np.random.Generator) -> tuple[str, str]:
        c1, c2 = space.crossover(a, b, rng)
        mutate = self.mutate or space.mutate
        return mutate(c1, rng), mutate(c2, rng)

    def offspring(
        self,
        space: SearchSpace,
        problem: Problem,
        population: Sequence[Individual],
        transferred: Sequence[str],
        k: int,
        rng: np.random.Generator,
    ) -> list[Child]:
        taken = {ind.arch for ind in population}
        couples = [(s, tournament(population, self.tournament_size, rng).arch) for s in transferred]
        while 2 * len(couples) < k:
            a = tournament(population, self.tournament_size, rng).arch
            b = tournament(population, self.tournament_size, rng).arch
            couples.append((a, b))
        children: list[Child] = []
        for a, b in couples:
            for _ in range(10):
                c1, c2 = self._mate(space, a, b, rng)
                if c1 not in taken and c2 not in taken and c1 != c2:
                    break
            for c in (c1, c2):
                if c not in taken:  # a duplicate is kept out: it is not a new individual
                    taken.add(c)
                    children.append(Child(c, (a, b)))
        return children[: max(k, 2 * len(transferred))]


def distinct_samples(space: SearchSpace, n: int, rng: np.random.Generator) -> list[str]:
    """``n`` distinct random architectures (fewer only if the space is smaller): ``space.sample`` until
    ``n`` are distinct. Drawn in blocks (:meth:`~ktnas.spaces.base.SearchSpace.sample_many`); the
    generator is then rewound and advanced by exactly the draws used, so the result and the generator's
    state are those of one call at a time."""
    size = space.size()
    n = min(n, size) if size is not None else n
    out: dict[str, None] = {}
    while len(out) < n:
        need = n - len(out)
        start = rng.bit_generator.state
        block = space.sample_many(rng, need + need // 4 + 8)
        used = 0
        for arch in block:
            used += 1
            out.setdefault(arch, None)
            if len(out) == n:
                break
        if used < len(block):
            rng.bit_generator.state = start
            space.sample_many(rng, used)
    return list(out)
