"""The NAS-Bench-201 network (Dong & Yang, ICLR 2020) in torch, built from a canonical cell string (docs/reproduction.md §3.1).

Macro skeleton of the benchmark's ``TinyNetwork`` (C=16, N=5): stem 3×3 conv + BN; three stages of 5
identical cells with 16/32/64 channels, separated by ResNet basic blocks of stride 2; BN + ReLU; global
average pooling; linear classifier. Cell edge ops: ``none`` (x·0), ``skip_connect`` (identity),
``nor_conv_1x1`` / ``nor_conv_3x3`` (ReLU-Conv-BN), ``avg_pool_3x3`` (stride 1, padding not counted).
Node i is the sum of its incoming edges; node 3 is the cell output. With ``bn=True`` the parameter count
equals the benchmark's ``params`` column (millions), for the matching number of classes.

``bn=False`` removes every BatchNorm (the copy Abdelfattah et al. use for synflow). Weights are initialised
with PyTorch's default rules from an explicit ``torch.Generator``, conv/linear layers in module order, so
the ``bn=True`` and ``bn=False`` networks of one seed share identical conv/linear weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ktnas.spaces.nb201 import EDGES, OPS, NB201Space


@dataclass(frozen=True)
class DatasetSpec:
    """Input resolution and number of classes of one NAS-Bench-201 dataset."""

    name: str
    resolution: int
    num_classes: int


#: the NB201 datasets (CIFAR-10 / CIFAR-100 / ImageNet16-120)
DATASETS: dict[str, DatasetSpec] = {
    "cifar10": DatasetSpec("cifar10", 32, 10),
    "cifar100": DatasetSpec("cifar100", 32, 100),
    "imagenet16": DatasetSpec("imagenet16", 16, 120),
}

STEM_CHANNELS = 16
CELLS_PER_STAGE = 5


def get_dataset(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown NB201 dataset {name!r}; choose one of {', '.join(DATASETS)}") from None


def _bn(c: int, bn: bool) -> nn.Module:
    return nn.BatchNorm2d(c) if bn else nn.Identity()


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, bn: bool) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
            _bn(c_out, bn),
        )


class Zero(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def _make_op(op: str, c: int, bn: bool) -> nn.Module:
    if op == "none":
        return Zero()
    if op == "skip_connect":
        return nn.Identity()
    if op == "nor_conv_1x1":
        return ReLUConvBN(c, c, 1, 1, bn)
    if op == "nor_conv_3x3":
        return ReLUConvBN(c, c, 3, 1, bn)
    if op == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise AssertionError(op)


def live_edges(genes: tuple[int, ...]) -> tuple[bool, ...]:
    """Which edges can change the cell output: not ``none``, fed from the input, and reaching node 3.

    Dropping the other edges leaves the output, and every gradient, unchanged in exact arithmetic:
    their contribution is an exact zero or never reaches node 3.
    """
    none = OPS.index("none")
    fed = [True, False, False, False]
    for (s, t), g in zip(EDGES, genes, strict=True):  # edges are ordered by target node
        if g != none and fed[s]:
            fed[t] = True
    reaches = [False, False, False, True]
    for (s, t), g in reversed(list(zip(EDGES, genes, strict=True))):
        if g != none and reaches[t]:
            reaches[s] = True
    return tuple(g != none and fed[s] and reaches[t] for (s, t), g in zip(EDGES, genes, strict=True))


class Cell(nn.Module):
    """One NB201 cell (the benchmark's ``InferCell``): edges in the order of the cell string."""

    def __init__(self, genes: tuple[int, ...], channels: int, bn: bool) -> None:
        super().__init__()
        self.edges = nn.ModuleList(_make_op(OPS[g], channels, bn) for g in genes)
        self.live = live_edges(genes)
        #: when set, only live edges are computed (same result, less work)
        self.prune = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes: list[torch.Tensor | None] = [x, None, None, None]
        for k, (s, t) in enumerate(EDGES):
            if self.prune and not self.live[k]:
                continue
            src = nodes[s]
            assert src is not None
            out = self.edges[k](src)
            prev = nodes[t]
            nodes[t] = out if prev is None else prev + out
        result = nodes[3]
        return x.mul(0.0) if result is None else result


class ResNetBasicBlock(nn.Module):
    """The stride-2 reduction block between stages."""

    def __init__(self, c_in: int, c_out: int, bn: bool) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, bn)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, bn)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, kernel_size=1, stride=1, padding=0, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class NB201Network(nn.Module):
    """The NB201 ``TinyNetwork`` for one cell; ``forward`` returns the logits."""

    def __init__(self, arch: str, num_classes: int, bn: bool = True) -> None:
        super().__init__()
        genes = NB201Space().genes(arch)
        c = STEM_CHANNELS
        self.arch = arch
        self.stem = nn.Sequential(nn.Conv2d(3, c, 3, padding=1, bias=False), _bn(c, bn))
        layers: list[nn.Module] = []
        for stage in range(3):
            if stage > 0:
                layers.append(ResNetBasicBlock(c, 2 * c, bn))
                c *= 2
            layers.extend(Cell(genes, c, bn) for _ in range(CELLS_PER_STAGE))
        self.cells = nn.ModuleList(layers)
        self.lastact = nn.Sequential(_bn(c, bn), nn.ReLU(inplace=False))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    def set_prune(self, prune: bool) -> None:
        """Skip dead cell edges in ``forward`` (see :func:`live_edges`)."""
        for m in self.cells:
            if isinstance(m, Cell):
                m.prune = prune

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feature = self.stem(x)
        for cell in self.cells:
            feature = cell(feature)
        out = self.global_pooling(self.lastact(feature))
        return self.classifier(out.flatten(1))


def weighted_layers(net: nn.Module) -> list[nn.Conv2d | nn.Linear]:
    """Conv and linear layers in module order (the layers zero-cost proxies score)."""
    return [m for m in net.modules() if isinstance(m, nn.Conv2d | nn.Linear)]


@torch.no_grad()
def init_weights(net: nn.Module, generator: torch.Generator) -> None:
    """PyTorch's default initialisation drawn from ``generator``: conv/linear weights Kaiming-uniform
    (a=√5), linear bias U(±1/√fan_in), BatchNorm γ=1, β=0."""
    for m in weighted_layers(net):
        nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
        if m.bias is not None:
            bound = 1 / math.sqrt(m.weight.shape[1])
            nn.init.uniform_(m.bias, -bound, bound, generator=generator)
    for mod in net.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.reset_parameters()


def build_network(arch: str, dataset: str, generator: torch.Generator, bn: bool = True) -> NB201Network:
    """The NB201 network of ``arch`` for ``dataset``'s classes, initialised from ``generator``."""
    spec = get_dataset(dataset)
    net = NB201Network(arch, spec.num_classes, bn=bn)
    init_weights(net, generator)
    return net


def count_parameters(net: nn.Module) -> int:
    """Number of trainable parameters (the benchmark's ``params`` × 10⁶)."""
    return sum(p.numel() for p in net.parameters())
