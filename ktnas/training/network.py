"""The retraining network of docs/reproduction.md §3.3.9 (DARTS ``NetworkCIFAR`` with the KTNAS evaluation ops).

Built from a canonical DARTS-space string (input 0 = newer); the genotype is converted to the
retraining convention (input 0 = older) by :func:`ktnas.spaces.darts.to_retrain_genotype`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ktnas.spaces.darts import RETRAIN_OPS, DartsSpace, to_retrain_genotype
from ktnas.training.ops import FactorizedReduce, ReLUConvBN, eval_op


def drop_path(x: torch.Tensor, drop_prob: float, generator: torch.Generator | None) -> torch.Tensor:
    """Zero whole samples with probability ``drop_prob``, rescale the rest (DARTS drop path)."""
    keep = 1.0 - drop_prob
    mask = torch.rand((x.shape[0], 1, 1, 1), device=x.device, generator=generator) < keep
    return x * mask.to(x.dtype) / keep


class EvalCell(nn.Module):
    """One retraining cell; ``pairs`` are (op index, input) with input 0 = older (§3.3.9)."""

    def __init__(
        self,
        pairs: Sequence[tuple[int, int]],
        concat: Sequence[int],
        c_prev_prev: int,
        c_prev: int,
        c: int,
        reduction: bool,
        reduction_prev: bool,
    ) -> None:
        super().__init__()
        self.preprocess0: nn.Module = (
            FactorizedReduce(c_prev_prev, c) if reduction_prev else ReLUConvBN(c_prev_prev, c, 1, 1, 0)
        )
        self.preprocess1 = ReLUConvBN(c_prev, c, 1, 1, 0)
        self.ops = nn.ModuleList(eval_op(o, c, 2 if reduction and i < 2 else 1) for o, i in pairs)
        self.indices = [i for _, i in pairs]
        self.concat = list(concat)
        self.multiplier = len(concat)

    def forward(
        self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float, generator: torch.Generator | None
    ) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for n in range(len(self.ops) // 2):
            hs = []
            for j in (2 * n, 2 * n + 1):
                op = self.ops[j]
                h = op(states[self.indices[j]])
                if self.training and drop_prob > 0.0 and not isinstance(op, nn.Identity):
                    h = drop_path(h, drop_prob, generator)
                hs.append(h)
            states.append(hs[0] + hs[1])
        return torch.cat([states[i] for i in self.concat], dim=1)


class AuxiliaryHead(nn.Module):
    """DARTS CIFAR auxiliary head (expects 8×8 input; smaller inputs are pooled adaptively to 2×2)."""

    def __init__(self, c: int, num_classes: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(c, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(),
            nn.Conv2d(128, 768, 2, bias=False),
            nn.BatchNorm2d(768),
            nn.ReLU(),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(x)
        if x.shape[-1] >= 8:
            x = F.avg_pool2d(x, 5, stride=3, padding=0, count_include_pad=False)
        else:
            x = F.adaptive_avg_pool2d(x, 2)
        return self.classifier(self.conv(x).flatten(1))


class EvalNetwork(nn.Module):
    """Spec §3.3.9: stem 3C, ``layers`` cells with reductions at layers//3 and 2·layers//3, auxiliary
    head after the second reduction. ``forward`` returns (logits, aux logits or None)."""

    def __init__(
        self, arch: str, channels: int, num_classes: int, layers: int = 11, auxiliary: bool = True
    ) -> None:
        super().__init__()
        geno = to_retrain_genotype(DartsSpace().genes(arch))
        self.arch = DartsSpace().canonical(arch)
        self.layers = layers
        self.drop_path_prob = 0.0
        self.generator: torch.Generator | None = None
        c_curr = 3 * channels
        self.stem = nn.Sequential(nn.Conv2d(3, c_curr, 3, padding=1, bias=False), nn.BatchNorm2d(c_curr))
        c_pp, c_p, c_curr = c_curr, c_curr, channels
        self.reductions = (layers // 3, 2 * layers // 3)
        self.cells = nn.ModuleList()
        reduction_prev = False
        c_aux = c_p
        for i in range(layers):
            reduction = i in self.reductions
            if reduction:
                c_curr *= 2
            kind = "reduce" if reduction else "normal"
            pairs = [(RETRAIN_OPS.index(o), j) for o, j in geno[kind]]  # type: ignore[misc]
            concat: list[int] = geno[f"{kind}_concat"]  # type: ignore[assignment]
            cell = EvalCell(pairs, concat, c_pp, c_p, c_curr, reduction, reduction_prev)
            self.cells.append(cell)
            reduction_prev = reduction
            c_pp, c_p = c_p, cell.multiplier * c_curr
            if i == self.reductions[1]:
                c_aux = c_p
        self.auxiliary_head = AuxiliaryHead(c_aux, num_classes) if auxiliary else None
        self.classifier = nn.Linear(c_p, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        aux = None
        s0 = s1 = self.stem(x)
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob, self.generator)
            if i == self.reductions[1] and self.auxiliary_head is not None and self.training:
                aux = self.auxiliary_head(s1)
        return self.classifier(s1.mean(dim=(2, 3))), aux


def count_params(model: nn.Module) -> int:
    """Number of parameters, the auxiliary head excluded (as reported in the paper, docs/reproduction.md §3.3.9)."""
    return sum(p.numel() for n, p in model.named_parameters() if not n.startswith("auxiliary_head."))
