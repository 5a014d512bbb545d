"""Architecture encoders (docs/reproduction.md §2.6 and the Table VIII-style ablation): node2vec, one-hot, path,
arch2vec and CATE, and their registry :data:`ENCODERS`.

Every encoder maps a canonical architecture to one float32 vector built the same way
(:mod:`ktnas.embedding.base`): a raw vector per cell, each L2-normalised (except one-hot), concatenated
over the cells and L2-normalised again. The vector of an architecture depends only on the fitted encoder,
never on which other architectures are embedded with it, so new architectures can be embedded on demand
(DARTS) and land in the table's coordinate system.

* ``node2vec`` — a token table learnt once per (space, seed, config): node2vec walks over the
  op-as-vertex graphs of a corpus of architectures (one disjoint-union graph, walked as undirected),
  vertex ids replaced by their position-aware tokens, then gensim skip-gram. An architecture is the
  per-cell sum (equivalently mean) of its tokens' vectors.
* ``onehot`` — the exact token-count vector (the oracle of §2.6): the identity matrix as token table,
  normalised once over all cells so that the distance is exactly 1 − cos of the count vectors.
* ``path`` — counts of input→output paths labelled by their op sequences (White et al., "BANANAS",
  path encoding), per cell. Enumerable spaces use the exact path vocabulary of the whole space;
  infinite spaces (DARTS) hash each path label into ``dim / n_cells`` buckets per cell.
* ``arch2vec`` and ``cate`` — networks pre-trained without labels on the space's cell graphs (a
  variational graph autoencoder; a transformer trained by masked-op prediction on pairs of architectures
  of similar computation), defined in :mod:`ktnas.embedding.learned` (docs/reproduction.md §2.7). Their
  vector length is fixed by the network (16 and 64 per cell); ``dim`` is not used.
"""

from __future__ import annotations

import logging
import random
import zlib
from collections.abc import Sequence
from typing import Any

import networkx as nx
import numpy as np
from tqdm.auto import tqdm

from ktnas.embedding.base import Encoder, _b64, _op_name, _unb64
from ktnas.embedding.config import EmbeddingConfig
from ktnas.embedding.learned import Arch2VecEncoder, CateEncoder
from ktnas.spaces.base import SearchSpace

log = logging.getLogger(__name__)


# -- token-table encoders ------------------------------------------------------------------------------
class TokenEncoder(Encoder):
    """Architecture = per-cell sum of token vectors (docs/reproduction.md §2.6); subclasses supply the token tables."""

    def __init__(self, space: SearchSpace, config: EmbeddingConfig, tables: Sequence[np.ndarray]) -> None:
        super().__init__(space, config)
        vocab = space.vocabulary()
        if len(tables) != len(vocab):
            raise ValueError(f"{space.name}: {len(tables)} token tables for {len(vocab)} cells")
        self.vocabulary = vocab
        self._index = [{tok: i for i, tok in enumerate(cell)} for cell in vocab]
        self.tables = [np.ascontiguousarray(t, dtype=np.float32) for t in tables]
        for cell, table in zip(vocab, self.tables, strict=True):
            assert table.shape[0] == len(cell), (table.shape, len(cell))

    @property
    def dim(self) -> int:
        return sum(t.shape[1] for t in self.tables)

    def _raw_blocks(self, archs: Sequence[str]) -> list[np.ndarray]:
        tokens = [self.space.tokens(a) for a in archs]
        blocks = []
        for c, (index, table) in enumerate(zip(self._index, self.tables, strict=True)):
            flat: list[int] = []
            counts = np.empty(len(tokens), dtype=np.intp)
            for i, arch_tokens in enumerate(tokens):
                cell = arch_tokens[c]
                try:
                    flat.extend(index[t] for t in cell)
                except KeyError as err:
                    raise ValueError(
                        f"{self.space.name}: token {err.args[0]!r} of {archs[i]!r} is not in the space's "
                        "vocabulary(); the space's tokens() and vocabulary() disagree"
                    ) from None
                counts[i] = len(cell)
            offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
            # reduceat sums each architecture's rows in a fixed order: batch-independent results
            blocks.append(np.add.reduceat(table[np.asarray(flat)].astype(np.float64), offsets, axis=0))
        return blocks


class OneHotEncoder(TokenEncoder):
    """Exact token counts (docs/reproduction.md §2.6 oracle): the identity as token table; ``dim`` is the vocabulary size.

    The whole count vector is normalised at once, so the distance is exactly 1 − cos of the token-count
    vectors (per-cell normalisation would weigh a cell holding a repeated token differently).
    """

    name = "onehot"
    description = "exact token counts, the distance oracle"
    per_cell = False

    @classmethod
    def fit(
        cls, space: SearchSpace, config: EmbeddingConfig, seed: int, progress: bool = True
    ) -> OneHotEncoder:
        return cls(space, config, [np.eye(len(cell), dtype=np.float32) for cell in space.vocabulary()])

    @classmethod
    def from_state(cls, space: SearchSpace, config: EmbeddingConfig, state: dict[str, Any]) -> OneHotEncoder:
        return cls.fit(space, config, seed=0)

    def state(self) -> dict[str, Any]:
        return {}


def _corpus(space: SearchSpace, size: int, rng: np.random.Generator) -> list[str]:
    """``size`` architectures drawn with ``rng``; the whole space when it is no larger than ``size``."""
    total = space.size()
    if total is not None and total <= size:
        return space.all_archs()
    return [space.sample(rng) for _ in range(size)]


def _union_graph(space: SearchSpace, archs: Sequence[str], progress: bool) -> tuple[nx.Graph, list[str]]:
    """Disjoint union of the architectures' op-as-vertex graphs, undirected, with integer vertex ids."""
    union = nx.Graph()
    vertex_tokens: list[str] = []
    for arch in tqdm(archs, desc=f"{space.name} corpus graphs", disable=None if progress else True):
        g = space.to_graph(arch)
        base = len(vertex_tokens)
        ids = {v: base + i for i, v in enumerate(g.nodes)}
        for v, data in g.nodes(data=True):
            union.add_node(ids[v])
            vertex_tokens.append(str(data["token"]))
        union.add_edges_from((ids[u], ids[v]) for u, v in g.edges)
    return union, vertex_tokens


class Node2VecEncoder(TokenEncoder):
    """node2vec token table (docs/reproduction.md §2.6): ``node2vec`` package walks + gensim skip-gram, 1 worker."""

    name = "node2vec"
    description = "node2vec walks over op graphs + skip-gram token vectors"

    @classmethod
    def fit(
        cls, space: SearchSpace, config: EmbeddingConfig, seed: int, progress: bool = True
    ) -> Node2VecEncoder:
        from node2vec import Node2Vec

        vocab = space.vocabulary()
        if config.dim % len(vocab):
            raise ValueError(
                f"{space.name}: embedding dim {config.dim} must be divisible by its {len(vocab)} cells"
            )
        cell_dim = config.dim // len(vocab)
        corpus_ss, walk_ss, w2v_ss = np.random.SeedSequence(seed).spawn(3)
        corpus = _corpus(space, config.corpus_size, np.random.default_rng(corpus_ss))
        graph, vertex_tokens = _union_graph(space, corpus, progress)
        walk_seed = int(walk_ss.generate_state(1)[0] >> 1)
        # The package draws walks from Python's global `random` (and seeds np.random too) in this
        # process when workers=1; seed it for the call and put the caller's global state back after.
        py_state, np_state = random.getstate(), np.random.get_state()  # noqa: NPY002
        try:
            n2v = Node2Vec(
                graph,
                dimensions=cell_dim,
                walk_length=config.walk_length,
                num_walks=config.num_walks,
                p=config.p,
                q=config.q,
                workers=1,
                quiet=True,
                seed=walk_seed,
            )
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)  # noqa: NPY002
        walks = [[vertex_tokens[int(v)] for v in walk] for walk in n2v.walks]
        counts: dict[str, int] = {}
        for walk in walks:
            for tok in walk:
                counts[tok] = counts.get(tok, 0) + 1
        rare = [
            (t, counts.get(t, 0)) for cell in vocab for t in cell if counts.get(t, 0) < config.min_token_count
        ]
        if rare:
            raise ValueError(
                f"{space.name}: {len(rare)} vocabulary token(s) occur fewer than min_token_count="
                f"{config.min_token_count} times in the walks over {len(corpus)} corpus architectures "
                f"(e.g. {rare[0][0]!r}: {rare[0][1]}); raise corpus_size or num_walks"
            )
        log.info(
            "%s node2vec: %d corpus archs, %d vertices, %d walks, rarest token seen %d times",
            space.name, len(corpus), graph.number_of_nodes(), len(walks),
            min(counts[t] for cell in vocab for t in cell),
        )  # fmt: skip
        n2v.walks = walks  # skip-gram over tokens, not over the union graph's vertex ids
        model = n2v.fit(
            sg=1,
            hs=0,
            window=config.window,
            negative=config.negative,
            epochs=config.epochs,
            sample=config.sample,
            min_count=1,
            workers=1,
            seed=int(w2v_ss.generate_state(1)[0] >> 1),
        )
        tables = [np.stack([model.wv[t] for t in cell]) for cell in vocab]
        return cls(space, config, tables)

    @classmethod
    def from_state(
        cls, space: SearchSpace, config: EmbeddingConfig, state: dict[str, Any]
    ) -> Node2VecEncoder:
        vocab = space.vocabulary()
        if state.get("vocabulary") != vocab:
            raise ValueError(
                f"{space.name}: the stored node2vec token vocabulary does not match the space's; "
                "rebuild the embedding table"
            )
        tables = [_unb64(text, len(cell)) for text, cell in zip(state["tables"], vocab, strict=True)]
        return cls(space, config, tables)

    def state(self) -> dict[str, Any]:
        return {"vocabulary": self.vocabulary, "tables": [_b64(t) for t in self.tables]}


# -- path encoding -------------------------------------------------------------------------------------
def arch_paths(space: SearchSpace, arch: str) -> list[list[str]]:
    """Input→output path labels per cell, ``"<input token>:<op>><op>…"`` (docs/reproduction.md §2.6 path ablation).

    Paths are read off the op-as-vertex DAG of :meth:`SearchSpace.to_graph`: every path from a source
    vertex (a cell input) to a sink (the cell output), keeping the ops of the op vertices along it (op
    vertices are those whose token is one of ``space.tokens(arch)``). A path belongs to the cell whose
    tokens its op vertices carry.
    """
    cell_tokens = space.tokens(arch)
    cell_of = {t: c for c, cell in enumerate(cell_tokens) for t in cell}
    g = space.to_graph(arch)
    # partial paths ending at each vertex: (source token, ops so far, cell or -1), in topological order
    partial: dict[Any, list[tuple[str, tuple[str, ...], int]]] = {}
    out: list[list[str]] = [[] for _ in cell_tokens]
    for v in nx.topological_sort(g):
        data = g.nodes[v]
        preds = list(g.predecessors(v))
        if not preds:
            partial[v] = [(str(data["token"]), (), -1)]
            continue
        here = [path for u in preds for path in partial[u]]
        cell = cell_of.get(data["token"])
        if cell is not None:
            here = [(src, (*ops, _op_name(data)), cell) for src, ops, _ in here]
        partial[v] = here
        if g.out_degree(v) == 0:
            for src, ops, c in here:
                if ops:
                    out[c].append(f"{src}:{'>'.join(ops)}")
    return out


_PATH_VOCABULARIES: dict[tuple[type, str, tuple[str, ...]], tuple[tuple[str, ...], ...]] = {}


def _space_path_vocabulary(space: SearchSpace) -> tuple[tuple[str, ...], ...]:
    """Sorted path labels per cell over every architecture of an enumerable space (memoised)."""
    archs = tuple(space.all_archs())
    key = (type(space), space.name, archs)
    if key not in _PATH_VOCABULARIES:
        seen: list[set[str]] = [set() for _ in space.vocabulary()]
        for arch in archs:
            for c, labels in enumerate(arch_paths(space, arch)):
                seen[c].update(labels)
        _PATH_VOCABULARIES[key] = tuple(tuple(sorted(s)) for s in seen)
    return _PATH_VOCABULARIES[key]


class PathEncoder(Encoder):
    """Path-count encoding (White et al.): exact vocabulary for enumerable spaces, hashed otherwise.

    Exact: one coordinate per op-sequence path label occurring in the space (NB201: 155, TransNAS: 84).
    Hashed (spaces without :meth:`SearchSpace.all_archs`, i.e. DARTS): each label's CRC-32 modulo
    ``dim / n_cells`` picks its bucket within its cell's block; collisions merge labels.
    """

    name = "path"
    description = "counts of input-to-output op paths (White et al.)"

    def __init__(
        self, space: SearchSpace, config: EmbeddingConfig, vocabulary: Sequence[Sequence[str]] | None
    ) -> None:
        super().__init__(space, config)
        self.n_cells = len(space.vocabulary())
        self.vocabulary = None if vocabulary is None else [list(cell) for cell in vocabulary]
        if self.vocabulary is None:
            if config.dim % self.n_cells:
                raise ValueError(
                    f"{space.name}: embedding dim {config.dim} must be divisible by its {self.n_cells} cells"
                )
            self._cell_dims = [config.dim // self.n_cells] * self.n_cells
            self._index: list[dict[str, int]] | None = None
        else:
            self._cell_dims = [len(cell) for cell in self.vocabulary]
            self._index = [{label: i for i, label in enumerate(cell)} for cell in self.vocabulary]

    @classmethod
    def fit(
        cls, space: SearchSpace, config: EmbeddingConfig, seed: int, progress: bool = True
    ) -> PathEncoder:
        if space.size() is None:
            return cls(space, config, None)
        return cls(space, config, _space_path_vocabulary(space))

    @classmethod
    def from_state(cls, space: SearchSpace, config: EmbeddingConfig, state: dict[str, Any]) -> PathEncoder:
        return cls(space, config, state.get("vocabulary"))

    def state(self) -> dict[str, Any]:
        return {"vocabulary": self.vocabulary}

    @property
    def dim(self) -> int:
        return sum(self._cell_dims)

    def _column(self, c: int, label: str) -> int:
        if self._index is None:
            return zlib.crc32(label.encode()) % self._cell_dims[c]
        try:
            return self._index[c][label]
        except KeyError:
            raise ValueError(
                f"{self.space.name}: path {label!r} is not in the path vocabulary of the space"
            ) from None

    def _raw_blocks(self, archs: Sequence[str]) -> list[np.ndarray]:
        blocks = [np.zeros((len(archs), d), dtype=np.float64) for d in self._cell_dims]
        for i, arch in enumerate(archs):
            for c, labels in enumerate(arch_paths(self.space, arch)):
                for label in labels:
                    blocks[c][i, self._column(c, label)] += 1.0
        return blocks


#: the encoders selectable by ``EmbeddingConfig.method`` (paper Table VIII-style ablation)
ENCODERS: dict[str, type[Encoder]] = {
    Node2VecEncoder.name: Node2VecEncoder,
    OneHotEncoder.name: OneHotEncoder,
    PathEncoder.name: PathEncoder,
    Arch2VecEncoder.name: Arch2VecEncoder,
    CateEncoder.name: CateEncoder,
}
