"""The GCN predictor (docs/reproduction.md §3.2.2): the fast path gives the floats of the reference model
(:class:`~ktnas.predictors.gcn.GCN` trained by autograd and ``torch.optim.Adam``) on every shape the
searches use, predictors fitted together equal lone fits, and shared cell encodings change nothing."""

from __future__ import annotations

import numpy as np
import pytest

from ktnas.spaces.nb201 import CellSpace, NB201Space
from ktnas.spaces.trans101 import Trans101Space

torch = pytest.importorskip("torch")
from ktnas.predictors import gcn  # noqa: E402
from ktnas.predictors.gcn import GCN, CellGraphs, GCNPredictor, fit_many  # noqa: E402

TRANS101, NB201 = Trans101Space(), NB201Space()


def _data(space: CellSpace, n: int, seed: int) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    archs: list[str] = []
    while len(archs) < n:
        archs = list(dict.fromkeys([*archs, space.sample(rng)]))
    return archs, rng.normal(size=n)


@pytest.fixture
def reference(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Fits and predictions on the reference path while the returned callable runs ``fn``."""

    def run(fn):  # type: ignore[no-untyped-def]
        with monkeypatch.context() as m:
            m.setattr(gcn, "FAST_PATH", False)
            return fn()

    return run


def _same_model(a: GCNPredictor, b: GCNPredictor) -> bool:
    assert a.model is not None and b.model is not None
    return all(torch.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True))


# the searches' fits: TransNAS-Bench-101 ktnas (a search's 3 tasks as one call, and 1) at 10-40 cells;
# the gcn baseline on TransNAS-Bench-101 (25 cells) and on NAS-Bench-201 (100-400 cells)
SHAPES = [
    *[(TRANS101, n, p) for n in (10, 20, 30, 40) for p in (1, 3)],
    (TRANS101, 25, 1),
    *[(NB201, n, 1) for n in (100, 200, 300, 400)],
]


@pytest.mark.parametrize(("space", "n", "p"), SHAPES, ids=lambda v: getattr(v, "name", v))
def test_fast_path_is_the_reference_bit_for_bit(reference, space: CellSpace, n: int, p: int) -> None:  # type: ignore[no-untyped-def]
    """200 epochs, as the searches train: the same weights, and the same predictions over the whole
    space (the fast path's are chunked)."""
    sets = [_data(space, n, seed) for seed in range(p)]
    fast = [GCNPredictor(10 + i, space=space) for i in range(p)]
    fit_many(fast, sets)
    slow = [GCNPredictor(10 + i, space=space) for i in range(p)]
    reference(lambda: [pred.fit(*s) for pred, s in zip(slow, sets, strict=True)])
    cells = space.all_archs()
    for a, b in zip(fast, slow, strict=True):
        assert _same_model(a, b)
        assert np.array_equal(a.predict(cells), reference(lambda b=b: b.predict(cells)))


@pytest.mark.parametrize("kw", [{"layers": 1, "hidden": 16}, {"layers": 2, "lr": 3e-3}], ids=str)
def test_fast_path_is_the_reference_for_other_model_sizes(reference, kw: dict) -> None:  # type: ignore[no-untyped-def]
    archs, y = _data(TRANS101, 30, 0)
    fast = GCNPredictor(3, epochs=25, **kw).fit(archs, y)
    slow = reference(lambda: GCNPredictor(3, epochs=25, **kw).fit(archs, y))
    assert _same_model(fast, slow)


def test_the_model_is_a_module_with_the_documented_init() -> None:
    """Glorot-uniform weights drawn layer by layer from the generator, zero biases; a fit starts there."""
    adj, x = CellGraphs(TRANS101).batch(_data(TRANS101, 5, 0)[0])
    f = x.shape[-1]
    model = GCN(f, hidden=64, layers=3, generator=torch.Generator().manual_seed(0))
    shapes = [tuple(p.shape) for p in model.parameters()]
    assert shapes == [(f, 128), (64,), (64, 128), (64,), (64, 128), (64,), (64, 64), (64,), (64, 1), (1,)]
    with torch.no_grad():
        assert float(model.convs[0].weight.abs().max()) <= (6 / (f + 64)) ** 0.5
        assert float(model.readout.b1.abs().max()) == 0
        again = GCN(f, generator=torch.Generator().manual_seed(0))
        assert all(torch.equal(p, q) for p, q in zip(model.parameters(), again.parameters(), strict=True))
        assert model(adj, x).shape == (5,)


def test_fit_many_equals_separate_fits_bit_for_bit() -> None:
    """Predictors trained together (same training-set size: one stacked model; other sizes and other
    hyper-parameters: their own groups) get the floats of lone fits, and predictors that share a numpy
    generator draw their initial weights in the order given, as sequential fits would."""
    sets = [_data(TRANS101, n, s) for n, s in [(20, 1), (20, 2), (35, 3), (20, 4)]]

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
    query = _data(TRANS101, 60, 9)[0]
    for a, b in zip(together, alone, strict=True):
        assert _same_model(a, b)
        assert np.array_equal(a.predict(query), b.predict(query))
    with pytest.raises(ValueError, match="2 predictors but 1 training sets"):
        fit_many(together[:2], sets[:1])
    with pytest.raises(ValueError, match="at least 2 architectures"):
        fit_many(together[:1], [(sets[0][0][:1], sets[0][1][:1])])


def test_shared_cell_graphs_change_nothing() -> None:
    archs, y = _data(TRANS101, 40, 1)
    graphs = CellGraphs(TRANS101)
    graphs.batch(archs[::2])  # warm the cache with part of the data, in another order
    shared = GCNPredictor(5, epochs=10, graphs=graphs).fit(archs[:25], y[:25]).predict(archs[25:])
    fresh = GCNPredictor(5, epochs=10, space=TRANS101).fit(archs[:25], y[:25]).predict(archs[25:])
    assert np.array_equal(shared, fresh)
    with pytest.raises(ValueError, match="not two spaces"):
        GCNPredictor(0, space=Trans101Space(), graphs=graphs)


def test_device_path_on_the_cpu_is_the_default_path() -> None:
    archs, y = _data(TRANS101, 30, 4)
    default = GCNPredictor(2, epochs=10).fit(archs, y)
    explicit = [
        GCNPredictor(2, epochs=10, device=torch.device("cpu")),
        GCNPredictor(2, epochs=10, device="cpu"),
    ]
    fit_many(explicit, [(archs, y), (archs, y)])
    for p in explicit:
        assert p.model is not None and all(t.device.type == "cpu" for t in p.model.parameters())
        assert np.array_equal(p.predict(archs), default.predict(archs))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_path_agrees_with_the_cpu() -> None:  # pragma: no cover - no GPU in CI
    """On a GPU the same model trains to nearly the same predictor (other kernels: not bit-identical)."""
    sets = [_data(TRANS101, 30, 5), _data(TRANS101, 30, 6)]
    cpu = [GCNPredictor(s, epochs=20) for s in (1, 2)]
    gpu = [GCNPredictor(s, epochs=20, device="cuda") for s in (1, 2)]
    fit_many(cpu, sets)
    fit_many(gpu, sets)
    query = _data(TRANS101, 50, 7)[0]
    for a, b, (_, y) in zip(cpu, gpu, sets, strict=True):
        assert b.model is not None and all(t.is_cuda for t in b.model.parameters())
        np.testing.assert_allclose(b.predict(query), a.predict(query), atol=1e-3 * float(np.std(y)))


@pytest.mark.parametrize("method", ["ktnas_random", "gcn"])
def test_a_predictor_search_gives_the_reference_result(reference, method: str) -> None:  # type: ignore[no-untyped-def]
    """A TransNAS-Bench-101 search (multi-task: its tasks' predictors fitted as one batched model) gives
    the result of the reference path, which fits each predictor alone through autograd."""
    from ktnas.recipes import SearchPaths
    from ktnas.runner import run_search

    tasks = ["class_object", "class_scene", "room_layout"] if method != "gcn" else ["class_object"]
    params = {"max_evaluations": 30, "stop_at_optimum": False}
    if method != "gcn":
        params["n_candidates"] = 40

    def search() -> dict:
        return run_search("trans101", method, 3, tasks, params, SearchPaths()).to_dict()

    assert search() == reference(search)


def test_non_one_hot_vertex_features_are_refused() -> None:
    """Training reads the first layer's product as a row look-up, which needs one-hot vertex features."""

    class Blurred(Trans101Space):
        def adjacency_ops(self, arch: str) -> tuple[np.ndarray, np.ndarray]:
            a, f = super().adjacency_ops(arch)
            return a, f * 0.5

    archs, y = _data(TRANS101, 10, 1)
    with pytest.raises(ValueError, match="Blurred.adjacency_ops: vertex features must be one-hot"):
        GCNPredictor(0, space=Blurred(), epochs=2).fit(archs, y)
