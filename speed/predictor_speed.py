"""Speed of the TransNAS-Bench-101 predictor search, old code path against the current one, same inputs.

The old path is kept below as a faithful copy of the code before the speed-up: ``GCNPredictor`` encoding
every cell again in each new predictor and training through ``torch.optim.Adam(foreach=True)`` with
``zero_grad``/``backward``/``step``, and ``RestrictedSpace.mutate`` recomputing the edit distances to all
allowed cells at every call and drawing with ``rng.choice``. The script patches it in, runs the same
searches both ways in this process (interleaved, so load on a shared machine hits both alike, after a
warm-up of both), checks that the full result dicts are identical, and prints the CPU-time ratio. The
one-time cost of the first ``torch.optim`` optimizer in a process, which only the old path pays, is
printed separately. It then does the same for the
predictor alone (fit + predict on the training sets those searches used) and checks the predictions are
bit-identical.

Usage: ``python speed/predictor_speed.py [--seeds 0 1 2] [--embedding t101emb.parquet]``. With
``--embedding`` (``ktnas embed --space trans101 --method node2vec --dim 256 --seed 0 --out ...``) the
method is ``ktnas``; without, ``ktnas_random``, the same predictor evolution with random transfer.
Hyper-parameters: ``config/config.yaml`` trans101.methods.<method>.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import torch
import yaml

import ktnas.experiments as experiments
from ktnas.predictors import gcn
from ktnas.spaces.restricted import RestrictedSpace

ROOT = Path(__file__).resolve().parents[1]
TASKS = ["class_object", "class_scene", "room_layout"]


# -- the old code path (before the speed-up), copied faithfully -------------------------------------------
class OldGCNPredictor(gcn.GCNPredictor):
    """``GCNPredictor`` as it was: per-instance encoding cache, ``torch.optim.Adam`` training loop.

    Only ``_encode``, ``fit`` and ``predict`` are replaced; ``_init_params``, ``_forward`` and
    ``_generator`` are unchanged by the speed-up and inherited.
    """

    def __init__(self, seed: int, **kw: Any) -> None:
        super().__init__(seed, **kw)
        self._features: dict[str, tuple[np.ndarray, np.ndarray]] = {}

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


# -- measurement -----------------------------------------------------------------------------------------
class Recorder:
    """Wraps a predictor factory and keeps every (seed, train archs, y, query archs) it is used on."""

    def __init__(self, factory: Callable[[int], object]) -> None:
        self.factory = factory
        self.calls: list[tuple[int, list[str], np.ndarray, list[str]]] = []

    def __call__(self, seed: int) -> object:
        inner: Any = self.factory(seed)
        calls = self.calls

        class Spy:
            def fit(self, archs: Sequence[str], y: np.ndarray) -> Spy:
                calls.append((seed, list(archs), np.asarray(y), []))
                inner.fit(archs, y)
                return self

            def predict(self, archs: Sequence[str]) -> np.ndarray:
                calls[-1][3].extend(archs)
                return np.asarray(inner.predict(archs))

        return Spy()


def search(method: str, seed: int, params: dict[str, Any], embedding: str | None, old: bool) -> dict:
    if old:
        patches = [
            mock.patch.object(experiments, "_gcn_factory", old_gcn_factory),
            mock.patch.object(RestrictedSpace, "mutate", old_mutate),
        ]
    else:
        patches = []
    for p in patches:
        p.start()
    try:
        return experiments.run_benchmark_search(
            "trans101", method, seed, TASKS, params, embedding_path=embedding, progress=False
        )
    finally:
        for p in patches:
            p.stop()


def timed(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    t0 = time.process_time()
    out = fn(*args)
    return out, time.process_time() - t0


def fit_predict(make: Callable[[], Any], train: list[str], y: np.ndarray, query: list[str]) -> np.ndarray:
    return np.asarray(make().fit(train, y).predict(query))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--embedding", default=None, help="trans101 node2vec table; method ktnas if given")
    args = ap.parse_args()
    method = "ktnas" if args.embedding else "ktnas_random"
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    params = config["trans101"]["methods"][method]
    print(f"torch {torch.__version__}, method {method}, seeds {args.seeds}, CPU seconds (process time)")

    # the first torch.optim optimizer of a process imports torch._dynamo & co; the new path builds none,
    # so a `ktnas search` process saves this once; it is timed here and kept out of the ratios below
    _, first_optim = timed(torch.optim.Adam, [torch.zeros(1, requires_grad=True)])
    print(f"one-time cost of the first torch.optim.Adam in a process (old path only): {first_optim:.2f} s")
    for old in (True, False):  # warm-up of both paths: table load, imports, caches
        search(method, args.seeds[0], params, args.embedding, old)
    old_t, new_t = [], []
    recorded: list[tuple[int, list[str], np.ndarray, list[str]]] = []
    for seed in args.seeds:
        r_old, t_old = timed(search, method, seed, params, args.embedding, True)
        recorder = Recorder(experiments._gcn_factory())
        with mock.patch.object(experiments, "_gcn_factory", lambda rec=recorder: rec):
            r_new, t_new = timed(search, method, seed, params, args.embedding, False)
        if r_old != r_new:
            raise SystemExit(f"seed {seed}: result dicts differ between the old and the new code path")
        recorded += recorder.calls
        old_t.append(t_old)
        new_t.append(t_new)
        print(f"search seed {seed}: old {t_old:.2f} s, new {t_new:.2f} s, identical results")
    print(
        f"search: old {statistics.mean(old_t):.2f} s, new {statistics.mean(new_t):.2f} s per seed, "
        f"ratio {sum(old_t) / sum(new_t):.2f}x"
    )

    # the predictor alone on the same fits (the recorded runs also used a shared CellGraphs: do too)
    graphs = gcn.CellGraphs(gcn.Trans101Space())
    t_old = t_new = 0.0
    for seed, train, y, query in recorded:
        p_old, dt = timed(fit_predict, partial(OldGCNPredictor, seed), train, y, query)
        t_old += dt
        p_new, dt = timed(fit_predict, partial(gcn.GCNPredictor, seed, graphs=graphs), train, y, query)
        t_new += dt
        if not np.array_equal(p_old, p_new):
            raise SystemExit(f"predictor seed {seed}: predictions differ")
    n = len(recorded)
    print(
        f"predictor fit+predict ({n} fits, {int(math.fsum(len(c[1]) for c in recorded) / n)} cells on "
        f"average): old {t_old:.2f} s, new {t_new:.2f} s, identical predictions, "
        f"ratio {t_old / t_new:.2f}x"
    )


if __name__ == "__main__":
    main()
