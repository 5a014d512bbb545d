"""Knowledge transfer between tasks: Algorithms 1–3 of the paper (docs/reproduction.md §2).

* :class:`HistoricalTransferredSet` — Algorithm 1: all positive transfers, negatives of the last m
  generations.
* :func:`transfer_rank` — Algorithm 2: each HTS member adds its label to its nearest candidate.
* :func:`select_transferred` — Algorithm 3: the best-ranked groups, random fill from the boundary group.
* :class:`Selection` — what a transfer policy chose and why, recorded in the search trace.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

#: (archs A, archs B) -> |A|×|B| distance matrix; in KTNAS an embedding table's ``distances``
DistanceFn = Callable[[Sequence[str], Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class TransferRecord:
    arch: str
    label: float  # +1 positive, -1 negative transfer (graded selectors store values in [-1, 1])
    generation: int


class HistoricalTransferredSet:
    """Algorithm 1 (docs/reproduction.md §2.2, decision D8): a multiset of labelled transfers.

    Positives are kept for the whole run; negatives only while ``generation > t - m``, i.e. exactly
    the last ``m`` generations.
    """

    def __init__(self, m: int) -> None:
        if m < 1:
            raise ValueError(f"saved generations m must be >= 1, got {m}")
        self.m = m
        self.records: list[TransferRecord] = []

    def update(self, labels: Sequence[tuple[str, float]], generation: int) -> None:
        """Append this generation's labelled transfers, then drop negatives older than m generations."""
        for arch, label in labels:
            if label not in (1, -1):
                raise ValueError(f"transfer label must be +1 or -1, got {label}")
            self.records.append(TransferRecord(arch, label, generation))
        self.records = [r for r in self.records if r.label > 0 or r.generation > generation - self.m]

    @property
    def archs(self) -> list[str]:
        return [r.arch for r in self.records]

    @property
    def labels(self) -> np.ndarray:
        return np.array([r.label for r in self.records], dtype=np.float64)

    def __len__(self) -> int:
        return len(self.records)

    def state_dict(self) -> dict[str, Any]:
        return {"m": self.m, "records": [asdict(r) for r in self.records]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.m = state["m"]
        self.records = [TransferRecord(**r) for r in state["records"]]


def transfer_rank(
    hts_archs: Sequence[str], hts_labels: np.ndarray, candidates: Sequence[str], distance: DistanceFn
) -> np.ndarray:
    """Algorithm 2: φ_j = Σ label(s) over the HTS members s whose nearest candidate is j.

    Ties in the nearest-candidate search go to the lowest candidate index, so callers order candidates
    as (task index, fitness descending, key) as docs/reproduction.md §2.3 prescribes.
    """
    phi = np.zeros(len(candidates), dtype=np.float64)
    if len(hts_archs) == 0 or len(candidates) == 0:
        return phi
    d = np.asarray(distance(hts_archs, candidates), dtype=np.float64)
    if d.shape != (len(hts_archs), len(candidates)):
        raise ValueError(f"distance matrix has shape {d.shape}, expected {(len(hts_archs), len(candidates))}")
    nearest = np.argmin(d, axis=1)
    return np.bincount(nearest, weights=np.asarray(hts_labels, dtype=np.float64), minlength=len(candidates))


@dataclass(frozen=True)
class Selection:
    """A transfer policy's choice: candidate indices in transfer order, and per chosen index whether
    the score decided it (False: drawn by Algorithm 3's random fill). ``scores`` is what the policy
    sorted on and ``phi`` its transfer rank, one value per candidate, where the policy has them."""

    chosen: tuple[int, ...] = ()
    by_score: tuple[bool, ...] = ()
    scores: tuple[float, ...] | None = None
    phi: tuple[float, ...] | None = None


def select_by_score(
    scores: np.ndarray, n: int, rng: np.random.Generator, phi: np.ndarray | None = None
) -> Selection:
    """Algorithm 3 on ``scores``, with the diagnostics of :class:`Selection`."""
    scores = np.asarray(scores, dtype=np.float64)
    chosen, by_score = _select_groups(scores, n, rng)
    return Selection(
        tuple(chosen),
        tuple(by_score),
        tuple(scores.tolist()),
        None if phi is None else tuple(np.asarray(phi, dtype=np.float64).tolist()),
    )


def select_transferred(phi: np.ndarray, n: int, rng: np.random.Generator) -> list[int]:
    """Algorithm 3: indices of the ``n`` candidates to transfer.

    Groups of equal φ are taken best first while they fit in ``n``; the remaining slots are drawn
    uniformly without replacement from the next group. If there are fewer than ``n`` candidates, all
    are taken. Returned in candidate order.
    """
    return _select_groups(phi, n, rng)[0]


def _select_groups(phi: np.ndarray, n: int, rng: np.random.Generator) -> tuple[list[int], list[bool]]:
    """Algorithm 3: (chosen indices in candidate order, whether each was taken as a whole group)."""
    phi = np.asarray(phi, dtype=np.float64)
    if n >= len(phi):
        return list(range(len(phi))), [True] * len(phi)
    chosen: list[int] = []
    filled: set[int] = set()
    for value in np.unique(phi)[::-1]:  # descending φ
        group = np.flatnonzero(phi == value)
        if len(chosen) + len(group) <= n:
            chosen.extend(group.tolist())
            if len(chosen) == n:
                break
        else:
            fill = [int(i) for i in rng.choice(group, size=n - len(chosen), replace=False)]
            chosen.extend(fill)
            filled.update(fill)
            break
    order = sorted(chosen)
    return order, [i not in filled for i in order]


def label_transfers(
    transferred: Sequence[str], children: Mapping[str, Sequence[str]], elite: set[str]
) -> list[tuple[str, float]]:
    """Positive/negative transfer (docs/reproduction.md §2.1): +1 if any child of s is in the elite E, −1 if none is;
    members with no children get no label."""
    labels: list[tuple[str, float]] = []
    for s in transferred:
        kids = children.get(s, [])
        if kids:
            labels.append((s, 1 if any(k in elite for k in kids) else -1))
    return labels
