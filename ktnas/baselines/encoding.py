"""One-hot gene encoding shared by the predictor-guided baselines (WeakNAS, LaNAS).

Both papers feed their predictor a flat op encoding of the cell (WeakNAS: one-hot of the NAS-Bench-201
op per edge; LaNAS: the NAS-Bench-101 adjacency-plus-ops vector). For the fixed-length cell spaces of this
project that is the one-hot of each integer gene, concatenated over the genes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ktnas.spaces.base import SearchSpace

if TYPE_CHECKING:
    from ktnas.evaluator import BenchmarkProblem


def one_hot_genes(space: SearchSpace, archs: Sequence[str]) -> np.ndarray:
    """``(len(archs), sum_k n_k)`` float matrix: gene k one-hot over the values 0..n_k-1 seen in ``archs``.

    The widths come from ``archs`` themselves, so encode the whole finite space in one call (a subset
    could miss an op and give a narrower matrix).
    """
    if len(archs) == 0:
        raise ValueError(f"{space.name}: one_hot_genes needs at least one architecture, got none")
    genes = np.array([space.genes(a) for a in archs], dtype=np.int64)
    if genes.ndim != 2:
        raise ValueError(
            f"{space.name}: one_hot_genes needs fixed-length gene vectors; pass a cell space such as nb201"
        )
    widths = genes.max(axis=0) + 1
    offsets = np.concatenate([[0], np.cumsum(widths)[:-1]])
    out = np.zeros((len(archs), int(widths.sum())), dtype=np.float64)
    rows = np.repeat(np.arange(len(archs)), genes.shape[1])
    out[rows, (genes + offsets).ravel()] = 1.0
    return out


#: (gene space, every cell) -> (the cells, their one-hot rows read only, cell -> row); see encoded_space
_ENCODED: dict[tuple[str, tuple[str, ...]], tuple[list[str], np.ndarray, dict[str, int]]] = {}


def encoded_space(space: SearchSpace) -> tuple[list[str], np.ndarray, dict[str, int]]:
    """Every cell of the finite ``space`` (``space.all_archs()``), its :func:`one_hot_genes` rows (read
    only) and each cell's row, computed once per process: the searches of a job (every seed and task)
    share them instead of re-reading the genes of all 15,625 NAS-Bench-201 cells per task."""
    archs = space.all_archs()
    base = getattr(space, "base", space)  # a RestrictedSpace has its base space's genes
    key = (f"{type(base).__module__}.{type(base).__qualname__}:{space.name}", tuple(archs))
    hit = _ENCODED.get(key)
    if hit is None:
        x = one_hot_genes(space, archs)
        x.flags.writeable = False
        if len(_ENCODED) >= 8:  # a process sees one or two spaces; tests build a few toy ones
            _ENCODED.pop(next(iter(_ENCODED)))
        hit = _ENCODED[key] = (list(key[1]), x, {a: i for i, a in enumerate(key[1])})
    return list(hit[0]), hit[1], hit[2]


def encode_space(
    space: SearchSpace, problem: BenchmarkProblem
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Every cell of the finite ``space``, its :func:`one_hot_genes` rows (read only, shared within the
    process: :func:`encoded_space`), and which cells ``problem`` has already queried with their fitness
    (NaN elsewhere): re-reading a queried cell costs nothing."""
    archs, x, index = encoded_space(space)
    queried = np.zeros(len(archs), dtype=bool)
    fitness = np.full(len(archs), np.nan)
    for a in problem.evaluator.queried:
        if a in index:
            queried[index[a]], fitness[index[a]] = True, problem.evaluator.query(a)
    return archs, x, queried, fitness


__all__ = ["encode_space", "encoded_space", "one_hot_genes"]
