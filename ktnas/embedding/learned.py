"""Learned architecture encoders (docs/reproduction.md §2.7): arch2vec and CATE, pre-trained in torch.

Both read the cell graphs of :meth:`SearchSpace.to_graph` (op-as-vertex DAGs, one per cell) through
:func:`cell_graphs`: vertices in a fixed topological order, each labelled by its op (op vertices) or its
role (``input0``, ``input1``…, ``node``, ``output``), and the directed edges. One network is shared by
all cell types of a space; an architecture's raw block for cell c is the network's vertex
representation mean-pooled over the vertices of cell c, which then goes through the per-cell
normalisation and concatenation of every encoder (:mod:`ktnas.embedding.base`).

* ``arch2vec`` (Yan et al., NeurIPS 2020) — a variational graph autoencoder: a GIN encoder gives every
  vertex a Gaussian posterior, an inner-product decoder rebuilds the adjacency and a linear decoder the
  vertex labels, with a KL term towards N(0, I). The vector of an architecture is the posterior mean.
* ``cate`` (Yan et al., ICML 2021) — a transformer whose attention follows the cell's data flow,
  pre-trained by masked-op prediction on pairs of architectures of similar computation (a second
  transformer attends across the pair). The vector is the first transformer's output.

Pre-training is unsupervised, on the whole space when it is enumerable and on ``corpus_size`` seeded
samples otherwise (DARTS). It is deterministic for a seed: the weights are initialised and the batches,
noise and masks drawn from one ``torch.Generator``, with :data:`TORCH_THREADS` torch threads; the
caller's global torch and numpy random states are left alone. The trained weights are stored in the
encoder state (base64 float32), so :meth:`~ktnas.embedding.base.Encoder.from_state` rebuilds the encoder
without training. Embedding runs in float64, so a vector does not depend on the batch it is computed in.
torch is imported only inside functions: importing :mod:`ktnas.embedding` does not import it.
"""

from __future__ import annotations

import contextlib
import logging
import math
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from types import SimpleNamespace
from typing import Any, ClassVar

import networkx as nx
import numpy as np
from tqdm.auto import tqdm

from ktnas.embedding.base import Encoder, _b64, _op_name, _unb64
from ktnas.embedding.config import EmbeddingConfig
from ktnas.spaces.base import SearchSpace

log = logging.getLogger(__name__)

#: torch threads inside pre-training and embedding; fixed so that float reductions, hence the vectors,
#: do not depend on the machine's core count
TORCH_THREADS = 1

#: ops without weights; every other op counts as parametric in CATE's computation proxy
NONPARAMETRIC_OPS: frozenset[str] = frozenset(
    {"none", "skip_connect", "avg_pool_3x3", "max_pool_3x3", "Identity", "Max3x3", "Avg3x3"}
)

# -- arch2vec sizes (docs/reproduction.md §2.7) ---------------------------------------------------------------
#: GIN layers, width of their MLPs, latent size per vertex (= the per-cell block of an architecture)
ARCH2VEC_LAYERS = 4
ARCH2VEC_HIDDEN = 128
ARCH2VEC_LATENT = 16
#: passes over the pre-training cells, cells per batch, Adam learning rate, weight of the KL term
ARCH2VEC_EPOCHS = 8
ARCH2VEC_BATCH = 64
ARCH2VEC_LR = 2e-3
ARCH2VEC_KL_WEIGHT = 5e-3

# -- CATE sizes (docs/reproduction.md §2.7) --------------------------------------------------------------------
#: transformer width (= the per-cell block), heads, feed-forward width, layers of the architecture
#: encoder and of the cross-attention encoder over a pair
CATE_D_MODEL = 64
CATE_HEADS = 4
CATE_FF = 128
CATE_GRAPH_LAYERS = 2
CATE_CROSS_LAYERS = 1
#: partners per architecture and epoch, drawn among its CATE_WINDOW nearest in computation order
CATE_PARTNERS = 2
CATE_WINDOW = 16
#: probability that an op vertex is masked; passes, pairs per batch, AdamW learning rate and decay
CATE_MASK_RATE = 0.2
CATE_EPOCHS = 3
CATE_BATCH = 128
CATE_LR = 2e-3
CATE_WEIGHT_DECAY = 0.01

#: architectures per forward pass when embedding (bounds memory only: vectors are batch-independent)
_EMBED_CHUNK = 1024


# -- cell graphs -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CellGraph:
    """One cell as the learned encoders see it: vertex labels in topological order, directed edges."""

    labels: tuple[str, ...]
    #: (i, j) with i < j: vertex i feeds vertex j
    edges: tuple[tuple[int, int], ...]


def cell_graphs(space: SearchSpace, arch: str) -> list[CellGraph]:
    """The cells of ``arch`` read off :meth:`SearchSpace.to_graph`, in the order of ``space.tokens``.

    Op vertices (whose token is one of ``space.tokens(arch)``) are labelled by their op; the other
    vertices by their role: ``input{i}`` (no predecessor, numbered in graph order), ``output`` (no
    successor) or ``node``. Vertices are ordered topologically, ties broken by graph order. In a space of
    several cells every vertex needs a ``cell`` attribute; it is matched to a cell through the op
    vertices carrying the same attribute.
    """
    g = space.to_graph(arch)
    tokens = space.tokens(arch)
    op_tokens = {t for cell in tokens for t in cell}
    if len(tokens) == 1:
        groups = [list(g.nodes)]
    else:
        cell_of_token = {t: c for c, cell in enumerate(tokens) for t in cell}
        cell_of_tag: dict[Any, int] = {}
        for _, data in g.nodes(data=True):
            if data["token"] in cell_of_token and "cell" in data:
                cell_of_tag.setdefault(data["cell"], cell_of_token[data["token"]])
        groups = [[] for _ in tokens]
        for v, data in g.nodes(data=True):
            tag = data.get("cell")
            if tag not in cell_of_tag:
                raise ValueError(
                    f"{space.name}: vertex {v!r} of {arch!r} has no 'cell' attribute matching an op "
                    "vertex; a multi-cell space's to_graph must tag every vertex with its cell"
                )
            groups[cell_of_tag[tag]].append(v)
    rank = {v: i for i, v in enumerate(g.nodes)}
    out = []
    for vertices in groups:
        sub = g.subgraph(vertices)
        order = list(nx.lexicographical_topological_sort(sub, key=rank.__getitem__))
        position = {v: i for i, v in enumerate(order)}
        labels: list[str] = []
        n_inputs = 0
        for v in order:
            data = g.nodes[v]
            if data["token"] in op_tokens:
                labels.append(_op_name(data))
            elif sub.in_degree(v) == 0:
                labels.append(f"input{n_inputs}")
                n_inputs += 1
            elif sub.out_degree(v) == 0:
                labels.append("output")
            else:
                labels.append("node")
        edges = tuple(sorted((position[u], position[v]) for u, v in sub.edges))
        out.append(CellGraph(tuple(labels), edges))
    return out


def _space_ops(space: SearchSpace) -> list[str]:
    """The op names of the space's vocabulary, in order of first appearance."""
    ops: dict[str, None] = {}
    for cell in space.vocabulary():
        for token in cell:
            ops.setdefault(_op_name({"token": token}), None)
    return list(ops)


def _label_vocabulary(space: SearchSpace, graphs: Sequence[Sequence[CellGraph]]) -> list[str]:
    """Roles seen in the corpus (sorted), then every op of the space's vocabulary."""
    ops = _space_ops(space)
    seen = {label for cells in graphs for cell in cells for label in cell.labels}
    return sorted(seen - set(ops)) + ops


@dataclass(frozen=True)
class _Cells:
    """Padded cell graphs of many architectures."""

    #: (archs, cells, vertices) label indices, -1 for padding
    labels: np.ndarray
    #: (archs, cells, vertices, vertices) float32, adj[..., i, j] = 1 when vertex i feeds vertex j
    adj: np.ndarray


def _tensorize(space: SearchSpace, graphs: Sequence[Sequence[CellGraph]], labels: Sequence[str]) -> _Cells:
    index = {label: i for i, label in enumerate(labels)}
    n_cells = len(graphs[0]) if graphs else 1
    n = max((len(cell.labels) for cells in graphs for cell in cells), default=1)
    out_labels = np.full((len(graphs), n_cells, n), -1, dtype=np.int64)
    adj = np.zeros((len(graphs), n_cells, n, n), dtype=np.float32)
    for a, cells in enumerate(graphs):
        for c, cell in enumerate(cells):
            try:
                out_labels[a, c, : len(cell.labels)] = [index[label] for label in cell.labels]
            except KeyError as err:
                raise ValueError(
                    f"{space.name}: vertex label {err.args[0]!r} is not in the encoder's label vocabulary "
                    f"{list(labels)}; the space changed since the encoder was fitted: rebuild the table"
                ) from None
            if cell.edges:
                src, dst = zip(*cell.edges, strict=True)
                adj[a, c, list(src), list(dst)] = 1.0
    return _Cells(out_labels, adj)


def _pretraining_corpus(space: SearchSpace, config: EmbeddingConfig, rng: np.random.Generator) -> list[str]:
    """Every architecture of an enumerable space; ``corpus_size`` seeded samples otherwise."""
    if space.size() is not None:
        return space.all_archs()
    return [space.sample(rng) for _ in range(config.corpus_size)]


def _check_epochs(epochs: int | None, default: int) -> int:
    if epochs is None:
        return default
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(
            f"pre-training epochs must be a positive integer (or None: {default}), got {epochs!r}"
        )
    return epochs


# -- torch plumbing --------------------------------------------------------------------------------------
@contextlib.contextmanager
def _torch_threads() -> Iterator[None]:
    """Run with :data:`TORCH_THREADS` torch threads, restoring the caller's count afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(TORCH_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _generator(seed_sequence: np.random.SeedSequence) -> Any:
    import torch

    return torch.Generator().manual_seed(int(seed_sequence.generate_state(1, dtype=np.uint64)[0]) >> 1)


def _new_module(factory: Any, sizes: dict[str, int], generator: Any | None) -> Any:
    """Build a module without touching torch's global random state; initialise it from ``generator``."""
    import torch
    from torch import nn

    with torch.random.fork_rng(devices=[]):
        module = factory(**sizes)
    if generator is None:
        return module
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.Linear):  # torch's default initialisation, drawn from the generator
                nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
                if m.bias is not None:
                    bound = 1.0 / math.sqrt(m.in_features)
                    nn.init.uniform_(m.bias, -bound, bound, generator=generator)
            elif isinstance(m, nn.Embedding):
                nn.init.normal_(m.weight, 0.0, 1.0, generator=generator)
    return module


def _weights(module: Any) -> dict[str, np.ndarray]:
    return {name: t.detach().cpu().numpy().astype(np.float32) for name, t in module.state_dict().items()}


def _load_weights(module: Any, weights: dict[str, np.ndarray]) -> Any:
    """``module`` in float64 eval mode holding ``weights`` (float32 values, exactly representable)."""
    import torch

    expected = {name: tuple(t.shape) for name, t in module.state_dict().items()}
    given = {name: tuple(w.shape) for name, w in weights.items()}
    if expected != given:
        raise ValueError(
            "stored encoder weights do not fit the network (tensors or shapes differ); rebuild the table"
        )
    module.load_state_dict({name: torch.from_numpy(np.array(w)) for name, w in weights.items()})
    return module.double().eval()


@cache
def _nets() -> SimpleNamespace:
    """The torch modules (defined on first use, so that torch is imported lazily)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class VGAE(nn.Module):
        """arch2vec: GIN encoder → per-vertex Gaussian; inner-product adjacency and linear label decoders."""

        def __init__(self, n_labels: int, hidden: int, latent: int, layers: int) -> None:
            super().__init__()
            self.n_labels = n_labels
            self.eps = nn.Parameter(torch.zeros(layers))
            widths = [n_labels] + [hidden] * layers
            self.mlps = nn.ModuleList(
                nn.Sequential(nn.Linear(2 * w_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
                for w_in in widths[:-1]
            )
            self.mu = nn.Linear(hidden, latent)
            self.logvar = nn.Linear(hidden, latent)
            self.op_decoder = nn.Linear(latent, n_labels)

        def encode(self, labels: torch.Tensor, adj: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            valid = (labels >= 0).unsqueeze(-1)
            h = F.one_hot(labels.clamp(min=0), self.n_labels).to(adj.dtype) * valid
            adj_t = adj.transpose(-1, -2)
            for layer, mlp in enumerate(self.mlps):
                own = (1 + self.eps[layer]) * h
                # predecessors and successors summed separately: direction matters (docs/reproduction.md §2.7)
                h = F.relu(mlp(torch.cat([own + adj_t @ h, own + adj @ h], dim=-1)))
            return self.mu(h), self.logvar(h)

        def decode(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return self.op_decoder(z), z @ z.transpose(-1, -2)

        def loss(
            self, labels: torch.Tensor, adj: torch.Tensor, kl_weight: float, generator: torch.Generator
        ) -> torch.Tensor:
            valid = labels >= 0
            mu, logvar = self.encode(labels, adj)
            z = mu + torch.randn(mu.shape, generator=generator, dtype=mu.dtype) * torch.exp(0.5 * logvar)
            op_logits, adj_logits = self.decode(z)
            ops_loss = F.cross_entropy(op_logits[valid], labels[valid])
            n = labels.shape[-1]
            upper = torch.ones(n, n, dtype=torch.bool).triu(1)
            pairs = valid.unsqueeze(-1) & valid.unsqueeze(-2) & upper
            adj_loss = F.binary_cross_entropy_with_logits(adj_logits[pairs], adj[pairs])
            kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(-1)[valid].mean()
            return ops_loss + adj_loss + kl_weight * kl

    class Block(nn.Module):
        """Pre-norm transformer block whose attention is restricted by a boolean (batch, heads, q, k) mask."""

        def __init__(self, d_model: int, heads: int, d_ff: int) -> None:
            super().__init__()
            self.heads = heads
            self.norm1 = nn.LayerNorm(d_model)
            self.qkv = nn.Linear(d_model, 3 * d_model)
            self.out = nn.Linear(d_model, d_model)
            self.norm2 = nn.LayerNorm(d_model)
            self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Linear(d_ff, d_model))

        def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
            b, t, d = x.shape
            q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, self.heads, d // self.heads).unbind(2)
            q, k, v = (u.transpose(1, 2) for u in (q, k, v))  # (b, heads, t, d_head)
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(d // self.heads)
            attn = scores.masked_fill(~allowed, float("-inf")).softmax(-1)
            x = x + self.out((attn @ v).transpose(1, 2).reshape(b, t, d))
            return x + self.ff(self.norm2(x))

    class Cate(nn.Module):
        """CATE: architecture encoder (data-flow attention) + cross-attention encoder over a pair + op head."""

        def __init__(
            self, n_labels: int, d_model: int, heads: int, d_ff: int, graph_layers: int, cross_layers: int
        ) -> None:
            super().__init__()
            if heads < 2 or heads % 2 or d_model % heads:
                raise ValueError(
                    f"CATE needs an even number of heads dividing d_model, got {heads}, {d_model}"
                )
            self.n_labels = n_labels
            self.heads = heads
            self.tokens = nn.Embedding(n_labels + 2, d_model)  # + padding, + [MASK]
            self.graph = nn.ModuleList(Block(d_model, heads, d_ff) for _ in range(graph_layers))
            self.graph_norm = nn.LayerNorm(d_model)
            self.segment = nn.Embedding(2, d_model)
            self.cross = nn.ModuleList(Block(d_model, heads, d_ff) for _ in range(cross_layers))
            self.cross_norm = nn.LayerNorm(d_model)
            self.head = nn.Sequential(nn.Linear(d_model, d_model), nn.Tanh(), nn.Linear(d_model, n_labels))

        def encode(self, tokens: torch.Tensor, reach: torch.Tensor) -> torch.Tensor:
            """(b, t) tokens, (b, t, t) reach[i, j]: j is i or an ancestor of i → (b, t, d) vectors."""
            half = self.heads // 2  # half the heads look upstream, half downstream
            allowed = torch.cat(
                [
                    reach.unsqueeze(1).expand(-1, half, -1, -1),
                    reach.transpose(-1, -2).unsqueeze(1).expand(-1, half, -1, -1),
                ],
                dim=1,
            )
            x = self.tokens(tokens)
            for block in self.graph:
                x = block(x, allowed)
            return self.graph_norm(x)

        def pair_logits(self, hx: torch.Tensor, hy: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
            """Op logits of every vertex of the concatenated pair (b, 2t) after cross-attention."""
            t = hx.shape[1]
            seg = self.segment(torch.cat([torch.zeros(t, dtype=torch.long), torch.ones(t, dtype=torch.long)]))
            x = torch.cat([hx, hy], dim=1) + seg
            eye = torch.eye(2 * t, dtype=torch.bool)
            allowed = (valid.unsqueeze(1) | eye).unsqueeze(1)  # every real vertex of the pair, and oneself
            for block in self.cross:
                x = block(x, allowed)
            return self.head(self.cross_norm(x))

    return SimpleNamespace(VGAE=VGAE, Cate=Cate)


# -- shared encoder ------------------------------------------------------------------------------------
class _TorchEncoder(Encoder):
    """Shared parts of the torch encoders: label vocabulary, sizes and weights in the state, pooling."""

    sizes_keys: ClassVar[tuple[str, ...]]

    def __init__(
        self,
        space: SearchSpace,
        config: EmbeddingConfig,
        labels: Sequence[str],
        sizes: dict[str, int],
        weights: dict[str, np.ndarray],
        training: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(space, config)
        self.labels = list(labels)
        self.sizes = dict(sizes)
        self.weights = weights
        #: how the network was pre-trained (seed, epochs, corpus, final loss, torch version): provenance
        self.training = dict(training or {})
        self.n_cells = len(space.vocabulary())
        missing = [op for op in _space_ops(space) if op not in self.labels]
        if missing:
            raise ValueError(
                f"{space.name}: op(s) {missing} are not in the {self.name} encoder's label vocabulary; "
                "rebuild the embedding table"
            )
        self._net: Any = None

    @classmethod
    def from_state(cls, space: SearchSpace, config: EmbeddingConfig, state: dict[str, Any]) -> _TorchEncoder:
        try:
            sizes = {k: int(state["sizes"][k]) for k in cls.sizes_keys}
            weights = {name: _unb64(w["data"], 1).reshape(w["shape"]) for name, w in state["weights"].items()}
            labels = list(state["labels"])
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(
                f"{space.name}: malformed {cls.name} encoder state ({err!r}); rebuild the table"
            ) from None
        return cls(space, config, labels, sizes, weights, state.get("training"))

    def state(self) -> dict[str, Any]:
        return {
            "labels": self.labels,
            "sizes": self.sizes,
            "training": self.training,
            "weights": {
                name: {"shape": list(w.shape), "data": _b64(w.reshape(1, -1))}
                for name, w in self.weights.items()
            },
        }

    @property
    @abstractmethod
    def _cell_dim(self) -> int:
        """Length of one cell's block."""

    @property
    def dim(self) -> int:
        return self.n_cells * self._cell_dim

    @abstractmethod
    def _module(self) -> Any:
        """A fresh (uninitialised) network of this encoder's sizes."""

    def net(self) -> Any:
        """The pre-trained network in float64 eval mode (built on first use)."""
        if self._net is None:
            self._net = _load_weights(self._module(), self.weights)
        return self._net

    def cells(self, archs: Sequence[str]) -> _Cells:
        """Padded label/adjacency arrays of ``archs`` in this encoder's label vocabulary."""
        return _tensorize(self.space, [cell_graphs(self.space, a) for a in archs], self.labels)

    def _raw_blocks(self, archs: Sequence[str]) -> list[np.ndarray]:
        import torch

        blocks: list[list[np.ndarray]] = [[] for _ in range(self.n_cells)]
        with _torch_threads(), torch.no_grad():
            for start in range(0, len(archs), _EMBED_CHUNK):
                cells = self.cells(archs[start : start + _EMBED_CHUNK])
                pooled = self._pooled(cells)  # (archs, cells, d) float64
                for c in range(self.n_cells):
                    blocks[c].append(pooled[:, c])
        return [np.concatenate(b, axis=0) for b in blocks]

    @abstractmethod
    def _pooled(self, cells: _Cells) -> np.ndarray:
        """(archs, cells, d) float64 vertex representations mean-pooled per cell."""


def _mean_pool(h: Any, valid: Any) -> Any:
    """Mean of ``h`` (…, vertices, d) over the valid vertices."""
    w = valid.to(h.dtype).unsqueeze(-1)
    return (h * w).sum(-2) / w.sum(-2).clamp(min=1.0)


# -- arch2vec ------------------------------------------------------------------------------------------
class Arch2VecEncoder(_TorchEncoder):
    """arch2vec (Yan et al., NeurIPS 2020): a variational graph autoencoder (docs/reproduction.md §2.7).

    A per-cell block is the posterior mean of the vertices, averaged over the cell; its length is
    :data:`ARCH2VEC_LATENT` (``dim`` is not used).
    """

    name = "arch2vec"
    description = "arch2vec: a pre-trained variational graph autoencoder (Yan et al., 2020)"
    sizes_keys = ("n_labels", "hidden", "latent", "layers")

    @property
    def _cell_dim(self) -> int:
        return self.sizes["latent"]

    def _module(self) -> Any:
        return _new_module(_nets().VGAE, self.sizes, None)

    @classmethod
    def fit(
        cls,
        space: SearchSpace,
        config: EmbeddingConfig,
        seed: int,
        progress: bool = True,
        *,
        epochs: int | None = None,
    ) -> Arch2VecEncoder:
        """Pre-train on the space's cells; ``epochs`` overrides :data:`ARCH2VEC_EPOCHS` (tests, studies)."""
        import torch
        from torch import nn

        epochs = _check_epochs(epochs, ARCH2VEC_EPOCHS)
        corpus_ss, torch_ss = np.random.SeedSequence(seed).spawn(2)
        corpus = _pretraining_corpus(space, config, np.random.default_rng(corpus_ss))
        graphs = [
            cell_graphs(space, a)
            for a in tqdm(corpus, desc=f"{space.name} cells", disable=None if progress else True)
        ]
        labels = _label_vocabulary(space, graphs)
        data = _tensorize(space, graphs, labels)
        n = data.labels.shape[-1]
        x = torch.from_numpy(data.labels.reshape(-1, n))
        adj = torch.from_numpy(data.adj.reshape(-1, n, n))
        sizes = {
            "n_labels": len(labels),
            "hidden": ARCH2VEC_HIDDEN,
            "latent": ARCH2VEC_LATENT,
            "layers": ARCH2VEC_LAYERS,
        }
        gen = _generator(torch_ss)
        losses: list[float] = []
        with _torch_threads():
            model = _new_module(_nets().VGAE, sizes, gen)
            optimiser = torch.optim.Adam(model.parameters(), lr=ARCH2VEC_LR)
            for _ in tqdm(range(epochs), desc=f"{space.name} arch2vec", disable=None if progress else True):
                order = torch.randperm(len(x), generator=gen)
                total = 0.0
                for start in range(0, len(x), ARCH2VEC_BATCH):
                    idx = order[start : start + ARCH2VEC_BATCH]
                    loss = model.loss(x[idx], adj[idx], ARCH2VEC_KL_WEIGHT, gen)
                    optimiser.zero_grad()
                    loss.backward()
                    nn.utils.clip_grad_norm_(model.parameters(), 5.0)
                    optimiser.step()
                    total += loss.item() * len(idx)
                losses.append(total / len(x))
        log.info(
            "%s arch2vec: %d cells of %d architectures, %d epochs, loss %.4f -> %.4f",
            space.name, len(x), len(corpus), epochs, losses[0], losses[-1],
        )  # fmt: skip
        training = {
            "seed": int(seed),
            "epochs": epochs,
            "corpus": len(corpus),
            "final_loss": round(losses[-1], 6),
            "torch": torch.__version__,
        }
        return cls(space, config, labels, sizes, _weights(model), training)

    def _pooled(self, cells: _Cells) -> np.ndarray:
        import torch

        labels = torch.from_numpy(cells.labels)
        mu, _ = self.net().encode(labels, torch.from_numpy(cells.adj).double())
        return _mean_pool(mu, labels >= 0).numpy()

    def reconstruction(self, archs: Sequence[str]) -> dict[str, np.ndarray]:
        """Decoding of the posterior means of ``archs``' cells.

        Returns flat arrays over all real vertices (``labels``, ``labels_pred``: label indices) and over
        all vertex pairs i < j (``edges``: 0/1, ``edges_prob``: decoded probability).
        """
        import torch

        cells = self.cells(archs)
        labels = torch.from_numpy(cells.labels)
        adj = torch.from_numpy(cells.adj).double()
        with _torch_threads(), torch.no_grad():
            mu, _ = self.net().encode(labels, adj)
            op_logits, adj_logits = self.net().decode(mu)
        valid = labels >= 0
        n = labels.shape[-1]
        pairs = valid.unsqueeze(-1) & valid.unsqueeze(-2) & torch.ones(n, n, dtype=torch.bool).triu(1)
        return {
            "labels": labels[valid].numpy(),
            "labels_pred": op_logits.argmax(-1)[valid].numpy(),
            "edges": adj[pairs].numpy(),
            "edges_prob": torch.sigmoid(adj_logits[pairs]).numpy(),
        }


# -- CATE ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Sequences:
    """Architectures as CATE reads them: the vertices of all cells in one sequence, cell after cell."""

    #: (archs, t) token ids: label indices, ``pad`` for padding
    tokens: np.ndarray
    #: (archs, t, t) bool, reach[a, i, j]: vertex j is i or one of its ancestors in the same cell
    reach: np.ndarray
    #: (archs, t) bool: op vertices (those masked in pre-training)
    ops: np.ndarray
    #: token id of padding (= number of labels); the [MASK] token is ``pad + 1``
    pad: int


def _sequences(cells: _Cells, op_ids: Sequence[int], pad: int) -> _Sequences:
    a, c, n = cells.labels.shape
    tokens = np.where(cells.labels >= 0, cells.labels, pad).reshape(a, c * n)
    reach = np.zeros((a, c * n, c * n), dtype=bool)
    for k in range(c):
        step = cells.adj[:, k]  # [i, j] = 1: i feeds j
        closure = step > 0
        for _ in range(n):  # extend paths one edge at a time until nothing changes
            grown = closure | (closure.astype(np.float32) @ step > 0)
            if np.array_equal(grown, closure):
                break
            closure = grown
        reach[:, k * n : (k + 1) * n, k * n : (k + 1) * n] = closure.transpose(0, 2, 1) | np.eye(
            n, dtype=bool
        )
    ops = np.isin(tokens, np.asarray(op_ids, dtype=np.int64))
    return _Sequences(tokens, reach, ops, pad)


def _op_ids(space: SearchSpace, labels: Sequence[str]) -> list[int]:
    """Label indices of the space's ops."""
    return [labels.index(op) for op in _space_ops(space)]


def _proxy(seq: _Sequences, labels: Sequence[str]) -> np.ndarray:
    """CATE's computation proxy of each architecture: its number of parametric op vertices (every op
    not in :data:`NONPARAMETRIC_OPS`; the spaces give no FLOPs or parameter counts)."""
    parametric = [i for i, label in enumerate(labels) if label not in NONPARAMETRIC_OPS]
    return (np.isin(seq.tokens, parametric) & seq.ops).sum(axis=1)


def _pairs(proxy: np.ndarray, rng: np.random.Generator, partners: int, window: int) -> np.ndarray:
    """(m·partners, 2) index pairs: every architecture with ``partners`` others, each drawn uniformly
    among its ``window`` nearest in the order of ``proxy`` (ties in random order)."""
    m = len(proxy)
    if m < 2:
        raise ValueError(f"CATE pre-training pairs architectures: it needs at least 2, got {m}")
    order = np.lexsort((rng.random(m), proxy))
    pos = np.repeat(np.arange(m), partners)
    lo = np.maximum(pos - window // 2, 0)
    hi = np.minimum(lo + window, m - 1)
    lo = np.maximum(hi - window, 0)
    draw = lo + (rng.random(len(pos)) * (hi - lo)).astype(np.int64)  # uniform on [lo, hi - 1]
    draw += draw >= pos  # … shifted past pos: uniform on [lo, hi] without pos
    return np.stack([order[pos], order[draw]], axis=1)


class CateEncoder(_TorchEncoder):
    """CATE (Yan et al., ICML 2021): a transformer pre-trained by masked-op prediction on pairs of
    architectures of similar computation (docs/reproduction.md §2.7).

    A per-cell block is the architecture encoder's output averaged over the cell's vertices; its length
    is :data:`CATE_D_MODEL` (``dim`` is not used). The computation proxy that pairs architectures is the
    number of parametric op vertices (:data:`NONPARAMETRIC_OPS` lists the others): no space gives FLOPs.
    """

    name = "cate"
    description = "CATE: a transformer pre-trained by masked-op prediction (Yan et al., 2021)"
    sizes_keys = ("n_labels", "d_model", "heads", "d_ff", "graph_layers", "cross_layers")

    @property
    def _cell_dim(self) -> int:
        return self.sizes["d_model"]

    def _module(self) -> Any:
        return _new_module(_nets().Cate, self.sizes, None)

    def sequences(self, archs: Sequence[str]) -> _Sequences:
        """``archs`` as CATE reads them (token ids, reachability, op vertices)."""
        return _sequences(self.cells(archs), _op_ids(self.space, self.labels), len(self.labels))

    @classmethod
    def fit(
        cls,
        space: SearchSpace,
        config: EmbeddingConfig,
        seed: int,
        progress: bool = True,
        *,
        epochs: int | None = None,
    ) -> CateEncoder:
        """Pre-train on pairs of the space's architectures; ``epochs`` overrides :data:`CATE_EPOCHS`."""
        import torch
        import torch.nn.functional as F
        from torch import nn

        epochs = _check_epochs(epochs, CATE_EPOCHS)
        corpus_ss, pair_ss, torch_ss = np.random.SeedSequence(seed).spawn(3)
        corpus = _pretraining_corpus(space, config, np.random.default_rng(corpus_ss))
        bar = tqdm(corpus, desc=f"{space.name} cells", disable=None if progress else True)
        graphs = [cell_graphs(space, a) for a in bar]
        labels = _label_vocabulary(space, graphs)
        sizes = {
            "n_labels": len(labels),
            "d_model": CATE_D_MODEL,
            "heads": CATE_HEADS,
            "d_ff": CATE_FF,
            "graph_layers": CATE_GRAPH_LAYERS,
            "cross_layers": CATE_CROSS_LAYERS,
        }
        seq = _sequences(_tensorize(space, graphs, labels), _op_ids(space, labels), len(labels))
        proxy = _proxy(seq, labels)
        data = _tensors(seq)
        pair_rng = np.random.default_rng(pair_ss)
        gen = _generator(torch_ss)
        history: list[tuple[float, float]] = []
        with _torch_threads():
            model = _new_module(_nets().Cate, sizes, gen)
            optimiser = torch.optim.AdamW(model.parameters(), lr=CATE_LR, weight_decay=CATE_WEIGHT_DECAY)
            for _ in tqdm(range(epochs), desc=f"{space.name} CATE", disable=None if progress else True):
                pairs = torch.from_numpy(_pairs(proxy, pair_rng, CATE_PARTNERS, CATE_WINDOW))
                pairs = pairs[torch.randperm(len(pairs), generator=gen)]
                loss_sum, hits, count = 0.0, 0, 0
                for start in range(0, len(pairs), CATE_BATCH):
                    logits, target = _masked_pair_logits(model, data, pairs[start : start + CATE_BATCH], gen)
                    if len(target) == 0:
                        continue
                    loss = F.cross_entropy(logits, target)
                    optimiser.zero_grad()
                    loss.backward()
                    nn.utils.clip_grad_norm_(model.parameters(), 5.0)
                    optimiser.step()
                    loss_sum += loss.item() * len(target)
                    hits += int((logits.argmax(-1) == target).sum())
                    count += len(target)
                history.append((loss_sum / max(count, 1), hits / max(count, 1)))
        log.info(
            "%s CATE: %d architectures, %d epochs, masked-op loss %.4f -> %.4f, accuracy %.3f -> %.3f",
            space.name, len(corpus), epochs, history[0][0], history[-1][0], history[0][1], history[-1][1],
        )  # fmt: skip
        training = {
            "seed": int(seed),
            "epochs": epochs,
            "corpus": len(corpus),
            "final_loss": round(history[-1][0], 6),
            "final_masked_accuracy": round(history[-1][1], 6),
            "torch": torch.__version__,
        }
        return cls(space, config, labels, sizes, _weights(model), training)

    def _pooled(self, cells: _Cells) -> np.ndarray:
        import torch

        seq = _sequences(cells, _op_ids(self.space, self.labels), len(self.labels))
        a, c, n = cells.labels.shape
        h = self.net().encode(torch.from_numpy(seq.tokens), torch.from_numpy(seq.reach))
        return _mean_pool(h.view(a, c, n, -1), torch.from_numpy(cells.labels >= 0)).numpy()

    def masked_op_predictions(self, archs: Sequence[str], seed: int = 0) -> tuple[list[str], list[str]]:
        """Masked-op prediction on ``archs`` as in pre-training (pairs by computation, op vertices masked
        with probability :data:`CATE_MASK_RATE`, both drawn from ``seed``): (true ops, predicted labels)."""
        import torch

        seq = self.sequences(archs)
        pair_ss, torch_ss = np.random.SeedSequence(seed).spawn(2)
        pairs = torch.from_numpy(
            _pairs(_proxy(seq, self.labels), np.random.default_rng(pair_ss), CATE_PARTNERS, CATE_WINDOW)
        )
        gen = _generator(torch_ss)
        with _torch_threads(), torch.no_grad():
            logits, target = _masked_pair_logits(self.net(), _tensors(seq), pairs, gen)
        return [self.labels[i] for i in target.tolist()], [self.labels[i] for i in logits.argmax(-1).tolist()]


def _tensors(seq: _Sequences) -> SimpleNamespace:
    import torch

    tokens = torch.from_numpy(seq.tokens)
    return SimpleNamespace(
        tokens=tokens,
        reach=torch.from_numpy(seq.reach),
        ops=torch.from_numpy(seq.ops),
        valid=tokens != seq.pad,
        mask_id=seq.pad + 1,
    )


def _masked_pair_logits(model: Any, data: SimpleNamespace, pairs: Any, generator: Any) -> tuple[Any, Any]:
    """Mask op vertices of both members of each pair with probability :data:`CATE_MASK_RATE`, encode each
    member, cross-attend over the pair; return the logits and true labels of the masked vertices."""
    import torch

    both = torch.cat([pairs[:, 0], pairs[:, 1]])
    tokens = data.tokens[both]
    masked = (torch.rand(tokens.shape, generator=generator) < CATE_MASK_RATE) & data.ops[both]
    h = model.encode(torch.where(masked, data.mask_id, tokens), data.reach[both])
    b = len(pairs)
    valid = data.valid[both]
    logits = model.pair_logits(h[:b], h[b:], torch.cat([valid[:b], valid[b:]], dim=1))
    masked_pair = torch.cat([masked[:b], masked[b:]], dim=1)
    target = torch.cat([tokens[:b], tokens[b:]], dim=1)
    return logits[masked_pair], target[masked_pair]
