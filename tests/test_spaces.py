"""The NAS-Bench-201 and TransNAS-Bench-101 cell spaces: canonical strings, official index order,
operators and NASLib converters."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ktnas.spaces import get_space
from ktnas.spaces.nb201 import EDGES
from ktnas.spaces.restricted import RestrictedSpace

NB201 = get_space("nb201")
T101 = get_space("trans101")


def test_nb201_index_roundtrip_over_the_whole_space():
    archs = NB201.all_archs()
    assert len(archs) == len(set(archs)) == 15625
    assert all(NB201.index(a) == i for i, a in enumerate(archs))
    # the known optima of the official benchmark (docs/reproduction.md §3.1)
    assert NB201.from_index(6111) == (
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
    )
    with pytest.raises(ValueError, match="outside 0..15624"):
        NB201.from_index(15625)


def test_sampling_is_seeded_and_uniform_enough():
    a = [NB201.sample(np.random.default_rng(5)) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    rng = np.random.default_rng(0)
    ops = np.array([NB201.genes(NB201.sample(rng)) for _ in range(2000)])
    counts = np.stack([(ops == o).mean(axis=0) for o in range(5)])
    assert np.all(np.abs(counts - 0.2) < 0.05)


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), space_name=st.sampled_from(["nb201", "trans101"]))
def test_operators_yield_valid_canonical_cells(seed, space_name):
    space = get_space(space_name)
    rng = np.random.default_rng(seed)
    a, b = space.sample(rng), space.sample(rng)
    m = space.mutate(a, rng)
    assert space.canonical(m) == m and space.edit_distance(a, m) == 1  # one edge, a different op
    c1, c2 = space.crossover(a, b, rng)
    for x, y, c in zip(
        space.genes(a), space.genes(b), zip(space.genes(c1), space.genes(c2), strict=True), strict=True
    ):
        assert sorted(c) == sorted((x, y))  # complementary children


def test_graph_view_is_an_op_as_vertex_dag():
    arch = NB201.from_index(6111)
    g = NB201.to_graph(arch)
    assert nx.is_directed_acyclic_graph(g)
    assert g.number_of_nodes() == 4 + 6 and g.number_of_edges() == 12
    tokens = sorted(d["token"] for _, d in g.nodes(data=True) if d["token"].count("|") == 1)
    assert tokens == sorted(NB201.tokens(arch)[0])
    assert set(NB201.tokens(arch)[0]) <= set(NB201.vocabulary()[0]) and len(NB201.vocabulary()[0]) == 30


def test_naslib_converters():
    assert NB201.from_naslib((0, 0, 0, 0, 0, 0)) == (
        "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
    )
    # NASLib lists edges (1,2),(1,3),(1,4),(2,3),(2,4),(3,4); ops 0=skip 1=none 2=conv3x3 3=conv1x1 4=avg
    assert NB201.from_naslib((2, 1, 0, 3, 4, 0)) == (
        "|nor_conv_3x3~0|+|none~0|nor_conv_1x1~1|+|skip_connect~0|avg_pool_3x3~1|skip_connect~2|"
    )
    rng = np.random.default_rng(1)
    for _ in range(200):
        a = NB201.sample(rng)
        assert NB201.from_naslib(NB201.to_naslib(a)) == a
    with pytest.raises(ValueError, match="6 integers in 0..4"):
        NB201.from_naslib((0, 1, 2))


def test_trans101_strings_and_index():
    a = T101.from_index(1927)
    assert a == "64-41414-1_32_013" and T101.index(a) == 1927 and T101.size() == 4096
    assert T101.tokens(a)[0][0] == f"{EDGES[0][0]}>{EDGES[0][1]}|skip_connect"
    with pytest.raises(ValueError, match="64-41414-a_bc_def"):
        T101.canonical("64-41414-1_32_0134")
    with pytest.raises(ValueError, match="must be a string"):
        NB201.canonical(42)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["nb201", "trans101"])
def test_sample_many_and_distinct_samples_draw_what_one_call_at_a_time_draws(name: str) -> None:
    """The block draws are a speed-up only: the same architectures, and the generator left where one
    ``sample`` call at a time would leave it."""
    from ktnas.search.reproduction import distinct_samples
    from ktnas.spaces import get_space

    space = get_space(name)

    def one_at_a_time(n: int, rng: np.random.Generator) -> list[str]:
        out: dict[str, None] = {}
        while len(out) < n:
            out.setdefault(space.sample(rng), None)
        return list(out)

    for seed in range(10):
        a, b = np.random.default_rng(seed), np.random.default_rng(seed)
        assert space.sample_many(b, 50) == [space.sample(a) for _ in range(50)]
        for n in (1, 7, 3000):
            assert distinct_samples(space, n, b) == one_at_a_time(n, a)
            assert a.random() == b.random()


# -- RestrictedSpace: its caches draw what the plain definitions draw ------------------------------------
def _plain_mutate(space: RestrictedSpace, arch: str, rng: np.random.Generator) -> str:
    """A uniformly chosen allowed cell at edit distance 1, else at the smallest distance > 0."""
    dist = space._distances(arch)
    candidates = np.flatnonzero(dist == 1)
    if candidates.size == 0:
        others = dist[dist > 0]
        if others.size == 0:
            return space._allowed[0]
        candidates = np.flatnonzero(dist == others.min())
    return space._allowed[int(rng.choice(candidates))]


def _plain_repair(space: RestrictedSpace, arch: str, rng: np.random.Generator) -> str:
    """``arch`` if allowed, else a uniformly chosen allowed cell at the smallest edit distance."""
    if arch in space._position:
        return arch
    dist = space._distances(arch)
    return space._allowed[int(rng.choice(np.flatnonzero(dist == dist.min())))]


def _restricted(k: int) -> RestrictedSpace:
    base, rng = get_space("trans101"), np.random.default_rng(k)
    return RestrictedSpace(base, [base.sample(rng) for _ in range(k)])


@pytest.mark.parametrize("k", [1, 2, 5, 40, 300])
def test_restricted_mutation_draws_the_plain_definition(k: int) -> None:
    space = _restricted(k)
    r_new, r_plain = np.random.default_rng(9), np.random.default_rng(9)
    a = b = space.sample(np.random.default_rng(0))
    for _ in range(300):  # walks revisit cells, so the cache is hit
        a, b = space.mutate(a, r_new), _plain_mutate(space, b, r_plain)
        assert a == b
    assert r_new.bit_generator.state == r_plain.bit_generator.state


@pytest.mark.parametrize("k", [1, 2, 5, 40, 711])
def test_mutate_many_draws_what_successive_mutates_draw(k: int) -> None:
    space, rng = _restricted(k), np.random.default_rng(k)
    archs = [space.sample(rng) for _ in range(250)]
    r_many, r_each = np.random.default_rng(3), np.random.default_rng(3)
    for _ in range(4):  # the first round fills the neighbour cache, later rounds read it
        many, each = space.mutate_many(archs, r_many), [space.mutate(a, r_each) for a in archs]
        assert many == each
        assert r_many.bit_generator.state == r_each.bit_generator.state
        archs = many
    assert space.mutate_many([], r_many) == []
    assert r_many.bit_generator.state == r_each.bit_generator.state


def test_restricted_repair_draws_the_plain_definition() -> None:
    space = _restricted(300)
    outside = [a for a in space.base.all_archs() if a not in space][:40]
    r_new, r_plain = np.random.default_rng(0), np.random.default_rng(0)
    for arch in outside * 3:  # the second and third rounds hit the cache
        assert space.repair(arch, r_new) == _plain_repair(space, arch, r_plain)
    assert r_new.bit_generator.state == r_plain.bit_generator.state
