"""GCN neural predictor (Wen et al., ECCV 2020) for the Trans101 low-fidelity search and the ``gcn``
baseline (docs/reproduction.md §3.2.2, D37).

The model is :class:`GCN`, a plain ``torch.nn.Module``: three graph-convolution layers (hidden 64) over
the op-as-vertex graph of a cell (``CellSpace.adjacency_ops``: adjacency plus one-hot ops), propagating
along the edges and against them (averaged, as in Wen et al.), mean pooling over vertices and a two-layer
MLP give one score. Training: MSE on standardised targets, ``torch.optim.Adam`` lr 1e-3, 200 full-batch
epochs, retrained from scratch at every :meth:`GCNPredictor.fit`. :class:`GCN` trained by autograd is the
reference.

The fast path (:data:`FAST_PATH`, on by default) computes the same floats with less overhead: the
predictors of one :func:`fit_many` call are trained as one stacked model (:func:`_train`), whose
gradients and Adam update are written out by hand with the kernels that autograd and ``torch.optim.Adam``
call, and predictions run in cache-sized chunks (:class:`_Forward`). It starts from the parameters of a
:class:`GCN` and writes its result back into it. tests/test_gcn.py checks, bit for bit, that it equals the
reference on the shapes the searches use.

To change the model, edit :class:`GCN` and set :data:`FAST_PATH` to ``False``: the hand-written path
knows only the stock architecture, and tests/test_gcn.py fails while it is on and no longer matches.
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


class CellGraphs:
    """Memoised predictor inputs of a :class:`CellSpace`'s cells: per cell, 0.5 * [forward | backward]
    normalised adjacency (V, 2V) and one-hot ops (V, F), float32 (training relies on one-hot rows).

    One instance can serve every predictor of a search, so each cell is parsed and normalised once (and
    each distinct adjacency matrix normalised once: in NB201 and Trans101 all cells share one). The most
    recent batch is kept too, so predicting the same list of cells again (the whole space, every round
    of a search) costs no encoding. Normalising one cell or a batch gives the same floats (sums of 0/1
    entries are exact).
    """

    def __init__(self, space: CellSpace) -> None:
        self.space = space
        self._cells: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self._propagation: dict[bytes, torch.Tensor] = {}
        self._last: tuple[list[str], tuple[torch.Tensor, torch.Tensor]] | None = None

    def _cell(self, arch: str) -> tuple[torch.Tensor, torch.Tensor]:
        cell = self._cells.get(arch)
        if cell is None:
            a, f = self.space.adjacency_ops(self.space.canonical(arch))
            if not (np.isin(f, (0, 1)).all() and (f.sum(axis=1) == 1).all()):
                raise ValueError(
                    f"{type(self.space).__name__}.adjacency_ops: vertex features must be one-hot"
                )
            key = a.tobytes()
            both = self._propagation.get(key)
            if both is None:
                adj = torch.from_numpy(a[None]).float()
                both = 0.5 * torch.cat([_normalise(adj), _normalise(adj.transpose(1, 2))], dim=2)[0]
                self._propagation[key] = both
            cell = self._cells[arch] = (both, torch.from_numpy(f).float())
        return cell

    def batch(self, archs: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, V, 2V) propagation matrices and (B, V, F) vertex features of ``archs`` (do not modify)."""
        if self._last is not None and self._last[0] == archs:
            return self._last[1]
        cells = [self._cell(a) for a in archs]
        out = torch.stack([c[0] for c in cells]), torch.stack([c[1] for c in cells])
        self._last = (list(archs), out)
        return out


_SHARED: dict[tuple[type, str], CellGraphs] = {}


def shared_graphs(space: CellSpace) -> CellGraphs:
    """The process's one :class:`CellGraphs` of ``space``'s kind (its class and name), so that the searches
    of a job (tasks and seeds) encode each cell once; encodings are deterministic, so sharing changes no
    float."""
    key = (type(space), space.name)
    graphs = _SHARED.get(key)
    if graphs is None:
        graphs = _SHARED[key] = CellGraphs(space)
    return graphs


#: Train and predict with the hand-written kernels (:func:`_train`, :class:`_Forward`) instead of autograd
#: on :class:`GCN`; the floats are the same (tests/test_gcn.py). Set to ``False`` after editing :class:`GCN`.
FAST_PATH = True


def _glorot(
    fan_in: int, fan_out: int, generator: torch.Generator | None, copies: int = 1
) -> torch.nn.Parameter:
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    return torch.nn.Parameter((torch.rand(fan_in, copies * fan_out, generator=generator) * 2 - 1) * bound)


class GraphConv(torch.nn.Module):
    """relu(A [h W_forward | h W_backward] + b): with A = 0.5 * [forward | backward] normalised adjacency
    (V, 2V), the average of the propagations along and against the edges (Wen et al.)."""

    def __init__(self, fan_in: int, hidden: int, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.weight = _glorot(fan_in, hidden, generator, copies=2)  # [W_forward | W_backward]
        self.bias = torch.nn.Parameter(torch.zeros(hidden))

    def forward(self, adj: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        b, v, _ = h.shape
        hw = (h @ self.weight).view(b, v, 2, -1).transpose(1, 2).reshape(b, 2 * v, -1)
        return torch.relu(adj @ hw + self.bias)


class Readout(torch.nn.Module):
    """The mean over vertices, then a two-layer MLP: relu(h W1 + b1) W2 + b2, one score per cell."""

    def __init__(self, hidden: int, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.w1, self.b1 = _glorot(hidden, hidden, generator), torch.nn.Parameter(torch.zeros(hidden))
        self.w2, self.b2 = _glorot(hidden, 1, generator), torch.nn.Parameter(torch.zeros(1))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return (torch.relu(h.mean(dim=1) @ self.w1 + self.b1) @ self.w2 + self.b2).squeeze(-1)


class GCN(torch.nn.Module):
    """The GCN predictor's model (docs/reproduction.md §3.2.2): ``layers`` :class:`GraphConv` layers, then a
    :class:`Readout`. Glorot-uniform weights drawn from ``generator`` layer by layer, zero biases.

    ``forward(adj, x)``: ``adj`` (B, V, 2V) propagation matrices and ``x`` (B, V, F) one-hot ops, as
    :meth:`CellGraphs.batch` gives them; returns (B,) scores. ``parameters()`` lists each layer's weight
    and bias in order, the fast path's layout.
    """

    def __init__(
        self, n_features: int, hidden: int = 64, layers: int = 3, generator: torch.Generator | None = None
    ) -> None:
        super().__init__()
        widths = [n_features] + [hidden] * layers
        self.convs = torch.nn.ModuleList(GraphConv(widths[k], hidden, generator) for k in range(layers))
        self.readout = Readout(hidden, generator)

    def forward(self, adj: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        h = x
        for conv in self.convs:
            h = conv(adj, h)
        return self.readout(h)


def train_reference(
    model: GCN, adj: torch.Tensor, x: torch.Tensor, t: torch.Tensor, epochs: int, lr: float
) -> None:
    """Full-batch training of ``model`` on targets ``t`` (B,): MSE, autograd and ``torch.optim.Adam``."""
    opt = torch.optim.Adam(model.parameters(), lr=lr, foreach=True)
    for _ in range(epochs):
        opt.zero_grad()
        torch.mean((model(adj, x) - t) ** 2).backward()
        opt.step()


class GCNPredictor:
    """Per-task GCN predictor: ``fit(archs, y)`` then ``predict(archs)`` (docs/reproduction.md §3.2.2, D37).

    ``seed`` makes every fit reproducible: an ``int`` seeds a fresh generator at each fit (same data →
    same model); a ``torch.Generator`` or ``numpy.random.Generator`` is advanced, so successive fits
    differ but a whole run stays reproducible. After a fit, :attr:`model` is the trained :class:`GCN`.

    ``device`` (e.g. ``"cuda"``) trains and predicts there, initial weights still drawn on the CPU. The
    searches keep the CPU (docs/reproduction.md §3.2.2): their results must not depend on the machine, and on a
    GPU the floats differ in the last bits.
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
        graphs: CellGraphs | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        if not isinstance(seed, int | torch.Generator | np.random.Generator):
            raise ValueError(f"seed must be an int, torch.Generator or numpy Generator, got {seed!r}")
        if hidden < 1 or layers < 1 or epochs < 1 or lr <= 0:
            raise ValueError(
                f"GCNPredictor: hidden={hidden}, layers={layers}, epochs={epochs} must be >= 1 and lr={lr} > 0"
            )
        if graphs is not None and space is not None and graphs.space is not space:
            raise ValueError("GCNPredictor: pass space= or graphs= (whose .space is used), not two spaces")
        self.seed = seed
        self.space: CellSpace = (
            graphs.space if graphs is not None else space if space is not None else Trans101Space()
        )
        self.hidden, self.layers, self.epochs, self.lr = hidden, layers, epochs, lr
        self.device = torch.device(device)
        self._graphs = graphs if graphs is not None else CellGraphs(self.space)
        self.model: GCN | None = None
        self._y_mean, self._y_std = 0.0, 1.0

    def _generator(self) -> torch.Generator:
        if isinstance(self.seed, torch.Generator):
            return self.seed
        if isinstance(self.seed, np.random.Generator):
            return torch.Generator().manual_seed(int(self.seed.integers(2**63 - 1)))
        return torch.Generator().manual_seed(self.seed)

    def fit(self, archs: Sequence[str], y: Sequence[float] | np.ndarray) -> GCNPredictor:
        """Train from scratch on (architecture, metric) pairs; ``y`` higher-is-better or not, as given."""
        fit_many([self], [(archs, y)])
        return self

    def predict(self, archs: Sequence[str]) -> np.ndarray:
        """Predicted metric (in the unit of the ``y`` given to :meth:`fit`) for each architecture.

        On the fast path, cells go through the model in chunks of :data:`PREDICT_CHUNK`, so that the work
        buffers stay in the CPU's cache; a cell's score is the reference's (tests check it bit for bit).
        """
        if self.model is None:
            raise ValueError("GCNPredictor.predict called before fit")
        if len(archs) == 0:
            return np.zeros(0)
        with _single_thread(), torch.no_grad():
            adj, x = self._graphs.batch(archs)
            adj, x = adj.to(self.device), x.to(self.device)
            if FAST_PATH:
                params = [p.view(1, -1, p.shape[-1]) for p in self.model.parameters()]
                chunk = min(len(archs), PREDICT_CHUNK)
                work = _Forward(params, 1, chunk, x.shape[1], self.layers, self.device)
                rows = x.argmax(dim=-1)
                scores = torch.empty(len(archs), device=self.device)
                for start in range(0, len(archs), chunk):
                    end = min(start + chunk, len(archs))
                    scores[start:end] = work.run(adj[start:end], work.lookup(rows[start:end]))[2].view(-1)
            else:
                scores = self.model(adj, x)
            out = scores.double().cpu().numpy()
        return out * self._y_std + self._y_mean


#: cells per chunk of a fast-path prediction
PREDICT_CHUNK = 512


class _Forward:
    """The forward pass of P stacked predictors with parameters ``params``, each on its own B cells of V
    vertices, into work buffers allocated once and reused (at most ``capacity`` cells per predictor); the
    buffers' views for a batch size are made once too, so that an epoch of training calls kernels only.

    Per layer, relu(A (h W) + b) with A = 0.5 * [forward | backward] normalised adjacency and
    W = [W_forward | W_backward] (the average of the two propagations, as in Wen et al.); then the mean
    over vertices and a two-layer MLP. Weights are stacked per predictor, (P, in, out), biases (P, 1, out).
    Every product is one GEMM per predictor of the shape a lone predictor has, and the (B, H) @ (H, 1) output
    layer stays one product per predictor (batched, it would take another kernel), so a predictor's floats
    do not depend on P. The first layer's product with one-hot vertex features is a row look-up of its
    weights (:meth:`lookup`: each vertex's op index): one product equal to 1, the others 0, so the GEMM's
    sum is that weight exactly.
    """

    def __init__(
        self, params: Sequence[torch.Tensor], p: int, capacity: int, v: int, layers: int, device: torch.device
    ) -> None:
        self.params, self.p, self.v, self.layers = params, p, v, layers
        self.hidden = hid = params[1].shape[-1]
        size = p * capacity * v * hid
        self._hw, self._both = torch.empty(2 * size, device=device), torch.empty(2 * size, device=device)
        self._prop = torch.empty(size, device=device)
        self._z = [torch.empty(size, device=device) for _ in range(layers)]
        self._head = torch.empty(p * capacity * (2 * hid + 1), device=device)
        self._first = params[0].reshape(-1, 2 * hid)  # (P * F, 2H): predictor i's rows at i * F
        self._offsets = params[0].shape[1] * torch.arange(p, device=device)[:, None]
        self._w2 = [params[2 * layers + 2][i] for i in range(p)]
        self._views: dict[int, _Views] = {}

    def lookup(self, rows: torch.Tensor) -> torch.Tensor:
        """Rows of the stacked first-layer weights that ``rows`` ((P * B, V) op indices) pick, flat."""
        return (rows.view(self.p, -1) + self._offsets).view(-1)

    def views(self, n: int) -> _Views:
        """The buffers' views for ``n`` = P * B cells (made at the first call with ``n``)."""
        if n not in self._views:
            self._views[n] = _Views(self, n)
        return self._views[n]

    def run(self, adj: torch.Tensor, lookup: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(pooled (P, B, H), hidden MLP layer r (P, B, H), scores (P, B, 1)) for ``adj`` (P * B, V, 2V)
        and ``lookup`` (:meth:`lookup` of the cells' op indices); the post-relu layer outputs stay in
        :attr:`_Views.z`. The returned tensors are work buffers, overwritten by the next call."""
        s = self.views(adj.shape[0])
        params = self.params
        h = s.hw  # (the first layer reads no h)
        for k in range(self.layers):
            if k == 0:
                torch.index_select(self._first, 0, lookup, out=s.hw_rows)
            else:
                torch.bmm(h, params[2 * k], out=s.hw)
            s.both.copy_(s.hw_by_direction)
            torch.bmm(adj, s.both_flat, out=s.prop)
            h = torch.add(s.prop_by_predictor, params[2 * k + 1], out=s.z[k])
            h.relu_()
        torch.mean(s.last_by_vertex, dim=2, out=s.pooled)
        torch.bmm(s.pooled, params[2 * self.layers], out=s.r)
        s.r.add_(params[2 * self.layers + 1]).relu_()
        for i in range(self.p):
            torch.mm(s.r_each[i], self._w2[i], out=s.out_each[i])
        s.out.add_(params[2 * self.layers + 3])
        return s.pooled, s.r, s.out


class _Views:
    """Views of a :class:`_Forward`'s buffers for one number of cells ``n`` = P * B."""

    def __init__(self, fw: _Forward, n: int) -> None:
        p, v, hid = fw.p, fw.v, fw.hidden
        b = n // p
        self.hw = fw._hw[: n * v * 2 * hid].view(p, b * v, 2 * hid)
        self.hw_rows = self.hw.view(n * v, 2 * hid)
        self.hw_by_direction = self.hw.view(n, v, 2, hid).transpose(1, 2)
        self.both = fw._both[: n * v * 2 * hid].view(n, 2, v, hid)
        self.both_flat = self.both.view(n, 2 * v, hid)
        self.prop = fw._prop[: n * v * hid].view(n, v, hid)
        self.prop_by_predictor = self.prop.view(p, b * v, hid)
        self.z = [z[: n * v * hid].view(p, b * v, hid) for z in fw._z]
        self.last_by_vertex = self.z[-1].view(p, b, v, hid)
        head = fw._head[: n * (2 * hid + 1)]
        self.pooled = head[: n * hid].view(p, b, hid)
        self.r = head[n * hid : 2 * n * hid].view(p, b, hid)
        self.out = head[2 * n * hid :].view(p, b, 1)
        self.r_each = [self.r[i] for i in range(p)]
        self.out_each = [self.out[i] for i in range(p)]


def fit_many(
    predictors: Sequence[GCNPredictor], data: Sequence[tuple[Sequence[str], Sequence[float] | np.ndarray]]
) -> None:
    """Fit ``predictors[i]`` on ``data[i]`` = (architectures, targets), each from scratch, as
    :meth:`GCNPredictor.fit` would one after the other: initial weights are drawn in the order of
    ``predictors``, so predictors that share a generator draw what sequential fits would.

    On the fast path, predictors with the same hyper-parameters, cell encoding and training-set size are
    trained together as one model with stacked weights: one kernel per operation for the group instead of
    one per predictor (at these sizes about half of a fit is per-operation overhead). Each keeps its own
    initialisation, targets and Adam state, and the floats of a lone fit: every batched product is one GEMM
    per predictor of the same shape, reductions run over the same elements in the same order, and no
    padding enters a sum.
    """
    if len(predictors) != len(data):
        raise ValueError(f"fit_many: {len(predictors)} predictors but {len(data)} training sets")
    targets = []
    for archs, y in data:
        target = np.asarray(y, dtype=np.float64)
        if target.shape != (len(archs),):
            raise ValueError(f"GCNPredictor.fit: {len(archs)} archs but y has shape {target.shape}")
        if len(archs) < 2 or not np.isfinite(target).all():
            raise ValueError("GCNPredictor.fit needs at least 2 architectures with finite targets")
        targets.append(target)
    with _single_thread():
        groups: dict[tuple[object, ...], list[int]] = {}
        inputs = []
        for i, (pred, (archs, _)) in enumerate(zip(predictors, data, strict=True)):
            adj, x = pred._graphs.batch(archs)
            inputs.append((adj, x))
            model = GCN(x.shape[-1], pred.hidden, pred.layers, pred._generator())
            pred.model = model.to(pred.device)
            key = (tuple(x.shape), pred.hidden, pred.layers, pred.epochs, pred.lr, pred.device)
            groups.setdefault(key, []).append(i)
        if not FAST_PATH:
            for pred, (adj, x), target in zip(predictors, inputs, targets, strict=True):
                assert pred.model is not None
                t = _standardise([pred], [target])[0].to(pred.device)
                train_reference(pred.model, adj.to(pred.device), x.to(pred.device), t, pred.epochs, pred.lr)
            return
        for members in groups.values():
            _train(
                [predictors[i] for i in members],
                [inputs[i] for i in members],
                [targets[i] for i in members],
            )


# 2**-120: sqrt(2**-120) / sqrt(1 - 0.999) = 2.7e-17, under half the float32 spacing at Adam's eps = 1e-8
# (2**-51 = 4.4e-16); so is the quotient of any smaller v
_SQRT_FLOOR = 2.0**-120


def _standardise(predictors: Sequence[GCNPredictor], targets: Sequence[np.ndarray]) -> torch.Tensor:
    """(P, B) float32 standardised targets; each predictor keeps its targets' mean and std (1 if constant)."""
    ts = []
    for pred, target in zip(predictors, targets, strict=True):
        pred._y_mean = float(target.mean())
        pred._y_std = float(target.std()) or 1.0
        ts.append(torch.from_numpy((target - pred._y_mean) / pred._y_std).float())
    return torch.stack(ts)


def _flat_parameters(
    models: Sequence[GCN], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    """The P models' parameters stacked into one flat tensor, a flat gradient buffer of the same size, and
    per-parameter (P, in, out) views of both."""
    p = len(models)
    inits = zip(*(m.parameters() for m in models), strict=True)
    stacked = [torch.stack([q.detach() for q in ps]).view(p, -1, ps[0].shape[-1]) for ps in inits]
    flat = torch.cat([s.reshape(-1) for s in stacked]).to(device)
    grad = torch.empty_like(flat)
    params, grads, offset = [], [], 0
    for s in stacked:
        params.append(flat[offset : offset + s.numel()].view(s.shape))
        grads.append(grad[offset : offset + s.numel()].view(s.shape))
        offset += s.numel()
    return flat, grad, params, grads


def _train(
    predictors: Sequence[GCNPredictor],
    inputs: Sequence[tuple[torch.Tensor, torch.Tensor]],
    targets: Sequence[np.ndarray],
) -> None:
    """Full-batch training of P predictors of one model and training-set size, as one stacked model.

    The gradients are written out by hand: each is the kernel call that autograd makes for the forward
    pass (:class:`_Forward`) followed by ``mean(...).sum()`` (the same operands, shapes and order), so
    the floats are those of :func:`train_reference` (tests/test_gcn.py checks it bit for bit), without autograd's graph, its temporaries or the reorder copies it makes. Work
    buffers are allocated once per call and written in place; all parameters, gradients and Adam moments
    live in one flat tensor each, so an Adam step is six kernels; the transposed adjacency of the backward
    pass is stored contiguous.
    """
    model = predictors[0]
    layers, hid, device = model.layers, model.hidden, model.device
    t = _standardise(predictors, targets).to(device)
    adj = torch.cat([a for a, _ in inputs]).to(device)
    adj_t = adj.transpose(1, 2).contiguous()
    x = torch.stack([x for _, x in inputs]).to(device)
    p, b, v, f = x.shape
    rows = x.view(p * b, v, f).argmax(dim=-1)
    n = p * b
    x0 = x.view(p, b * v, f)

    # parameters, gradients and Adam moments: one flat tensor each, per-parameter (P, in, out) views
    models = [pred.model for pred in predictors if pred.model is not None]
    flat, grad, params, grads = _flat_parameters(models, device)
    exp_avg, exp_avg_sq, denom = torch.zeros_like(flat), torch.zeros_like(flat), torch.empty_like(flat)
    w1, w2 = params[2 * layers], params[2 * layers + 2]
    gw1, gb1, gw2, gb2 = grads[2 * layers :]

    forward = _Forward(params, p, b, v, layers, device)
    lookup = forward.lookup(rows)
    fw = forward.views(n)
    pooled, r, out, z = fw.pooled, fw.r, fw.out, fw.z
    # gradient buffers, and every view the loop needs, made once
    g_h, g_z = torch.empty(p, b * v, hid, device=device), torch.empty(p, b * v, hid, device=device)
    g_prop, g_hw = torch.empty(n, 2 * v, hid, device=device), torch.empty(p, b * v, 2 * hid, device=device)
    g_r, g_pooled = torch.empty(p, b, hid, device=device), torch.empty(p, b, hid, device=device)
    g_out = torch.empty(p, b, 1, device=device)
    g_out_flat, out_flat = g_out.view(p, b), out.view(p, b)
    g_out_each, r_t_each = [g_out[i] for i in range(p)], [r[i].t() for i in range(p)]
    pooled_t, w1_t, w2_t = pooled.transpose(1, 2), w1.transpose(1, 2), w2.transpose(1, 2)
    g_pooled_by_vertex, g_h_by_vertex = g_pooled.unsqueeze(2).expand(p, b, v, hid), g_h.view(p, b, v, hid)
    g_z_flat = g_z.view(n, v, hid)
    g_prop_by_vertex, g_hw_by_direction = g_prop.view(n, 2, v, hid).transpose(1, 2), g_hw.view(n, v, 2, hid)
    inputs_t = [(z[k - 1] if k else x0).transpose(1, 2) for k in range(layers)]
    weights_t = [params[2 * k].transpose(1, 2) for k in range(layers)]
    g_out_scale = torch.full((p, b), 1.0, device=device) / b  # d mean / d element, as autograd makes it
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for step in range(1, model.epochs + 1):
        forward.run(adj, lookup)  # into pooled, r, out and z
        # backward of loss = sum over predictors of mean((out - t) ** 2): d = scale * (2 * (out - t))
        torch.sub(out_flat, t, out=g_out_flat).mul_(2).mul_(g_out_scale)
        torch.sum(g_out, dim=1, keepdim=True, out=gb2)
        torch.mul(g_out, w2_t, out=g_r)  # autograd's (B, 1) @ (1, H): one product per entry
        for i in range(p):
            torch.mm(r_t_each[i], g_out_each[i], out=gw2[i])
        torch.ops.aten.threshold_backward.grad_input(g_r, r, 0, grad_input=g_r)
        torch.sum(g_r, dim=1, keepdim=True, out=gb1)
        torch.bmm(pooled_t, g_r, out=gw1)
        torch.bmm(g_r, w1_t, out=g_pooled)
        torch.div(g_pooled_by_vertex, v, out=g_h_by_vertex)
        for k in reversed(range(layers)):
            torch.ops.aten.threshold_backward.grad_input(g_h, z[k], 0, grad_input=g_z)
            torch.sum(g_z, dim=1, keepdim=True, out=grads[2 * k + 1])
            torch.bmm(adj_t, g_z_flat, out=g_prop)
            g_hw_by_direction.copy_(g_prop_by_vertex)
            torch.bmm(inputs_t[k], g_hw, out=grads[2 * k])
            if k:
                torch.bmm(g_hw, weights_t[k], out=g_h)
        # Adam (torch.optim.Adam's defaults and arithmetic, elementwise on the flat tensors)
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        step_size = (model.lr / (1 - beta1 ** float(step))) * -1
        # sqrt(v) / sqrt(1 - beta2^step) + eps, with v raised to at least _SQRT_FLOOR first: the same floats
        # (below the floor the quotient is under half a unit in the last place of eps, so the sum rounds to
        # eps either way), but no exact zeros (dead units) or subnormals, on which torch's sqrt is ~20x slower
        torch.clamp_min(exp_avg_sq, _SQRT_FLOOR, out=denom)
        torch.sqrt(denom, out=denom).div_((1 - beta2 ** float(step)) ** 0.5).add_(eps)
        flat.addcdiv_(exp_avg, denom, value=step_size)
    with torch.no_grad():
        for i, trained in enumerate(models):
            for q, mine in zip(params, trained.parameters(), strict=True):
                mine.copy_(q[i].view(mine.shape))
