"""Transfer-study selectors (docs/transfer-study.md §2): each one's defining behaviour, and the trace
diagnostics every multi-task method records."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from toys import onehot_distance

from ktnas.benchmarks import get_task, load_benchmark
from ktnas.evaluator import BenchmarkProblem, Evaluator
from ktnas.methods import METHODS
from ktnas.params import LoopParams
from ktnas.search.base import Individual
from ktnas.search.multitask import MultiTaskSearch
from ktnas.search.policies import Candidate, make_policy
from ktnas.search.reproduction import ProxyREA
from ktnas.search.selectors import (
    SELECTORS,
    CentredPriorTransfer,
    GradedHTS,
    GradedTransfer,
    KNearestTransfer,
    KnnTransfer,
    ParentTransfer,
    PriorTransfer,
    graded_label,
    source_prior,
)
from ktnas.search.transfer import HistoricalTransferredSet, select_by_score
from ktnas.spaces import get_space


def _points(angles: dict[str, float]):
    """A distance where each name is a point on the unit circle: 1 − cos(angle difference)."""
    rad = {k: np.radians(v) for k, v in angles.items()}

    def dist(a, b):
        return 1 - np.cos(np.subtract.outer([rad[x] for x in a], [rad[y] for y in b]))

    return dist


def _cands(names, ranks, task=1):
    return [Candidate(a, task, -float(r), r) for a, r in zip(names, ranks, strict=True)]


def _hts(records, m=5, generation=1):
    hts = HistoricalTransferredSet(m)
    hts.update(records, generation)
    return hts


def test_source_prior_maps_rank_to_plus_minus_one():
    np.testing.assert_allclose(source_prior(_cands("abc", [0, 1, 2])), [1.0, 0.0, -1.0])
    np.testing.assert_allclose(source_prior(_cands("ab", [0, 0])), [0.0, 0.0])


def test_select_by_score_marks_the_random_fill():
    rng = np.random.default_rng(0)
    sel = select_by_score(np.array([2.0, 0.0, 0.0, 0.0, -1.0]), 2, rng)
    assert 0 in sel.chosen and len(sel.chosen) == 2
    assert dict(zip(sel.chosen, sel.by_score, strict=True))[0] is True
    assert [b for i, b in zip(sel.chosen, sel.by_score, strict=True) if i != 0] == [False]


def test_prior_adds_source_rank_to_phi_instead_of_breaking_ties():
    # candidates a (rank 0) and b (rank 4) of one source, c (rank 2); a failed once
    dist = _points({"a": 0, "b": 90, "c": 180})
    cands = _cands("abc", [0, 4, 2])
    sel = PriorTransfer(2, dist)._select(0, cands, _hts([("a", -1)]), 1, np.random.default_rng(0))
    np.testing.assert_allclose(sel.scores, [-1 + 1.0, -1.0, 0.0])  # φ + π
    np.testing.assert_allclose(sel.phi, [-1, 0, 0])
    # the failed best cell ties with the unlabelled median cell, so it is not simply banned
    picks = Counter(
        PriorTransfer(2, dist)._select(0, cands, _hts([("a", -1)]), 1, np.random.default_rng(s)).chosen
        for s in range(60)
    )
    assert set(picks) == {(0,), (2,)}


def test_centred_prior_barely_moves_on_a_base_rate_failure_and_jumps_on_a_success():
    dist = _points({"a": 0, "b": 60, "c": 120, "z": 180})
    cands = _cands("abcz", [0, 1, 2, 3])
    pol = CentredPriorTransfer(2, dist)
    # the target has seen 1 positive in 20 labels: p̂ = 2/22
    pol.observe(0, [("x", 1)] + [("y", -1)] * 19, np.random.default_rng(0))
    assert pol.positive_rate(0) == pytest.approx(2 / 22)
    sel = pol._select(0, cands, _hts([("a", -1), ("z", 1)]), 1, np.random.default_rng(0))
    prior = np.array([1, 1 / 3, -1 / 3, -1])
    np.testing.assert_allclose(sel.scores, prior + [-2 / 22, 0, 0, 1 - 2 / 22])
    assert sel.chosen == (0,)  # the best cell is still first after one failure
    np.testing.assert_allclose(sel.phi, [-1, 0, 0, 1])
    # counts are per target and checkpointed
    other = CentredPriorTransfer(2, dist)
    other.load_state_dict(pol.state_dict())
    assert other.positive_rate(0) == pol.positive_rate(0) and other.positive_rate(1) == 0.5


def _ind(arch, fitness, birth=0, parents=()):
    return Individual(arch, fitness, birth, tuple(parents))


def test_graded_labels_are_monotone_in_the_childs_rank():
    k = 10
    values = [graded_label(r, k) for r in range(k)] + [graded_label(None, k)]
    assert values[0] == 1.0 and values[-1] == -1.0
    assert all(a > b for a, b in zip(values, values[1:], strict=False))
    # through the policy: children ranked 0, 3 and not surviving; a childless transfer has no label
    survivors = [_ind(f"p{i}", 10.0 - i) for i in range(k)]
    survivors[0] = _ind("c0", 11.0, parents=["s0"])
    survivors[3] = _ind("c3", 7.0, parents=["s3"])
    children = {"s0": [survivors[0]], "s3": [survivors[3]], "sx": [_ind("cx", 0.0, parents=["sx"])]}
    pol = GradedTransfer(2, _points({}))
    labels = dict(pol.label(["s0", "s3", "sx", "none"], children, [], survivors, 2))
    assert labels == {"s0": 1.0, "s3": pytest.approx(0.4), "sx": -1.0}


def test_graded_hts_keeps_elite_grades_for_the_whole_run():
    cfg = LoopParams()  # K = 10, r = 0.2: the elite is ranks 0 and 1, g >= 0.8
    hts = GradedTransfer(2, _points({})).make_hts(cfg)
    assert isinstance(hts, GradedHTS)
    hts.update([("a", 1.0), ("b", 0.8), ("c", 0.6), ("d", -1.0)], generation=1)
    hts.update([], generation=6)  # generation 1 leaves the m = 5 window
    assert hts.archs == ["a", "b"]
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        hts.update([("e", 1.5)], generation=7)


def test_parent_labels_compare_the_child_with_its_parent_or_the_median_parent():
    parents = [_ind("p0", 9.0), _ind("p1", 5.0), _ind("p2", 1.0)]  # median 5
    children = {
        "s_up": [_ind("c1", 6.0, parents=["s_up"])],  # no parent in P: beats the median
        "s_down": [_ind("c2", 4.0, parents=["s_down"])],
        "s_cross": [_ind("c3", 8.0, parents=["s_cross", "p0"])],  # co-parent p0 (9) is not beaten
        "p1": [_ind("c4", 6.0, parents=["p1"])],  # s is itself in P: compared with its own fitness
    }
    pol = ParentTransfer(2, _points({}))
    labels = dict(pol.label(["s_up", "s_down", "s_cross", "p1", "none"], children, parents, [], 2))
    assert labels == {"s_up": 1.0, "s_down": -1.0, "s_cross": -1.0, "p1": 1.0}


def test_knn_splits_equal_phi_candidates_by_region():
    # u and v get φ = 0: every record's nearest candidate is pa or na. u lies beside the positives,
    # v beside the negatives, so only the kNN kinds tell them apart
    angles = {"u": 0, "v": 180, "pa": 24, "na": 164}
    angles |= {f"p{i}": 20 + 2 * i for i in range(5)} | {f"n{i}": 160 + 2 * i for i in range(5)}
    dist = _points(angles)
    cands = [*_cands(["u", "v"], [0, 0]), *_cands(["pa", "na"], [1, 1], task=2)]
    hts = _hts([(f"p{i}", 1) for i in range(5)] + [(f"n{i}", -1) for i in range(5)])
    pol = KnnTransfer(2, dist)
    kinds = pol.kinds(hts, dist(hts.archs, [c.arch for c in cands]))
    assert kinds[0] == 0 and kinds[1] == 3  # inside the positive / the negative region
    for seed in range(30):
        sel = pol._select(0, cands, hts, 2, np.random.default_rng(seed))
        assert sel.phi == (0, 0, 5, -5)
        assert sel.chosen == (0, 2)
    # plain transfer rank draws between the tied candidates
    rank = make_policy("rank", 2, dist)
    drawn = {rank._select(0, cands, hts, 2, np.random.default_rng(s)).chosen for s in range(30)}
    assert drawn == {(0, 2), (1, 2)}


def test_k3_spreads_a_label_over_the_three_nearest_with_distance_weights():
    dist = _points({"s": 0, "a": 0, "b": 20, "c": 40, "far": 180})
    pol = KNearestTransfer(2, dist)
    cands = _cands(["a", "b", "c", "far"], [0, 1, 2, 3])
    phi = np.array(pol._select(0, cands, _hts([("s", -1)]), 1, np.random.default_rng(0)).phi)
    assert phi.sum() == pytest.approx(-1.0) and phi[3] == 0
    assert phi[0] < phi[1] < phi[2] < 0  # the identical cell gets the largest share
    d = dist(["s"], ["a", "b", "c"])[0]
    w = 1 / (d + pol.eps)
    np.testing.assert_allclose(phi[:3], -w / w.sum())


def test_every_selector_is_a_method_and_needs_a_distance():
    from ktnas.search.policies import RankTransfer

    policies = {m.policy: name for name, m in METHODS.items() if m.policy is not None}
    assert METHODS["ktnas"].policy is RankTransfer  # the paper's method is unchanged
    for name, cls in SELECTORS.items():
        assert policies[cls] == f"ktnas_{name}" and METHODS[f"ktnas_{name}"].needs_distance
        with pytest.raises(ValueError, match="needs an architecture distance"):
            make_policy(name, 3)


@pytest.fixture(scope="module")
def nb201():
    return load_benchmark("nb201")


@pytest.mark.parametrize("policy", ["rank", "fittest", "random", "adaptive", *SELECTORS])
def test_trace_records_transfer_diagnostics(nb201, policy):
    space = get_space("nb201")
    problems = [
        BenchmarkProblem(Evaluator(nb201, get_task(t)), 15625, False) for t in ("cifar10", "cifar100")
    ]
    search = MultiTaskSearch(
        space,
        problems,
        ProxyREA(None),
        make_policy(policy, 2, onehot_distance(space)),
        LoopParams(generations=8),
        np.random.default_rng(0),
    )
    out = search.run()
    for task in out:
        trace = task.trace
        for prev, entry in zip(trace, trace[1:], strict=False):
            n = len(entry["transferred"])
            assert len(entry["source_rank"]) == len(entry["by_score"]) == n
            assert len(entry["labels"]) == len(entry["child_in_elite"]) == len(prev["transferred"])
            for lab, elite in zip(entry["labels"], entry["child_in_elite"], strict=True):
                assert (lab is None) == (elite is None)
            if n:
                assert len(entry["scores"]) >= n and all(0 <= r < 10 for r in entry["source_rank"])
            if policy == "rank" and n:
                assert entry["scores"] == entry["phi"]
            if policy == "random":
                assert not any(entry["by_score"]) and entry["phi"] is None
        assert any(lab is not None for e in trace for lab in e["labels"])
