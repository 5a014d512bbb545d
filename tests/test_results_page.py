"""The "Results against the paper" page: reading the table CSVs, each claim's rule, the CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ktnas.cli import main
from ktnas.report.results_page import (
    FAILS,
    HOLDS,
    UNTESTED,
    ClaimSpec,
    check_claims,
    read_table,
    results_page,
    transfer_claim,
)
from ktnas.report.spaces import page_specs
from ktnas.report.tables import COLUMNS, csv_text

#: what the recipes tell the page (NAS-Bench-201's Table II and TransNAS-Bench-101's Table III)
SPECS = page_specs()

NAN = float("nan")
TASKS = {
    "total": ("cifar10", "cifar100", "imagenet16"),
    "avg_rank": ("class_object", "class_scene", "room_layout"),
}


def _csv(tmp_path, name, headline, rows, label="method"):
    """A table CSV: per (method, mean, p), the same numbers on every task and the headline."""
    tasks = TASKS[headline]
    records = []
    for method, mean, p in rows:
        ref = None if method == "ktnas" else "ktnas"
        for task in (*tasks, headline):
            records.append(
                {
                    label: method,
                    "task": task,
                    "mean": mean,
                    "std": 1.0,
                    "n_seeds": 30,
                    "median": mean,
                    "p_vs_ktnas": p,
                    "p_raw": p,
                    "reference": ref,
                }  # fmt: skip
            )
    path = tmp_path / name
    path.write_text(csv_text(pd.DataFrame(records, columns=[label, *COLUMNS])))
    return path


def _verdicts(tmp_path, nb=None, tr=None, transfer=None):
    tables = []
    if nb is not None:
        tables.append(read_table(_csv(tmp_path, "nb201_main.csv", "total", nb), SPECS))
    if tr is not None:
        tables.append(read_table(_csv(tmp_path, "trans101_main.csv", "avg_rank", tr), SPECS))
    return {c.key: c for c in check_claims(tables, SPECS, transfer)}


def test_fewest_holds_unless_a_row_is_significantly_lower(tmp_path):
    base = [("ktnas", 100.0, NAN), ("rea", 200.0, 0.001), ("mtnas", 95.0, 0.2)]
    claims = _verdicts(tmp_path, nb=base)
    assert claims["a"].verdict == HOLDS  # mtnas is lower, but not significantly
    assert "Lowest other mean: mtnas 95.0" in claims["a"].detail
    claims = _verdicts(tmp_path, nb=[*base, ("emtnas", 90.0, 0.01)])
    assert claims["a"].verdict == FAILS and "emtnas (p = 0.01)" in claims["a"].detail
    claims = _verdicts(tmp_path, nb=[("ktnas", 100.0, NAN), ("rea", 90.0, NAN)])
    assert claims["a"].verdict == UNTESTED  # no row could be tested
    assert _verdicts(tmp_path, nb=[("rea", 90.0, NAN)])["a"].verdict == UNTESTED  # no ktnas row


def test_beats_needs_significance_and_a_lower_mean(tmp_path):
    def verdict(mean, p):
        return _verdicts(tmp_path, nb=[("ktnas", 100.0, NAN), ("ktnas_random", mean, p)])["b"].verdict

    assert verdict(120.0, 0.01) == HOLDS
    assert verdict(120.0, 0.2) == FAILS  # not significant
    assert verdict(80.0, 0.01) == FAILS  # significant, the other way
    assert verdict(120.0, NAN) == UNTESTED
    claims = _verdicts(tmp_path, nb=[("ktnas", 100.0, NAN), ("ktnas_random", 120.0, 0.01)])
    assert claims["c"].verdict == UNTESTED and "no mtnas row" in claims["c"].detail
    assert claims["d"].verdict == UNTESTED and claims["e"].verdict == UNTESTED


def test_best_average_rank_on_trans101(tmp_path):
    tr = [("ktnas", 5.0, NAN), ("rs", 50.0, 1e-4), ("rea", 4.0, 0.03)]
    claims = _verdicts(tmp_path, tr=tr)
    assert claims["d"].verdict == FAILS and "rea" in claims["d"].detail
    assert claims["a"].verdict == UNTESTED  # no Table II passed
    tr[2] = ("rea", 4.0, 0.06)
    assert _verdicts(tmp_path, tr=tr)["d"].verdict == HOLDS


def test_transfer_claim_is_a_paired_test_over_seeds():
    seeds = np.arange(6)
    ktnas = pd.DataFrame({"method": "ktnas", "seed": seeds, "mean_rank": 100.0 + seeds})
    rand = pd.DataFrame({"method": "ktnas_random", "seed": seeds, "mean_rank": 101.0 + 2 * seeds})  # +1..+6
    verdict, detail = transfer_claim(pd.concat([ktnas, rand]))
    assert verdict == HOLDS and "p = 0.0312" in detail and "6 shared seeds" in detail
    worse = rand.assign(mean_rank=99.0 - seeds)
    assert transfer_claim(pd.concat([ktnas, worse]))[0] == FAILS
    assert transfer_claim(pd.concat([ktnas, rand.iloc[:5]]))[0] == UNTESTED  # five shared seeds
    assert transfer_claim(ktnas)[0] == UNTESTED


def test_cli_writes_the_page_with_tables_beside_the_paper(tmp_path):
    nb = _csv(tmp_path, "nb201_main.csv", "total", [("ktnas", 150.0, NAN), ("mtnas", 260.0, 0.001)])
    out = tmp_path / "docs" / "results.md"
    assert main(["results-page", "--tables", str(nb), "--out", str(out)]) == 0
    text = out.read_text()
    assert "| (c) KTNAS beats MTNAS on NAS-Bench-201 (paper: 188.5 vs 228.4 in total). | holds |" in text
    assert "| (d) KTNAS has the best TransNAS-Bench-101 average rank" in text and "| not tested |" in text
    ktnas_line = next(line for line in text.splitlines() if line.startswith("| ktnas |"))
    assert "| 188.5 |" in ktnas_line and str(tmp_path) not in text  # no path outside the repository


def test_old_tables_are_refused_with_the_fix(tmp_path):
    old = tmp_path / "nb201_main.csv"
    old.write_text("method,task,mean,std,n_seeds\nktnas,total,1,0,1\n")
    with pytest.raises(ValueError, match="regenerate it with `ktnas table`"):
        read_table(old, SPECS)


def test_the_held_out_table_is_shown_but_not_taken_for_table_ii(tmp_path):
    from ktnas.report.results_page import results_page

    main_t = read_table(
        _csv(tmp_path, "nb201_main.csv", "total", [("ktnas", 100.0, NAN), ("rea", 90.0, 0.01)]), SPECS
    )
    held = read_table(
        _csv(tmp_path, "nb201_heldout.csv", "total", [("ktnas", 100.0, NAN), ("rea", 200.0, 0.01)]), SPECS
    )
    assert (main_t.study, held.study) == ("main", "heldout")
    claims = {c.key: c for c in check_claims([main_t, held], SPECS)}
    assert claims["a"].verdict == FAILS  # decided on the main table, where rea is significantly lower
    page = results_page([main_t, held], SPECS)
    assert "nb201_heldout.csv" in page and "nb201_main.csv" in page


def test_the_held_out_table_is_shown_as_table_ii_against_its_own_reference(tmp_path):
    from ktnas.report.results_page import results_page

    held = _csv(tmp_path, "nb201_heldout.csv", "total", [("ktnas", 100.0, NAN), ("rea", 200.0, 0.01)])
    frame = pd.read_csv(held)
    frame.loc[frame["method"] == "ktnas", "reference"] = "rea"
    frame.loc[frame["method"] == "rea", "reference"] = np.nan
    frame.to_csv(held, index=False)
    page = results_page([read_table(held, SPECS)], SPECS)
    assert "## NAS-Bench-201, held-out seeds: evaluations until the best architecture is found" in page
    assert "of the row against rea" in page and "default setting" not in page


def test_a_table_of_no_known_space_and_an_unknown_rule_are_refused(tmp_path):
    other = _csv(tmp_path, "nb201_main.csv", "total", [("ktnas", 100.0, NAN)])
    with pytest.raises(ValueError, match="has neither a 'avg_rank' row"):
        read_table(other, [s for s in SPECS if s.headline == "avg_rank"])
    with pytest.raises(ValueError, match="unknown rule 'best'"):
        ClaimSpec("z", "a claim", "best")


def test_the_page_says_where_the_concluded_transfer_study_is(tmp_path):
    path = _csv(tmp_path, "nb201_main.csv", "total", [("ktnas", 100.0, float("nan")), ("rea", 400.0, 0.01)])
    page = results_page([read_table(path, SPECS)], SPECS)
    assert "docs/transfer-study.md" in page and "`snakemake transfer_study`" in page
