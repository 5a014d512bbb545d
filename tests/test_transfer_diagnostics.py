"""Transfer diagnostics table and figure from hand-made traces."""

from __future__ import annotations

import numpy as np
import pytest

from ktnas.report.transfer_diagnostics import diagnostics_table, plot_diagnostics, transfers_frame
from ktnas.spaces import get_space


def _entry(gen, transferred=(), ranks=(), by_score=(), phi=None, labels=(), elite=()):
    return {
        "generation": gen,
        "transferred": list(transferred),
        "source_rank": list(ranks),
        "by_score": list(by_score),
        "scores": phi,
        "phi": phi,
        "labels": list(labels),
        "child_in_elite": list(elite),
    }


def _result(method="ktnas"):
    space = get_space("nb201")
    a, b, c = (space.from_index(i) for i in (6111, 0, 42))  # 6111 is cifar10's optimum
    trace = [
        _entry(0, [c], [5], [False]),  # the initial random TP: left out of the table
        _entry(1, [a, b], [0, 3], [True, False], [1.0, 0.0, -2.0, 0.0], labels=[-1], elite=[False]),
        _entry(2, [a], [1], [True], [0.0, -1.0], labels=[1, None], elite=[True, None]),
        _entry(3, labels=[-1], elite=[False]),
    ]
    return {"space": "nb201", "method": method, "seed": 0, "tasks": [{"task": "cifar10", "trace": trace}]}


def test_transfers_frame_pairs_each_transfer_with_its_outcome():
    tf = transfers_frame([_result()])
    assert list(tf["generation"]) == [0, 1, 1, 2]
    labels = tf["label"].to_numpy(dtype=float)
    np.testing.assert_array_equal(labels, [-1, 1, np.nan, -1])  # no child: no label
    assert tf["target_rank"].iloc[1] == 1.0  # the optimum of the target task


def test_transfers_unused_by_a_stopped_task_have_no_outcome():
    res = _result()
    res["tasks"][0]["trace"][1]["labels"] = res["tasks"][0]["trace"][1]["child_in_elite"] = []
    assert transfers_frame([res], target_rank=False)["label"].isna().iloc[0]


def test_diagnostics_table_counts():
    row = diagnostics_table([_result()]).iloc[0]
    assert row["transfers"] == 3 and row["labels"] == 2
    assert row["positive_label_rate"] == pytest.approx(0.5)
    assert row["child_elite_rate"] == pytest.approx(0.5)
    # φ over the two selections' candidates: [1, 0, -2, 0] and [0, -1]
    assert (row["phi_pos"], row["phi_neg"], row["phi_zero"]) == pytest.approx((1 / 6, 2 / 6, 3 / 6))
    assert row["by_score"] == pytest.approx(2 / 3)
    assert row["source_rank"] == pytest.approx(4 / 3)


def test_methods_without_phi_get_nan_and_the_figure_is_written(tmp_path):
    res = _result("emtnas")
    for e in res["tasks"][0]["trace"]:
        e["phi"] = None
    table = diagnostics_table([_result(), res])
    assert np.isnan(table.set_index("method").loc["emtnas", "phi_pos"])
    out = tmp_path / "diag.png"
    plot_diagnostics([_result(), res], out)
    assert out.read_bytes()[:4] == b"\x89PNG"
