"""The search-space protocol shared by every space (NASLib's "search space" axis).

An architecture is always handled as its canonical string: it is hashable, human readable, the key of
every benchmark and embedding table, and what results files record. Each space implements the same
small set of functions; search algorithms never look inside the string.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:
    import networkx as nx


class SearchSpace(ABC):
    """One cell-based search space.

    Subclasses implement the protected ``_parse``/``_format`` pair plus the operators; the public
    :meth:`canonical` validates user input once so the operators can trust their arguments.
    """

    name: ClassVar[str]
    #: human readable form of a valid architecture, quoted in error messages
    expected_form: ClassVar[str]

    # -- identity ---------------------------------------------------------------------------------
    def canonical(self, arch: str) -> str:
        """Validate ``arch`` and return its canonical string; ``ValueError`` names the bad string."""
        if not isinstance(arch, str):
            raise ValueError(
                f"{self.name}: architecture must be a string, got {type(arch).__name__} {arch!r}; "
                f"expected the form {self.expected_form}"
            )
        try:
            genes = self._parse(arch)
        except (ValueError, IndexError, KeyError) as err:
            raise ValueError(
                f"{self.name}: malformed architecture string {arch!r} ({err}); "
                f"expected the form {self.expected_form}"
            ) from None
        return self._format(genes)

    @abstractmethod
    def _parse(self, arch: str) -> tuple[int, ...]:
        """Architecture string -> integer genes; raises ValueError/KeyError/IndexError if malformed."""

    @abstractmethod
    def _format(self, genes: tuple[int, ...]) -> str:
        """Integer genes -> canonical architecture string."""

    def genes(self, arch: str) -> tuple[int, ...]:
        """The integer gene vector of a (canonical or not) architecture string."""
        return self._parse(self.canonical(arch))

    # -- operators ----------------------------------------------------------------------------------
    @abstractmethod
    def sample(self, rng: np.random.Generator) -> str:
        """A uniformly random architecture."""

    def sample_many(self, rng: np.random.Generator, n: int) -> list[str]:
        """``n`` draws of :meth:`sample`, leaving ``rng`` exactly where ``n`` calls would (a space may
        draw them in one call)."""
        return [self.sample(rng) for _ in range(n)]

    @abstractmethod
    def mutate(self, arch: str, rng: np.random.Generator) -> str:
        """The space's default mutation (always a valid architecture)."""

    def mutate_many(self, archs: Sequence[str], rng: np.random.Generator) -> list[str]:
        """One :meth:`mutate` of each of ``archs``, leaving ``rng`` exactly where successive calls would (a
        space may draw them in one call)."""
        return [self.mutate(a, rng) for a in archs]

    @abstractmethod
    def crossover(self, a: str, b: str, rng: np.random.Generator) -> tuple[str, str]:
        """Two complementary children of ``a`` and ``b``."""

    # -- views used by embeddings and predictors ------------------------------------------------------
    @abstractmethod
    def to_graph(self, arch: str) -> nx.DiGraph:
        """Op-as-vertex DAG (docs/reproduction.md §2.6): every vertex has a ``token`` attribute (shared vocabulary)."""

    @abstractmethod
    def tokens(self, arch: str) -> list[list[str]]:
        """Position-aware tokens per cell (docs/reproduction.md §2.6); one list per cell type."""

    @abstractmethod
    def vocabulary(self) -> list[list[str]]:
        """Every token each cell can hold, in a fixed order; one list per cell type."""

    def edit_distance(self, a: str, b: str) -> int:
        """Number of genes in which the two architectures differ."""
        ga, gb = self.genes(a), self.genes(b)
        return sum(x != y for x, y in zip(ga, gb, strict=True))

    # -- finite spaces --------------------------------------------------------------------------------
    def size(self) -> int | None:
        """Number of architectures, or None if the space is too large to enumerate."""
        return None

    def all_archs(self) -> list[str]:
        """Every architecture in the space's official order (finite spaces only)."""
        raise NotImplementedError(f"{self.name} is not enumerable")
