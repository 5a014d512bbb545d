"""Offspring generation per search space: the "EvoNAS method" column of paper Table I.

* :class:`ProxyREA` — NAS-Bench-201: REA mutation with a zero-cost warm-up and pre-screen (docs/method.md §6.1).
* :class:`PredictorEvolution` — TransNAS-Bench-101: mutants ranked by a GCN predictor (docs/method.md §6.2).
* :class:`GeneticAlgorithm` — DARTS space: binary tournament, block crossover, mutation (docs/method.md §5.2).

Each returns children with their parent sets, so transfer labelling can attribute credit
(docs/method.md §2.3). Every transferred architecture is the parent of at least one offspring slot.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ktnas.search.base import Individual, clean_score, tournament
from ktnas.search.problem import Problem
from ktnas.spaces.base import SearchSpace


@dataclass(frozen=True)
class Child:
    arch: str
    parents: tuple[str, ...]


class ProxyREA:
    """REA offspring with a zero-cost proxy: warm-up top-K of ``warmup`` random cells, then each slot
    draws ``n_candidates`` unseen mutants of its parent and keeps the best by proxy (docs/method.md §6.1.3–§6.1.4).

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


class PredictorEvolution:
    """Mutants of tournament parents and transferred cells, ranked by a predictor trained on this task's
    evaluations; the top ``k`` unseen are queried (docs/method.md §6.2.3)."""

    def __init__(
        self,
        make_predictor: Callable[[int], object],
        history: Callable[[Problem], tuple[list[str], list[float]]],
        tournament_size: int = 5,
        n_candidates: int = 100,
    ) -> None:
        self.make_predictor = make_predictor
        self.history = history
        self.tournament_size = tournament_size
        self.n_candidates = n_candidates

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
        present = {ind.arch for ind in population}
        parents = list(transferred[:k])
        parents += [tournament(population, self.tournament_size, rng).arch for _ in range(k - len(parents))]
        per_slot = max(1, self.n_candidates // k)
        candidates: dict[str, set[str]] = {}
        # rounds of one mutant per slot; when mutants stop being new, walk one more edit away
        bases = [p for p in parents for _ in range(per_slot)]
        origin = list(bases)
        for _round in range(60):
            mutants = [space.mutate(b, rng) for b in bases]
            for m, parent in zip(mutants, origin, strict=True):
                if m not in present and not problem.seen(m):
                    candidates.setdefault(m, set()).add(parent)
            if len(candidates) >= self.n_candidates:
                break
            if _round % 10 == 9:
                bases = mutants
        if not candidates:
            return []
        archs = list(candidates)
        seen_archs, seen_fit = self.history(problem)
        predictor = self.make_predictor(int(rng.integers(2**31)))
        predictor.fit(seen_archs, np.asarray(seen_fit))  # type: ignore[attr-defined]
        pred = np.asarray(predictor.predict(archs), dtype=np.float64)  # type: ignore[attr-defined]
        pred = np.where(np.isfinite(pred), pred, -np.inf)
        order = np.argsort(-pred, kind="stable")[:k]
        return [Child(archs[i], tuple(sorted(candidates[archs[i]]))) for i in order]


class GeneticAlgorithm:
    """EMT-NAS-style GA (docs/method.md §5.2): binary tournaments, block crossover (p_c=1), per-gene
    mutation. Each transferred architecture is crossed once with a tournament-chosen parent (2 children,
    both credited to both parents); remaining couples come from tournaments over P.
    Offspring duplicating P or earlier offspring are regenerated up to 10 times (docs/method.md §5.4).
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
