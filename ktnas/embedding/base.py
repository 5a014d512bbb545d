"""The encoder protocol shared by every architecture encoder (docs/reproduction.md §2.6).

Every encoder maps a canonical architecture to one float32 vector built the same way: a raw vector per
cell, each L2-normalised (unless the encoder normalises globally), concatenated over the cells and
L2-normalised again. A vector depends only on the fitted encoder, never on which other architectures are
embedded with it, so new architectures can be embedded on demand and land in the table's coordinates.
"""

from __future__ import annotations

import base64
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from ktnas.embedding.config import EmbeddingConfig
from ktnas.spaces.base import SearchSpace


def _combine(blocks: Sequence[np.ndarray], per_cell: bool = True) -> np.ndarray:
    """Per-cell L2 normalisation (if ``per_cell``), concatenation, L2 normalisation (float64 → float32)."""
    normed = []
    for block in blocks:
        norm = np.linalg.norm(block, axis=1, keepdims=True) if per_cell else 1.0
        normed.append(block / np.maximum(norm, 1e-300))
    out = np.concatenate(normed, axis=1)
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-300)
    return out.astype(np.float32)


class Encoder(ABC):
    """A fitted architecture encoder of one search space."""

    name: ClassVar[str]
    #: one line for `ktnas list encoders`
    description: ClassVar[str]
    #: normalise each cell's block before concatenating (False: one global normalisation)
    per_cell: ClassVar[bool] = True

    def __init__(self, space: SearchSpace, config: EmbeddingConfig) -> None:
        self.space = space
        self.config = config

    @classmethod
    @abstractmethod
    def fit(cls, space: SearchSpace, config: EmbeddingConfig, seed: int, progress: bool = True) -> Encoder:
        """Fit on ``space`` (deterministic for ``seed`` and ``config``)."""

    @classmethod
    @abstractmethod
    def from_state(cls, space: SearchSpace, config: EmbeddingConfig, state: dict[str, Any]) -> Encoder:
        """Rebuild a fitted encoder from :meth:`state` (as stored in a table's metadata)."""

    @abstractmethod
    def state(self) -> dict[str, Any]:
        """JSON-serialisable fitted state, enough for :meth:`from_state`."""

    @property
    @abstractmethod
    def dim(self) -> int:
        """Length of an architecture vector."""

    @abstractmethod
    def _raw_blocks(self, archs: Sequence[str]) -> list[np.ndarray]:
        """One float64 (n, d_cell) array per cell, before normalisation."""

    def embed(self, archs: Sequence[str]) -> np.ndarray:
        """(n, dim) float32 L2-normalised vectors of canonical architecture strings."""
        if len(archs) == 0:
            return np.empty((0, self.dim), dtype=np.float32)
        return _combine(self._raw_blocks(archs), self.per_cell)


def _b64(array: np.ndarray) -> str:
    """Little-endian float32 bytes of ``array``, base64 text (encoder state in Parquet metadata)."""
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f4").tobytes()).decode("ascii")


def _unb64(text: str, rows: int) -> np.ndarray:
    """Inverse of :func:`_b64`, reshaped to ``rows`` rows."""
    flat = np.frombuffer(base64.b64decode(text), dtype="<f4")
    return flat.reshape(rows, -1).astype(np.float32)


def _op_name(data: dict[str, Any]) -> str:
    """The operation of an op vertex: its ``op`` attribute, else the token's last ``|`` field."""
    op = data.get("op")
    return str(op) if op is not None else str(data["token"]).rsplit("|", 1)[-1]
