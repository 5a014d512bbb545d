"""Architecture embedding (docs/reproduction.md §2.6): acceptance properties 1–7 on every space, encoders, Parquet I/O.

The node2vec tables here use a small corpus and dimension (``SMALL``) so the file stays fast; the
default configuration is exercised by the slow test at the end (its cost: scripts/bench.py).

Two adaptations of the §2.6 protocol, both needed by the 6-gene cell spaces, applied to every space:
* a "k-edit mutant" changes k *distinct* genes to other values (so the edit distance is exactly k); the
  cell spaces have 6 genes, so there k ∈ {1..6} instead of {1, 2, 3, 5, 8, 12};
* in the nearest-neighbour trial the 50 random distractors are at edit distance ≥ 2 from ``a``: in
  TransNAS (4,096 cells) about one trial in five would otherwise hold a second 1-edit neighbour, which
  is a tie for the exact oracle, not an embedding error.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from collections import Counter
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from scipy.stats import spearmanr

from ktnas._io import parquet_metadata
from ktnas.embedding import ENCODERS, EmbeddingConfig, EmbeddingTable, build_embedding, load_or_build
from ktnas.embedding import table as table_module
from ktnas.embedding.encoders import arch_paths
from ktnas.spaces import SPACES, get_space
from ktnas.spaces.base import SearchSpace

SPACE_NAMES = [name for name in ("nb201", "trans101", "darts") if name in SPACES]
#: small node2vec settings per space (DARTS graphs are 3.6x larger: one walk per vertex)
SMALL = {
    "nb201": {"dim": 64, "corpus_size": 300},
    "trans101": {"dim": 64, "corpus_size": 300},
    "darts": {"dim": 64, "corpus_size": 300, "num_walks": 1},
}


def gene_max(space: SearchSpace) -> tuple[int, ...]:
    if space.name == "darts":
        from ktnas.spaces.darts import GENE_MAX

        return GENE_MAX
    return (len(space.ops) - 1,) * 6  # type: ignore[attr-defined]


def k_edit(space: SearchSpace, arch: str, k: int, rng: np.random.Generator) -> str:
    """``arch`` with k distinct genes each changed to another valid value."""
    genes = list(space.genes(arch))
    top = gene_max(space)
    for pos in rng.choice(len(genes), size=k, replace=False):
        span = top[pos] + 1
        genes[pos] = (genes[pos] + 1 + int(rng.integers(span - 1))) % span
    return space._format(tuple(genes))


def ks_for(space: SearchSpace) -> list[int]:
    return [1, 2, 3, 4, 5, 6] if len(gene_max(space)) == 6 else [1, 2, 3, 5, 8, 12]


@cache
def n2v(name: str, seed: int = 0) -> EmbeddingTable:
    return build_embedding(name, "node2vec", seed=seed, archs=[], progress=False, **SMALL[name])


@cache
def onehot(name: str) -> EmbeddingTable:
    return build_embedding(name, "onehot", archs=[], progress=False)


@cache
def edit_pairs(name: str) -> tuple[list[str], list[str], np.ndarray]:
    """200 random architectures × each k: (a, k-edit mutant of a, k)."""
    space = get_space(name)
    rng = np.random.default_rng(4)
    a_list, b_list, ks = [], [], []
    for _ in range(200):
        a = space.sample(rng)
        for k in ks_for(space):
            a_list.append(a)
            b_list.append(k_edit(space, a, k, rng))
            ks.append(k)
    return a_list, b_list, np.asarray(ks)


def pair_dist(table: EmbeddingTable, a: list[str], b: list[str]) -> np.ndarray:
    va, vb = table.vectors(a).astype(np.float64), table.vectors(b).astype(np.float64)
    return 1.0 - np.einsum("ij,ij->i", va, vb)


def swap_inputs(arch: str) -> str:
    """A DARTS string with the two (op, input) pairs of every node swapped (non-canonical spelling)."""
    cells = []
    for cell in arch.split(";"):
        tag, body = cell.split(":")
        cells.append(tag + ":" + "|".join("+".join(node.split("+")[::-1]) for node in body.split("|")))
    return ";".join(cells)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- property 1: identity --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", SPACE_NAMES)
def test_identity(name: str) -> None:
    space, table = get_space(name), n2v(name)
    rng = np.random.default_rng(1)
    archs = [space.sample(rng) for _ in range(1000)]
    d = pair_dist(table, archs, archs)
    assert d.max() <= 1e-6
    assert np.diag(table.distances(archs[:50], archs[:50])).max() <= 1e-6
    if name == "darts":
        swapped = [swap_inputs(a) for a in archs[:200]]
        assert swapped != archs[:200]  # really a different spelling
        assert pair_dist(table, archs[:200], swapped).max() <= 1e-6


@pytest.mark.parametrize("name", SPACE_NAMES)
@pytest.mark.parametrize("method", ["onehot", "path"])
def test_identity_symmetry_range_other_encoders(name: str, method: str) -> None:
    space = get_space(name)
    rng = np.random.default_rng(2)
    a = [space.sample(rng) for _ in range(60)]
    b = [space.sample(rng) for _ in range(40)] + a[:5]
    archs = a[:30] if space.size() is not None else []
    table = build_embedding(name, method, dim=64, archs=archs, progress=False)
    d = table.distances(a, b)
    assert np.abs(np.diag(table.distances(a, a))).max() <= 1e-6
    np.testing.assert_allclose(d, table.distances(b, a).T, rtol=0, atol=1e-12)
    assert d.min() >= 0 and d.max() <= 2
    assert table.vectors(a).dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(table.vectors(a), axis=1), 1, atol=1e-6)


# -- property 2: symmetry and range ----------------------------------------------------------------------
@pytest.mark.parametrize("name", SPACE_NAMES)
def test_symmetry_and_range(name: str) -> None:
    space, table = get_space(name), n2v(name)
    rng = np.random.default_rng(3)
    a = [space.sample(rng) for _ in range(120)]
    b = [space.sample(rng) for _ in range(80)] + a[:20] + [k_edit(space, x, 1, rng) for x in a[:20]]
    d_ab, d_ba = table.distances(a, b), table.distances(b, a)
    assert d_ab.shape == (len(a), len(b)) and d_ab.dtype == np.float64
    np.testing.assert_allclose(d_ab, d_ba.T, rtol=0, atol=1e-12)
    assert d_ab.min() >= 0.0 and d_ab.max() <= 2.0
    # the matrix is 1 - cos of the stored vectors
    va, vb = table.vectors(a).astype(np.float64), table.vectors(b).astype(np.float64)
    np.testing.assert_allclose(d_ab, np.clip(1 - va @ vb.T, 0, 2), rtol=0, atol=1e-12)


# -- property 3: determinism -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", SPACE_NAMES)
def test_determinism_byte_identical(name: str, tmp_path: Path) -> None:
    space = get_space(name)
    rng = np.random.default_rng(5)
    queries = [space.sample(rng) for _ in range(100)]
    paths = []
    for i, table in enumerate(
        [n2v(name), build_embedding(name, seed=0, archs=None, progress=False, **SMALL[name])]
    ):
        if i == 0:  # the cached table may already hold other on-demand rows: rebuild its row set
            table = EmbeddingTable(
                table.space,
                table.archs[:0],
                table.matrix[:0],
                config=table.config,
                seed=table.seed,
                encoder=table.encoder,
            )
            if space.size() is not None:
                table.vectors(space.all_archs())
        table.vectors(queries)
        paths.append(tmp_path / f"{i}.parquet")
        table.save(paths[-1])
    assert sha256(paths[0]) == sha256(paths[1])
    other_seed = n2v(name, 1)
    assert not np.array_equal(other_seed.vectors(queries), n2v(name).vectors(queries))


@pytest.mark.parametrize("name", SPACE_NAMES)
def test_vectors_independent_of_batch_and_order(name: str) -> None:
    space, table = get_space(name), n2v(name)
    rng = np.random.default_rng(6)
    archs = [space.sample(rng) for _ in range(64)]
    encoder = table.encoder
    assert encoder is not None
    batch = encoder.embed(archs)
    single = np.concatenate([encoder.embed([a]) for a in archs])
    assert np.array_equal(batch, single)
    shuffled = list(rng.permutation(len(archs)))
    assert np.array_equal(encoder.embed([archs[i] for i in shuffled]), batch[shuffled])
    fresh = EmbeddingTable(space, [], np.empty((0, table.dim)), config=table.config, seed=0, encoder=encoder)
    fresh.vectors(archs[32:])  # memoise part of the batch first
    assert np.array_equal(fresh.vectors(archs), batch)


# -- property 4: edit-distance monotonicity ---------------------------------------------------------------
@pytest.mark.parametrize("name", SPACE_NAMES)
def test_edit_distance_monotonicity(name: str) -> None:
    a, b, ks = edit_pairs(name)
    d = pair_dist(n2v(name), a, b)
    means = [d[ks == k].mean() for k in np.unique(ks)]
    assert all(x < y for x, y in zip(means, means[1:], strict=False)), means
    rho = spearmanr(ks, d).statistic
    assert rho >= 0.9, (rho, means)


# -- property 5: agreement with the exact one-hot oracle -------------------------------------------------
@pytest.mark.parametrize("name", SPACE_NAMES)
def test_agreement_with_onehot_oracle(name: str) -> None:
    a, b, _ = edit_pairs(name)
    rho = spearmanr(pair_dist(n2v(name), a, b), pair_dist(onehot(name), a, b)).statistic
    assert rho >= 0.9, rho


@pytest.mark.parametrize("name", SPACE_NAMES)
def test_onehot_is_the_token_count_cosine(name: str) -> None:
    space, table = get_space(name), onehot(name)
    rng = np.random.default_rng(7)
    a = [space.sample(rng) for _ in range(20)]
    b = [k_edit(space, x, 2, rng) for x in a[:10]] + [space.sample(rng) for _ in range(10)]
    for x, y, d in zip(a, b, pair_dist(table, a, b), strict=True):
        cx, cy = (
            Counter(t for cell in space.tokens(x) for t in cell),
            Counter(t for cell in space.tokens(y) for t in cell),
        )
        dot = sum(cx[t] * cy[t] for t in cx)
        norm = np.sqrt(sum(v * v for v in cx.values()) * sum(v * v for v in cy.values()))
        assert d == pytest.approx(1 - dot / norm, abs=1e-6)
    assert table.dim == sum(len(cell) for cell in space.vocabulary())


# -- property 6: nearest neighbour -----------------------------------------------------------------------
@pytest.mark.parametrize("name", SPACE_NAMES)
def test_nearest_neighbour(name: str) -> None:
    space, table = get_space(name), n2v(name)
    rng = np.random.default_rng(8)
    hits = 0
    for _ in range(200):
        a = space.sample(rng)
        mutant = k_edit(space, a, 1, rng)
        genes = np.asarray(space.genes(a))
        distractors: list[str] = []
        while len(distractors) < 50:
            x = space.sample(rng)  # canonical already: compare genes without re-validating
            if np.count_nonzero(np.asarray(space._parse(x)) != genes) >= 2:
                distractors.append(x)
        d = table.distances([a], [mutant, *distractors])[0]
        hits += bool(d[0] < d[1:].min())
    assert hits / 200 >= 0.95, hits


# -- property 7: seed robustness -------------------------------------------------------------------------
@pytest.mark.parametrize("name", SPACE_NAMES)
def test_seed_robustness(name: str) -> None:
    space = get_space(name)
    a, b, _ = edit_pairs(name)
    rng = np.random.default_rng(9)
    a = a + [space.sample(rng) for _ in range(200)]
    b = b + [space.sample(rng) for _ in range(200)]
    rho = spearmanr(pair_dist(n2v(name, 0), a, b), pair_dist(n2v(name, 1), a, b)).statistic
    assert rho >= 0.85, rho


# -- encoders, configuration, errors ---------------------------------------------------------------------
def test_registry_and_config_errors() -> None:
    assert set(ENCODERS) == {"node2vec", "onehot", "path", "arch2vec", "cate"}
    with pytest.raises(ValueError, match="unknown embedding method 'graph2vec'"):
        build_embedding("nb201", "graph2vec", archs=[], progress=False)
    with pytest.raises(ValueError, match="unknown embedding option"):
        EmbeddingConfig.from_dict({"dimension": 3})
    with pytest.raises(ValueError, match="dim must be a positive integer"):
        EmbeddingConfig(dim=0)
    with pytest.raises(ValueError, match="seed"):
        build_embedding("nb201", "onehot", seed=-1, archs=[], progress=False)
    with pytest.raises(ValueError, match="malformed"):
        onehot("nb201").vectors(["not an architecture"])
    with pytest.raises(ValueError, match="list of architectures"):
        onehot("nb201").vectors("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")  # type: ignore[arg-type]


@pytest.mark.skipif("darts" not in SPACES, reason="darts space not registered")
def test_darts_config_errors() -> None:
    with pytest.raises(ValueError, match="divisible by its 2 cells"):
        build_embedding("darts", dim=65, archs=[], progress=False, corpus_size=10)
    with pytest.raises(ValueError, match="raise corpus_size"):
        build_embedding("darts", dim=8, archs=[], progress=False, corpus_size=3)


def test_node2vec_leaves_global_random_state_alone() -> None:
    random.seed(123)
    np.random.seed(123)  # noqa: NPY002 - the global state is what this test guards
    py, npy = random.getstate(), np.random.get_state()  # noqa: NPY002
    build_embedding("trans101", archs=[], progress=False, dim=8, corpus_size=50, min_token_count=1)
    assert random.getstate() == py
    after = np.random.get_state()  # noqa: NPY002
    assert np.array_equal(after[1], npy[1]) and after[2:] == npy[2:]


def test_path_encoding_cell_spaces() -> None:
    nb = get_space("nb201")
    conv = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    assert sorted(arch_paths(nb, conv)[0]) == sorted(
        ["node0:nor_conv_3x3"]
        + ["node0:nor_conv_3x3>nor_conv_3x3"] * 2
        + ["node0:" + ">".join(["nor_conv_3x3"] * 3)]
    )
    table = build_embedding("nb201", "path", archs=[conv], progress=False)
    assert table.dim == 5 + 25 + 125  # White et al.: all op sequences of length 1..3
    assert build_embedding("trans101", "path", archs=[], progress=False).dim == 4 + 16 + 64
    vocab = table.encoder.vocabulary[0]  # type: ignore[union-attr]
    v = table.vectors([conv])[0]
    expected = np.zeros(table.dim)
    for label, count in Counter(arch_paths(nb, conv)[0]).items():
        expected[vocab.index(label)] = count
    np.testing.assert_allclose(v, expected / np.linalg.norm(expected), atol=1e-6)


@pytest.mark.skipif("darts" not in SPACES, reason="darts space not registered")
def test_path_encoding_darts_hashed() -> None:
    space = get_space("darts")
    rng = np.random.default_rng(10)
    arch = space.sample(rng)
    paths = arch_paths(space, arch)
    assert len(paths) == 2 and all(paths)
    assert all(label.startswith("reduce|in") for label in paths[0])
    assert all(label.startswith("normal|in") for label in paths[1])
    table = build_embedding("darts", "path", dim=32, archs=[], progress=False)
    assert table.dim == 32
    assert table.distances([arch], [swap_inputs(arch)])[0, 0] <= 1e-6


# -- storage -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", SPACE_NAMES)
def test_parquet_roundtrip(name: str, tmp_path: Path) -> None:
    space, table = get_space(name), n2v(name)
    rng = np.random.default_rng(11)
    table.vectors([space.sample(rng) for _ in range(30)])
    path = tmp_path / f"{name}.parquet"
    table.save(path)
    schema = pq.read_schema(path)
    assert schema.names == ["arch", "embedding"]
    assert str(schema.field("embedding").type) == f"fixed_size_list<element: float>[{table.dim}]"
    meta = parquet_metadata(path)
    assert meta["space"] == name and meta["method"] == "node2vec" and json.loads(meta["seed"]) == 0
    assert json.loads(meta["config"]) == table.config.to_dict()
    assert json.loads(meta["versions"])["node2vec"] == "0.5.0"
    assert {"ktnas_version", "git_sha", "encoder_state", "encoder_sha256"} <= set(meta)
    loaded = EmbeddingTable.load(path)
    assert loaded.archs == table.archs
    assert np.array_equal(loaded.matrix, table.matrix) and loaded.matrix.dtype == np.float32
    assert loaded.config == table.config and loaded.seed == 0 and loaded.space.name == name
    new = [space.sample(rng) for _ in range(10)]
    assert np.array_equal(loaded.vectors(new), table.vectors(new))  # same coordinates on demand


@pytest.mark.skipif("darts" not in SPACES, reason="darts space not registered")
def test_empty_darts_table_roundtrip(tmp_path: Path) -> None:
    """`ktnas embed --space darts` writes no rows, only the encoder: loading it embeds on demand."""
    built = build_embedding("darts", "path", dim=32, progress=False)
    assert len(built) == 0
    built.save(tmp_path / "d.parquet")
    loaded = EmbeddingTable.load(tmp_path / "d.parquet")
    assert len(loaded) == 0 and loaded.dim == 32
    rng, space = np.random.default_rng(13), get_space("darts")
    archs = [space.sample(rng) for _ in range(4)]
    assert np.array_equal(loaded.vectors(archs), built.vectors(archs)) and len(loaded) == 4


def test_load_rejects_foreign_files(tmp_path: Path) -> None:
    from ktnas._io import KtnasError, write_parquet

    path = tmp_path / "x.parquet"
    write_parquet(path, __import__("pandas").DataFrame({"arch": ["a"]}))
    with pytest.raises(KtnasError, match="not a ktnas embedding table"):
        EmbeddingTable.load(path)
    with pytest.raises(KtnasError, match="file not found"):
        EmbeddingTable.load(tmp_path / "missing.parquet")


def test_load_or_build_caches(tmp_path: Path) -> None:
    name = "trans101"  # the mechanics do not depend on the space; darts' on-demand rows are in roundtrip
    opts = {**SMALL[name], "dim": 16}
    path = tmp_path / f"{name}.parquet"
    first = load_or_build(name, path, seed=3, progress=False, **opts)
    assert path.exists() and load_or_build(name, path, seed=3, progress=False, **opts) is first
    table_module._OPEN.clear()
    stamp = path.stat().st_mtime_ns
    again = load_or_build(name, path, seed=3, progress=False, **opts)
    assert again is not first and path.stat().st_mtime_ns == stamp  # read back, not rebuilt
    space = get_space(name)
    rng = np.random.default_rng(12)
    archs = [space.sample(rng) for _ in range(5)]
    assert np.array_equal(again.vectors(archs), first.vectors(archs))
    other = load_or_build(name, path, seed=4, progress=False, **opts)  # other settings: rebuilt
    assert other.seed == 4 and json.loads(parquet_metadata(path)["seed"]) == 4
    table_module._OPEN.clear()


# -- heavier checks ----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_determinism_across_hash_seeds(tmp_path: Path) -> None:
    """Byte-identical files from two processes with different PYTHONHASHSEED."""
    code = (
        "import sys; from ktnas.embedding import build_embedding; "
        "build_embedding('nb201', dim=16, corpus_size=100, progress=False).save(sys.argv[1])"
    )
    digests = []
    for hash_seed in ("1", "2"):
        out = tmp_path / f"h{hash_seed}.parquet"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run(
            [sys.executable, "-c", code, str(out)], check=True, env=env, cwd=Path(__file__).parents[1]
        )
        digests.append(sha256(out))
    assert digests[0] == digests[1]


@pytest.mark.slow
def test_default_config_properties_nb201() -> None:
    """Properties 4–6 with the default configuration (256 dims, 2,000-architecture corpus)."""
    table = build_embedding("nb201", archs=[], progress=False)
    assert table.dim == 256
    a, b, ks = edit_pairs("nb201")
    d = pair_dist(table, a, b)
    assert spearmanr(ks, d).statistic >= 0.9
    assert spearmanr(d, pair_dist(onehot("nb201"), a, b)).statistic >= 0.9
