"""The weight-sharing supernet of EMT-NAS / KTNAS (docs/reproduction.md §3.3.3), one per task.

Every node keeps a bank of 9 search ops per candidate input position, so op weights are shared across
individuals per (cell instance, node, input source, op). :meth:`Supernet.activate` selects one genotype;
only the selected modules take part in the forward pass, so with ``optimizer.zero_grad(set_to_none=True)``
every other parameter keeps ``grad = None`` and ``torch.optim.SGD`` skips it entirely: no weight decay,
no momentum step (docs/reproduction.md §3.3.3).
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from ktnas.spaces.darts import NODES, OPS, DartsSpace, concat_nodes, node_genes
from ktnas.training.ops import search_op

REDUCE, NORMAL = 0, 1


@lru_cache(maxsize=4096)
def _cell_config(arch: str) -> tuple[tuple[tuple[tuple[int, int, int, int], ...], tuple[int, ...]], ...]:
    """Per cell type: the 5 (in_a, in_b, op_a, op_b) tuples and the concat nodes (input 0 = newer)."""
    genes = DartsSpace().genes(arch)
    return tuple(
        (tuple(node_genes(genes, cell, k) for k in NODES), tuple(concat_nodes(genes, cell)))
        for cell in (0, 1)
    )


class SearchCell(nn.Module):
    """A search cell at ``c`` channels: input 0 = newer tensor, input 1 = older (docs/reproduction.md §3.3.1)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.c = c
        # banks[k-2][j][o]: op o of node k applied to input j
        self.banks = nn.ModuleList(
            nn.ModuleList(nn.ModuleList(search_op(o, c) for o in range(len(OPS))) for _ in range(k))
            for k in NODES
        )
        # the output 1x1 conv: one C×C block per node, assembled from the concatenated nodes
        # (Kaiming-initialised by Supernet, like every 4-d weight)
        self.concat_weights = nn.ParameterList(nn.Parameter(torch.empty(c, c, 1, 1)) for _ in NODES)
        self.bn = nn.BatchNorm2d(c)
        self.nodes: tuple[tuple[int, int, int, int], ...] | None = None
        self.concat: tuple[int, ...] = ()
        self.drop: _DropControl | None = None

    def set_config(self, nodes: tuple[tuple[int, int, int, int], ...], concat: tuple[int, ...]) -> None:
        self.nodes, self.concat = nodes, concat

    def active_modules(self) -> list[nn.Module]:
        """The op modules the current genotype uses."""
        if self.nodes is None:
            raise RuntimeError("no genotype activated; call Supernet.activate(arch) first")
        out = []
        for k, (in_a, in_b, op_a, op_b) in zip(NODES, self.nodes, strict=True):
            out += [self.module(k, in_a, op_a), self.module(k, in_b, op_b)]
        return out

    def module(self, node: int, source: int, op: int) -> nn.Module:
        """The bank entry for op ``op`` of ``node`` applied to input ``source``."""
        return self.banks[node - 2][source][op]  # type: ignore[index]

    def _op(self, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
        drop = self.drop
        if self.training and drop is not None and drop.enabled:
            if drop.coin() >= drop.keep_prob:
                return torch.zeros_like(x)  # the whole batch's op output dropped: no compute, no grads
            return module(x) / drop.keep_prob
        return module(x)

    def forward(self, x_new: torch.Tensor, x_old: torch.Tensor) -> torch.Tensor:
        if self.nodes is None:
            raise RuntimeError("no genotype activated; call Supernet.activate(arch) first")
        states = [x_new, x_old]
        for k, (in_a, in_b, op_a, op_b) in zip(NODES, self.nodes, strict=True):
            h_a = self._op(self.module(k, in_a, op_a), states[in_a])
            states.append(h_a + self._op(self.module(k, in_b, op_b), states[in_b]))
        h = torch.cat([states[k] for k in self.concat], dim=1)
        w = torch.cat([self.concat_weights[k - 2] for k in self.concat], dim=1)
        return self.bn(F.conv2d(F.relu(h), w))


class _DropControl:
    """Whole-batch drop path of every op output (docs/reproduction.md §3.3.3): coins from a CPU generator (no GPU sync)."""

    def __init__(self, keep_prob: float) -> None:
        self.keep_prob = keep_prob
        self.enabled = False
        self.generator = torch.Generator()

    def coin(self) -> float:
        return float(torch.rand((), generator=self.generator))


class _Reduce(nn.Sequential):
    """2×2 average pooling, then 1×1 conv + BN to twice the channels (docs/reproduction.md §3.3.3 step 3)."""

    def __init__(self, c: int) -> None:
        super().__init__(nn.AvgPool2d(2), nn.Conv2d(c, 2 * c, 1, bias=False), nn.BatchNorm2d(2 * c))


class Supernet(nn.Module):
    """docs/reproduction.md §3.3.3: stem, normal cell (C), reduce, reduction-type + normal cell (2C), reduce,
    reduction-type + normal cell (4C), head (global mean → dropout → ReLU → linear).

    ``generator`` (on the model's device) drives the head dropout; ``drop.generator`` (CPU) the drop-path
    coins. Construction draws the initial weights from a private RNG seeded with ``seed``.
    """

    def __init__(
        self,
        channels: int,
        num_classes: int,
        dropout: float = 0.1,
        drop_path_keep: float = 0.9,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if channels < 1 or num_classes < 2:
            raise ValueError(
                f"supernet needs channels >= 1 and num_classes >= 2, got {channels}, {num_classes}"
            )
        if not 0.0 < drop_path_keep <= 1.0:
            raise ValueError(f"drop_path_keep={drop_path_keep} must lie in (0, 1]")
        c = channels
        self.channels = c
        self.dropout = dropout
        self.drop = _DropControl(drop_path_keep)
        self.generator: torch.Generator | None = None
        self.arch: str | None = None
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.stem = nn.Sequential(nn.Conv2d(3, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
            self.normal1 = SearchCell(c)
            self.reduce2, self.reduce2_prev = _Reduce(c), _Reduce(c)
            self.rcell2, self.normal2 = SearchCell(2 * c), SearchCell(2 * c)
            self.reduce3, self.reduce3_prev = _Reduce(2 * c), _Reduce(2 * c)
            self.rcell3, self.normal3 = SearchCell(4 * c), SearchCell(4 * c)
            self.classifier = nn.Linear(4 * c, num_classes)
            for p in self.parameters():
                if p.dim() == 4:
                    nn.init.kaiming_normal_(p)
        for cell in self.cells():
            cell.drop = self.drop

    def cells(self) -> list[SearchCell]:
        return [self.normal1, self.rcell2, self.normal2, self.rcell3, self.normal3]

    def _cell_type(self, cell: SearchCell) -> int:
        return REDUCE if cell in (self.rcell2, self.rcell3) else NORMAL

    def activate(self, arch: str) -> None:
        """Select the genotype ``arch`` (canonical DARTS string) for the following forward passes."""
        config = _cell_config(arch)
        for cell in self.cells():
            cell.set_config(*config[self._cell_type(cell)])
        self.arch = arch

    def set_drop_path(self, enabled: bool) -> None:
        self.drop.enabled = enabled

    def active_parameters(self) -> list[nn.Parameter]:
        """Parameters the active genotype trains (shared layers plus the selected ops)."""
        bank_ids = {id(p) for cell in self.cells() for p in cell.banks.parameters()}
        concat_ids = {id(p) for cell in self.cells() for p in cell.concat_weights}
        active = [p for p in self.parameters() if id(p) not in bank_ids and id(p) not in concat_ids]
        for cell in self.cells():
            for m in cell.active_modules():
                active += list(m.parameters())
            active += [cell.concat_weights[k - 2] for k in cell.concat]
        unique: dict[int, nn.Parameter] = {id(p): p for p in active}  # an op may be selected twice
        return list(unique.values())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stem(x)
        n1 = self.normal1(s, s)
        x2, x2_prev = self.reduce2(n1), self.reduce2_prev(s)
        r2 = self.rcell2(x2, x2_prev)
        n2 = self.normal2(r2, x2)
        x3, x3_prev = self.reduce3(n2), self.reduce3_prev(r2)
        r3 = self.rcell3(x3, x3_prev)
        n3 = self.normal3(r3, x3)
        h = n3.mean(dim=(2, 3))
        if self.training and self.dropout > 0.0:
            keep = torch.rand(h.shape, device=h.device, generator=self.generator) >= self.dropout
            h = h * keep.to(h.dtype) / (1.0 - self.dropout)
        return self.classifier(F.relu(h))
