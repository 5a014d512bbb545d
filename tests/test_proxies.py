"""Zero-cost proxies of NB201 cells (ktnas.proxies): the network, the scores, chunking, the bundled table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ktnas._io import KtnasError, write_parquet
from ktnas.proxies import (
    BATCH_PROXIES,
    DATASET_NAMES,
    batch_sample_archs,
    bundled_proxies_path,
    canonical_proxies,
    chunk_archs,
    load_bundled_proxies,
    merge_chunks,
)
from ktnas.spaces.nb201 import NB201Space

torch = pytest.importorskip("torch")

from ktnas.proxies.nb201_net import (  # noqa: E402
    Cell,
    build_network,
    count_parameters,
    live_edges,
    weighted_layers,
)
from ktnas.proxies.scores import (  # noqa: E402
    batch_proxies,
    compute_proxies,
    make_batch,
    synflow,
    weight_generator,
)

ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"

# (NB201 index, cell string, params in millions for cifar10 / cifar100 / ImageNet16-120), copied from the
# benchmark's `params` columns (the public exports of DATA.md: nb201_cifar10_naswot.csv, nb201_200ep_reconstructed_all3.csv)
PARAMS = [
    (
        0,
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
        (0.129306, 0.135156, 0.136456),
    ),
    (
        3,
        "|avg_pool_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|skip_connect~2|",
        (0.073306, 0.079156, 0.080456),
    ),
    (
        6111,
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|",
        (1.073466, 1.079316, 1.080616),
    ),
    (
        9930,
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
        (1.288506, 1.294356, 1.295656),
    ),
    (
        15624,
        "|nor_conv_1x1~0|+|none~0|nor_conv_1x1~1|+|none~0|nor_conv_1x1~1|nor_conv_1x1~2|",
        (0.185306, 0.191156, 0.192456),
    ),
]


# -- the network ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("index", "arch", "params"), PARAMS)
def test_parameter_count_matches_benchmark(index: int, arch: str, params: tuple[float, ...]) -> None:
    assert NB201Space().index(arch) == index
    for dataset, expected in zip(DATASET_NAMES, params, strict=True):
        net = build_network(arch, dataset, torch.Generator().manual_seed(0))
        assert count_parameters(net) == round(expected * 1e6), dataset


def test_forward_shape_per_dataset() -> None:
    for dataset, (res, classes) in zip(DATASET_NAMES, [(32, 10), (32, 100), (16, 120)], strict=True):
        x, y = make_batch(dataset, seed=0, batch_size=2)
        assert x.shape == (2, 3, res, res) and int(y.max()) < classes
        net = build_network(PARAMS[0][1], dataset, torch.Generator().manual_seed(0))
        with torch.no_grad():
            assert net(x).shape == (2, classes)


def test_bn_free_copy_shares_weights() -> None:
    arch = PARAMS[2][1]
    a = build_network(arch, "cifar10", weight_generator(0, 5), bn=True)
    b = build_network(arch, "cifar10", weight_generator(0, 5), bn=False)
    la, lb = weighted_layers(a), weighted_layers(b)
    assert len(la) == len(lb) > 0
    assert all(torch.equal(x.weight, y.weight) for x, y in zip(la, lb, strict=True))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in b.modules())


def test_live_edges() -> None:
    space = NB201Space()
    # node 1 fed by conv but only leaves through `none` -> edge 0->1 is dead; 0->3 skip is live
    genes = space.genes("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
    assert live_edges(genes) == (False, False, False, True, False, False)
    # node 2 never fed (only none into it) -> 2->3 conv is dead although it reaches the output
    genes = space.genes("|skip_connect~0|+|none~0|none~1|+|none~0|avg_pool_3x3~1|nor_conv_1x1~2|")
    assert live_edges(genes) == (True, False, False, False, True, False)
    assert live_edges(space.genes(ALL_NONE)) == (False,) * 6


def test_pruned_synflow_equals_full_forward() -> None:
    space = NB201Space()
    archs = [
        "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",
        "|skip_connect~0|+|none~0|nor_conv_3x3~1|+|none~0|avg_pool_3x3~1|nor_conv_1x1~2|",
        "|nor_conv_1x1~0|+|nor_conv_3x3~0|none~1|+|none~0|nor_conv_3x3~1|none~2|",
    ]
    for arch in archs:
        gen = weight_generator(0, space.index(arch))
        pruned = synflow(build_network(arch, "imagenet16", gen, bn=False), 16)
        net = build_network(arch, "imagenet16", weight_generator(0, space.index(arch)), bn=False).double()
        with torch.no_grad():
            for p in net.state_dict().values():
                p.abs_()
        net(torch.ones(1, 3, 16, 16, dtype=torch.float64)).sum().backward()
        full = sum(
            (m.weight.detach() * m.weight.grad).abs().sum().item()
            for m in weighted_layers(net)
            if m.weight.grad is not None
        )
        assert any(isinstance(c, Cell) and not all(c.live) for c in net.cells)
        assert pruned == full and pruned > 0


# -- the proxies -------------------------------------------------------------------------------------------
def test_nwot_kernel_matches_naswot_reference() -> None:
    """The fast kernel equals NASWOT's K = c·cᵀ + (1−c)·(1−c)ᵀ summed over every ReLU's input code."""
    arch = PARAMS[0][1]
    x, y = make_batch("imagenet16", seed=3, batch_size=16)
    got = batch_proxies(build_network(arch, "imagenet16", weight_generator(0, 0)), x, y, ["nwot"])["nwot"]

    net = build_network(arch, "imagenet16", weight_generator(0, 0))
    net = net.to(memory_format=torch.channels_last)
    k = np.zeros((16, 16))

    def hook(_m: torch.nn.Module, inp: tuple[torch.Tensor, ...], _o: torch.Tensor) -> None:
        c = (inp[0].detach().reshape(16, -1) > 0).double()
        k[:] += (c @ c.T + (1 - c) @ (1 - c).T).numpy()

    for m in net.modules():
        if isinstance(m, torch.nn.ReLU):
            m.register_forward_hook(hook)
    net.train()
    with torch.no_grad():
        net(x.contiguous(memory_format=torch.channels_last))
    assert got == np.linalg.slogdet(k)[1]


def test_compute_proxies_columns_and_alias() -> None:
    archs = [PARAMS[1][1], PARAMS[4][1]]
    df = compute_proxies(archs, "imagenet16", ["synflow", "jacov", "snip", "grad_norm"], progress=False)
    assert list(df.columns) == ["arch", "dataset", "synflow", "nwot", "snip", "grad_norm"]
    assert df["arch"].tolist() == archs and (df["dataset"] == "imagenet16").all()
    assert np.isfinite(df[["synflow", "nwot", "snip", "grad_norm"]].to_numpy()).all()
    assert (df[["synflow", "snip", "grad_norm"]].to_numpy() > 0).all()


def test_compute_proxies_deterministic_and_seeded() -> None:
    archs = [PARAMS[0][1], PARAMS[1][1]]
    proxies = ["synflow", "nwot", "snip", "grad_norm"]
    a = compute_proxies(archs, "imagenet16", proxies, seed=1, progress=False)
    b = compute_proxies(archs, "imagenet16", proxies, seed=1, progress=False)
    assert a[proxies].to_numpy().tobytes() == b[proxies].to_numpy().tobytes()
    c = compute_proxies(archs, "imagenet16", proxies, seed=2, progress=False)
    assert (a[proxies].to_numpy() != c[proxies].to_numpy()).all()
    # each proxy alone gives the same value as computed together (shared pass, same init)
    alone = compute_proxies(archs, "imagenet16", ["snip"], seed=1, progress=False)
    assert alone["snip"].to_numpy().tobytes() == a["snip"].to_numpy().tobytes()


def test_non_finite_scores_become_nan() -> None:
    df = compute_proxies([ALL_NONE], "imagenet16", ["synflow", "nwot", "snip", "grad_norm"], progress=False)
    row = df.iloc[0]
    assert math.isnan(row["nwot"])  # constant activations: K has rank 1, log|det K| = -inf
    assert row["synflow"] == 0.0 and row["snip"] == 0.0  # no signal reaches any weight: a true zero
    net = build_network(PARAMS[0][1], "imagenet16", weight_generator(0, 0), bn=False)
    with torch.no_grad():
        weighted_layers(net)[3].weight[0, 0, 0, 0] = math.inf
    assert math.isnan(synflow(net, 16))
    net = build_network(PARAMS[0][1], "imagenet16", weight_generator(0, 0))
    with torch.no_grad():
        weighted_layers(net)[0].weight.fill_(math.nan)
    x, y = make_batch("imagenet16", batch_size=8)
    out = batch_proxies(net, x, y, ["snip", "grad_norm"])
    assert math.isnan(out["snip"]) and math.isnan(out["grad_norm"])


def test_compute_proxies_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="dataset"):
        compute_proxies([PARAMS[0][1]], "imagenet", ["synflow"])
    with pytest.raises(ValueError, match="unknown proxy"):
        compute_proxies([PARAMS[0][1]], "cifar10", ["zen"])
    with pytest.raises(ValueError, match="twice"):
        canonical_proxies(["nwot", "jacov"])
    with pytest.raises(ValueError, match="malformed"):
        compute_proxies(["|conv~0|"], "cifar10", ["synflow"])


# -- chunking and merging ------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_chunks", [1, 2, 7, 25, 100])
def test_chunks_cover_every_arch_once(n_chunks: int) -> None:
    archs = NB201Space().all_archs()[:1000]
    chunks = [chunk_archs(archs, i, n_chunks) for i in range(n_chunks)]
    assert [a for c in chunks for a in c] == archs
    sizes = [len(c) for c in chunks]
    assert max(sizes) - min(sizes) <= 1


def test_chunk_archs_rejects_bad_index() -> None:
    with pytest.raises(ValueError, match="chunk"):
        chunk_archs(["a"], 3, 3)
    with pytest.raises(ValueError, match="n_chunks"):
        chunk_archs(["a"], 0, 0)


def test_merge_chunks(tmp_path) -> None:
    archs = NB201Space().all_archs()[:10]
    rev = archs[::-1]
    write_parquet(
        tmp_path / "s0.parquet", pd.DataFrame({"arch": rev[:5], "dataset": "cifar100", "synflow": 1.0})
    )
    write_parquet(
        tmp_path / "s1.parquet", pd.DataFrame({"arch": rev[5:], "dataset": "cifar100", "synflow": 2.0})
    )
    write_parquet(
        tmp_path / "s2.parquet", pd.DataFrame({"arch": archs, "dataset": "cifar10", "synflow": 3.0})
    )
    batch = pd.DataFrame({"arch": archs[:3], "dataset": "cifar10", "nwot": [1.0, np.nan, 2.0]})
    batch["snip"], batch["grad_norm"] = 4.0, 5.0
    write_parquet(tmp_path / "b0.parquet", batch)
    paths = [tmp_path / f for f in ("s0.parquet", "b0.parquet", "s1.parquet", "s2.parquet")]
    df = merge_chunks(paths)
    assert list(df.columns) == ["arch", "dataset", "synflow", "nwot", "snip", "grad_norm"]
    assert len(df) == 20
    assert df["dataset"].tolist() == ["cifar10"] * 10 + ["cifar100"] * 10
    assert df["arch"].tolist() == archs + archs  # NB201 index order within a dataset
    c10 = df[df["dataset"] == "cifar10"]
    assert c10["nwot"].iloc[:3].isna().tolist() == [False, True, False]
    assert c10["nwot"].iloc[3:].isna().all() and (c10["synflow"] == 3.0).all()
    with pytest.raises(ValueError, match="more than one chunk"):
        merge_chunks([*paths, tmp_path / "s2.parquet"])
    with pytest.raises(KtnasError, match="not found"):
        merge_chunks([tmp_path / "missing.parquet"])
    with pytest.raises(ValueError, match="no chunk"):
        merge_chunks([])


def test_batch_sample_is_fixed() -> None:
    a = batch_sample_archs(50)
    assert a == batch_sample_archs(50) and len(set(a)) == 50
    idx = [NB201Space().index(x) for x in a]
    assert idx == sorted(idx)


# -- the bundled table ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bundled() -> pd.DataFrame:
    assert bundled_proxies_path().exists(), (
        "the package must ship its proxy table (ktnas.proxies.build_bundled)"
    )
    return load_bundled_proxies()


def test_bundled_table_shape(bundled: pd.DataFrame) -> None:
    assert list(bundled.columns) == [
        "arch",
        "dataset",
        "synflow",
        "nwot",
        "snip",
        "grad_norm",
        "batch_sample",
    ]
    assert len(bundled) == 3 * 15625
    assert not bundled.duplicated(["arch", "dataset"]).any()
    sample = set(batch_sample_archs())
    assert bundled["batch_sample"].tolist() == bundled["arch"].isin(sample).tolist()
    assert bundled.groupby("dataset")["batch_sample"].sum().to_dict() == dict.fromkeys(DATASET_NAMES, 2000)
    assert bundled.loc[~bundled["batch_sample"], list(BATCH_PROXIES)].isna().all().all()
    # only degenerate cells may be NaN: < 5% per column where computed
    assert bundled["synflow"].notna().mean() > 0.95
    assert (bundled.loc[bundled["batch_sample"], list(BATCH_PROXIES)].notna().mean() > 0.95).all()


def test_bundled_values_recompute(bundled: pd.DataFrame) -> None:
    """A sample of cells recomputed now matches the table (bit-equal on the build machine; tolerances
    cover float32 round-off on other CPUs, see compute_proxies)."""
    rng = np.random.default_rng(0)
    rows = bundled[bundled["batch_sample"] & (bundled["dataset"] == "imagenet16")]
    rows = rows.iloc[np.sort(rng.choice(len(rows), size=4, replace=False))]
    got = compute_proxies(rows["arch"].tolist(), "imagenet16", ["synflow", *BATCH_PROXIES], progress=False)
    rtol = {"synflow": 1e-9, "nwot": 1e-6, "snip": 3e-3, "grad_norm": 3e-3}
    for p, tol in rtol.items():
        np.testing.assert_allclose(got[p].to_numpy(), rows[p].to_numpy(), rtol=tol, err_msg=p)
    for dataset in ("cifar10", "cifar100"):
        sub = bundled[bundled["dataset"] == dataset].iloc[[7, 12345]]
        got = compute_proxies(sub["arch"].tolist(), dataset, ["synflow"], progress=False)
        np.testing.assert_allclose(got["synflow"].to_numpy(), sub["synflow"].to_numpy(), rtol=1e-9)
