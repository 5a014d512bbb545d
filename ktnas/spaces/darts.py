"""DARTS-like two-cell space of EMT-NAS / KTNAS (docs/reproduction.md §3.3.1–§3.3.2).

A genotype holds two cells, each of 5 intermediate nodes k = 2..6. Node k reads two inputs
``in_a, in_b ∈ {0..k-1}`` (0 and 1 are the cell inputs) and applies ``op_a, op_b ∈ {0..8}``; its output is
``op_a(h[in_a]) + op_b(h[in_b])``. The gene vector has 40 integers, 4 per node in the order
(in_a, in_b, op_a, op_b): **the first 20 are the reduction-type cell, the last 20 the normal cell**.

Input convention: genotypes are stored in the search-supernet convention, **input 0 = the newer tensor**
(the previous cell's output) and input 1 = the older one. :func:`to_retrain_genotype` converts to the
DARTS retraining convention (0 = older) used by :mod:`ktnas.training.network` and by docs/reproduction.md Appendix A.

DARTS genotype: :meth:`DartsSpace.to_darts` writes a cell pair as the ``Genotype(normal, normal_concat,
reduce, reduce_concat)`` of the DARTS code (Liu et al., 2019), with its op names (:data:`DARTS_OPS`) and
its input convention (0 = older); :meth:`DartsSpace.from_darts` reads one back.

Canonical string: ``R:<node2>|<node3>|...|<node6>;N:<node2>|...|<node6>`` where each node is
``op~in+op~in`` with the two (op, input) pairs sorted by (input, op index). The two inputs of a node are
symmetric, so swapping them gives the same string. Example node: ``Dw3x3~0+Max3x3~1``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ktnas.spaces.base import SearchSpace

if TYPE_CHECKING:
    import networkx as nx

#: op list in gene-index order (docs/reproduction.md §3.3.1 table); names used in the canonical string
OPS: tuple[str, ...] = (
    "Dw3x3",
    "Dw5x5",
    "Dw7x7",
    "Dc3x3",
    "Dc5x5",
    "Dc7x7",
    "Identity",
    "Max3x3",
    "Avg3x3",
)
#: the names the official retraining code (and docs/reproduction.md Appendix A) gives the same ops
RETRAIN_OPS: tuple[str, ...] = ("DW3", "DW5", "DW7", "DC3", "DC5", "DC7", "Identity", "MAX", "AVG")
#: the DARTS code's names (``operations.OPS``) of the retraining ops, in gene-index order. Each retraining op
#: (docs/reproduction.md §3.3.9) is the DARTS op of that name, except ``dil_conv_7x7``, which DARTS lacks:
#: ``DilConv(C, C, 7, stride, 6, 2)``, built like its ``dil_conv_5x5``. ``none`` (DARTS's zero op) is
#: not in this space.
DARTS_OPS: tuple[str, ...] = (
    "sep_conv_3x3",
    "sep_conv_5x5",
    "sep_conv_7x7",
    "dil_conv_3x3",
    "dil_conv_5x5",
    "dil_conv_7x7",
    "skip_connect",
    "max_pool_3x3",
    "avg_pool_3x3",
)
#: DARTS ops that the DARTS code's ``operations.OPS`` does not define
NOT_IN_DARTS: tuple[str, ...] = ("dil_conv_7x7",)
N_NODES = 5
NODES: tuple[int, ...] = tuple(range(2, 2 + N_NODES))
#: cell types in gene order: 0 = reduction-type cell, 1 = normal cell
CELLS: tuple[str, ...] = ("reduce", "normal")
_CELL_TAGS: tuple[str, ...] = ("R", "N")
GENES_PER_NODE = 4
GENES_PER_CELL = GENES_PER_NODE * N_NODES
N_GENES = GENES_PER_CELL * len(CELLS)

#: Node spec of a cell in retraining form: (op name, input) pairs, two per node, nodes 2..6 in order
RetrainCell = list[tuple[str, int]]


def _gene_max() -> tuple[int, ...]:
    """Largest value of every gene (inputs of node k: k-1; ops: 8)."""
    per_cell = [m for k in NODES for m in (k - 1, k - 1, len(OPS) - 1, len(OPS) - 1)]
    return tuple(per_cell * len(CELLS))


GENE_MAX: tuple[int, ...] = _gene_max()


def _sort_nodes(genes: Sequence[int]) -> tuple[int, ...]:
    """Order the two (input, op) pairs of every node by (input, op): the canonical gene vector."""
    out: list[int] = []
    for base in range(0, N_GENES, GENES_PER_NODE):
        in_a, in_b, op_a, op_b = (int(g) for g in genes[base : base + GENES_PER_NODE])
        (in_a, op_a), (in_b, op_b) = sorted(((in_a, op_a), (in_b, op_b)))
        out += [in_a, in_b, op_a, op_b]
    return tuple(out)


def node_genes(genes: Sequence[int], cell: int, node: int) -> tuple[int, int, int, int]:
    """(in_a, in_b, op_a, op_b) of ``node`` (2..6) in ``cell`` (0 = reduce, 1 = normal)."""
    base = cell * GENES_PER_CELL + (node - 2) * GENES_PER_NODE
    a, b, c, d = (int(g) for g in genes[base : base + GENES_PER_NODE])
    return a, b, c, d


def concat_nodes(genes: Sequence[int], cell: int) -> list[int]:
    """Intermediate nodes of ``cell`` that no node uses as input: the cell output (docs/reproduction.md §3.3.1)."""
    used = {i for k in NODES for i in node_genes(genes, cell, k)[:2]}
    return [k for k in NODES if k not in used]


def to_retrain_genotype(genes: Sequence[int]) -> dict[str, RetrainCell | list[int]]:
    """Genes (0 = newer) -> the retraining genotype (0 = older), as in docs/reproduction.md Appendix A.

    Returns ``{"normal": [(op, input), ...], "normal_concat": [...], "reduce": [...],
    "reduce_concat": [...]}`` with DARTS-style op names (:data:`RETRAIN_OPS`).
    """
    out: dict[str, RetrainCell | list[int]] = {}
    for cell, name in enumerate(CELLS):
        pairs: RetrainCell = []
        for k in NODES:
            in_a, in_b, op_a, op_b = node_genes(genes, cell, k)
            for i, o in ((in_a, op_a), (in_b, op_b)):
                pairs.append((RETRAIN_OPS[o], 1 - i if i < 2 else i))
        out[name] = pairs
        out[f"{name}_concat"] = concat_nodes(genes, cell)
    return out


def from_retrain_genotype(
    normal: Sequence[tuple[str, int]], reduce: Sequence[tuple[str, int]]
) -> tuple[int, ...]:
    """Retraining-convention cells (op name, input with 0 = older) -> canonical genes (0 = newer).

    Op names may be the retraining names (``DW3``, ``AVG``...), the search names (``Dw3x3``...) or the
    DARTS names (``sep_conv_3x3``...).
    """
    genes: list[int] = []
    for cell_name, cell in (("reduce", reduce), ("normal", normal)):
        if len(cell) != 2 * N_NODES:
            raise ValueError(f"{cell_name} cell needs {2 * N_NODES} (op, input) pairs, got {len(cell)}")
        for n, k in enumerate(NODES):
            (op_a, in_a), (op_b, in_b) = cell[2 * n], cell[2 * n + 1]
            ins = []
            for i in (in_a, in_b):
                if not 0 <= int(i) < k:
                    raise ValueError(f"{cell_name} node {k}: input {i} outside 0..{k - 1}")
                ins.append(1 - int(i) if int(i) < 2 else int(i))
            ops = [_op_index(o) for o in (op_a, op_b)]
            genes += [ins[0], ins[1], ops[0], ops[1]]
    return _sort_nodes(genes)


def _op_index(name: str) -> int:
    for names in (OPS, RETRAIN_OPS, DARTS_OPS):
        if name in names:
            return names.index(name)
    raise ValueError(
        f"unknown op {name!r}; ops are {', '.join(DARTS_OPS)} (or {', '.join(OPS)}, or {', '.join(RETRAIN_OPS)})"
    )


def to_darts_genotype(genes: Sequence[int]) -> dict[str, RetrainCell | list[int]]:
    """Genes (0 = newer) -> the DARTS ``Genotype`` fields (0 = older), with DARTS op names.

    ``{"normal": [(op, input), ...], "normal_concat": [...], "reduce": [...], "reduce_concat": [...]}``:
    two pairs per intermediate node, nodes 2..6 in order; inputs 0 and 1 are the outputs of the cell
    before the previous one and of the previous one, 2.. the intermediate nodes. A node adds its two
    pairs, so their order carries no meaning: each node's pairs are sorted by (input, op index).
    """
    retrain = to_retrain_genotype(genes)
    out: dict[str, RetrainCell | list[int]] = {}
    for name in ("normal", "reduce"):
        pairs: list[tuple[int, int]] = [(RETRAIN_OPS.index(o), i) for o, i in retrain[name]]  # type: ignore[misc]
        cell: RetrainCell = []
        for n in range(N_NODES):
            node = sorted(pairs[2 * n : 2 * n + 2], key=lambda p: (p[1], p[0]))
            cell += [(DARTS_OPS[o], i) for o, i in node]
        concat: list[int] = retrain[f"{name}_concat"]  # type: ignore[assignment]
        out[name] = cell
        out[f"{name}_concat"] = list(concat)
    return out


class DartsSpace(SearchSpace):
    """EMT-NAS/KTNAS DARTS-like space: 2 cells × 5 nodes × (in_a, in_b, op_a, op_b) (docs/reproduction.md §3.3.1)."""

    name = "darts"
    expected_form = (
        "R:op~i+op~i|op~i+op~i|op~i+op~i|op~i+op~i|op~i+op~i;N:(same for the normal cell), node k "
        f"(k=2..6) reading inputs i in 0..k-1 (0 = newer cell input), op in {', '.join(OPS)}"
    )

    # -- identity ---------------------------------------------------------------------------------
    def _parse(self, arch: str) -> tuple[int, ...]:
        cells = arch.split(";")
        if len(cells) != len(CELLS):
            raise ValueError(f"needs {len(CELLS)} cells separated by ';', found {len(cells)}")
        genes: list[int] = []
        for tag, cell in zip(_CELL_TAGS, cells, strict=True):
            head, sep, body = cell.partition(":")
            if not sep or head != tag:
                raise ValueError(f"cell {cell!r} must start with '{tag}:'")
            nodes = body.split("|")
            if len(nodes) != N_NODES:
                raise ValueError(f"cell {tag} needs {N_NODES} nodes separated by '|', found {len(nodes)}")
            for k, node in zip(NODES, nodes, strict=True):
                pairs = node.split("+")
                if len(pairs) != 2:
                    raise ValueError(f"node {k} of cell {tag} must be 'op~input+op~input', got {node!r}")
                ins, ops = [], []
                for pair in pairs:
                    op, sep2, src = pair.partition("~")
                    if not sep2 or not src.isdigit():
                        raise ValueError(f"{pair!r} in node {k} of cell {tag} must be 'op~input'")
                    if op not in OPS:
                        raise ValueError(f"unknown op {op!r}; ops are {', '.join(OPS)}")
                    if not 0 <= int(src) < k:
                        raise ValueError(f"node {k} of cell {tag} reads input {src}, outside 0..{k - 1}")
                    ins.append(int(src))
                    ops.append(OPS.index(op))
                genes += [ins[0], ins[1], ops[0], ops[1]]
        return _sort_nodes(genes)

    def _format(self, genes: tuple[int, ...]) -> str:
        genes = _sort_nodes(genes)
        cells = []
        for cell, tag in enumerate(_CELL_TAGS):
            nodes = []
            for k in NODES:
                in_a, in_b, op_a, op_b = node_genes(genes, cell, k)
                nodes.append(f"{OPS[op_a]}~{in_a}+{OPS[op_b]}~{in_b}")
            cells.append(f"{tag}:" + "|".join(nodes))
        return ";".join(cells)

    def from_genes(self, genes: Sequence[int]) -> str:
        """Canonical string of a 40-integer gene vector (0 = newer input convention)."""
        g = tuple(int(x) for x in genes)
        if len(g) != N_GENES or any(not 0 <= x <= m for x, m in zip(g, GENE_MAX, strict=True)):
            raise ValueError(
                f"darts: gene vector {g!r} must hold {N_GENES} integers within {GENE_MAX!r} (gene maxima)"
            )
        return self._format(g)

    def from_retrain(self, normal: Sequence[tuple[str, int]], reduce: Sequence[tuple[str, int]]) -> str:
        """Canonical string of a retraining-convention genotype (docs/reproduction.md Appendix A; 0 = older input)."""
        return self._format(from_retrain_genotype(normal, reduce))

    def to_retrain(self, arch: str) -> dict[str, RetrainCell | list[int]]:
        """Retraining genotype (0 = older input, the authors' op names, concat lists) of ``arch``."""
        return to_retrain_genotype(self.genes(arch))

    def to_darts(self, arch: str) -> dict[str, RetrainCell | list[int]]:
        """The DARTS ``Genotype`` fields of ``arch`` (0 = older input, :data:`DARTS_OPS` names)."""
        return to_darts_genotype(self.genes(arch))

    def from_darts(self, genotype: Mapping[str, Any]) -> str:
        """Canonical string of DARTS ``Genotype`` fields (a mapping, or a namedtuple's ``_asdict()``).

        The concat lists, if given, must be the nodes no node reads (the cell output of this space).
        """
        arch = self.from_retrain(genotype["normal"], genotype["reduce"])
        darts = self.to_darts(arch)
        for key in ("normal_concat", "reduce_concat"):
            if key in genotype and sorted(int(k) for k in genotype[key]) != darts[key]:
                raise ValueError(
                    f"{key}={list(genotype[key])} is not this space's cell output: the nodes no node "
                    f"reads, {darts[key]}"
                )
        return arch

    # -- operators ----------------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> str:
        """A uniformly random genotype (every gene uniform over its range)."""
        highs = np.asarray(GENE_MAX) + 1
        return self._format(tuple(int(g) for g in rng.integers(0, highs)))

    def mutate(self, arch: str, rng: np.random.Generator, p_m: float = 0.02) -> str:
        """Each of the 40 genes moves ±1 with probability ``p_m``, wrapping within its range (§3.3.2)."""
        if not 0.0 <= p_m <= 1.0:
            raise ValueError(f"darts: mutation probability p_m={p_m} must lie in [0, 1]")
        genes = np.asarray(self._parse(arch), dtype=np.int64)
        span = np.asarray(GENE_MAX, dtype=np.int64) + 1
        hit = rng.random(N_GENES) < p_m
        step = np.where(rng.random(N_GENES) < 0.5, 1, -1)
        genes = np.where(hit, (genes + step) % span, genes)
        return self._format(tuple(int(g) for g in genes))

    def crossover(self, a: str, b: str, rng: np.random.Generator) -> tuple[str, str]:
        """Block crossover (p_c = 1): a fair coin per node decides which parent gives its 4 genes to
        child 1; child 2 takes the other parent's block, so the children are complementary (§3.3.2)."""
        ga, gb = self._parse(a), self._parse(b)
        take_a = rng.random(len(CELLS) * N_NODES) < 0.5
        c1: list[int] = []
        c2: list[int] = []
        for n, t in enumerate(take_a):
            blk = slice(n * GENES_PER_NODE, (n + 1) * GENES_PER_NODE)
            x, y = ga[blk], gb[blk]
            c1 += x if t else y
            c2 += y if t else x
        return self._format(tuple(c1)), self._format(tuple(c2))

    # -- views ---------------------------------------------------------------------------------------
    @staticmethod
    def token(cell: int, node: int, source: int, op: int) -> str:
        """Position-aware token "cell c | node k | input j | op o" (docs/reproduction.md §2.6)."""
        return f"{CELLS[cell]}|n{node}|in{source}|{OPS[op]}"

    def tokens(self, arch: str) -> list[list[str]]:
        """[reduce tokens, normal tokens], 10 per cell: 20 per architecture (docs/reproduction.md §2.6)."""
        genes = self._parse(arch)
        out = []
        for cell in range(len(CELLS)):
            toks = []
            for k in NODES:
                in_a, in_b, op_a, op_b = node_genes(genes, cell, k)
                toks += [self.token(cell, k, in_a, op_a), self.token(cell, k, in_b, op_b)]
            out.append(toks)
        return out

    def vocabulary(self) -> list[list[str]]:
        """180 tokens per cell (Σ_k k·9), [reduce, normal]."""
        return [
            [self.token(cell, k, j, o) for k in NODES for j in range(k) for o in range(len(OPS))]
            for cell in range(len(CELLS))
        ]

    def to_graph(self, arch: str) -> nx.DiGraph:
        """Op-as-vertex graph of both cells (docs/reproduction.md §2.6), two disconnected components.

        Vertices per cell ``c`` (``reduce``/``normal``): inputs ``c:h0``, ``c:h1``; one vertex per op
        instance ``c:n{k}:a`` / ``c:n{k}:b`` whose ``token`` is the §2.6 token; nodes ``c:h{k}``; the output
        ``c:out``. Edges: source → op instance → node, and concatenated (unused) nodes → output. Every
        vertex has ``token`` and ``cell`` attributes.
        """
        genes = self._parse(arch)
        import networkx as nx

        g = nx.DiGraph()
        for cell, cname in enumerate(CELLS):
            for i in range(2):
                g.add_node(f"{cname}:h{i}", token=f"{cname}|in{i}", cell=cname)
            for k in NODES:
                g.add_node(f"{cname}:h{k}", token=f"{cname}|n{k}", cell=cname)
            g.add_node(f"{cname}:out", token=f"{cname}|out", cell=cname)
            for k in NODES:
                in_a, in_b, op_a, op_b = node_genes(genes, cell, k)
                for slot, src, op in (("a", in_a, op_a), ("b", in_b, op_b)):
                    v = f"{cname}:n{k}:{slot}"
                    g.add_node(v, token=self.token(cell, k, src, op), cell=cname)
                    g.add_edge(f"{cname}:h{src}", v)
                    g.add_edge(v, f"{cname}:h{k}")
            for k in concat_nodes(genes, cell):
                g.add_edge(f"{cname}:h{k}", f"{cname}:out")
        return g

    def size(self) -> int | None:
        return None
