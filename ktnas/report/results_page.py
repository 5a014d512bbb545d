"""The "Results against the paper" page (``docs/results.md``), generated from the pipeline's table CSVs.

It shows Table II and Table III beside the paper's numbers (and any study table passed), and checks the
paper's claims, each by a rule computed from the tables' numbers, never by a hand-written verdict:

(a) KTNAS needs the fewest evaluations on NAS-Bench-201 (total): holds iff no other row has a
    significantly lower total;
(b) KTNAS beats KTNAS without transfer rank (``ktnas_random``) on NAS-Bench-201: holds iff its total is
    lower with p < 0.05;
(c) KTNAS beats MTNAS on NAS-Bench-201: as (b);
(d) KTNAS has the best TransNAS-Bench-101 average rank: as (a) on ``avg_rank``;
(e) KTNAS's transferred cells rank better than random transfer's (Fig. 6's quantity, from search results
    and their benchmark when passed): as (b) on the per-seed mean rank of the transferred cells.

"Significantly" means the table's Holm-adjusted paired Wilcoxon p (``p_vs_ktnas``) is below 0.05, with
the mean on the better side. A claim is "not tested" when its rows are missing or no test applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ktnas import __version__
from ktnas._io import KtnasError, git_sha
from ktnas.report.stats import ALPHA, format_p, paired_wilcoxon
from ktnas.report.tables import (
    PAPER_TABLE_II,
    REFERENCE,
    nb201_markdown,
    study_markdown,
)
from ktnas.report.trans101_tables import PAPER_TABLE_III, trans101_markdown

HOLDS, FAILS, UNTESTED = "holds", "does not hold", "not tested"


@dataclass(frozen=True)
class Claim:
    """One claim of the paper, the rule that decides it here, and what the numbers say."""

    key: str
    statement: str
    rule: str
    verdict: str
    detail: str


@dataclass(frozen=True)
class ResultTable:
    """A table CSV read back: Table II (``total``), Table III (``avg_rank``), and main or a study."""

    name: str
    frame: pd.DataFrame
    headline: str
    study: str

    @property
    def label(self) -> str:
        return str(self.frame.columns[0])


def read_table(path: str | Path) -> ResultTable:
    """Read a ``ktnas table`` CSV of NAS-Bench-201 or TransNAS-Bench-101 (see :mod:`ktnas.report.tables`)."""
    path = Path(path)
    try:
        frame = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise KtnasError(f"{path}: unreadable table ({err}); rerun its table job") from None
    missing = {"task", "mean", "median", "p_vs_ktnas"} - set(frame.columns)
    if missing:
        raise ValueError(
            f"{path.name}: not a ktnas results table (no {', '.join(sorted(missing))}); "
            "regenerate it with `ktnas table`"
        )
    tasks = set(frame["task"])
    headline = "total" if "total" in tasks else "avg_rank" if "avg_rank" in tasks else ""
    if not headline:
        raise ValueError(f"{path.name}: neither a Table II (total) nor a Table III (avg_rank) table")
    # the pipeline names tables {space}_{study}.csv; a file named otherwise is a main table if its rows are
    # methods, else a study named by the file
    named = path.stem.partition("_")[2]
    study = named if named else ("main" if frame.columns[0] == "method" else path.stem)
    return ResultTable(path.name, frame, headline, study)


def _headline_rows(table: ResultTable) -> pd.DataFrame:
    rows = table.frame[table.frame["task"] == table.headline]
    return rows.set_index(table.label)


def _fmt(value: float, digits: int) -> str:
    return f"{value:.{digits}f}" if np.isfinite(value) else "–"


def _describe(row: Any, digits: int) -> str:
    """mean (median, seeds) of a headline row."""
    return f"{_fmt(row['mean'], digits)} (median {_fmt(row['median'], digits)}, {int(row['n_seeds'])} seeds)"


def fewest(table: ResultTable | None, what: str, digits: int) -> tuple[str, str]:
    """(verdict, detail) of "ktnas is lowest": holds iff no row is significantly lower than ktnas."""
    if table is None:
        return UNTESTED, "The table was not passed."
    rows = _headline_rows(table)
    if REFERENCE not in rows.index:
        return UNTESTED, "The table has no ktnas row."
    ours = rows.loc[REFERENCE]
    others = rows.drop(index=REFERENCE)
    tested = others[np.isfinite(others["p_vs_ktnas"].astype(float))]
    lower = tested[(tested["p_vs_ktnas"] < ALPHA) & (tested["mean"] < ours["mean"])]
    higher = tested[(tested["p_vs_ktnas"] < ALPHA) & (tested["mean"] > ours["mean"])]
    untested = others.drop(index=tested.index)
    parts = [f"ktnas: {_describe(ours, digits)} {what}."]
    if len(others):
        best = others["mean"].astype(float).idxmin()
        parts.append(f"Lowest other mean: {best} {_describe(others.loc[best], digits)}.")
    if len(lower):
        parts.append(
            "Significantly lower than ktnas: "
            + ", ".join(f"{m} (p = {format_p(r['p_vs_ktnas'])})" for m, r in lower.iterrows())
            + "."
        )
    if len(higher):
        parts.append(f"Significantly higher than ktnas: {', '.join(map(str, higher.index))}.")
    if len(untested):
        parts.append(
            f"Not tested (too few shared seeds or identical runs): {', '.join(map(str, untested.index))}."
        )
    if tested.empty:
        return UNTESTED, " ".join(parts)
    return (FAILS if len(lower) else HOLDS), " ".join(parts)


def beats(table: ResultTable | None, other: str, what: str, digits: int) -> tuple[str, str]:
    """(verdict, detail) of "ktnas is lower than ``other``": holds iff p < 0.05 and a lower mean."""
    if table is None:
        return UNTESTED, "The table was not passed."
    rows = _headline_rows(table)
    absent = [m for m in (REFERENCE, other) if m not in rows.index]
    if absent:
        return UNTESTED, f"The table has no {' or '.join(absent)} row."
    ours, theirs = rows.loc[REFERENCE], rows.loc[other]
    p = float(theirs["p_vs_ktnas"])
    detail = (
        f"ktnas {_fmt(ours['mean'], digits)} vs {other} {_fmt(theirs['mean'], digits)} {what} "
        f"(medians {_fmt(ours['median'], digits)} vs {_fmt(theirs['median'], digits)}; "
        f"{int(ours['n_seeds'])} and {int(theirs['n_seeds'])} seeds), p = {format_p(p)}."
    )
    return _pairwise_verdict(p, float(ours["mean"]) < float(theirs["mean"])), detail


def _pairwise_verdict(p: float, ours_lower: bool) -> str:
    if not np.isfinite(p):
        return UNTESTED
    return HOLDS if p < ALPHA and ours_lower else FAILS


def transfer_ranks(results: Sequence[Any], benchmark: Any) -> pd.DataFrame:
    """Per (method, seed): the mean benchmark rank of every cell it transferred (Fig. 6's quantity)."""
    from ktnas.report.figures import transfer_rank_frame

    df = transfer_rank_frame(results, benchmark)
    return df.groupby(["method", "seed"], sort=False)["mean_rank"].mean().reset_index()


def transfer_claim(per_seed: pd.DataFrame | None) -> tuple[str, str]:
    """(verdict, detail) of "ktnas transfers better-ranked cells than ktnas_random" (paired Wilcoxon)."""
    if per_seed is None:
        return UNTESTED, "No search results with transfer traces were passed (`--transfer`)."
    by = {m: g.set_index("seed")["mean_rank"] for m, g in per_seed.groupby("method")}
    absent = [m for m in (REFERENCE, "ktnas_random") if m not in by]
    if absent:
        return UNTESTED, f"No transfer traces of {' or '.join(absent)}."
    p, n = paired_wilcoxon(by["ktnas_random"], by[REFERENCE])
    ours, theirs = by[REFERENCE].mean(), by["ktnas_random"].mean()
    detail = (
        f"Mean benchmark rank of the transferred cells (1 = best): ktnas {ours:.0f} vs ktnas_random "
        f"{theirs:.0f} over {n} shared seeds, p = {format_p(p)} (one test, no adjustment)."
    )
    return _pairwise_verdict(p, ours < theirs), detail


def check_claims(tables: Sequence[ResultTable], transfer: pd.DataFrame | None = None) -> list[Claim]:
    """The paper's claims (module docstring), each decided by its rule on these tables."""
    main = {t.headline: t for t in tables if t.study == "main"}
    nb, tr = main.get("total"), main.get("avg_rank")
    rule_fewest = (
        "holds iff no other method has a significantly lower {x} than ktnas (Holm-adjusted paired "
        "Wilcoxon p < 0.05 with a lower mean)"
    )
    rule_beats = "holds iff ktnas's {x} is lower than {o}'s with Holm-adjusted paired Wilcoxon p < 0.05"
    paper_ii = PAPER_TABLE_II
    claims = [
        Claim(
            "a",
            "KTNAS needs the fewest evaluations on NAS-Bench-201 in total "
            f"(paper Table II: {paper_ii['ktnas'][3]}, the lowest row).",
            rule_fewest.format(x="total"),
            *fewest(nb, "evaluations in total", 1),
        ),
        Claim(
            "b",
            "KTNAS beats KTNAS without transfer rank (ktnas_random) on NAS-Bench-201 "
            f"(paper: {paper_ii['ktnas'][3]} vs {paper_ii['ktnas_random'][3]} in total).",
            rule_beats.format(x="total", o="ktnas_random"),
            *beats(nb, "ktnas_random", "evaluations in total", 1),
        ),
        Claim(
            "c",
            f"KTNAS beats MTNAS on NAS-Bench-201 (paper: {paper_ii['ktnas'][3]} vs {paper_ii['mtnas'][3]} in total).",
            rule_beats.format(x="total", o="mtnas"),
            *beats(nb, "mtnas", "evaluations in total", 1),
        ),
        Claim(
            "d",
            "KTNAS has the best TransNAS-Bench-101 average rank "
            f"(paper Table III: {PAPER_TABLE_III['ktnas'][3]}, the lowest row but the optimum).",
            rule_fewest.format(x="average rank"),
            *fewest(tr, "average rank", 2),
        ),
        Claim(
            "e",
            "KTNAS's transferred cells rank better than random transfer's (paper Fig. 6).",
            "holds iff the per-seed mean rank of ktnas's transferred cells is lower than ktnas_random's with "
            "paired Wilcoxon p < 0.05",
            *transfer_claim(transfer),
        ),
    ]
    return claims


def _demote(md: str) -> str:
    return "\n".join("#" + line if line.startswith("#") else line for line in md.splitlines()) + "\n"


def results_page(tables: Sequence[ResultTable], transfer: pd.DataFrame | None = None) -> str:
    """The whole Markdown page: claims with their verdicts, then the tables beside the paper."""
    kinds = [(t.headline, t.study) for t in tables]
    repeated = sorted({k for k in kinds if kinds.count(k) > 1})
    if repeated:
        raise ValueError(f"two tables of the same kind and study {repeated}; pass each table once")
    claims = check_claims(tables, transfer)
    lines = [
        "# Results against the paper",
        "",
        f"Generated by `ktnas results-page` (ktnas {__version__}, git {git_sha()}) from "
        + ", ".join(f"`{t.name}`" for t in tables)
        + "; do not edit by hand. The pipeline writes it to `results/docs/results.md`; copy it here to "
        "publish it. Each verdict is a rule computed from the tables' numbers.",
        "",
        "## The paper's claims in this harness",
        "",
        "| claim | verdict |",
        "|---|---|",
        *[f"| ({c.key}) {c.statement} | {c.verdict} |" for c in claims],
        "",
    ]
    for c in claims:
        lines += [f"**({c.key}) {c.statement}** Rule: {c.rule}. Verdict: **{c.verdict}**. {c.detail}", ""]
    order = {"total": 0, "avg_rank": 1}
    for t in sorted(tables, key=lambda t: (t.study != "main", order[t.headline])):
        if t.study == "main" and t.headline == "total":
            md = nb201_markdown(t.frame)
        elif t.study == "main":
            md = trans101_markdown(t.frame)
        else:
            md = study_markdown(t.frame, t.study)
        lines.append(_demote(md))
    return "\n".join(lines)
