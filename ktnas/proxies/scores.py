"""Zero-cost proxies of NAS-Bench-201 cells at initialisation (docs/reproduction.md §3.1.2).

- ``synflow`` (Tanaka et al. 2020, as scored by Abdelfattah et al. 2021): the network without BatchNorm,
  float64, every parameter replaced by its absolute value, input one all-ones image; score
  Σ |θ ⊙ ∂R/∂θ| over conv and linear weights, R = sum of the logits. Data-free.
- ``nwot`` (NASWOT, Mellor et al. 2021): log|det K| with K_ij = Σ over ReLU units of [code_i = code_j],
  code = (ReLU input > 0), over every ReLU of the network, on the batch (train-mode BatchNorm).
- ``snip``: Σ |θ ⊙ ∂L/∂θ| and ``grad_norm``: Σ ‖∂L/∂θ‖₂ over conv and linear weights, L = cross-entropy
  of the batch (train-mode BatchNorm).

The batch is fixed per (seed, dataset): 64 standard-normal images of the dataset's size with uniform
random labels. Weights are initialised per cell from (seed, NB201 index), identically for every proxy
and dataset (up to the classifier's size). Non-finite scores are returned as NaN.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ktnas.proxies.nb201_net import NB201Network, build_network, get_dataset, weighted_layers
from ktnas.proxies.table import BATCH_PROXIES, DATASET_NAMES, canonical_proxies, check_dataset
from ktnas.spaces.nb201 import NB201Space

log = logging.getLogger(__name__)

BATCH_SIZE = 64
_WEIGHTS, _BATCH = 1, 2  # stream tags of the seed derivation


def _derive_seed(*entropy: int) -> int:
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def weight_generator(seed: int, index: int) -> torch.Generator:
    """The generator that initialises the weights of NB201 cell ``index``."""
    return torch.Generator().manual_seed(_derive_seed(seed, _WEIGHTS, index))


def make_batch(
    dataset: str, seed: int = 0, batch_size: int = BATCH_SIZE
) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed random batch of ``dataset``: N(0,1) images (N, 3, R, R) and uniform labels."""
    spec = get_dataset(dataset)
    g = torch.Generator().manual_seed(_derive_seed(seed, _BATCH, DATASET_NAMES.index(dataset)))
    x = torch.randn(batch_size, 3, spec.resolution, spec.resolution, generator=g)
    y = torch.randint(spec.num_classes, (batch_size,), generator=g)
    return x, y


def _finite(value: float, name: str, arch: str) -> float:
    if math.isfinite(value):
        return value
    log.debug("%s of %s is %s; recorded as NaN", name, arch, value)
    return math.nan


@contextlib.contextmanager
def _runtime(device: torch.device, threads: int | None) -> Iterator[None]:
    """Fix the thread count (CPU results depend on it) and, off CPU, ask for deterministic kernels.

    On CPU, torch's deterministic mode changed no score in our checks and costs ~35% time: not used.
    """
    prev_threads = torch.get_num_threads()
    prev_det = torch.are_deterministic_algorithms_enabled()
    if threads is not None:
        torch.set_num_threads(threads)
    if device.type != "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.set_num_threads(prev_threads)
        torch.use_deterministic_algorithms(prev_det)


def synflow(net: NB201Network, resolution: int, device: str | torch.device = "cpu") -> float:
    """SynFlow of a BatchNorm-free network (``bn=False``); modifies ``net`` (float64, |θ|)."""
    net = net.to(device=device, dtype=torch.float64)
    net.set_prune(True)  # dead edges contribute exact zeros; skipping them only saves time
    with torch.no_grad():
        for p in net.state_dict().values():
            p.abs_()
    net.zero_grad(set_to_none=True)
    x = torch.ones(1, 3, resolution, resolution, dtype=torch.float64, device=device)
    net(x).sum().backward()
    total = 0.0
    for m in weighted_layers(net):
        if m.weight.grad is not None:
            total += (m.weight.detach() * m.weight.grad).abs().sum().item()
    return _finite(total, "synflow", net.arch)


def batch_proxies(
    net: NB201Network, x: torch.Tensor, y: torch.Tensor, proxies: Sequence[str]
) -> dict[str, float]:
    """The batch proxies among ``proxies`` (nwot, snip, grad_norm) from one forward/backward pass."""
    want = set(proxies)
    net.train()
    # channels-last is ~30% faster on CPU; it is part of the definition (snip and grad_norm move by <1e-3
    # relative with the memory layout or thread count, nwot by ~1e-7, through float32 round-off)
    net = net.to(memory_format=torch.channels_last)
    x = x.contiguous(memory_format=torch.channels_last)
    n = x.shape[0]
    kernel = torch.zeros(n, n, dtype=torch.float64, device=x.device)
    hooks = []
    if "nwot" in want:

        def hook(_module: nn.Module, inputs: tuple[torch.Tensor, ...], _out: torch.Tensor) -> None:
            with torch.no_grad():
                act = inputs[0].detach()
                # units in (h, w, c) order: a view for channels-last; K does not depend on unit order
                code = (act.permute(0, 2, 3, 1) if act.dim() == 4 else act).reshape(n, -1) > 0
                code = code.to(torch.float32)
                s = code.sum(1)
                # agreements = c·c' + (1-c)·(1-c)' = 2 c·c' - |c| - |c'| + units; exact integers in fp32
                agree = 2 * (code @ code.T) - s[:, None] - s[None, :] + code.shape[1]
                kernel.add_(agree.to(torch.float64))

        hooks = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.ReLU)]
    need_grad = bool(want & {"snip", "grad_norm"})
    out: dict[str, float] = {}
    try:
        net.zero_grad(set_to_none=True)
        with torch.set_grad_enabled(need_grad):
            logits = net(x)
            if need_grad:
                F.cross_entropy(logits, y).backward()
    finally:
        for h in hooks:
            h.remove()
    if "nwot" in want:
        _sign, logdet = np.linalg.slogdet(kernel.cpu().numpy())
        out["nwot"] = _finite(float(logdet), "nwot", net.arch)
    pairs = [(m.weight.detach(), m.weight.grad) for m in weighted_layers(net) if m.weight.grad is not None]
    if "snip" in want:
        snip = sum(((w * g).abs().sum(dtype=torch.float64).item() for w, g in pairs), 0.0)
        out["snip"] = _finite(snip, "snip", net.arch)
    if "grad_norm" in want:
        gn = sum((g.norm().item() for _, g in pairs), 0.0)
        out["grad_norm"] = _finite(gn, "grad_norm", net.arch)
    return out


def score_arch(
    arch: str,
    dataset: str,
    proxies: Sequence[str],
    seed: int = 0,
    batch: tuple[torch.Tensor, torch.Tensor] | None = None,
    device: str | torch.device = "cpu",
) -> dict[str, float]:
    """All requested proxies of one canonical architecture (see :func:`compute_proxies`)."""
    space = NB201Space()
    spec = get_dataset(dataset)
    index = space.index(arch)
    scores: dict[str, float] = {}
    if "synflow" in proxies:
        net = build_network(arch, dataset, weight_generator(seed, index), bn=False)
        scores["synflow"] = synflow(net, spec.resolution, device)
    wanted = [p for p in proxies if p in BATCH_PROXIES]
    if wanted:
        x, y = batch if batch is not None else make_batch(dataset, seed)
        net = build_network(arch, dataset, weight_generator(seed, index), bn=True).to(device)
        scores.update(batch_proxies(net, x.to(device), y.to(device), wanted))
    return {p: scores[p] for p in proxies}


def compute_proxies(
    archs: Sequence[str],
    dataset: str,
    proxies: Sequence[str],
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = True,
    threads: int | None = 1,
) -> pd.DataFrame:
    """Zero-cost proxies of NB201 cells (docs/reproduction.md §3.1.2): columns arch, dataset, one per proxy.

    ``proxies`` from ``synflow``, ``nwot`` (alias ``jacov``), ``snip``, ``grad_norm``; columns carry the
    canonical names. Non-finite scores are NaN. ``threads`` fixes torch's CPU thread count for the call
    (``None`` keeps the current one): on one machine the scores are bit-identical for the same (arch,
    dataset, seed, threads); other thread counts or CPUs move snip/grad_norm by ~1e-3 relative at most.
    """
    check_dataset(dataset)
    names = canonical_proxies(proxies)
    space = NB201Space()
    canon = [space.canonical(a) for a in archs]
    batch = make_batch(dataset, seed) if any(p in BATCH_PROXIES for p in names) else None
    rows: dict[str, list[float]] = {p: [] for p in names}
    dev = torch.device(device)
    with _runtime(dev, threads):
        for arch in tqdm(canon, desc=f"proxies {dataset}", disable=None if progress else True):
            s = score_arch(arch, dataset, names, seed=seed, batch=batch, device=device)
            for p in names:
                rows[p].append(s[p])
    df = pd.DataFrame({"arch": canon, "dataset": dataset})
    for p in names:
        df[p] = np.asarray(rows[p], dtype=np.float64)
    return df
