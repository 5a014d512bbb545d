"""The TransNAS-Bench-101 predictor search made cheaper computes the same floats: the hand-rolled Adam step
equals ``torch.optim.Adam(foreach=True)``, predictors fitted together as one batched model equal lone
fits, shared cell encodings equal fresh ones, and the cached restricted mutation draws what
``rng.choice`` drew."""

from __future__ import annotations

import numpy as np
import pytest

from ktnas.spaces.nb201 import NB201Space
from ktnas.spaces.restricted import RestrictedSpace
from ktnas.spaces.trans101 import Trans101Space

torch = pytest.importorskip("torch")

SPACE = Trans101Space()


def _data(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    archs = list(dict.fromkeys(SPACE.sample(rng) for _ in range(n)))
    return archs, rng.normal(size=len(archs))


def _reference_forward(
    model: object, params: list[torch.Tensor], adj: torch.Tensor, x: torch.Tensor
) -> torch.Tensor:
    """One predictor, written plainly (docs/method.md §6.2.3): per layer relu(A (h W) + b), mean over
    vertices, a two-layer MLP."""
    b, v = x.shape[0], x.shape[1]
    hidden, layers = model.hidden, model.layers  # type: ignore[attr-defined]
    h = x
    for k in range(layers):
        w, bias = params[2 * k : 2 * k + 2]
        hw = (h @ w).view(b, v, 2, hidden).transpose(1, 2).reshape(b, 2 * v, hidden)
        h = torch.relu(adj @ hw + bias)
    w1, b1, w2, b2 = params[2 * layers :]
    return (torch.relu(h.mean(dim=1) @ w1 + b1) @ w2 + b2).squeeze(-1)


def _reference_fit(
    seed: object, archs: list[str], y: np.ndarray, epochs: int, **kw: object
) -> list[torch.Tensor]:
    """The same model trained alone through autograd's ``backward`` and ``torch.optim.Adam``."""
    from ktnas.predictors.gcn import GCNPredictor, _single_thread

    ref = GCNPredictor(seed, epochs=epochs, **kw)  # type: ignore[arg-type]
    with _single_thread():
        adj, x = ref._graphs.batch(archs)
        t = torch.from_numpy((y - y.mean()) / y.std()).float()
        params = [p.requires_grad_() for p in ref._init_params(x.shape[-1], ref._generator())]
        opt = torch.optim.Adam(params, lr=ref.lr, foreach=True)
        for _ in range(ref.epochs):
            opt.zero_grad()
            torch.mean((_reference_forward(ref, params, adj, x) - t) ** 2).backward()
            opt.step()
    return [p.detach() for p in params]


@pytest.mark.parametrize(
    "kw", [{}, {"space": NB201Space()}, {"layers": 1, "hidden": 16}, {"layers": 2, "lr": 3e-3}], ids=str
)
def test_fit_matches_autograd_and_torch_adam_bit_for_bit(kw: dict) -> None:
    """The hand-written gradients and Adam step are autograd's and ``torch.optim.Adam``'s, float for float,
    on both cell spaces and other model sizes."""
    from ktnas.predictors.gcn import GCNPredictor

    space = kw.get("space", SPACE)
    rng = np.random.default_rng(0)
    archs = list(dict.fromkeys(space.sample(rng) for _ in range(30)))
    y = rng.normal(size=len(archs))
    model = GCNPredictor(3, epochs=25, **kw).fit(archs, y)
    assert model._params is not None
    for mine, theirs in zip(model._params, _reference_fit(3, archs, y, 25, **kw), strict=True):
        assert torch.equal(mine.reshape(theirs.shape), theirs)


def test_fit_many_equals_separate_fits_bit_for_bit() -> None:
    """Predictors trained together (same training-set size: one stacked model; other sizes and other
    hyper-parameters: their own groups) get the floats of lone fits, and predictors that share a numpy
    generator draw their initial weights in the order given, as sequential fits would."""
    from ktnas.predictors.gcn import GCNPredictor, fit_many

    sets = [_data(n, s) for n, s in [(20, 1), (20, 2), (35, 3), (20, 4)]]
    sets = [(a[:20], y[:20]) if i != 2 else (a, y) for i, (a, y) in enumerate(sets)]

    def make(gen: np.random.Generator) -> list[GCNPredictor]:
        return [
            GCNPredictor(gen, epochs=15),
            GCNPredictor(7, epochs=15),
            GCNPredictor(gen, epochs=15),
            GCNPredictor(8, epochs=12),
        ]

    together = make(np.random.default_rng(5))
    fit_many(together, sets)
    alone = make(np.random.default_rng(5))
    for predictor, (archs, y) in zip(alone, sets, strict=True):
        predictor.fit(archs, y)
    query = _data(60, 9)[0]
    for a, b in zip(together, alone, strict=True):
        assert a._params is not None and b._params is not None
        assert all(torch.equal(p, q) for p, q in zip(a._params, b._params, strict=True))
        assert np.array_equal(a.predict(query), b.predict(query))
    # and the lone fit is the plain model's
    assert all(
        torch.equal(p.reshape(q.shape), q)
        for p, q in zip(alone[1]._params or [], _reference_fit(7, *sets[1], 15), strict=True)
    )
    with pytest.raises(ValueError, match="2 predictors but 1 training sets"):
        fit_many(together[:2], sets[:1])
    with pytest.raises(ValueError, match="at least 2 architectures"):
        fit_many(together[:1], [(sets[0][0][:1], sets[0][1][:1])])


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


@pytest.mark.parametrize("k", [1, 2, 5, 40, 711])
def test_mutate_many_draws_what_successive_mutates_draw(k: int) -> None:
    rng = np.random.default_rng(k)
    space = RestrictedSpace(SPACE, [SPACE.sample(rng) for _ in range(k)])
    archs = [space.sample(rng) for _ in range(250)]
    r_many, r_each = np.random.default_rng(3), np.random.default_rng(3)
    for _ in range(4):  # the first round fills the neighbour cache, later rounds read it
        many, each = space.mutate_many(archs, r_many), [space.mutate(a, r_each) for a in archs]
        assert many == each
        assert r_many.bit_generator.state == r_each.bit_generator.state
        archs = many
    assert space.mutate_many([], r_many) == []
    assert r_many.bit_generator.state == r_each.bit_generator.state


def test_device_path_on_the_cpu_is_the_default_path() -> None:
    """``device=`` moves the batched model; given the CPU explicitly, it is the default path bit for bit."""
    from ktnas.predictors.gcn import GCNPredictor, fit_many

    archs, y = _data(30, 4)
    default = GCNPredictor(2, epochs=10).fit(archs, y)
    explicit = [
        GCNPredictor(2, epochs=10, device=torch.device("cpu")),
        GCNPredictor(2, epochs=10, device="cpu"),
    ]
    fit_many(explicit, [(archs, y), (archs, y)])
    for p in explicit:
        assert p._params is not None and all(t.device.type == "cpu" for t in p._params)
        assert np.array_equal(p.predict(archs), default.predict(archs))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_path_agrees_with_the_cpu() -> None:  # pragma: no cover - no GPU in CI
    """On a GPU the same model trains to nearly the same predictor (other kernels: not bit-identical)."""
    from ktnas.predictors.gcn import GCNPredictor, fit_many

    sets = [_data(30, 5), _data(30, 6)]
    cpu = [GCNPredictor(s, epochs=20) for s in (1, 2)]
    gpu = [GCNPredictor(s, epochs=20, device="cuda") for s in (1, 2)]
    fit_many(cpu, sets)
    fit_many(gpu, sets)
    query = _data(50, 7)[0]
    for a, b, (_, y) in zip(cpu, gpu, sets, strict=True):
        assert b._params is not None and all(t.is_cuda for t in b._params)
        np.testing.assert_allclose(b.predict(query), a.predict(query), atol=1e-3 * float(np.std(y)))


@pytest.mark.parametrize("method", ["mtnas", "ktnas_random"])
def test_batched_fits_leave_a_search_unchanged(method: str) -> None:
    """A TransNAS-Bench-101 multi-task search whose tasks' predictors are fitted together gives the result
    of reproducing the tasks one after the other, each drawing, fitting and predicting in turn (the
    random draws and every float the same)."""
    from unittest import mock

    from ktnas.predictors import gcn
    from ktnas.recipes import SearchPaths
    from ktnas.runner import run_search
    from ktnas.search.reproduction import PredictorEvolution

    tasks = ["class_object", "class_scene", "room_layout"]
    params = {"max_evaluations": 30, "stop_at_optimum": False, "n_candidates": 40}
    calls: list[int] = []
    real = gcn.fit_many

    def counting(predictors, data):  # type: ignore[no-untyped-def]
        calls.append(len(predictors))
        real(predictors, data)

    def search() -> dict:
        return run_search("trans101", method, 3, tasks, params, SearchPaths()).to_dict()

    with mock.patch.object(gcn, "fit_many", counting):
        together = search()
    assert calls and max(calls) == 3  # the three tasks' fits really were one call
    calls.clear()
    batched = PredictorEvolution.offspring_many

    def one_task_at_a_time(self, space, broods, k, rng):  # type: ignore[no-untyped-def]
        return [batched(self, space, [b], k, rng)[0] for b in broods]  # draw, fit, predict; next task

    with (
        mock.patch.object(gcn, "fit_many", counting),
        mock.patch.object(PredictorEvolution, "offspring_many", one_task_at_a_time),
    ):
        in_turn = search()
    assert calls and max(calls) == 1
    assert together == in_turn


def test_non_one_hot_vertex_features_are_refused() -> None:
    """Training reads the first layer's product as a row look-up, which needs one-hot vertex features."""
    from ktnas.predictors.gcn import GCNPredictor

    class Blurred(Trans101Space):
        def adjacency_ops(self, arch: str) -> tuple[np.ndarray, np.ndarray]:
            a, f = super().adjacency_ops(arch)
            return a, f * 0.5

    archs, y = _data(10, 1)
    with pytest.raises(ValueError, match="Blurred.adjacency_ops: vertex features must be one-hot"):
        GCNPredictor(0, space=Blurred(), epochs=2).fit(archs, y)


def test_chunked_predictions_are_the_plain_model_bit_for_bit() -> None:
    """``predict`` runs the cells in chunks (two full ones and a remainder here); every score equals the
    plainly written forward pass on all cells at once."""
    from ktnas.predictors.gcn import PREDICT_CHUNK, GCNPredictor, _single_thread

    space = NB201Space()
    archs, y = space.all_archs()[: 2 * PREDICT_CHUNK + 37], np.random.default_rng(2).normal(size=40)
    model = GCNPredictor(4, epochs=5, space=space).fit(archs[::7][:40], y)
    assert model._params is not None
    params = [p[0] for p in model._params]
    with _single_thread(), torch.no_grad():
        adj, x = model._graphs.batch(archs)
        plain = _reference_forward(model, params, adj, x).double().numpy() * model._y_std + model._y_mean
    assert np.array_equal(model.predict(archs), plain)
    assert np.array_equal(model.predict(archs[5:9]), plain[5:9])
