"""Speed of the TransNAS-Bench-101 predictor search, five code paths on the same inputs.

- ``old``: a faithful copy (below) of the code before any speed-up: ``GCNPredictor`` encoding every cell
  again in each new predictor and training through ``torch.optim.Adam(foreach=True)`` with
  ``zero_grad``/``backward``/``step``, and ``RestrictedSpace.mutate`` recomputing the edit distances to all
  allowed cells at every call and drawing with ``rng.choice``;
- ``unbatched``: the ``autograd`` predictor below, but each fit alone (the code before the tasks' fits were
  batched);
- ``autograd``: the tasks' predictors of a generation trained as one batched model
  (:func:`ktnas.predictors.gcn.fit_many`), with gradients from autograd and a ``torch._foreach_*`` Adam
  step, and ``predict`` in one pass over all cells (faithful copies below of the code before the gradients
  were written by hand);
- ``byhand``: the same batched model, gradients and Adam step written out by hand, ``predict`` in
  cache-sized chunks (faithful copies below of the code of 2098783, whose loop made its tensor views at
  every epoch and took the square roots of Adam's exact zeros);
- ``new``: the current code: the loop's views and buffers made once per fit, Adam's second moment raised to
  2**-120 before its square root (the same floats), and the mutants of a round drawn in one call
  (``RestrictedSpace.mutate_many``; the other paths draw them one ``mutate`` call at a time).

The script patches each path in, runs the same searches every way in this process (interleaved per seed,
so load on a shared machine hits all alike, after a warm-up of each), checks that the full result dicts
are identical, and prints the CPU-time ratios. The one-time cost of the first ``torch.optim`` optimizer in a
process, which only the old path pays, is printed separately. It then does the same for the predictor
alone (fit + predict on the training sets those searches used, grouped as the search fitted them) and
checks the predictions are bit-identical. Last, NAS-Bench-201's ``gcn`` baseline, old (encoding per
search, autograd training, one-pass predict) and byhand against new.

Usage: ``python scripts/predictor_speed.py [--seeds 0 1 2] [--embedding t101emb.parquet]``. With
``--embedding`` (``ktnas embed --space trans101 --method node2vec --dim 256 --seed 0 --out ...``) the
method is ``ktnas``; without, ``ktnas_random``, the same predictor evolution with random transfer.
Hyper-parameters: ``config/config.yaml`` trans101.methods.<method>.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import torch
import yaml

import ktnas.recipes.trans101 as t101
from ktnas.predictors import gcn
from ktnas.recipes import SearchPaths
from ktnas.runner import run_search
from ktnas.spaces.base import SearchSpace
from ktnas.spaces.restricted import RestrictedSpace

ROOT = Path(__file__).resolve().parents[1]
TASKS = ["class_object", "class_scene", "room_layout"]


# -- the old code path (before the speed-up), copied faithfully -------------------------------------------
class OldGCNPredictor(gcn.GCNPredictor):
    """``GCNPredictor`` as it was: per-instance encoding cache, ``torch.optim.Adam`` training loop.

    ``_generator`` is unchanged by the speed-ups and inherited; the rest is the code of then.
    """

    def __init__(self, seed: int, **kw: Any) -> None:
        super().__init__(seed, **kw)
        self._features: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def _init_params(self, n_features: int, gen: torch.Generator) -> list[torch.Tensor]:  # type: ignore[override]
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

    def _forward(self, params: Sequence[torch.Tensor], adj: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        b, v = x.shape[0], x.shape[1]
        h = x
        for k in range(self.layers):
            w, bias = params[2 * k : 2 * k + 2]
            hw = (h @ w).view(b, v, 2, self.hidden).transpose(1, 2).reshape(b, 2 * v, self.hidden)
            h = torch.relu(adj @ hw + bias)
        w1, b1, w2, b2 = params[2 * self.layers :]
        return (torch.relu(h.mean(dim=1) @ w1 + b1) @ w2 + b2).squeeze(-1)

    def _encode(self, archs: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        adjs, feats = [], []
        for arch in archs:
            if arch not in self._features:
                self._features[arch] = self.space.adjacency_ops(self.space.canonical(arch))
            a, f = self._features[arch]
            adjs.append(a)
            feats.append(f)
        adj = torch.from_numpy(np.stack(adjs)).float()
        both = 0.5 * torch.cat([gcn._normalise(adj), gcn._normalise(adj.transpose(1, 2))], dim=2)
        return both, torch.from_numpy(np.stack(feats)).float()

    def fit(self, archs: Sequence[str], y: Sequence[float] | np.ndarray) -> OldGCNPredictor:
        target = np.asarray(y, dtype=np.float64)
        if target.shape != (len(archs),):
            raise ValueError(f"GCNPredictor.fit: {len(archs)} archs but y has shape {target.shape}")
        if len(archs) < 2 or not np.isfinite(target).all():
            raise ValueError("GCNPredictor.fit needs at least 2 architectures with finite targets")
        self._y_mean = float(target.mean())
        self._y_std = float(target.std()) or 1.0
        with gcn._single_thread():
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
        if self._params is None:
            raise ValueError("GCNPredictor.predict called before fit")
        if len(archs) == 0:
            return np.zeros(0)
        with gcn._single_thread(), torch.no_grad():
            adj, x = self._encode(archs)
            out = self._forward(self._params, adj, x).double().numpy()
        return out * self._y_std + self._y_mean


def _autograd_adam_step(
    params: Sequence[torch.Tensor],
    grads: Sequence[torch.Tensor],
    exp_avgs: list[torch.Tensor],
    exp_avg_sqs: list[torch.Tensor],
    step: int,
    lr: float,
) -> None:
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    torch._foreach_lerp_(exp_avgs, list(grads), 1 - beta1)
    torch._foreach_mul_(exp_avg_sqs, beta2)
    torch._foreach_addcmul_(exp_avg_sqs, list(grads), list(grads), 1 - beta2)
    n = len(exp_avgs)
    step_size = [(lr / (1 - beta1 ** float(step))) * -1] * n
    bias_correction2_sqrt = [(1 - beta2 ** float(step)) ** 0.5] * n
    denom = torch._foreach_sqrt(exp_avg_sqs)
    torch._foreach_div_(denom, bias_correction2_sqrt)
    torch._foreach_add_(denom, eps)
    torch._foreach_addcdiv_(list(params), exp_avgs, denom, step_size)


def autograd_forward(
    model: gcn.GCNPredictor, params: Sequence[torch.Tensor], adj: torch.Tensor, x: torch.Tensor
) -> torch.Tensor:
    """``GCNPredictor._forward`` as it was: scores (P, B) of P stacked predictors."""
    p, b, v = x.shape[0], x.shape[1], x.shape[2]
    hid = model.hidden
    h = x.reshape(p, b * v, x.shape[3])
    for k in range(model.layers):
        w, bias = params[2 * k : 2 * k + 2]
        hw = torch.bmm(h, w).view(p * b, v, 2, hid).transpose(1, 2).reshape(p * b, 2 * v, hid)
        h = torch.relu((adj @ hw).view(p, b * v, hid) + bias)
    w1, b1, w2, b2 = params[2 * model.layers :]
    r = torch.relu(torch.bmm(h.view(p, b, v, hid).mean(dim=2), w1) + b1)
    return (torch.stack([r[i] @ w2[i] for i in range(p)]) + b2).squeeze(-1)


def autograd_predict(self: gcn.GCNPredictor, archs: Sequence[str]) -> np.ndarray:
    """``GCNPredictor.predict`` as it was: all cells in one pass."""
    if self._params is None:
        raise ValueError("GCNPredictor.predict called before fit")
    if len(archs) == 0:
        return np.zeros(0)
    with gcn._single_thread(), torch.no_grad():
        adj, x = self._graphs.batch(archs)
        out = autograd_forward(self, self._params, adj, x[None])[0].double().numpy()
    return out * self._y_std + self._y_mean


def autograd_train(
    predictors: Sequence[gcn.GCNPredictor],
    inputs: Sequence[tuple[torch.Tensor, torch.Tensor]],
    targets: Sequence[np.ndarray],
    inits: Sequence[list[torch.Tensor]],
) -> None:
    """``ktnas.predictors.gcn._train`` as it was: the batched model, autograd gradients, foreach Adam."""
    model = predictors[0]
    t = gcn._standardise(predictors, targets)
    adj = torch.cat([a for a, _ in inputs])
    x = torch.stack([x for _, x in inputs])
    params = [
        torch.stack(ps).view(len(inits), -1, ps[0].shape[-1]).requires_grad_()
        for ps in zip(*inits, strict=True)
    ]
    exp_avgs = [torch.zeros_like(p) for p in params]
    exp_avg_sqs = [torch.zeros_like(p) for p in params]
    for step in range(1, model.epochs + 1):
        loss = torch.mean((autograd_forward(model, params, adj, x) - t) ** 2, dim=1).sum()
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            _autograd_adam_step(params, grads, exp_avgs, exp_avg_sqs, step, model.lr)
    for i, pred in enumerate(predictors):
        pred._params = [p.detach()[i : i + 1] for p in params]


# -- the hand-written training before its views were made once per fit (2098783), copied faithfully --
class HandForward:
    """``ktnas.predictors.gcn._Forward`` as it was at 2098783 (views made at every call)."""

    def __init__(self, p: int, capacity: int, v: int, hidden: int, layers: int, device: torch.device) -> None:
        self.p, self.v, self.hidden, self.layers = p, v, hidden, layers
        size = p * capacity * v * hidden
        self._hw, self._both = torch.empty(2 * size, device=device), torch.empty(2 * size, device=device)
        self._prop = torch.empty(size, device=device)
        self.z = [torch.empty(size, device=device) for _ in range(layers)]

    def run(
        self, params: Sequence[torch.Tensor], adj: torch.Tensor, rows: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(pooled (P, B, H), hidden MLP layer r (P, B, H), scores (P, B, 1)) for ``adj`` (P * B, V, 2V)
        and ``rows`` (P * B, V) op indices; the post-relu layer outputs stay in :meth:`layer_outputs`."""
        p, v, hid = self.p, self.v, self.hidden
        n = adj.shape[0]
        b = n // p
        hw = self._hw[: n * v * 2 * hid].view(p, b * v, 2 * hid)
        both = self._both[: n * v * 2 * hid].view(n, 2, v, hid)
        prop = self._prop[: n * v * hid].view(n, v, hid)
        first = params[0]
        offsets = first.shape[1] * torch.arange(p, device=rows.device)[:, None]
        h = hw  # (the first layer reads no h)
        for k in range(self.layers):
            w, bias = params[2 * k : 2 * k + 2]
            if k == 0:
                flat_rows = (rows.view(p, b * v) + offsets).view(-1)
                torch.index_select(w.reshape(-1, 2 * hid), 0, flat_rows, out=hw.view(n * v, 2 * hid))
            else:
                torch.bmm(h, w, out=hw)
            both.copy_(hw.view(n, v, 2, hid).transpose(1, 2))
            torch.bmm(adj, both.view(n, 2 * v, hid), out=prop)
            h = torch.add(prop.view(p, b * v, hid), bias, out=self.z[k][: n * v * hid].view(p, b * v, hid))
            h.relu_()
        w1, b1, w2, b2 = params[2 * self.layers :]
        pooled = h.view(p, b, v, hid).mean(dim=2)
        r = torch.relu(torch.bmm(pooled, w1) + b1)
        return pooled, r, torch.stack([r[i] @ w2[i] for i in range(p)]) + b2

    def layer_outputs(self, n: int) -> list[torch.Tensor]:
        """The post-relu outputs (P, B * V, H) of each layer of the last :meth:`run` on ``n`` = P * B cells."""
        size = n * self.v * self.hidden
        return [z[:size].view(self.p, -1, self.hidden) for z in self.z]


def hand_train(
    predictors: Sequence[gcn.GCNPredictor],
    inputs: Sequence[tuple[torch.Tensor, torch.Tensor]],
    targets: Sequence[np.ndarray],
    inits: Sequence[list[torch.Tensor]],
) -> None:
    """``ktnas.predictors.gcn._train`` as it was at 2098783: hand-written gradients, plain sqrt."""
    model = predictors[0]
    layers, hid, device = model.layers, model.hidden, model.device
    t = gcn._standardise(predictors, targets).to(device)
    adj, adj_t, x, rows = gcn._stack_inputs(inputs, device)
    p, b, v, f = x.shape
    n = p * b
    x0 = x.view(p, b * v, f)

    # parameters, gradients and Adam moments: one flat tensor each, per-parameter (P, in, out) views
    flat, grad, params, grads = gcn._flat_parameters(inits, device)
    exp_avg, exp_avg_sq, denom = torch.zeros_like(flat), torch.zeros_like(flat), torch.empty_like(flat)
    w1, w2 = params[2 * layers], params[2 * layers + 2]
    gw1, gb1, gw2, gb2 = grads[2 * layers :]

    forward = HandForward(p, b, v, hid, layers, device)
    z = forward.layer_outputs(n)
    g_h, g_z = torch.empty(p, b * v, hid, device=device), torch.empty(p, b * v, hid, device=device)
    g_prop, g_hw = torch.empty(n, 2 * v, hid, device=device), torch.empty(p, b * v, 2 * hid, device=device)
    g_out_scale = torch.full((p, b), 1.0, device=device) / b  # d mean / d element, as autograd makes it
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for step in range(1, model.epochs + 1):
        pooled, r, out = forward.run(params, adj, rows)
        # backward of loss = sum over predictors of mean((out - t) ** 2)
        g_out = (g_out_scale * (2 * (out.squeeze(-1) - t))).unsqueeze(-1)
        torch.sum(g_out, dim=1, keepdim=True, out=gb2)
        g_r = torch.stack([g_out[i] @ w2[i].t() for i in range(p)])
        for i in range(p):
            torch.mm(r[i].t(), g_out[i], out=gw2[i])
        g_r = torch.ops.aten.threshold_backward(g_r, r, 0)
        torch.sum(g_r, dim=1, keepdim=True, out=gb1)
        torch.bmm(pooled.transpose(1, 2), g_r, out=gw1)
        g_pooled = torch.bmm(g_r, w1.transpose(1, 2))
        torch.div(g_pooled.unsqueeze(2).expand(p, b, v, hid), v, out=g_h.view(p, b, v, hid))
        for k in reversed(range(layers)):
            torch.ops.aten.threshold_backward.grad_input(g_h, z[k], 0, grad_input=g_z)
            torch.sum(g_z, dim=1, keepdim=True, out=grads[2 * k + 1])
            torch.bmm(adj_t, g_z.view(n, v, hid), out=g_prop)
            g_hw.view(n, v, 2, hid).copy_(g_prop.view(n, 2, v, hid).transpose(1, 2))
            torch.bmm((z[k - 1] if k else x0).transpose(1, 2), g_hw, out=grads[2 * k])
            if k:
                torch.bmm(g_hw, params[2 * k].transpose(1, 2), out=g_h)
        # Adam (torch.optim.Adam's defaults and arithmetic, elementwise on the flat tensors)
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        step_size = (model.lr / (1 - beta1 ** float(step))) * -1
        torch.sqrt(exp_avg_sq, out=denom).div_((1 - beta2 ** float(step)) ** 0.5).add_(eps)
        flat.addcdiv_(exp_avg, denom, value=step_size)
    for i, pred in enumerate(predictors):
        pred._params = [q[i : i + 1] for q in params]


def hand_predict(self: gcn.GCNPredictor, archs: Sequence[str]) -> np.ndarray:
    """``GCNPredictor.predict`` as it was at 2098783."""
    if self._params is None:
        raise ValueError("GCNPredictor.predict called before fit")
    if len(archs) == 0:
        return np.zeros(0)
    with gcn._single_thread(), torch.no_grad():
        adj, x = self._graphs.batch(archs)
        adj, rows = adj.to(self.device), x.argmax(dim=-1).to(self.device)
        chunk = min(len(archs), gcn.PREDICT_CHUNK)
        work = HandForward(1, chunk, x.shape[1], self.hidden, self.layers, self.device)
        scores = torch.empty(len(archs), device=self.device)
        for start in range(0, len(archs), chunk):
            end = min(start + chunk, len(archs))
            scores[start:end] = work.run(self._params, adj[start:end], rows[start:end])[2].view(-1)
        out = scores.double().cpu().numpy()
    return out * self._y_std + self._y_mean


def old_mutate(self: RestrictedSpace, arch: str, rng: np.random.Generator) -> str:
    dist = self._distances(arch)
    candidates = np.flatnonzero(dist == 1)
    if candidates.size == 0:
        others = dist[dist > 0]
        if others.size == 0:
            return self._allowed[0]
        candidates = np.flatnonzero(dist == others.min())
    return self._allowed[int(rng.choice(candidates))]


def old_gcn_factory() -> Callable[[int], object]:
    return lambda seed: OldGCNPredictor(seed=seed)


def fit_in_turn(predictors: Sequence[Any], data: Sequence[tuple[list[str], np.ndarray]]) -> None:
    """The old path's fits: one predictor at a time, through its own ``fit``."""
    for predictor, (archs, y) in zip(predictors, data, strict=True):
        predictor.fit(archs, y)


_BATCHED = gcn.fit_many


def fit_unbatched(predictors: Sequence[Any], data: Sequence[tuple[list[str], np.ndarray]]) -> None:
    """The current predictor, one at a time (as before batching): every fit alone."""
    for predictor, item in zip(predictors, data, strict=True):
        _BATCHED([predictor], [item])


# -- measurement -----------------------------------------------------------------------------------------
class Recorder:
    """Wraps ``fit_many`` and keeps every call's (seed, train archs, y, query archs) per predictor."""

    def __init__(self) -> None:
        self.calls: list[list[tuple[int, list[str], np.ndarray, list[str]]]] = []

    def __call__(self, predictors: Sequence[Any], data: Sequence[tuple[list[str], np.ndarray]]) -> None:
        group = []
        for predictor, (archs, y) in zip(predictors, data, strict=True):
            record = (predictor.seed, list(archs), np.asarray(y), [])
            group.append(record)
            inner = predictor.predict

            def predict(query: Sequence[str], inner: Any = inner, record: Any = record) -> np.ndarray:
                record[3].extend(query)
                return np.asarray(inner(query))

            predictor.predict = predict
        self.calls.append(group)
        _BATCHED(predictors, data)


def autograd_patches() -> list[Any]:
    """Patches that put back the training loop and ``predict`` of before the hand-written gradients."""
    return [
        mock.patch.object(gcn, "_train", autograd_train),
        mock.patch.object(gcn.GCNPredictor, "predict", autograd_predict),
    ]


def byhand_patches() -> list[Any]:
    """Patches that put back the hand-written training loop and ``predict`` of 2098783."""
    return [
        mock.patch.object(gcn, "_train", hand_train),
        mock.patch.object(gcn.GCNPredictor, "predict", hand_predict),
    ]


def loop_mutation() -> Any:
    """Mutants drawn one ``mutate`` call at a time (the code before ``RestrictedSpace.mutate_many``)."""
    return mock.patch.object(RestrictedSpace, "mutate_many", SearchSpace.mutate_many)


PATHS: dict[str, tuple[Any, Any, Any, Callable[[], list[Any]] | None]] = {
    # name: (predictor factory patched into the recipe, fit_many, mutation: None = the current code;
    # the patches that put back an earlier training loop and predict, if any)
    "old": (old_gcn_factory, fit_in_turn, old_mutate, None),
    "unbatched": (None, fit_unbatched, RestrictedSpace.mutate, autograd_patches),
    "autograd": (None, None, RestrictedSpace.mutate, autograd_patches),
    "byhand": (None, None, RestrictedSpace.mutate, byhand_patches),
    "new": (None, None, None, None),
}


def search(
    method: str,
    seed: int,
    params: dict[str, Any],
    embedding: str | None,
    path: str,
    fit: Callable[..., None] | None = None,
) -> dict:
    factory, fit_many, mutate, earlier = PATHS[path]
    patches = earlier() if earlier else []
    if factory is not None:
        patches.append(mock.patch.object(t101, "gcn_factory", factory))
    if fit or fit_many:
        patches.append(mock.patch.object(gcn, "fit_many", fit or fit_many))
    if mutate is not None:
        patches += [mock.patch.object(RestrictedSpace, "mutate", mutate), loop_mutation()]
    for p in patches:
        p.start()
    try:
        return run_search("trans101", method, seed, TASKS, params, SearchPaths(embedding=embedding)).to_dict()
    finally:
        for p in patches:
            p.stop()


def timed(fn: Callable[..., Any], *args: Any, **kw: Any) -> tuple[Any, float]:
    t0 = time.process_time()
    out = fn(*args, **kw)
    return out, time.process_time() - t0


def fit_predict_old(seed: int, train: list[str], y: np.ndarray, query: list[str]) -> np.ndarray:
    return np.asarray(OldGCNPredictor(seed).fit(train, y).predict(query))


def fit_predict_new(
    group: Sequence[tuple[int, list[str], np.ndarray, list[str]]], graphs: gcn.CellGraphs, path: str
) -> list[np.ndarray]:
    """Fit and predict as ``path`` (not ``old``) does: batched or one at a time, with its training loop."""
    _, fit_many, _, earlier = PATHS[path]
    patches = earlier() if earlier else []
    for patch in patches:
        patch.start()
    try:
        predictors = [gcn.GCNPredictor(seed, graphs=graphs) for seed, *_ in group]
        (fit_many or _BATCHED)(predictors, [(archs, y) for _, archs, y, _ in group])
        return [p.predict(query) for p, (*_, query) in zip(predictors, group, strict=True)]
    finally:
        for patch in patches:
            patch.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--embedding", default=None, help="trans101 node2vec table; method ktnas if given")
    ap.add_argument(
        "--nb201-seeds", type=int, nargs="*", default=[0, 1, 2], help="NB201 gcn seeds (none: skip that part)"
    )
    args = ap.parse_args()
    method = "ktnas" if args.embedding else "ktnas_random"
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    params = config["trans101"]["methods"][method]
    print(f"torch {torch.__version__}, method {method}, seeds {args.seeds}, CPU seconds (process time)")

    # the first torch.optim optimizer of a process imports torch._dynamo & co; the new path builds none,
    # so a `ktnas search` process saves this once; it is timed here and kept out of the ratios below
    _, first_optim = timed(torch.optim.Adam, [torch.zeros(1, requires_grad=True)])
    print(f"one-time cost of the first torch.optim.Adam in a process (old path only): {first_optim:.2f} s")
    for path in PATHS:  # warm-up of every path: table load, imports, caches
        search(method, args.seeds[0], params, args.embedding, path)
    times: dict[str, list[float]] = {path: [] for path in PATHS}
    recorded: list[list[tuple[int, list[str], np.ndarray, list[str]]]] = []
    for seed in args.seeds:
        results = {}
        for path in PATHS:
            recorder = Recorder() if path == "new" else None
            results[path], dt = timed(search, method, seed, params, args.embedding, path, fit=recorder)
            times[path].append(dt)
            if recorder is not None:
                recorded += recorder.calls
        if any(results[p] != results["new"] for p in PATHS):
            raise SystemExit(f"seed {seed}: result dicts differ between the code paths")
        print(f"search seed {seed}: " + ", ".join(f"{p} {times[p][-1]:.2f} s" for p in PATHS) + ", identical")
    n = len(args.seeds)
    total = {p: sum(times[p]) for p in PATHS}
    print(
        "search per seed: "
        + ", ".join(f"{p} {total[p] / n:.2f} s" for p in PATHS)
        + "; ratios "
        + ", ".join(f"{p}/new {total[p] / total['new']:.2f}x" for p in PATHS if p != "new")
    )

    # the predictor alone on the same fits, grouped as the search fitted them (a shared CellGraphs as there)
    graphs = gcn.CellGraphs(gcn.Trans101Space())
    t = dict.fromkeys(PATHS, 0.0)
    for group in recorded:
        outs = []
        for seed, archs, y, query in group:
            out, dt = timed(fit_predict_old, seed, archs, y, query)
            t["old"] += dt
            outs.append(out)
        for name in PATHS:
            if name != "old":
                preds, dt = timed(fit_predict_new, group, graphs, name)
                t[name] += dt
                if not all(np.array_equal(a, b) for a, b in zip(outs, preds, strict=True)):
                    raise SystemExit(f"predictor seeds {[g[0] for g in group]}: {name} predictions differ")
    fits = sum(len(g) for g in recorded)
    cells = int(math.fsum(len(c[1]) for g in recorded for c in g) / fits)
    print(
        f"predictor fit+predict ({fits} fits in {len(recorded)} calls, {cells} cells on average): "
        + ", ".join(f"{p} {t[p]:.2f} s" for p in PATHS)
        + ", identical predictions; ratios "
        + ", ".join(f"{p}/new {t[p] / t['new']:.2f}x" for p in PATHS if p != "new")
    )

    if args.nb201_seeds:
        nb201_gcn(args.nb201_seeds)


def nb201_gcn(seeds: Sequence[int]) -> None:
    """NAS-Bench-201's ``gcn`` baseline, a job's seeds in one process as in the pipeline: ``old`` encodes the
    15,625 cells once per task and seed (a fresh ``CellGraphs`` per search, the code before
    ``shared_graphs``), trains through autograd and predicts in one pass; ``byhand`` encodes once per
    process and trains and predicts with the code of 2098783; ``new`` is the current code."""
    nb_config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["nb201"]
    tasks, params = nb_config["tasks"], nb_config["methods"]["gcn"]
    ways: dict[str, Callable[[], list[Any]] | None] = {
        "old": autograd_patches,
        "byhand": byhand_patches,
        "new": None,
    }

    def run(seed: int, way: str, shared: dict) -> dict:
        # old: a fresh encoding per search; the others: the process-wide one, here the dict ``shared``
        patch = (
            mock.patch.object(gcn, "shared_graphs", gcn.CellGraphs)
            if way == "old"
            else mock.patch.object(gcn, "_SHARED", shared)
        )
        earlier = ways[way]
        patches = [patch, *(earlier() if earlier else [])]
        for p in patches:
            p.start()
        try:
            return run_search("nb201", "gcn", seed, tasks, params, SearchPaths()).to_dict()
        finally:
            for p in patches:
                p.stop()

    times = dict.fromkeys(ways, 0.0)
    for way in ways:  # warm-up: tables, imports
        run(seeds[0], way, {})
    shared: dict[str, dict] = {way: {} for way in ways}  # one encoding across the seeds, as in a pipeline job
    for seed in seeds:
        results = {}
        for way in ways:
            results[way], dt = timed(run, seed, way, shared[way])
            times[way] += dt
        if any(results[w] != results["new"] for w in ways):
            raise SystemExit(f"NB201 gcn seed {seed}: result dicts differ")
        print(
            f"NB201 gcn seed {seed}: "
            + ", ".join(f"{w} {times[w]:.2f} s" for w in ways)
            + " (cumulative), identical"
        )
    n = len(seeds)
    print(
        "NB201 gcn per seed: "
        + ", ".join(f"{w} {times[w] / n:.2f} s" for w in ways)
        + "; ratios "
        + ", ".join(f"{w}/new {times[w] / times['new']:.2f}x" for w in ways if w != "new")
        + " (the first seed of byhand and new pays the one encoding)"
    )


if __name__ == "__main__":
    main()
