"""DARTS cell space (docs/reproduction.md §3.3.1–§3.3.2, tokens §2.6, Appendix A genotypes)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ktnas.spaces import get_space
from ktnas.spaces.darts import (
    CELLS,
    GENE_MAX,
    N_GENES,
    NODES,
    OPS,
    DartsSpace,
    concat_nodes,
    node_genes,
)

SPACE = DartsSpace()
seeds = st.integers(min_value=0, max_value=2**32 - 1)

# docs/reproduction.md Appendix A (retraining convention: input 0 = older), [(op, input)] for nodes 2..6
KT_C10 = {
    "normal": [("Identity", 1), ("AVG", 1), ("MAX", 1), ("DW3", 1), ("DW3", 1), ("DC7", 2), ("DC5", 0), ("MAX", 4), ("DW3", 0), ("DW7", 4)],
    "normal_concat": [3, 5, 6],
    "reduce": [("MAX", 1), ("DC7", 1), ("Identity", 0), ("DC5", 1), ("DW5", 0), ("AVG", 0), ("AVG", 4), ("MAX", 3), ("DC3", 3), ("MAX", 0)],
    "reduce_concat": [2, 5, 6],
}  # fmt: skip
KT_C100 = {
    "normal": [("DC5", 0), ("DC7", 0), ("DW5", 1), ("DW7", 0), ("AVG", 1), ("MAX", 0), ("DW7", 1), ("Identity", 0), ("DW5", 1), ("AVG", 4)],
    "normal_concat": [2, 3, 5, 6],
    "reduce": [("DC7", 1), ("DW3", 1), ("DW3", 0), ("DW3", 1), ("DC5", 0), ("AVG", 2), ("DC3", 0), ("DC3", 4), ("DW3", 2), ("DC3", 1)],
    "reduce_concat": [3, 5, 6],
}  # fmt: skip


def _pairs(genes: tuple[int, ...], cell: int, k: int) -> list[tuple[int, int]]:
    in_a, in_b, op_a, op_b = node_genes(genes, cell, k)
    return sorted([(in_a, op_a), (in_b, op_b)])


def _swap_inputs(arch: str) -> str:
    """Write every node with its two (op, input) pairs in the other order (non-canonical string)."""
    cells = []
    for cell in arch.split(";"):
        tag, body = cell.split(":")
        cells.append(tag + ":" + "|".join("+".join(node.split("+")[::-1]) for node in body.split("|")))
    return ";".join(cells)


def test_registered() -> None:
    assert isinstance(get_space("darts"), DartsSpace)


def test_gene_layout_first_20_are_reduce() -> None:
    genes = [0] * N_GENES
    genes[2] = 8  # reduce cell, node 2, op_a
    genes[20 + 3] = 7  # normal cell, node 2, op_b
    arch = SPACE.from_genes(genes)
    assert arch.startswith("R:Dw3x3~0+Avg3x3~0|")
    assert arch.split(";")[1].startswith("N:Dw3x3~0+Max3x3~0|")
    assert len(SPACE.genes(arch)) == 40


def test_from_genes_rejects_out_of_range() -> None:
    genes = [0] * N_GENES
    genes[0] = 2  # node 2 may only read inputs 0..1
    with pytest.raises(ValueError, match="40 integers"):
        SPACE.from_genes(genes)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "R:Dw3x3~0+Dw3x3~0",
        "R:Dw3x3~2+Dw3x3~0|Dw3x3~0+Dw3x3~0|Dw3x3~0+Dw3x3~0|Dw3x3~0+Dw3x3~0|Dw3x3~0+Dw3x3~0;N:"
        "Dw3x3~0+Dw3x3~0|Dw3x3~0+Dw3x3~0|Dw3x3~0+Dw3x3~0|Dw3x3~0+Dw3x3~0|Dw3x3~0+Dw3x3~0",
        "R:Conv~0+Dw3x3~0|Dw3x3~0+Dw3x3~0|Dw3x3~0+Dw3x3~0|Dw3x3~0+Dw3x3~0|Dw3x3~0+Dw3x3~0;N:"
        "Dw3x3~0+Dw3x3~0|Dw3x3~0+Dw3x3~0|Dw3x3~0+Dw3x3~0|Dw3x3~0+Dw3x3~0|Dw3x3~0+Dw3x3~0",
    ],
)
def test_malformed_strings_name_the_form(bad: str) -> None:
    with pytest.raises(ValueError, match="expected the form"):
        SPACE.canonical(bad)


@settings(max_examples=60, deadline=None)
@given(seeds)
def test_sample_is_canonical_and_round_trips(seed: int) -> None:
    arch = SPACE.sample(np.random.default_rng(seed))
    assert SPACE.canonical(arch) == arch
    genes = SPACE.genes(arch)
    assert all(0 <= g <= m for g, m in zip(genes, GENE_MAX, strict=True))
    assert SPACE.from_genes(genes) == arch


@settings(max_examples=60, deadline=None)
@given(seeds)
def test_swapping_the_two_inputs_gives_the_same_canonical_string(seed: int) -> None:
    arch = SPACE.sample(np.random.default_rng(seed))
    swapped = _swap_inputs(arch)
    assert SPACE.canonical(swapped) == arch
    assert sorted(map(sorted, SPACE.tokens(swapped))) == sorted(map(sorted, SPACE.tokens(arch)))


@settings(max_examples=60, deadline=None)
@given(seeds, seeds)
def test_crossover_children_are_valid_and_complementary(s1: int, s2: int) -> None:
    rng = np.random.default_rng(s1)
    a, b = SPACE.sample(rng), SPACE.sample(np.random.default_rng(s2))
    c1, c2 = SPACE.crossover(a, b, rng)
    assert SPACE.canonical(c1) == c1 and SPACE.canonical(c2) == c2
    ga, gb, g1, g2 = (SPACE.genes(x) for x in (a, b, c1, c2))
    for cell in range(len(CELLS)):
        for k in NODES:
            pa, pb, p1, p2 = (_pairs(g, cell, k) for g in (ga, gb, g1, g2))
            # whole 4-gene blocks move together, and each child takes the block the other did not
            assert (p1, p2) in ((pa, pb), (pb, pa))


def test_crossover_mixes_blocks_from_both_parents() -> None:
    rng = np.random.default_rng(0)
    a = SPACE.from_genes([0] * N_GENES)
    b = SPACE.from_genes(GENE_MAX)
    c1, c2 = SPACE.crossover(a, b, rng)
    assert c1 not in (a, b) and c2 not in (a, b)
    assert SPACE.edit_distance(c1, a) + SPACE.edit_distance(c2, a) == SPACE.edit_distance(a, b)


@settings(max_examples=60, deadline=None)
@given(seeds)
def test_mutation_with_p_zero_is_identity(seed: int) -> None:
    rng = np.random.default_rng(seed)
    arch = SPACE.sample(rng)
    assert SPACE.mutate(arch, rng, p_m=0.0) == arch


@settings(max_examples=60, deadline=None)
@given(seeds)
def test_mutation_with_p_one_moves_every_gene_by_one_cyclically(seed: int) -> None:
    rng = np.random.default_rng(seed)
    arch = SPACE.sample(rng)
    child = SPACE.mutate(arch, rng, p_m=1.0)
    assert SPACE.canonical(child) == child
    g0, g1 = SPACE.genes(arch), SPACE.genes(child)
    n_ops = len(OPS)

    def moved(p: tuple[int, int], q: tuple[int, int], k: int) -> bool:
        return (q[0] - p[0]) % k in (1, k - 1) and (q[1] - p[1]) % n_ops in (1, n_ops - 1)

    for cell in range(len(CELLS)):
        for k in NODES:
            (p, r), (q, s) = _pairs(g0, cell, k), _pairs(g1, cell, k)
            assert (moved(p, q, k) and moved(r, s, k)) or (moved(p, s, k) and moved(r, q, k))


def test_mutation_rate_matches_p_m() -> None:
    rng = np.random.default_rng(1)
    arch = SPACE.sample(rng)
    changed = [SPACE.mutate(arch, rng, p_m=0.02) != arch for _ in range(2000)]
    # P(no gene moves) = 0.98**40 = 0.446; two moves cancelling within a node is O(p_m**2), negligible
    assert 1 - np.mean(changed) == pytest.approx(0.98**40, abs=0.04)


def test_mutation_rejects_bad_probability() -> None:
    with pytest.raises(ValueError, match="p_m"):
        SPACE.mutate(SPACE.sample(np.random.default_rng(0)), np.random.default_rng(0), p_m=1.5)


def test_sample_covers_every_gene_value() -> None:
    rng = np.random.default_rng(0)
    genes = np.array([SPACE.genes(SPACE.sample(rng)) for _ in range(400)])
    ops = genes.reshape(-1, 4)[:, 2:]
    assert set(np.unique(ops)) == set(range(len(OPS)))
    node6_inputs = genes[:, 16:18]  # reduce cell, node 6
    assert set(np.unique(node6_inputs)) == set(range(6))


def test_vocabulary_and_tokens() -> None:
    vocab = SPACE.vocabulary()
    assert [len(v) for v in vocab] == [180, 180]
    assert len(set(vocab[0]) | set(vocab[1])) == 360
    rng = np.random.default_rng(3)
    for _ in range(50):
        toks = SPACE.tokens(SPACE.sample(rng))
        assert [len(t) for t in toks] == [10, 10]  # 20 tokens per architecture (§2.6)
        assert set(toks[0]) <= set(vocab[0]) and set(toks[1]) <= set(vocab[1])
    assert SPACE.token(0, 4, 3, 8) == "reduce|n4|in3|Avg3x3"


def test_to_graph_is_the_op_as_vertex_graph() -> None:
    arch = SPACE.sample(np.random.default_rng(5))
    g = SPACE.to_graph(arch)
    assert nx.is_directed_acyclic_graph(g)
    assert all("token" in d for _, d in g.nodes(data=True))
    op_tokens = [d["token"] for v, d in g.nodes(data=True) if v.count(":") == 2]
    assert sorted(op_tokens) == sorted(SPACE.tokens(arch)[0] + SPACE.tokens(arch)[1])
    genes = SPACE.genes(arch)
    for cell, name in enumerate(CELLS):
        assert sorted(int(v.split(":h")[1]) for v in g.predecessors(f"{name}:out")) == concat_nodes(
            genes, cell
        )
        for k in NODES:
            assert g.in_degree(f"{name}:h{k}") == 2
    assert nx.number_weakly_connected_components(g) == 2


def test_concat_nodes_are_the_unused_nodes() -> None:
    arch = SPACE.from_retrain(KT_C10["normal"], KT_C10["reduce"])
    genes = SPACE.genes(arch)
    assert concat_nodes(genes, 1) == [3, 5, 6]
    assert concat_nodes(genes, 0) == [2, 5, 6]


@pytest.mark.parametrize("geno", [KT_C10, KT_C100], ids=["KT_C10", "KT_C100"])
def test_appendix_genotypes_convert_both_ways(geno: dict) -> None:
    arch = SPACE.from_retrain(geno["normal"], geno["reduce"])
    back = SPACE.to_retrain(arch)
    for cell in ("normal", "reduce"):
        assert back[f"{cell}_concat"] == geno[f"{cell}_concat"]
        nodes_in = [sorted(geno[cell][2 * n : 2 * n + 2]) for n in range(5)]
        nodes_out = [sorted(back[cell][2 * n : 2 * n + 2]) for n in range(5)]  # type: ignore[index]
        assert nodes_out == nodes_in


def test_input_convention_swaps_0_and_1_only() -> None:
    # retraining input 1 (newer) is search input 0; inputs >= 2 are node ids in both conventions
    normal = [("DW3", 1), ("DW3", 0)] + [("MAX", 2), ("AVG", 1)] + [("DW3", 3), ("DW3", 3)] * 3
    arch = SPACE.from_retrain(normal, normal)
    assert arch.split(";")[1].startswith("N:Dw3x3~0+Dw3x3~1|Avg3x3~0+Max3x3~2|")
