"""GCN neural predictor (Wen et al., ECCV 2020) for the Trans101 low-fidelity search (docs/method.md §6.2.3).

Input: the op-as-vertex graph of a cell (``CellSpace.adjacency_ops``: adjacency plus one-hot ops).
Three graph-convolution layers (hidden 64) propagate along the edges and against them (averaged, as in
Wen et al.), then mean pooling over vertices and a two-layer MLP give one score. Training: MSE on
standardised targets, Adam lr 1e-3, 200 full-batch epochs, retrained from scratch at every :meth:`fit`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from ktnas.spaces.nb201 import CellSpace
from ktnas.spaces.trans101 import Trans101Space


@contextlib.contextmanager
def _single_thread() -> Iterator[None]:
    """Tiny dense matmuls: one thread is fastest and keeps results independent of the core count."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _normalise(adj: torch.Tensor) -> torch.Tensor:
    """Row-normalised adjacency with self loops, batched (B, V, V)."""
    a = adj + torch.eye(adj.shape[-1], dtype=adj.dtype)
    return a / a.sum(dim=-1, keepdim=True)


class GCNPredictor:
    """Per-task GCN predictor: ``fit(archs, y)`` then ``predict(archs)`` (docs/method.md §6.2.3).

    ``seed`` makes every fit reproducible: an ``int`` seeds a fresh generator at each fit (same data →
    same model); a ``torch.Generator`` or ``numpy.random.Generator`` is advanced, so successive fits
    differ but a whole run stays reproducible.
    """

    def __init__(
        self,
        seed: int | torch.Generator | np.random.Generator = 0,
        *,
        space: CellSpace | None = None,
        hidden: int = 64,
        layers: int = 3,
        epochs: int = 200,
        lr: float = 1e-3,
    ) -> None:
        if not isinstance(seed, int | torch.Generator | np.random.Generator):
            raise ValueError(f"seed must be an int, torch.Generator or numpy Generator, got {seed!r}")
        if hidden < 1 or layers < 1 or epochs < 1 or lr <= 0:
            raise ValueError(
                f"GCNPredictor: hidden={hidden}, layers={layers}, epochs={epochs} must be >= 1 and lr={lr} > 0"
            )
        self.seed = seed
        self.space: CellSpace = space if space is not None else Trans101Space()
        self.hidden, self.layers, self.epochs, self.lr = hidden, layers, epochs, lr
        self._features: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._params: list[torch.Tensor] | None = None
        self._y_mean, self._y_std = 0.0, 1.0

    # -- inputs ----------------------------------------------------------------------------------
    def _encode(self, archs: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        adjs, feats = [], []
        for arch in archs:
            if arch not in self._features:
                self._features[arch] = self.space.adjacency_ops(self.space.canonical(arch))
            a, f = self._features[arch]
            adjs.append(a)
            feats.append(f)
        adj = torch.from_numpy(np.stack(adjs)).float()
        both = 0.5 * torch.cat([_normalise(adj), _normalise(adj.transpose(1, 2))], dim=2)
        return both, torch.from_numpy(np.stack(feats)).float()

    def _generator(self) -> torch.Generator:
        if isinstance(self.seed, torch.Generator):
            return self.seed
        if isinstance(self.seed, np.random.Generator):
            return torch.Generator().manual_seed(int(self.seed.integers(2**63 - 1)))
        return torch.Generator().manual_seed(self.seed)

    # -- model -----------------------------------------------------------------------------------
    def _init_params(self, n_features: int, gen: torch.Generator) -> list[torch.Tensor]:
        """Glorot-uniform weights, zero biases; each layer's [W_forward | W_backward] is one matrix."""

        def glorot(fan_in: int, fan_out: int, copies: int = 1) -> torch.Tensor:
            bound = math.sqrt(6.0 / (fan_in + fan_out))
            w = (torch.rand(fan_in, copies * fan_out, generator=gen) * 2 - 1) * bound
            return w.requires_grad_()

        params: list[torch.Tensor] = []
        width = n_features
        for _ in range(self.layers):
            params += [glorot(width, self.hidden, copies=2), torch.zeros(self.hidden, requires_grad=True)]
            width = self.hidden
        params += [glorot(width, self.hidden), torch.zeros(self.hidden, requires_grad=True)]
        params += [glorot(self.hidden, 1), torch.zeros(1, requires_grad=True)]
        return params

    def _forward(self, params: list[torch.Tensor], adj: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``adj`` is (B, V, 2V) = 0.5 * [forward | backward] normalised adjacency: one matmul per layer
        computes the average of the two propagations."""
        b, v = x.shape[0], x.shape[1]
        h = x
        for k in range(self.layers):
            w, bias = params[2 * k : 2 * k + 2]
            hw = (h @ w).view(b, v, 2, self.hidden).transpose(1, 2).reshape(b, 2 * v, self.hidden)
            h = torch.relu(adj @ hw + bias)
        w1, b1, w2, b2 = params[2 * self.layers :]
        return (torch.relu(h.mean(dim=1) @ w1 + b1) @ w2 + b2).squeeze(-1)

    # -- public ----------------------------------------------------------------------------------
    def fit(self, archs: Sequence[str], y: Sequence[float] | np.ndarray) -> GCNPredictor:
        """Train from scratch on (architecture, metric) pairs; ``y`` higher-is-better or not, as given."""
        target = np.asarray(y, dtype=np.float64)
        if target.shape != (len(archs),):
            raise ValueError(f"GCNPredictor.fit: {len(archs)} archs but y has shape {target.shape}")
        if len(archs) < 2 or not np.isfinite(target).all():
            raise ValueError("GCNPredictor.fit needs at least 2 architectures with finite targets")
        self._y_mean = float(target.mean())
        self._y_std = float(target.std()) or 1.0
        with _single_thread():
            adj, x = self._encode(archs)
            t = torch.from_numpy((target - self._y_mean) / self._y_std).float()
            params = self._init_params(x.shape[-1], self._generator())
            opt = torch.optim.Adam(params, lr=self.lr, foreach=True)
            for _ in range(self.epochs):
                opt.zero_grad()
                loss = torch.mean((self._forward(params, adj, x) - t) ** 2)
                loss.backward()
                opt.step()
        self._params = [p.detach() for p in params]
        return self

    def predict(self, archs: Sequence[str]) -> np.ndarray:
        """Predicted metric (in the unit of the ``y`` given to :meth:`fit`) for each architecture."""
        if self._params is None:
            raise ValueError("GCNPredictor.predict called before fit")
        if len(archs) == 0:
            return np.zeros(0)
        with _single_thread(), torch.no_grad():
            adj, x = self._encode(archs)
            out = self._forward(self._params, adj, x).double().numpy()
        return out * self._y_std + self._y_mean
