"""Learned encoders arch2vec and CATE (docs/reproduction.md §2.7): pre-training works, determinism, state, tables.

Pre-training runs on small restricted spaces (a few hundred to 1,500 NAS-Bench-201 cells) with few
epochs so that every test takes seconds; the default configuration on the full spaces is exercised by
the slow tests at the end.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch

from ktnas.embedding import ENCODERS, EmbeddingConfig, EmbeddingTable, build_embedding
from ktnas.embedding.learned import Arch2VecEncoder, CateEncoder, _pairs, cell_graphs
from ktnas.spaces import get_space
from ktnas.spaces.base import SearchSpace
from ktnas.spaces.restricted import RestrictedSpace

LEARNED = ["arch2vec", "cate"]


@cache
def split(name: str, n_train: int, n_held: int) -> tuple[RestrictedSpace, list[str]]:
    """A restricted space of ``n_train`` random cells of ``name`` and ``n_held`` other cells."""
    base = get_space(name)
    archs = base.all_archs()
    perm = np.random.default_rng(0).permutation(len(archs))
    train = [archs[i] for i in perm[:n_train]]
    held = [archs[i] for i in perm[n_train : n_train + n_held]]
    return RestrictedSpace(base, train), held


def fit(
    method: str, space: SearchSpace, seed: int = 0, epochs: int = 1, **config: int
) -> Arch2VecEncoder | CateEncoder:
    cls = ENCODERS[method]
    assert issubclass(cls, Arch2VecEncoder | CateEncoder)
    return cls.fit(space, EmbeddingConfig(method=method, **config), seed, progress=False, epochs=epochs)


# -- cell graphs -----------------------------------------------------------------------------------------
def test_cell_graphs_of_every_space() -> None:
    nb201 = get_space("nb201")
    (cell,) = cell_graphs(
        nb201, "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|"
    )
    assert len(cell.labels) == 10 and len(cell.edges) == 12
    assert cell.labels[0] == "input0" and cell.labels[-1] == "output"
    assert Counter(cell.labels)["node"] == 2
    assert sorted(label for label in cell.labels if label not in {"input0", "node", "output"}) == sorted(
        ["nor_conv_3x3", "none", "skip_connect", "avg_pool_3x3", "nor_conv_1x1", "none"]
    )
    assert all(i < j for i, j in cell.edges)  # topological order
    darts = get_space("darts")
    arch = darts.sample(np.random.default_rng(0))
    cells = cell_graphs(darts, arch)
    assert len(cells) == 2
    for c, graph in enumerate(cells):
        assert graph.labels[:2] == ("input0", "input1") and graph.labels[-1] == "output"
        ops = [lab for lab in graph.labels if lab not in {"input0", "input1", "node", "output"}]
        assert sorted(ops) == sorted(t.rsplit("|", 1)[-1] for t in darts.tokens(arch)[c])
        assert all(i < j for i, j in graph.edges)


def test_pairs_are_of_similar_computation() -> None:
    rng = np.random.default_rng(0)
    proxy = rng.integers(0, 7, size=500)
    pairs = _pairs(proxy, rng, partners=2, window=16)
    assert pairs.shape == (1000, 2)
    assert (pairs[:, 0] != pairs[:, 1]).all()
    assert sorted(Counter(pairs[:, 0].tolist()).values()) == [2] * 500
    gap = np.abs(proxy[pairs[:, 0]] - proxy[pairs[:, 1]])
    random_gap = np.abs(proxy[pairs[:, 0]] - proxy[rng.permutation(pairs[:, 1])])
    assert gap.mean() < 0.2 < random_gap.mean()
    with pytest.raises(ValueError, match="at least 2"):
        _pairs(proxy[:1], rng, 2, 16)


# -- (a) arch2vec reconstructs held-out cells above chance -----------------------------------------------
def test_arch2vec_reconstructs_held_out_cells_above_base_rate() -> None:
    space, held = split("nb201", 1500, 400)
    encoder = fit("arch2vec", space, epochs=8)
    rec = encoder.reconstruction(held)
    label_acc = (rec["labels"] == rec["labels_pred"]).mean()
    label_base = Counter(rec["labels"].tolist()).most_common(1)[0][1] / len(rec["labels"])
    edge_acc = ((rec["edges_prob"] > 0.5) == (rec["edges"] > 0.5)).mean()
    edge_base = max(rec["edges"].mean(), 1 - rec["edges"].mean())  # always predict the majority class
    assert label_acc > label_base + 0.1, (label_acc, label_base)
    assert edge_acc > edge_base + 0.05, (edge_acc, edge_base)
    # the decoded edge probability separates edges from non-edges
    assert rec["edges_prob"][rec["edges"] > 0].mean() > rec["edges_prob"][rec["edges"] == 0].mean() + 0.2


# -- (b) CATE's masked-op prediction beats the op frequencies --------------------------------------------
def test_cate_masked_op_accuracy_beats_op_frequencies() -> None:
    space, held = split("nb201", 1500, 1000)
    encoder = fit("cate", space, epochs=4)
    true, pred = encoder.masked_op_predictions(held, seed=1)
    assert len(true) > 3000
    assert set(true) <= set(get_space("nb201").ops)  # type: ignore[attr-defined]
    # frequency predictor: always the op most frequent in the pre-training cells
    train_ops = Counter(
        label
        for arch in space.all_archs()
        for label in cell_graphs(space, arch)[0].labels
        if label in set(true)
    )
    majority = train_ops.most_common(1)[0][0]
    accuracy = np.mean([t == p for t, p in zip(true, pred, strict=True)])
    baseline = np.mean([t == majority for t in true])
    assert accuracy > baseline + 0.02, (accuracy, baseline)


# -- (c) determinism -------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", LEARNED)
def test_same_seed_same_vectors_other_seed_other_vectors(method: str) -> None:
    space, held = split("nb201", 200, 50)
    torch_state = torch.random.get_rng_state()
    np_state = np.random.get_state()  # noqa: NPY002
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        a = fit(method, space, seed=3).embed(held)
        b = fit(method, space, seed=3).embed(held)
        c = fit(method, space, seed=4).embed(held)
    finally:
        torch.use_deterministic_algorithms(deterministic)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c, atol=1e-3)
    # the caller's random states and thread count are left alone
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], np_state[1])  # noqa: NPY002
    assert torch.get_num_threads() == threads


@pytest.mark.parametrize("method", LEARNED)
def test_vectors_independent_of_batch_and_order(method: str) -> None:
    space, held = split("nb201", 200, 300)
    encoder = fit(method, space)
    full = encoder.embed(held)
    assert full.dtype == np.float32 and full.shape == (300, encoder.dim)
    np.testing.assert_allclose(np.linalg.norm(full, axis=1), 1, atol=1e-6)
    single = np.concatenate([encoder.embed([a]) for a in held[:20]])
    np.testing.assert_allclose(single, full[:20], rtol=0, atol=1e-7)
    np.testing.assert_allclose(encoder.embed(held[::-1])[::-1], full, rtol=0, atol=1e-7)


# -- (d) state round trip --------------------------------------------------------------------------------
@pytest.mark.parametrize("method", LEARNED)
def test_state_round_trip_gives_identical_vectors(method: str) -> None:
    space, held = split("nb201", 200, 100)
    encoder = fit(method, space)
    state = json.loads(json.dumps(encoder.state()))  # what a table's metadata holds
    config = EmbeddingConfig(method=method)
    rebuilt = ENCODERS[method].from_state(get_space("nb201"), config, state)
    assert rebuilt.dim == encoder.dim
    assert np.array_equal(rebuilt.embed(held), encoder.embed(held))
    assert rebuilt.state() == encoder.state()
    broken = dict(state, weights={k: v for k, v in list(state["weights"].items())[1:]})
    with pytest.raises(ValueError, match="rebuild the table"):
        ENCODERS[method].from_state(get_space("nb201"), config, broken).embed(held[:1])
    with pytest.raises(ValueError, match="malformed"):
        ENCODERS[method].from_state(get_space("nb201"), config, {"labels": []})


def test_arch2vec_reconstruction_survives_the_state() -> None:
    space, held = split("nb201", 200, 30)
    encoder = fit("arch2vec", space)
    rebuilt = Arch2VecEncoder.from_state(space, encoder.config, encoder.state())
    for key, value in encoder.reconstruction(held).items():
        assert np.array_equal(rebuilt.reconstruction(held)[key], value)


# -- (e) tables ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", LEARNED)
def test_table_save_load_and_on_demand_rows(method: str, tmp_path: Path) -> None:
    space, held = split("nb201", 300, 20)
    table = build_embedding(space, method, progress=False)  # the whole (restricted) space, default sizes
    assert len(table) == 300 and table.method == method
    assert table.dim == (16 if method == "arch2vec" else 64)
    path = tmp_path / f"{method}.parquet"
    table.save(path)
    loaded = EmbeddingTable.load(path)  # the space named in the file: the full NB201
    assert loaded.archs == table.archs
    assert np.array_equal(loaded.matrix, table.matrix)
    # cells outside the table are embedded on demand, identically by the stored and the fitted encoder
    np.testing.assert_array_equal(loaded.vectors(held), table.vectors(held))
    d = loaded.distances(held, table.archs[:10])
    assert d.shape == (20, 10) and d.min() >= 0 and d.max() <= 2
    assert np.abs(np.diag(loaded.distances(held, held))).max() <= 1e-6


def test_darts_embeds_on_demand_and_ignores_input_order(tmp_path: Path) -> None:
    darts = get_space("darts")
    rng = np.random.default_rng(0)
    archs = [darts.sample(rng) for _ in range(10)]
    for method in LEARNED:
        table = build_embedding(darts, method, archs=[], progress=False, corpus_size=40)
        assert len(table) == 0 and table.dim == 2 * (16 if method == "arch2vec" else 64)
        # the same genotype spelled with each node's two inputs swapped is the same architecture
        swapped = [
            ";".join(
                cell.split(":")[0]
                + ":"
                + "|".join("+".join(n.split("+")[::-1]) for n in cell.split(":")[1].split("|"))
                for cell in a.split(";")
            )
            for a in archs
        ]
        assert np.abs(np.diag(table.distances(archs, swapped))).max() <= 1e-6
        table.save(tmp_path / f"darts-{method}.parquet")
        loaded = EmbeddingTable.load(tmp_path / f"darts-{method}.parquet")
        assert len(loaded) == 10
        np.testing.assert_array_equal(loaded.vectors(archs), table.vectors(archs))


# -- errors and lazy import ------------------------------------------------------------------------------
def test_errors_name_the_bad_value() -> None:
    space, _ = split("nb201", 50, 0)
    for method in LEARNED:
        with pytest.raises(ValueError, match="epochs must be a positive integer.*got 0"):
            fit(method, space, epochs=0)
    with pytest.raises(ValueError, match="at least 2, got 1"):
        fit("cate", RestrictedSpace(get_space("nb201"), space.all_archs()[:1]))


def test_importing_the_package_does_not_import_torch() -> None:
    code = "import sys, ktnas.embedding, ktnas.embedding.learned; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# -- default configuration (slow) ------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("method", LEARNED)
def test_default_tables_trans101(method: str) -> None:
    """Full TransNAS-Bench-101 table with default sizes: distinct vectors, distance grows with edits."""
    table = build_embedding("trans101", method, progress=False)
    assert len(table) == 4096
    assert len(np.unique(table.matrix.round(5), axis=0)) == 4096
    space = get_space("trans101")
    rng = np.random.default_rng(0)
    means = []
    for k in (1, 3, 6):
        a_list, b_list = [], []
        for _ in range(300):
            a = space.sample(rng)
            genes = list(space.genes(a))
            for pos in rng.choice(6, size=k, replace=False):
                genes[pos] = (genes[pos] + 1 + int(rng.integers(3))) % 4
            a_list.append(a)
            b_list.append(space._format(tuple(genes)))
        va, vb = table.vectors(a_list).astype(np.float64), table.vectors(b_list).astype(np.float64)
        means.append(float((1 - np.einsum("ij,ij->i", va, vb)).mean()))
    assert means[0] < means[1] < means[2], means
