"""TransNAS-Bench-101 micro cell space (Duan et al., CVPR 2021; docs/reproduction.md §3.2).

The same 4-node, 6-edge DAG as NAS-Bench-201 with 4 ops, 4,096 cells. Canonical form is the official
string ``64-41414-a_bc_def``: the macro prefix, then one digit per edge grouped by target node
(node1←0; node2←0,1; node3←0,1,2) with ops 0=none, 1=skip_connect, 2=nor_conv_1x1, 3=nor_conv_3x3.
"""

from __future__ import annotations

from ktnas.spaces.nb201 import CellSpace

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3")
PREFIX = "64-41414-"


class Trans101Space(CellSpace):
    """TransNAS-Bench-101 micro: 4 ops on 6 edges, 4,096 cells.

    :meth:`index` is ktnas's own numbering (base-4 gene code, first edge most significant); benchmark
    tables are keyed by the canonical string, never by this index.
    """

    name = "trans101"
    ops = OPS
    expected_form = "64-41414-a_bc_def with each letter an op digit 0..3 (none, skip, conv1x1, conv3x3)"

    def _parse(self, arch: str) -> tuple[int, ...]:
        if not arch.startswith(PREFIX):
            raise ValueError(f"must start with the micro macro prefix {PREFIX!r}")
        groups = arch[len(PREFIX) :].split("_")
        if [len(g) for g in groups] != [1, 2, 3]:
            raise ValueError("cell part must be three groups of 1, 2 and 3 digits joined by '_'")
        genes = tuple(int(c) for c in "".join(groups) if c.isdigit())
        if len(genes) != 6 or any(not 0 <= g < 4 for g in genes):
            raise ValueError("each edge must be a digit 0..3")
        return genes

    def _format(self, genes: tuple[int, ...]) -> str:
        d = "".join(str(g) for g in genes)
        return f"{PREFIX}{d[0]}_{d[1:3]}_{d[3:6]}"

    def index(self, arch: str) -> int:
        code = 0
        for g in self.genes(arch):
            code = code * 4 + g
        return code

    def from_index(self, index: int) -> str:
        if not 0 <= index < 4096:
            raise ValueError(f"trans101: index {index} outside 0..4095")
        return self._cells()[0][index]  # the index is the gene code

    def all_archs(self) -> list[str]:
        return list(self._cells()[0])
