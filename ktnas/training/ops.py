"""Candidate operations of the DARTS space, indexed as in :data:`ktnas.spaces.darts.OPS`.

The search supernet (docs/reproduction.md §3.3.1) and the retraining network (docs/reproduction.md §3.3.9) use *different* definitions of
the same nine op names: e.g. search ``Dw`` is a single separable conv, evaluation ``DW`` a double one;
search ``Dc3x3`` is effectively a 1×1 conv, evaluation ``DC3`` a dilated 3×3.
"""

from __future__ import annotations

import torch
from torch import nn

from ktnas.spaces.darts import OPS

# -- search ops (docs/reproduction.md §3.3.1) -------------------------------------------------------------------------


def _search_dw(c: int, k: int) -> nn.Module:
    return nn.Sequential(
        nn.ReLU(),
        nn.Conv2d(c, c, k, padding=(k - 1) // 2, groups=c, bias=False),
        nn.BatchNorm2d(c),
        nn.ReLU(),
        nn.Conv2d(c, c, 1, bias=False),
        nn.BatchNorm2d(c),
    )


def _search_dc(c: int, k: int, padding: int) -> nn.Module:
    return nn.Sequential(
        nn.ReLU(),
        nn.Conv2d(c, c, k, padding=padding, dilation=2, groups=c, bias=False),
        nn.Conv2d(c, c, 1, bias=False),
        nn.BatchNorm2d(c),
    )


def search_op(index: int, c: int) -> nn.Module:
    """Search-time op ``OPS[index]`` at ``c`` channels (stride 1, shape preserving)."""
    name = OPS[index]
    if name.startswith("Dw"):
        return _search_dw(c, int(name[2]))
    if name == "Dc3x3":  # kernel 1, dilation 2: effectively a 1x1 conv, as in the authors' code
        return _search_dc(c, 1, 0)
    if name == "Dc5x5":
        return _search_dc(c, 3, 2)
    if name == "Dc7x7":
        return _search_dc(c, 5, 4)
    if name == "Identity":
        return nn.Identity()
    if name == "Max3x3":
        return nn.Sequential(nn.ReLU(), nn.MaxPool2d(3, stride=1, padding=1))
    if name == "Avg3x3":
        return nn.Sequential(nn.ReLU(), nn.AvgPool2d(3, stride=1, padding=1))
    raise ValueError(f"unknown op index {index}")


# -- evaluation ops (docs/reproduction.md §3.3.9, DARTS operations) -----------------------------------------------------


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> None:
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out),
        )


class DilConv(nn.Sequential):
    def __init__(self, c: int, kernel: int, stride: int, padding: int, dilation: int) -> None:
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(c, c, kernel, stride=stride, padding=padding, dilation=dilation, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c),
        )


class SepConv(nn.Sequential):
    """DARTS double separable conv."""

    def __init__(self, c: int, kernel: int, stride: int, padding: int) -> None:
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(c, c, kernel, stride=stride, padding=padding, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU(),
            nn.Conv2d(c, c, kernel, stride=1, padding=padding, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c),
        )


class FactorizedReduce(nn.Module):
    """Halve the resolution with two offset stride-2 1×1 convs (DARTS)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        if c_out % 2:
            raise ValueError(f"FactorizedReduce needs an even channel count, got {c_out}")
        self.relu = nn.ReLU()
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


def eval_op(index: int, c: int, stride: int) -> nn.Module:
    """Retraining op ``OPS[index]`` at ``c`` channels and ``stride`` (docs/reproduction.md §3.3.9)."""
    name = OPS[index]
    if name.startswith("Dw"):
        k = int(name[2])
        return SepConv(c, k, stride, (k - 1) // 2)
    if name.startswith("Dc"):
        k = int(name[2])
        return DilConv(c, k, stride, k - 1, 2)
    if name == "Identity":
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c)
    if name == "Max3x3":
        return nn.MaxPool2d(3, stride=stride, padding=1)
    if name == "Avg3x3":
        return nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
    raise ValueError(f"unknown op index {index}")
