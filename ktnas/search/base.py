"""Shared pieces of the evolutionary searches: individuals, environmental selection, RNG state."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass
class Individual:
    """An evaluated architecture of one task; ``birth`` orders ties ("older first", docs/reproduction.md §2.1)."""

    arch: str
    fitness: float
    birth: int
    parents: tuple[str, ...] = field(default=())

    def sort_key(self) -> tuple[bool, float, int]:
        """Best first, ties older first; NaN (a failed evaluation) after everything, even -inf."""
        f = self.fitness
        missing = f is None or math.isnan(f)
        return (missing, 0.0 if missing else -f, self.birth)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["parents"] = list(self.parents)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Individual:
        return cls(d["arch"], d["fitness"], d["birth"], tuple(d["parents"]))


def sort_population(pop: Iterable[Individual]) -> list[Individual]:
    """Best first; NaN fitness last; ties broken by birth (older first)."""
    return sorted(pop, key=Individual.sort_key)


def top_k(pop: Iterable[Individual], k: int) -> list[Individual]:
    """Environmental selection topK, keeping the older copy of duplicated architectures."""
    unique: dict[str, Individual] = {}
    for ind in sorted(pop, key=lambda i: i.birth):
        unique.setdefault(ind.arch, ind)
    return sort_population(unique.values())[:k]


def tournament(pop: Sequence[Individual], size: int, rng: np.random.Generator) -> Individual:
    """The fittest of ``size`` members drawn without replacement."""
    idx = rng.choice(len(pop), size=min(size, len(pop)), replace=False)
    return sort_population(pop[int(i)] for i in idx)[0]


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    state: dict[str, Any] = dict(rng.bit_generator.state)
    return state


def set_rng_state(rng: np.random.Generator, state: dict[str, Any]) -> None:
    rng.bit_generator.state = state


def clean_score(x: float | None) -> float:
    """NaN/inf/None scores rank last."""
    if x is None or not math.isfinite(x):
        return -math.inf
    return float(x)
