"""The "Results against the paper" page (``docs/results.md``), generated from the pipeline's table CSVs.

The page is generic: each space's table module (:mod:`ktnas.report.spaces`) supplies a :class:`TableSpec`
(how its tables are built, how they read and render beside the paper, and which of the paper's claims
they decide), and the page shows every table passed beside the paper's numbers and decides each claim by
a rule computed from the tables' numbers, never by a hand-written verdict. The table modules of
NAS-Bench-201 and TransNAS-Bench-101 supply these claims:

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

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ktnas import __version__
from ktnas._io import KtnasError, git_sha
from ktnas.report.stats import ALPHA, format_p, paired_wilcoxon
from ktnas.report.tables import REFERENCE

HOLDS, FAILS, UNTESTED = "holds", "does not hold", "not tested"
#: where the concluded transfer-selector study's numbers are (it is not rerun by the default pipeline)
TRANSFER_STUDY_NOTE = (
    "The transfer-selector study that chose `ktnas_centred` is concluded: its published numbers are in "
    "docs/transfer-study.md, and `snakemake transfer_study` rebuilds its tables "
    "(`results/tables/nb201_transfer_study*.csv`)."
)
#: the rules a claim can be decided by (:class:`ClaimSpec`)
FEWEST, BEATS, TRANSFER = "fewest", "beats", "transfer"


@dataclass(frozen=True)
class ClaimSpec:
    """One claim of the paper on a space's main table, and the rule that decides it.

    ``rule`` is :data:`FEWEST` (no other row is significantly lower than ktnas in ``quantity``),
    :data:`BEATS` (ktnas is significantly lower than ``other``) or :data:`TRANSFER` (ktnas's transferred
    cells rank better than ``ktnas_random``'s; decided on search results, not on the table). ``what``
    names the headline's unit in the detail line.
    """

    key: str
    statement: str
    rule: str
    quantity: str = ""
    what: str = ""
    other: str = ""

    def __post_init__(self) -> None:
        if self.rule not in (FEWEST, BEATS, TRANSFER):
            raise ValueError(
                f"claim ({self.key}): unknown rule {self.rule!r}; use {FEWEST}, {BEATS} or {TRANSFER}"
            )


@dataclass(frozen=True)
class TableSpec:
    """How one space's tables are built, shown and judged (one per space: :mod:`ktnas.report.spaces`)."""

    #: (per-seed result files, study, benchmark table or None, versus or None) -> (CSV frame, Markdown):
    #: what ``ktnas table`` runs
    build: Callable[[Sequence[Path], str, str | Path | None, str | None], tuple[pd.DataFrame, str]]
    #: the aggregate row that identifies the space's tables and decides its claims ("total", "avg_rank");
    #: "" keeps the space's tables off the results page
    headline: str = ""
    #: decimals of the headline in the claims' detail lines
    digits: int = 1
    #: (table read back, its study) -> Markdown, with the paper's numbers beside ours where it has them
    markdown: Callable[[pd.DataFrame, str], str] | None = None
    claims: tuple[ClaimSpec, ...] = ()

    @property
    def on_page(self) -> bool:
        """Whether the results page shows and judges the space's tables."""
        return bool(self.headline) and self.markdown is not None


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


def read_table(path: str | Path, specs: Sequence[TableSpec]) -> ResultTable:
    """Read a ``ktnas table`` CSV of a space with a :class:`TableSpec` (see :mod:`ktnas.report.tables`)."""
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
    headline = next((s.headline for s in specs if s.headline in tasks), "")
    if not headline:
        rows = " or ".join(f"a {s.headline!r} row" for s in specs)
        raise ValueError(f"{path.name}: has neither {rows}; pass a main or study table of a benchmark space")
    # the pipeline names tables {space}_{study}.csv; a file named otherwise is a main table if its rows are
    # methods, else a study named by the file
    named = path.stem.partition("_")[2]
    study = named if named else ("main" if frame.columns[0] == "method" else path.stem)
    return ResultTable(path.name, frame, headline, study)


def read_landscapes(path: str | Path, specs: Sequence[TableSpec]) -> dict[str, ResultTable]:
    """A landscape table (``ktnas table --study landscapes``: the main table's columns per ``landscape``,
    plus ``p_vs_single``) as one main table per landscape, in the file's order (``p_vs_single`` kept)."""
    path = Path(path)
    try:
        frame = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise KtnasError(f"{path}: unreadable table ({err}); rerun its table job") from None
    if "landscape" not in frame.columns or "p_vs_single" not in frame.columns:
        raise ValueError(f"{path.name}: not a landscape table (no landscape / p_vs_single column)")
    out = {}
    for land, sub in frame.groupby("landscape", sort=False):
        main = sub.drop(columns="landscape")
        tasks = set(main["task"])
        headline = next((s.headline for s in specs if s.headline in tasks), "")
        if not headline:
            raise ValueError(f"{path.name}: landscape {land!r} has no aggregate row of a known space")
        out[str(land)] = ResultTable(path.name, main.reset_index(drop=True), headline, "main")
    return out


def landscape_section(landscapes: Mapping[str, ResultTable], specs: Sequence[TableSpec]) -> list[str]:
    """Markdown lines: each table claim decided by its rule on every landscape, then the landscape
    comparison against single."""
    table_claims = [
        dataclasses.replace(s, claims=tuple(c for c in s.claims if c.rule != TRANSFER)) for s in specs
    ]
    verdicts: dict[str, dict[str, Claim]] = {}
    for land, table in landscapes.items():
        for c in check_claims([table], [s for s in table_claims if s.headline == table.headline]):
            verdicts.setdefault(c.key, {})[land] = c
    lands = list(landscapes)
    lines = [
        "## The claims on other fitness landscapes",
        "",
        "The main NAS-Bench-201 comparison repeated with each task's fitness read from another column of the "
        "benchmark, every method with its main-table settings (nothing tuned on these landscapes); each claim "
        "decided by the same rule as above on that landscape's table. Landscapes: "
        + ", ".join(f"`{land}`" for land in lands)
        + ".",
        "",
        "| claim | " + " | ".join(lands) + " |",
        "|---|" + "---|" * len(lands),
    ]
    for key, by_land in sorted(verdicts.items()):
        statement = next(iter(by_land.values())).statement
        lines.append(
            f"| ({key}) {statement} | "
            + " | ".join(by_land[x].verdict if x in by_land else "–" for x in lands)
            + " |"
        )
    lines.append("")
    for key, by_land in sorted(verdicts.items()):
        for land in lands:
            if land in by_land:
                lines.append(f"- ({key}) on `{land}`: **{by_land[land].verdict}**. {by_land[land].detail}")
    rows = pd.concat(
        [t.frame[t.frame["task"] == t.headline].assign(landscape=land) for land, t in landscapes.items()]
    )
    lines += [
        "",
        "Against single-tasking on each landscape (mean and median of the aggregate row; `p` = Holm-adjusted "
        "paired Wilcoxon against `single` within the landscape):",
        "",
        "| method | " + " | ".join(f"{land} mean | median | p" for land in lands) + " |",
        "|---|" + "---|---|---|" * len(lands),
    ]
    cell = {(r.landscape, r.method): r for r in rows.itertuples(index=False)}
    for m in dict.fromkeys(rows["method"]):
        cells = []
        for land in lands:
            r = cell.get((land, m))
            cells += ["–"] * 3 if r is None else [f"{r.mean:.1f}", f"{r.median:.1f}", format_p(r.p_vs_single)]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return [*lines, ""]


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


_RULE_FEWEST = (
    "holds iff no other method has a significantly lower {x} than ktnas (Holm-adjusted paired "
    "Wilcoxon p < 0.05 with a lower mean)"
)
_RULE_BEATS = "holds iff ktnas's {x} is lower than {o}'s with Holm-adjusted paired Wilcoxon p < 0.05"
_RULE_TRANSFER = (
    "holds iff the per-seed mean rank of ktnas's transferred cells is lower than ktnas_random's with "
    "paired Wilcoxon p < 0.05"
)


def check_claims(
    tables: Sequence[ResultTable], specs: Sequence[TableSpec], transfer: pd.DataFrame | None = None
) -> list[Claim]:
    """The claims of every spec, in key order, each decided by its rule on these tables."""
    main = {t.headline: t for t in tables if t.study == "main"}
    claims = []
    for spec in specs:
        table = main.get(spec.headline)
        for c in spec.claims:
            if c.rule == FEWEST:
                rule = _RULE_FEWEST.format(x=c.quantity)
                verdict, detail = fewest(table, c.what, spec.digits)
            elif c.rule == BEATS:
                rule = _RULE_BEATS.format(x=c.quantity, o=c.other)
                verdict, detail = beats(table, c.other, c.what, spec.digits)
            else:
                rule = _RULE_TRANSFER
                verdict, detail = transfer_claim(transfer)
            claims.append(Claim(c.key, c.statement, rule, verdict, detail))
    return sorted(claims, key=lambda c: c.key)


def _demote(md: str) -> str:
    return "\n".join("#" + line if line.startswith("#") else line for line in md.splitlines()) + "\n"


def results_page(
    tables: Sequence[ResultTable],
    specs: Sequence[TableSpec],
    transfer: pd.DataFrame | None = None,
    landscapes: Sequence[str | Path] = (),
) -> str:
    """The whole Markdown page: claims with their verdicts, the claims on other fitness landscapes
    (``landscapes``: landscape tables), then the tables beside the paper."""
    kinds = [(t.headline, t.study) for t in tables]
    repeated = sorted({k for k in kinds if kinds.count(k) > 1})
    if repeated:
        raise ValueError(f"two tables of the same kind and study {repeated}; pass each table once")
    claims = check_claims(tables, specs, transfer)
    lines = [
        "# Results against the paper",
        "",
        f"Built from commit {git_sha()} (ktnas {__version__}) by `ktnas results-page` from "
        + ", ".join(f"`{t.name}`" for t in tables)
        + "; do not edit by hand. The pipeline writes it to `results/docs/results.md`; `snakemake publish` "
        "rebuilds it and copies it here. Each verdict is a rule computed from the tables' numbers.",
        "",
        TRANSFER_STUDY_NOTE,
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
    for path in landscapes:
        lines += landscape_section(read_landscapes(path, specs), specs)
    by_headline = {s.headline: (i, s) for i, s in enumerate(specs)}
    for t in sorted(tables, key=lambda t: (t.study != "main", by_headline[t.headline][0])):
        markdown = by_headline[t.headline][1].markdown
        assert markdown is not None  # a table is read only by a spec on the page
        lines.append(_demote(markdown(t.frame, t.study)))
    return "\n".join(lines)
