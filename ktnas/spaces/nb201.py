"""NAS-Bench-201 cell space (Dong & Yang, ICLR 2020; docs/reproduction.md §3.1).

A cell is a DAG over 4 nodes whose 6 edges j→i (j < i) each carry one of 5 operations. The canonical form
is the official cell string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` (edges grouped by target node).
"""

from __future__ import annotations

import itertools
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

import numpy as np

from ktnas.spaces.base import SearchSpace

if TYPE_CHECKING:
    import networkx as nx

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: (source, target) of each edge, in the order of the official string
EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))

# NASLib's NB201 op-index tuples: op 0=skip, 1=none, 2=conv3x3, 3=conv1x1, 4=avg_pool, edges listed
# as (1,2),(1,3),(1,4),(2,3),(2,4),(3,4) in its 1-based node ids, i.e. 0->1, 0->2, 0->3, 1->2, 1->3, 2->3.
NASLIB_OPS: tuple[str, ...] = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
NASLIB_EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))


def _format_cell(genes: tuple[int, ...], ops: tuple[str, ...]) -> str:
    e = [f"{ops[g]}~{src}" for g, (src, _) in zip(genes, EDGES, strict=True)]
    return f"|{e[0]}|+|{e[1]}|{e[2]}|+|{e[3]}|{e[4]}|{e[5]}|"


def _parse_cell(arch: str, ops: tuple[str, ...]) -> tuple[int, ...]:
    if not (arch.startswith("|") and arch.endswith("|")):
        raise ValueError("must start and end with '|'")
    nodes = arch[1:-1].split("|+|")
    if len(nodes) != 3:
        raise ValueError(f"needs 3 node groups separated by '|+|', found {len(nodes)}")
    genes: list[int] = []
    for target, node in enumerate(nodes, start=1):
        edges = node.split("|")
        if len(edges) != target:
            raise ValueError(f"node {target} needs {target} incoming edges, found {len(edges)}")
        for src, edge in enumerate(edges):
            op, sep, idx = edge.partition("~")
            if not sep or idx != str(src):
                raise ValueError(f"edge {edge!r} of node {target} must be 'op~{src}'")
            if op not in ops:
                raise ValueError(f"unknown op {op!r}; ops are {', '.join(ops)}")
            genes.append(ops.index(op))
    return tuple(genes)


#: (space class, ops) -> every cell's canonical string by gene code, and each string's genes
_CELLS: dict[tuple[type, tuple[str, ...]], tuple[list[str], dict[str, tuple[int, ...]]]] = {}


class CellSpace(SearchSpace):
    """Shared logic of the 4-node, 6-edge cell spaces (NAS-Bench-201 and TransNAS-Bench-101 micro).

    The spaces are small (5^6 and 4^6 cells), so every cell's canonical string is formatted once per
    process and looked up afterwards: the operators draw exactly the random numbers they always did and
    return the same strings, without parsing and formatting on every call.
    """

    ops: tuple[str, ...]

    def _parse(self, arch: str) -> tuple[int, ...]:
        return _parse_cell(arch, self.ops)

    def _format(self, genes: tuple[int, ...]) -> str:
        return _format_cell(genes, self.ops)

    def _cells(self) -> tuple[list[str], dict[str, tuple[int, ...]]]:
        """(canonical string of each gene code, first edge most significant; string -> genes)."""
        key = (type(self), self.ops)
        cells = _CELLS.get(key)
        if cells is None:
            genes = list(itertools.product(range(len(self.ops)), repeat=len(EDGES)))  # in code order
            strings = [self._format(g) for g in genes]
            cells = _CELLS[key] = (strings, dict(zip(strings, genes, strict=True)))
        return cells

    def _string(self, genes: tuple[int, ...] | list[int]) -> str:
        code = 0
        for g in genes:
            code = code * len(self.ops) + g
        return self._cells()[0][code]

    def _genes(self, arch: str) -> tuple[int, ...]:
        """Genes of a canonical string (looked up), or parsed (and validated) otherwise."""
        genes = self._cells()[1].get(arch)
        return genes if genes is not None else self._parse(arch)

    def canonical(self, arch: str) -> str:
        if isinstance(arch, str) and arch in self._cells()[1]:
            return arch
        return super().canonical(arch)

    def genes(self, arch: str) -> tuple[int, ...]:
        return self._genes(self.canonical(arch))

    def sample(self, rng: np.random.Generator) -> str:
        return self._string(rng.integers(len(self.ops), size=len(EDGES)).tolist())

    def sample_many(self, rng: np.random.Generator, n: int) -> list[str]:
        # one call draws what n calls of sample() draw: numpy's bounded integers below 2**32 take
        # successive 32-bit words of the generator's one stream, whatever the call sizes
        genes = rng.integers(len(self.ops), size=(n, len(EDGES)))
        codes = genes @ (len(self.ops) ** np.arange(len(EDGES) - 1, -1, -1))
        strings = self._cells()[0]
        return [strings[c] for c in codes.tolist()]

    def mutate(self, arch: str, rng: np.random.Generator) -> str:
        """Change one uniformly chosen edge to a different op (REA's mutation)."""
        genes = list(self._genes(arch))
        edge = int(rng.integers(len(EDGES)))
        genes[edge] = (genes[edge] + 1 + int(rng.integers(len(self.ops) - 1))) % len(self.ops)
        return self._string(genes)

    def crossover(self, a: str, b: str, rng: np.random.Generator) -> tuple[str, str]:
        """Uniform crossover per edge; the two children are complementary."""
        ga, gb = self._genes(a), self._genes(b)
        take_a = rng.random(len(EDGES)) < 0.5
        c1 = tuple(x if t else y for x, y, t in zip(ga, gb, take_a, strict=True))
        c2 = tuple(y if t else x for x, y, t in zip(ga, gb, take_a, strict=True))
        return self._string(c1), self._string(c2)

    def tokens(self, arch: str) -> list[list[str]]:
        genes = self._genes(arch)
        return [[f"{s}>{t}|{self.ops[g]}" for g, (s, t) in zip(genes, EDGES, strict=True)]]

    def vocabulary(self) -> list[list[str]]:
        return [[f"{s}>{t}|{op}" for s, t in EDGES for op in self.ops]]

    def to_graph(self, arch: str) -> nx.DiGraph:
        """Op-as-vertex DAG: input node 0 → op vertices → nodes 1..3; node 3 is the output."""
        genes = self._genes(arch)
        import networkx as nx

        g = nx.DiGraph()
        for n in range(4):
            g.add_node(f"n{n}", token=f"node{n}")
        for g_op, (s, t) in zip(genes, EDGES, strict=True):
            op_vertex = f"e{s}{t}"
            g.add_node(op_vertex, token=f"{s}>{t}|{self.ops[g_op]}")
            g.add_edge(f"n{s}", op_vertex)
            g.add_edge(op_vertex, f"n{t}")
        return g

    def adjacency_ops(self, arch: str) -> tuple[np.ndarray, np.ndarray]:
        """(adjacency, one-hot ops) of the op-as-vertex graph with in/out vertices, for GCN predictors.

        Vertex 0 is the input, 1..6 the edge ops in string order, 7 the output; an op vertex feeds the
        op vertices leaving its target node, and node-3 ops feed the output.
        """
        genes = self._genes(arch)
        n = len(EDGES) + 2
        adj = np.zeros((n, n), dtype=np.float32)
        for k, (s, t) in enumerate(EDGES):
            if s == 0:
                adj[0, k + 1] = 1
            for k2, (s2, _) in enumerate(EDGES):
                if s2 == t:
                    adj[k + 1, k2 + 1] = 1
            if t == 3:
                adj[k + 1, n - 1] = 1
        feats = np.zeros((n, len(self.ops) + 2), dtype=np.float32)
        feats[0, len(self.ops)] = 1
        feats[n - 1, len(self.ops) + 1] = 1
        for k, g_op in enumerate(genes):
            feats[k + 1, g_op] = 1
        return adj, feats

    def size(self) -> int:
        return len(self.ops) ** len(EDGES)


@cache
def _official_order() -> np.ndarray:
    """Official NB201 index → base-5 gene code (first edge most significant), shipped with the package."""
    path = resources.files("ktnas.spaces") / "data" / "nb201_official_order.npy"
    with resources.as_file(path) as p:
        order = np.load(p, allow_pickle=False).astype(np.int64)
    assert order.shape == (15625,) and len(np.unique(order)) == 15625
    return order


@cache
def _official_index() -> dict[int, int]:
    return {int(code): i for i, code in enumerate(_official_order())}


class NB201Space(CellSpace):
    """NAS-Bench-201: 5 ops on 6 edges, 15,625 cells, indexed in the official benchmark order."""

    name = "nb201"
    ops = OPS
    expected_form = "|op~0|+|op~0|op~1|+|op~0|op~1|op~2| with op in " + ", ".join(OPS)

    @staticmethod
    def _code(genes: tuple[int, ...]) -> int:
        code = 0
        for g in genes:
            code = code * 5 + g
        return code

    def index(self, arch: str) -> int:
        """Official NB201 benchmark index (0..15624) of an architecture."""
        return _official_index()[self._code(self.genes(arch))]

    def from_index(self, index: int) -> str:
        if not 0 <= index < 15625:
            raise ValueError(f"nb201: index {index} outside 0..15624")
        return self._cells()[0][int(_official_order()[index])]

    def all_archs(self) -> list[str]:
        strings = self._cells()[0]
        return [strings[code] for code in _official_order().tolist()]

    # NASLib converters ------------------------------------------------------------------------------
    def to_naslib(self, arch: str) -> tuple[int, ...]:
        genes = dict(zip(EDGES, self.genes(arch), strict=True))
        return tuple(NASLIB_OPS.index(OPS[genes[e]]) for e in NASLIB_EDGES)

    def from_naslib(self, op_indices: tuple[int, ...] | list[int]) -> str:
        if len(op_indices) != 6 or any(not 0 <= int(o) < 5 for o in op_indices):
            raise ValueError(
                f"nb201: NASLib op-index tuple {tuple(op_indices)!r} must hold 6 integers in 0..4"
            )
        by_edge = {e: OPS.index(NASLIB_OPS[int(o)]) for e, o in zip(NASLIB_EDGES, op_indices, strict=True)}
        return self._format(tuple(by_edge[e] for e in EDGES))
