"""Algorithms 1–3 (docs/reproduction.md §2): HTS window, transfer rank, selection — incl. the worked example of Fig. 4."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from ktnas.search.transfer import (
    HistoricalTransferredSet,
    label_transfers,
    select_transferred,
    transfer_rank,
)


def _distance_from_points(points: dict[str, tuple[float, float]]):
    def dist(a, b):
        pa = np.array([points[x] for x in a], dtype=float)
        pb = np.array([points[x] for x in b], dtype=float)
        pa /= np.linalg.norm(pa, axis=1, keepdims=True)
        pb /= np.linalg.norm(pb, axis=1, keepdims=True)
        return 1 - pa @ pb.T

    return dist


# Fig. 4-style example: five candidates on the unit circle, four HTS members placed near them.
ANGLES = {"p1": 0, "p2": 40, "p3": 80, "p4": 120, "p5": 160, "s1": 38, "s2": 118, "s3": 158, "s4": 163}
POINTS = {k: (np.cos(np.radians(a)), np.sin(np.radians(a))) for k, a in ANGLES.items()}
CANDIDATES = ["p1", "p2", "p3", "p4", "p5"]


def test_worked_example_step_by_step():
    dist = _distance_from_points(POINTS)
    hts = HistoricalTransferredSet(m=5)
    # generation 1: s1 positive, s2 negative; generation 2: s3 positive, s4 negative
    hts.update([("s1", +1), ("s2", -1)], generation=1)
    hts.update([("s3", +1), ("s4", -1)], generation=2)
    assert hts.archs == ["s1", "s2", "s3", "s4"]

    # step 1: nearest candidate of each HTS member
    d = dist(hts.archs, CANDIDATES)
    assert [CANDIDATES[i] for i in d.argmin(axis=1)] == ["p2", "p4", "p5", "p5"]
    # step 2: phi sums the labels; s3 and s4 cancel on p5
    phi = transfer_rank(hts.archs, hts.labels, CANDIDATES, dist)
    np.testing.assert_array_equal(phi, [0, 1, 0, -1, 0])
    # step 3: groups {p2} (+1), {p1, p3, p5} (0), {p4} (-1); M = 2 takes p2 and one of the zeros
    picks = Counter()
    for seed in range(300):
        chosen = select_transferred(phi, 2, np.random.default_rng(seed))
        assert 1 in chosen and 3 not in chosen and len(chosen) == 2
        picks.update(i for i in chosen if i != 1)
    assert set(picks) == {0, 2, 4}
    assert min(picks.values()) > 60  # uniform over the boundary group (expected 100 each)


def test_hts_keeps_positives_and_last_m_generations_of_negatives():
    hts = HistoricalTransferredSet(m=2)
    hts.update([("a", 1), ("b", -1)], generation=1)
    hts.update([("c", -1)], generation=2)
    assert sorted(hts.archs) == ["a", "b", "c"]
    hts.update([], generation=3)  # b (gen 1) leaves: only generations 2..3 of negatives remain
    assert sorted(hts.archs) == ["a", "c"]
    hts.update([("a", 1)], generation=10)
    assert hts.archs == ["a", "a"]  # repeated positive transfers are repeated evidence


def test_hts_rejects_bad_labels_and_window():
    with pytest.raises(ValueError, match="m must be >= 1"):
        HistoricalTransferredSet(0)
    with pytest.raises(ValueError, match="label"):
        HistoricalTransferredSet(1).update([("a", 0)], 1)


def test_transfer_rank_ties_go_to_lowest_candidate_and_empty_hts_is_zero():
    points = {"x": (1.0, 0.0), "y": (1.0, 0.0), "s": (1.0, 0.0)}
    dist = _distance_from_points(points)
    np.testing.assert_array_equal(transfer_rank(["s"], np.array([1.0]), ["x", "y"], dist), [1, 0])
    np.testing.assert_array_equal(transfer_rank([], np.array([]), ["x", "y"], dist), [0, 0])


def test_select_takes_whole_groups_then_fills_randomly():
    rng = np.random.default_rng(0)
    phi = np.array([2, 2, 1, 1, 1, 0])
    for _ in range(20):
        chosen = select_transferred(phi, 3, rng)
        assert {0, 1} <= set(chosen) and len(chosen) == 3 and chosen[2] in (2, 3, 4)
    assert select_transferred(phi, 10, rng) == list(range(6))
    assert select_transferred(phi, 2, rng) == [0, 1]


def test_labels_positive_if_any_child_in_elite_and_childless_unlabelled():
    children = {"s1": ["c1", "c2"], "s2": ["c3"]}
    labels = label_transfers(["s1", "s2", "s3"], children, elite={"c2"})
    assert labels == [("s1", 1), ("s2", -1)]
