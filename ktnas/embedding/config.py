"""Hyper-parameters of an architecture embedding (docs/reproduction.md §2.6), one frozen record per table."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EmbeddingConfig:
    """Everything that determines an embedding table besides the space and the seed (docs/reproduction.md §2.6).

    ``method`` picks the encoder (``node2vec`` | ``onehot`` | ``path`` | ``arch2vec`` | ``cate``). ``dim``
    is the length of an architecture vector for the encoders that have a free dimension (node2vec; the
    hashed path encoding of infinite spaces); it is split evenly over the space's cells (DARTS:
    2 × dim/2). The learned encoders arch2vec and cate have fixed sizes (module constants of
    :mod:`ktnas.embedding.learned`, docs/reproduction.md §2.7) and use only ``corpus_size``: the number of
    seeded architectures they are pre-trained on in a space that cannot be enumerated (DARTS; enumerable
    spaces are used whole). The remaining fields are node2vec's: the corpus (``corpus_size``
    architectures drawn with the seed, or the whole space when it is no larger), the walks
    (``walk_length`` vertices, ``num_walks`` per vertex, return ``p`` and in-out ``q``) and gensim's
    skip-gram (``window``, ``negative``, ``epochs``, down-sampling ``sample``). ``min_token_count`` is the
    fewest corpus occurrences every vocabulary token must have.
    """

    method: str = "node2vec"
    dim: int = 256
    corpus_size: int = 2000
    walk_length: int = 20
    num_walks: int = 2
    p: float = 1.0
    q: float = 1.0
    window: int = 5
    negative: int = 5
    epochs: int = 3
    sample: float = 1e-3
    min_token_count: int = 5

    def __post_init__(self) -> None:
        positive_ints = ("dim", "corpus_size", "walk_length", "num_walks", "window", "negative", "epochs")
        for name in positive_ints:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"embedding {name} must be a positive integer, got {value!r}")
        for name in ("p", "q"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not value > 0:
                raise ValueError(f"embedding {name} must be a positive number, got {value!r}")
        if not isinstance(self.sample, int | float) or not 0 <= self.sample < 1:
            raise ValueError(f"embedding sample must lie in [0, 1), got {self.sample!r}")
        if not isinstance(self.min_token_count, int) or self.min_token_count < 1:
            raise ValueError(f"embedding min_token_count must be >= 1, got {self.min_token_count!r}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> EmbeddingConfig:
        """Build from a config mapping; an unknown key is a ``ValueError`` naming the valid keys."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"unknown embedding option(s) {', '.join(map(repr, unknown))}; valid keys are "
                f"{', '.join(sorted(known))}"
            )
        return cls(**dict(values))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)
