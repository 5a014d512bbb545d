"""Transfer policies: how each task's transfer population TP is chosen from the other tasks'
populations (docs/reproduction.md §2.3–§2.5). KTNAS's transfer rank is :class:`RankTransfer`; the others are the
baselines of the same loop (no transfer, random, the M fittest as in EMT-NAS, and MTNAS's adaptive
frequency). A policy also labels its transfers (:meth:`TransferPolicy.label`) and returns a
:class:`~ktnas.search.transfer.Selection` that the loop records in the trace for the diagnostics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ktnas.search.base import Individual
from ktnas.search.transfer import (
    DistanceFn,
    HistoricalTransferredSet,
    Selection,
    label_transfers,
    select_by_score,
    transfer_rank,
)

if TYPE_CHECKING:
    from ktnas.params import LoopParams


@dataclass(frozen=True)
class Candidate:
    arch: str
    task: int
    fitness: float
    rank: int  # rank within its own task's population (0 = best)


class TransferPolicy:
    """Chooses TP_{t+1}^i from the other tasks' candidates. Subclasses override :meth:`_select`, and may
    override :meth:`label` and :meth:`make_hts` (the transfer-study selectors do)."""

    transfers: ClassVar[bool] = True
    #: the policy ranks candidates by an architecture distance (an embedding table)
    needs_distance: ClassVar[bool] = False

    def __init__(self, n_tasks: int) -> None:
        self.n_tasks = n_tasks

    def select(
        self,
        target: int,
        candidates: Sequence[Candidate],
        hts: HistoricalTransferredSet,
        n_transferred: int,
        rng: np.random.Generator,
    ) -> Selection:
        """The chosen candidates (indices in transfer order) with the diagnostics of the choice."""
        if not self.transfers or n_transferred == 0 or not candidates:
            return Selection()
        return self._select(target, candidates, hts, n_transferred, rng)

    def _select(
        self,
        target: int,
        candidates: Sequence[Candidate],
        hts: HistoricalTransferredSet,
        n_transferred: int,
        rng: np.random.Generator,
    ) -> Selection:
        raise NotImplementedError

    def make_hts(self, config: LoopParams) -> HistoricalTransferredSet:
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
        """Labels of the last transfers (docs/reproduction.md §2.1): ``children`` maps a parent to its new offspring,
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

    transfers: ClassVar[bool] = False


class RandomTransfer(TransferPolicy):
    """ "KTNAS w/o transfer rank": M uniformly random candidates (docs/reproduction.md §2.5)."""

    def _select(
        self,
        target: int,
        candidates: Sequence[Candidate],
        hts: HistoricalTransferredSet,
        n_transferred: int,
        rng: np.random.Generator,
    ) -> Selection:
        return select_by_score(np.zeros(len(candidates)), n_transferred, rng)


class RankTransfer(TransferPolicy):
    """KTNAS: transfer rank over the historical transferred set (Algorithms 2–3)."""

    needs_distance: ClassVar[bool] = True

    def __init__(self, n_tasks: int, distance: DistanceFn) -> None:
        super().__init__(n_tasks)
        self.distance = distance

    def _select(
        self,
        target: int,
        candidates: Sequence[Candidate],
        hts: HistoricalTransferredSet,
        n_transferred: int,
        rng: np.random.Generator,
    ) -> Selection:
        phi = transfer_rank(hts.archs, hts.labels, [c.arch for c in candidates], self.distance)
        return select_by_score(phi, n_transferred, rng, phi=phi)


class FittestTransfer(TransferPolicy):
    """EMT-NAS-style: the M fittest candidates by their own task's fitness. Fitness scales differ
    between tasks, so candidates are compared by their rank within their own population, ties by task."""

    def _select(
        self,
        target: int,
        candidates: Sequence[Candidate],
        hts: HistoricalTransferredSet,
        n_transferred: int,
        rng: np.random.Generator,
    ) -> Selection:
        order = sorted(range(len(candidates)), key=lambda i: (candidates[i].rank, candidates[i].task))
        scores = tuple(-float(c.rank) for c in candidates)
        return Selection(tuple(order[:n_transferred]), (True,) * len(order[:n_transferred]), scores)


class AdaptiveTransfer(RandomTransfer):
    """MTNAS-style adaptive transfer frequency (our reconstruction, see README): each task transfers M
    random candidates with probability p; p moves by ``step`` up after a generation with a positive
    transfer and down after one with only negatives, within [p_min, 1]."""

    def __init__(self, n_tasks: int, p0: float = 0.5, step: float = 0.1, p_min: float = 0.1) -> None:
        super().__init__(n_tasks)
        self.p = [p0] * n_tasks
        self.step, self.p_min = step, p_min

    def _select(
        self,
        target: int,
        candidates: Sequence[Candidate],
        hts: HistoricalTransferredSet,
        n_transferred: int,
        rng: np.random.Generator,
    ) -> Selection:
        if rng.random() >= self.p[target]:
            return Selection()
        return super()._select(target, candidates, hts, n_transferred, rng)

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
    """The policy registered under ``name`` for ``n_tasks`` tasks."""
    try:
        cls = POLICIES[name]
    except KeyError:
        raise ValueError(f"unknown transfer policy {name!r}; choose one of {', '.join(POLICIES)}") from None
    if not cls.needs_distance:
        return cls(n_tasks)
    if distance is None:
        raise ValueError(f"transfer policy {name!r} needs an architecture distance (an embedding table)")
    return cls(n_tasks, distance)  # type: ignore[call-arg]
