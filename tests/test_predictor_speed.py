"""The TransNAS-Bench-101 predictor search made cheaper computes the same floats: the hand-rolled Adam step
equals ``torch.optim.Adam(foreach=True)``, shared cell encodings equal fresh ones, and the cached
restricted mutation draws what ``rng.choice`` drew."""

from __future__ import annotations

import numpy as np
import pytest

from ktnas.spaces.restricted import RestrictedSpace
from ktnas.spaces.trans101 import Trans101Space

torch = pytest.importorskip("torch")

SPACE = Trans101Space()


def _data(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    archs = list(dict.fromkeys(SPACE.sample(rng) for _ in range(n)))
    return archs, rng.normal(size=len(archs))


def test_fit_matches_torch_adam_bit_for_bit() -> None:
    from ktnas.predictors.gcn import GCNPredictor, _single_thread

    archs, y = _data(30, 0)
    model = GCNPredictor(3, epochs=25).fit(archs, y)
    # the reference: the same model trained through torch.optim.Adam and autograd's .grad
    ref = GCNPredictor(3, epochs=25)
    with _single_thread():
        adj, x = ref._graphs.batch(archs)
        t = torch.from_numpy((y - y.mean()) / y.std()).float()
        params = ref._init_params(x.shape[-1], ref._generator())
        opt = torch.optim.Adam(params, lr=ref.lr, foreach=True)
        for _ in range(ref.epochs):
            opt.zero_grad()
            torch.mean((ref._forward(params, adj, x) - t) ** 2).backward()
            opt.step()
    assert model._params is not None
    for mine, theirs in zip(model._params, params, strict=True):
        assert torch.equal(mine, theirs.detach())


def test_shared_cell_graphs_change_nothing() -> None:
    from ktnas.predictors.gcn import CellGraphs, GCNPredictor

    archs, y = _data(40, 1)
    graphs = CellGraphs(SPACE)
    graphs.batch(archs[::2])  # warm the cache with part of the data, in another order
    shared = GCNPredictor(5, epochs=10, graphs=graphs).fit(archs[:25], y[:25]).predict(archs[25:])
    fresh = GCNPredictor(5, epochs=10, space=SPACE).fit(archs[:25], y[:25]).predict(archs[25:])
    assert np.array_equal(shared, fresh)
    with pytest.raises(ValueError, match="not two spaces"):
        GCNPredictor(0, space=Trans101Space(), graphs=graphs)


def _old_mutate(space: RestrictedSpace, arch: str, rng: np.random.Generator) -> str:
    dist = space._distances(arch)
    candidates = np.flatnonzero(dist == 1)
    if candidates.size == 0:
        others = dist[dist > 0]
        if others.size == 0:
            return space._allowed[0]
        candidates = np.flatnonzero(dist == others.min())
    return space._allowed[int(rng.choice(candidates))]


@pytest.mark.parametrize("k", [1, 2, 5, 40, 300])
def test_cached_restricted_mutation_draws_the_same(k: int) -> None:
    rng = np.random.default_rng(k)
    space = RestrictedSpace(SPACE, [SPACE.sample(rng) for _ in range(k)])
    r_new, r_old = np.random.default_rng(9), np.random.default_rng(9)
    a = b = space.sample(np.random.default_rng(0))
    for _ in range(300):  # walks revisit cells, so the cache is hit
        a, b = space.mutate(a, r_new), _old_mutate(space, b, r_old)
        assert a == b
    assert r_new.bit_generator.state == r_old.bit_generator.state
