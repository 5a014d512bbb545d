"""Transfer selectors of the transfer study (docs/transfer-study.md §2): variants of KTNAS's transfer
rank that change the label of a transfer and/or the score that Algorithm 3 sorts on.

Everything else is KTNAS's: candidate pool, historical transferred set, nearest-candidate association
(ties to the lowest index) and Algorithm 3's whole groups plus random fill. Importing this module
registers the policies in :data:`ktnas.search.multitask.POLICIES`; the paper's ``rank`` stays the
default of the ``ktnas`` method.

* ``centred`` — source-rank prior plus evidence centred on the task's running positive-label rate.
* ``prior`` — φ plus the source-rank prior (weight λ = 1).
* ``graded`` — real-valued labels from the child's rank in the next parent population.
* ``parent`` — a transfer is positive when its child beats its parent (or the median parent).
* ``knn`` — MMOTK's kNN classifier splits candidates of equal φ into four kinds.
* ``k3`` — each record spreads its label over its 3 nearest candidates, weighted by 1/(d + ε).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ktnas.search.base import Individual
from ktnas.search.multitask import POLICIES, Candidate, MultiTaskConfig, RankTransfer, TransferPolicy
from ktnas.search.transfer import (
    DistanceFn,
    HistoricalTransferredSet,
    Selection,
    TransferRecord,
    select_by_score,
    transfer_rank,
)


def source_prior(candidates: Sequence[Candidate]) -> np.ndarray:
    """π_j = 1 − 2ρ_j/(R − 1) ∈ [−1, 1] from each candidate's rank ρ_j in its own population (0 = best),
    R = 1 + the largest rank; 0 when every candidate has rank 0."""
    ranks = np.array([c.rank for c in candidates], dtype=np.float64)
    top = ranks.max() if len(ranks) else 0.0
    return np.zeros_like(ranks) if top == 0 else 1.0 - 2.0 * ranks / top


class _MatrixTransfer(RankTransfer):
    """Shared step: the HTS × candidate distance matrix (None when the HTS is empty)."""

    def _matrix(self, hts: HistoricalTransferredSet, candidates: Sequence[Candidate]) -> np.ndarray | None:
        if len(hts) == 0:
            return None
        archs = [c.arch for c in candidates]
        d = np.asarray(self.distance(hts.archs, archs), dtype=np.float64)
        if d.shape != (len(hts), len(archs)):
            raise ValueError(f"distance matrix has shape {d.shape}, expected {(len(hts), len(archs))}")
        return d

    def _phi(
        self, hts: HistoricalTransferredSet, candidates: Sequence[Candidate], d: np.ndarray | None
    ) -> np.ndarray:
        if d is None:
            return np.zeros(len(candidates))
        return transfer_rank(hts.archs, hts.labels, [c.arch for c in candidates], lambda a, b: d)


class CentredPriorTransfer(_MatrixTransfer):
    """Score_j = π_j + Σ_{s→j} (y_s − p̂): the source prior plus each associated record's 0/1 label minus
    the target's running positive rate p̂ = (n⁺ + 1)/(n + 2) over every label given so far."""

    name = "centred"

    def __init__(self, n_tasks: int, distance: DistanceFn) -> None:
        super().__init__(n_tasks, distance)
        self.n_pos = [0] * n_tasks
        self.n_labels = [0] * n_tasks

    def positive_rate(self, target: int) -> float:
        return (self.n_pos[target] + 1) / (self.n_labels[target] + 2)

    def observe(self, target: int, labels: Sequence[tuple[str, float]], rng: np.random.Generator) -> None:
        self.n_pos[target] += sum(1 for _, y in labels if y > 0)
        self.n_labels[target] += len(labels)

    def _select(
        self,
        target: int,
        candidates: Sequence[Candidate],
        hts: HistoricalTransferredSet,
        n: int,
        rng: np.random.Generator,
    ) -> Selection:
        d = self._matrix(hts, candidates)
        phi = self._phi(hts, candidates, d)
        score = source_prior(candidates)
        if d is not None:
            centred = (hts.labels > 0).astype(np.float64) - self.positive_rate(target)
            score = score + np.bincount(np.argmin(d, axis=1), weights=centred, minlength=len(candidates))
        return select_by_score(score, n, rng, phi=phi)

    def state_dict(self) -> dict[str, Any]:
        return {"n_pos": list(self.n_pos), "n_labels": list(self.n_labels)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.n_pos, self.n_labels = list(state["n_pos"]), list(state["n_labels"])


class PriorTransfer(_MatrixTransfer):
    """Score_j = φ_j + λ π_j: transfer rank plus the source-rank prior, worth λ = 1 labelled transfer."""

    name = "prior"
    weight = 1.0  # λ, fixed a priori (docs/transfer-study.md §2)

    def _select(
        self,
        target: int,
        candidates: Sequence[Candidate],
        hts: HistoricalTransferredSet,
        n: int,
        rng: np.random.Generator,
    ) -> Selection:
        phi = self._phi(hts, candidates, self._matrix(hts, candidates))
        return select_by_score(phi + self.weight * source_prior(candidates), n, rng, phi=phi)


class GradedHTS(HistoricalTransferredSet):
    """Algorithm 1 with real labels in [−1, 1]: records with label ≥ ``keep_from`` (the paper's positives)
    stay for the whole run, the others for the last m generations."""

    def __init__(self, m: int, keep_from: float) -> None:
        super().__init__(m)
        self.keep_from = keep_from

    def update(self, labels: Sequence[tuple[str, float]], generation: int) -> None:
        for arch, label in labels:
            if not -1.0 <= label <= 1.0:
                raise ValueError(f"graded transfer label must be in [-1, 1], got {label}")
            self.records.append(TransferRecord(arch, float(label), generation))
        eps = 1e-9  # keep_from is computed from K and r in floating point
        self.records = [
            r for r in self.records if r.label >= self.keep_from - eps or r.generation > generation - self.m
        ]


def graded_label(rank: int | None, k: int) -> float:
    """g = 1 − 2ρ/K for the child's 0-based rank ρ in the next parent population (ρ = K: not kept)."""
    return 1.0 - 2.0 * (k if rank is None else rank) / k


class GradedTransfer(RankTransfer):
    """φ (Algorithm 2, selection as in KTNAS) over graded labels: the best child's rank in P_{t+1}
    instead of elite membership (±1)."""

    name = "graded"

    def make_hts(self, config: MultiTaskConfig) -> HistoricalTransferredSet:
        k, n_elite = config.population_size, config.n_elite
        return GradedHTS(config.saved_generations, graded_label(n_elite - 1, k) if n_elite else np.inf)

    def label(
        self,
        transferred: Sequence[str],
        children: Mapping[str, Sequence[Individual]],
        parents: Sequence[Individual],
        survivors: Sequence[Individual],
        n_elite: int,
    ) -> list[tuple[str, float]]:
        k = len(survivors)
        rank = {ind.arch: i for i, ind in enumerate(survivors)}
        labels: list[tuple[str, float]] = []
        for s in transferred:
            kids = children.get(s, [])
            if kids:
                ranks = [rank[o.arch] for o in kids if o.arch in rank]
                labels.append((s, graded_label(min(ranks) if ranks else None, k)))
        return labels


class ParentTransfer(RankTransfer):
    """±1 labels against the parent, selection as in KTNAS: positive when a child of s is strictly fitter
    than the best of its parents that are in P_t, or than P_t's median fitness when none is (NB201 REA:
    s, usually not in P_t, is the only parent)."""

    name = "parent"

    def label(
        self,
        transferred: Sequence[str],
        children: Mapping[str, Sequence[Individual]],
        parents: Sequence[Individual],
        survivors: Sequence[Individual],
        n_elite: int,
    ) -> list[tuple[str, float]]:
        fitness = {p.arch: p.fitness for p in parents}
        values = np.array(
            [f for f in fitness.values() if f is not None and not np.isnan(f)], dtype=np.float64
        )
        median = float(np.median(values)) if len(values) else -np.inf
        labels: list[tuple[str, float]] = []
        for s in transferred:
            kids = children.get(s, [])
            if not kids:
                continue
            better = False
            for o in kids:
                known = [fitness[p] for p in o.parents if p in fitness]
                reference = max(known) if known else median
                better = better or (o.fitness is not None and o.fitness > reference)
            labels.append((s, 1.0 if better else -1.0))
        return labels


class KnnTransfer(_MatrixTransfer):
    """MMOTK's tie classifier: order by (φ, kind), kind from the positive fraction q among the k = 5
    nearest HTS records: q = 1 inside the positive region, q ≥ 1/2 near it, q > 0 near the negative
    region, q = 0 inside it. Algorithm 3's random fill then draws only within equal (φ, kind)."""

    name = "knn"
    k = 5
    #: kind offsets added to the integer φ; |offset| < 1/2, so a kind never overrides φ
    OFFSETS = (0.3, 0.1, -0.1, -0.3)

    def kinds(self, hts: HistoricalTransferredSet, d: np.ndarray) -> np.ndarray:
        """0..3 per candidate (0 = inside the positive region) from its k nearest records."""
        k = min(self.k, d.shape[0])
        nearest = np.argsort(d, axis=0, kind="stable")[:k]  # k × candidates, ties by record order
        q = (hts.labels[nearest] > 0).mean(axis=0)
        return np.select([q >= 1.0, q >= 0.5, q > 0.0], [0, 1, 2], default=3)

    def _select(
        self,
        target: int,
        candidates: Sequence[Candidate],
        hts: HistoricalTransferredSet,
        n: int,
        rng: np.random.Generator,
    ) -> Selection:
        d = self._matrix(hts, candidates)
        phi = self._phi(hts, candidates, d)
        if d is None:
            return select_by_score(phi, n, rng, phi=phi)
        score = phi + np.asarray(self.OFFSETS)[self.kinds(hts, d)]
        return select_by_score(score, n, rng, phi=phi)


class KNearestTransfer(_MatrixTransfer):
    """Algorithm 2 with k = 3: each record gives its label to its 3 nearest candidates (ties by lowest
    index) with weights ∝ 1/(d + ε), ε = 0.05 (half the NB201 one-edit distance), summing to 1."""

    name = "k3"
    k = 3
    eps = 0.05

    def weighted_phi(self, labels: np.ndarray, d: np.ndarray) -> np.ndarray:
        k = min(self.k, d.shape[1])
        nearest = np.argsort(d, axis=1, kind="stable")[:, :k]
        w = 1.0 / (np.take_along_axis(d, nearest, axis=1) + self.eps)
        w /= w.sum(axis=1, keepdims=True)
        phi = np.zeros(d.shape[1])
        np.add.at(phi, nearest, labels[:, None] * w)
        return phi

    def _select(
        self,
        target: int,
        candidates: Sequence[Candidate],
        hts: HistoricalTransferredSet,
        n: int,
        rng: np.random.Generator,
    ) -> Selection:
        d = self._matrix(hts, candidates)
        phi = np.zeros(len(candidates)) if d is None else self.weighted_phi(hts.labels, d)
        return select_by_score(phi, n, rng, phi=phi)


#: the study's policies, in the plan's priority order
SELECTORS: dict[str, type[TransferPolicy]] = {
    cls.name: cls
    for cls in (
        CentredPriorTransfer,
        PriorTransfer,
        GradedTransfer,
        ParentTransfer,
        KnnTransfer,
        KNearestTransfer,
    )
}
POLICIES.update(SELECTORS)
