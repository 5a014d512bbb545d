"""A search space restricted to a fixed set of architectures (docs/reproduction.md §3.2: the bundled Trans101 subset).

When a benchmark table covers only part of a space (711 of the 4,096 TransNAS-Bench-101 micro cells),
the search must never propose a cell the table cannot answer. :class:`RestrictedSpace` wraps any
fixed-length-gene space and keeps every operator inside the allowed set:

- ``sample`` draws uniformly from the allowed set;
- ``mutate`` draws uniformly among the allowed 1-edit neighbours, which is exactly the base space's
  uniform one-edge mutation conditioned on landing inside (rejection sampling without the loop); a cell
  with no allowed 1-edit neighbour moves to a uniformly chosen nearest allowed cell by edit distance;
- ``crossover`` runs the base crossover and repairs each child that falls outside to a uniformly chosen
  nearest allowed cell (a child already inside is kept as is).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ktnas.spaces.base import SearchSpace

if TYPE_CHECKING:
    import networkx as nx


class RestrictedSpace(SearchSpace):
    """``base`` limited to ``allowed``; the canonical strings and views are the base space's."""

    expected_form = "an architecture of the allowed subset"

    def __init__(self, base: SearchSpace, allowed: Iterable[str]) -> None:
        archs = sorted({base.canonical(a) for a in allowed})
        if not archs:
            raise ValueError(f"{base.name}: the allowed architecture set is empty; pass at least one")
        self.base = base
        # the wrapper answers to the base space's name so that tables and embeddings keyed by it match
        setattr(self, "name", base.name)  # noqa: B010 - name is a ClassVar on other spaces
        setattr(self, "expected_form", f"{base.expected_form}, one of the {len(archs)} allowed cells")  # noqa: B010
        self._allowed: tuple[str, ...] = tuple(archs)
        self._position = {a: i for i, a in enumerate(archs)}
        self._genes = np.array([base.genes(a) for a in archs], dtype=np.int64)
        if self._genes.ndim != 2:
            raise ValueError(f"{base.name}: RestrictedSpace needs fixed-length gene vectors")
        # arch -> indices mutate draws from; a search mutates the same few hundred cells again and again
        self._mutation_targets: dict[str, np.ndarray] = {}
        # outside cell -> indices of its nearest allowed cells, which repair draws from (crossover children)
        self._repair_targets: dict[str, np.ndarray] = {}

    # -- identity: delegated -----------------------------------------------------------------------
    def _parse(self, arch: str) -> tuple[int, ...]:
        return self.base._parse(arch)

    def _format(self, genes: tuple[int, ...]) -> str:
        return self.base._format(genes)

    def __contains__(self, arch: object) -> bool:
        return arch in self._position

    def __repr__(self) -> str:
        return f"RestrictedSpace({type(self.base).__name__}(), {len(self._allowed)} allowed)"

    # -- operators ----------------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> str:
        return self._allowed[int(rng.integers(len(self._allowed)))]

    def mutate(self, arch: str, rng: np.random.Generator) -> str:
        """A uniformly random allowed 1-edit neighbour (fallback: a nearest allowed cell ≠ ``arch``)."""
        candidates = self._mutation_targets.get(arch)
        if candidates is None:
            candidates = self._mutation_targets[arch] = self._targets(arch)
        if candidates.size == 0:  # the allowed set is this one cell
            return self._allowed[0]
        # the draw rng.choice(candidates) makes (numpy: choice = integers(0, n, dtype=int64)), cheaper
        return self._allowed[int(candidates[rng.integers(0, candidates.size, dtype=np.int64)])]

    def _targets(self, arch: str) -> np.ndarray:
        """Indices of the allowed 1-edit neighbours of ``arch``, else of its nearest other allowed cells."""
        dist = self._distances(arch)
        candidates = np.flatnonzero(dist == 1)
        if candidates.size == 0:
            others = dist[dist > 0]
            candidates = np.flatnonzero(dist == others.min()) if others.size else candidates
        return candidates

    def mutate_many(self, archs: Sequence[str], rng: np.random.Generator) -> list[str]:
        """:meth:`mutate` of each of ``archs``, its draws made in one call: numpy's bounded integers with an
        array of upper bounds take from the stream, bound by bound, what one call per bound takes."""
        targets = []
        for arch in archs:
            candidates = self._mutation_targets.get(arch)
            if candidates is None:
                candidates = self._mutation_targets[arch] = self._targets(arch)
            targets.append(candidates)
        if not targets or any(t.size == 0 for t in targets):  # the one-cell set: mutate draws nothing
            return [self.mutate(a, rng) for a in archs]
        sizes = np.fromiter((t.size for t in targets), dtype=np.int64, count=len(targets))
        picks = rng.integers(0, sizes, dtype=np.int64).tolist()
        return [self._allowed[int(t[i])] for t, i in zip(targets, picks, strict=True)]

    def crossover(self, a: str, b: str, rng: np.random.Generator) -> tuple[str, str]:
        """The base crossover, each child repaired into the allowed set."""
        c1, c2 = self.base.crossover(a, b, rng)
        return self.repair(c1, rng), self.repair(c2, rng)

    def repair(self, arch: str, rng: np.random.Generator) -> str:
        """``arch`` if allowed, else a uniformly chosen allowed cell at the smallest edit distance."""
        if arch in self._position:
            return arch
        nearest = self._repair_targets.get(arch)
        if nearest is None:
            dist = self._distances(arch)
            nearest = self._repair_targets[arch] = np.flatnonzero(dist == dist.min())
        # the draw rng.choice(nearest) makes (numpy: choice = integers(0, n, dtype=int64)), cheaper
        return self._allowed[int(nearest[rng.integers(0, nearest.size, dtype=np.int64)])]

    def _distances(self, arch: str) -> np.ndarray:
        g = np.asarray(self.base.genes(arch), dtype=np.int64)
        if g.shape != self._genes.shape[1:]:
            raise ValueError(f"{self.name}: {arch!r} has {g.size} genes, expected {self._genes.shape[1]}")
        return (self._genes != g).sum(axis=1)

    # -- views: delegated ---------------------------------------------------------------------------
    def to_graph(self, arch: str) -> nx.DiGraph:
        return self.base.to_graph(arch)

    def tokens(self, arch: str) -> list[list[str]]:
        return self.base.tokens(arch)

    def vocabulary(self) -> list[list[str]]:
        return self.base.vocabulary()

    def size(self) -> int:
        return len(self._allowed)

    def all_archs(self) -> list[str]:
        """The allowed cells, sorted by canonical string."""
        return list(self._allowed)

    def __getattr__(self, attr: str) -> Any:
        # extras of the base space (adjacency_ops, index, ...) stay reachable through the wrapper
        if attr.startswith("__") or "base" not in self.__dict__:
            raise AttributeError(attr)
        return getattr(self.__dict__["base"], attr)
