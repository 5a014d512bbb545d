"""Architecture embeddings and distances (docs/reproduction.md §2.6).

``build_embedding(space, method, dim, seed)`` fits an encoder once per (space, seed, config) and returns
an :class:`EmbeddingTable`; ``table.distances(A, B)`` is the |A|×|B| matrix 1 − cos. The encoders
(:data:`ENCODERS`) are node2vec (default), onehot (the exact token-count oracle), path, and the
pre-trained networks arch2vec and cate (§2.7; torch is imported only when one of them is used).
"""

from __future__ import annotations

from ktnas.embedding.config import EmbeddingConfig
from ktnas.embedding.encoders import ENCODERS, Encoder, arch_paths
from ktnas.embedding.table import EmbeddingTable, build_embedding, load_or_build

__all__ = [
    "ENCODERS",
    "EmbeddingConfig",
    "EmbeddingTable",
    "Encoder",
    "arch_paths",
    "build_embedding",
    "load_or_build",
]
