"""NAS-Bench-201's tables (docs/reproduction.md §5; paper Tables II and VIII): evaluations until each task's best
cell is found, beside the paper's numbers, for the main comparison, its held-out repetition, the KTNAS
studies, the transfer-selector study and the other fitness landscapes; and what the results page reads
from them (:data:`SPEC`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ktnas.report.results_page import BEATS, FEWEST, TRANSFER, ClaimSpec, TableSpec
from ktnas.report.tables import METHOD_STUDIES
from ktnas.results import SearchResult

#: landscape of a run whose params leave ``fitness`` unset (the benchmark's search column)
DEFAULT_LANDSCAPE = "valid_acc"
LANDSCAPE_TITLES = {
    "valid_acc": "200-epoch x-valid accuracy (the paper's)",
    "valid_acc_12ep": "12-epoch x-valid accuracy",
    "test_acc": "200-epoch test accuracy",
}


# -- Table II and the KTNAS studies (Tables VII- and VIII-style) ------------------------------------------
#: paper Table II tasks, in the order of the tuples below
PAPER_TASKS_II = ("cifar10", "cifar100", "imagenet16", "total")
#: paper Table II (docs/reproduction.md §5): evaluations until the best architecture is found (C-10, C-100,
#: ImageNet16-120, total); gcn, lanas and weaknas are rows the paper quotes from earlier work
PAPER_TABLE_II: dict[str, tuple[float, float, float, float]] = {
    "rs": (7782.1, 7621.2, 7726.1, 23129.4),
    "rea": (563.2, 438.2, 715.1, 1439.6),
    "gcn": (214.4, 260.5, 250.6, 725.5),
    "lanas": (247.1, 187.5, 292.4, 727.0),
    "weaknas": (182.1, 78.4, 268.4, 528.9),
    "zero": (230.8, 18.4, 213.0, 462.2),
    "mtnas": (106.0, 30.1, 92.3, 228.4),
    "ktnas_random": (105.8, 51.6, 66.1, 223.5),
    "ktnas": (100.7, 27.9, 60.0, 188.5),
}
#: paper Table VIII (KTNAS with each architecture embedding; node2vec is its default)
PAPER_TABLE_VIII: dict[str, tuple[float, float, float, float]] = {
    "ktnas-emb-arch2vec": (105.0, 26.6, 64.4, 196.0),
    "ktnas-emb-cate": (100.5, 34.1, 59.2, 193.8),
    "ktnas-emb-node2vec": (100.7, 27.9, 60.0, 188.5),
}


def nb201_markdown(table: pd.DataFrame, censored: int | None = None, versus: str | None = None) -> str:
    """Table II: our mean ± std beside the paper's number for every row the paper has (each row tested
    against ``versus``, default ktnas)."""
    from ktnas.report.tables import REFERENCE, p_caption, paper_by_task, wide_markdown

    versus = versus or REFERENCE
    tasks = [t for t in dict.fromkeys(table["task"]) if t != "total"]
    paper = paper_by_task(PAPER_TABLE_II, PAPER_TASKS_II, tasks)
    lines = [
        "# NAS-Bench-201: evaluations until the best architecture is found",
        "",
        "Mean ± std over seeds (lower is better); `total` = the per-seed sum over the tasks. `paper` = KTNAS "
        "paper Table II (mean of 10 runs; – = a row the paper does not have). " + p_caption(versus),
        "",
        *wide_markdown(table, "total", paper),
    ]
    if censored is not None:
        lines += ["", f"Runs that never queried the optimum (value = evaluations spent): {censored}."]
    return "\n".join(lines) + "\n"


def page_markdown(table: pd.DataFrame, study: str) -> str:
    """A table read back from its CSV for the results page: Table II (main, held-out or the transfer
    study, against the table's own reference row) or a KTNAS study."""
    from ktnas.report.tables import reference_of

    if study not in METHOD_STUDIES:
        return study_markdown(table, study)
    md = nb201_markdown(table, versus=reference_of(table))
    if study == "main":
        return md
    return md.replace("# NAS-Bench-201: ", f"# NAS-Bench-201, {METHOD_STUDIES[study]}: ", 1)


def study_markdown(table: pd.DataFrame, study: str) -> str:
    """A KTNAS study table (one row per run variant), each variant tested against the default setting."""
    from ktnas.report.tables import STUDY_CAPTION, STUDY_TITLES, p_caption, paper_by_task, wide_markdown

    tasks = [t for t in dict.fromkeys(table["task"]) if t != "total"]
    paper = paper_by_task(PAPER_TABLE_VIII, PAPER_TASKS_II, tasks) if study == "ablation" else None
    paper_note = " `paper` = paper Table VIII (node2vec, arch2vec and CATE rows)." if paper else ""
    lines = [
        f"# NAS-Bench-201: {STUDY_TITLES.get(study, study)}",
        "",
        "Evaluations until the best architecture is found, mean ± std over seeds (lower is better)."
        + paper_note
        + " "
        + p_caption(STUDY_CAPTION),
        "",
        *wide_markdown(table, "total", paper, show_reference=True),
    ]
    return "\n".join(lines) + "\n"


def evaluations_table(
    results: Sequence[SearchResult], study: str, versus: str | None = None
) -> tuple[pd.DataFrame, str]:
    """Table II (``main``, the held-out ``heldout`` or the transfer-selector study: one row per method,
    each tested against ``versus``, default ``ktnas``) or a KTNAS study (one row per run variant, each tested against the
    default setting; the ``ktnas`` run's results, if passed, are the fallback reference and a row only
    where a variant is compared with them)."""
    from ktnas.report.tables import (
        REFERENCE,
        evaluations_frame,
        method_references,
        study_frame,
        summarise_evaluations,
    )

    tasks = [t.task for t in results[0].tasks]
    if study in METHOD_STUDIES:
        versus = versus or REFERENCE
        per_seed = evaluations_frame(results)
        refs = method_references(list(dict.fromkeys(per_seed["method"])), versus)
        table = summarise_evaluations(per_seed, "method", tasks, refs)
        md = nb201_markdown(table, int(per_seed["censored"].sum()), versus)
        if study != "main":
            seeds = sorted(set(per_seed["seed"]))
            md = md.replace(
                "# NAS-Bench-201: evaluations",
                f"# NAS-Bench-201, {METHOD_STUDIES[study]} {seeds[0]}–{seeds[-1]}: evaluations",
            )
        return table, md
    results, refs = study_frame(results)
    per_seed = evaluations_frame(results, label="run")
    table = summarise_evaluations(per_seed, "run", tasks, refs)
    return table, study_markdown(table, study)


# -- the main comparison on several fitness landscapes ---------------------------------------------------


def landscape_table(results: Sequence[SearchResult]) -> tuple[pd.DataFrame, str]:
    """Table II on each fitness landscape (``fitness`` of the runs' params): per landscape, a Table II in
    the main table's columns (each method tested against ktnas, Holm-adjusted within the landscape), plus
    ``p_vs_single`` / ``p_single_raw``, the paired Wilcoxon of each method against ``single`` on the same
    landscape, Holm-adjusted within the landscape. The first column is ``landscape``."""
    import pandas as pd

    from ktnas.report.tables import REFERENCE, evaluations_frame, method_references, summarise_evaluations

    by: dict[str, list[SearchResult]] = {}
    for r in results:
        by.setdefault(r.params.get("fitness") or DEFAULT_LANDSCAPE, []).append(r)
    order = [k for k in LANDSCAPE_TITLES if k in by] + [k for k in by if k not in LANDSCAPE_TITLES]
    frames = []
    for land in order:
        per_seed = evaluations_frame(by[land])
        methods = list(dict.fromkeys(per_seed["method"]))
        tasks = [t.task for t in by[land][0].tasks]
        vs_ktnas = summarise_evaluations(per_seed, "method", tasks, method_references(methods, REFERENCE))
        vs_single = summarise_evaluations(per_seed, "method", tasks, method_references(methods, "single"))
        vs_single = vs_single.rename(columns={"p_vs_ktnas": "p_vs_single", "p_raw": "p_single_raw"})
        table = vs_ktnas.merge(
            vs_single[["method", "task", "p_vs_single", "p_single_raw"]], on=["method", "task"], how="left"
        )
        table.insert(0, "landscape", land)
        frames.append(table)
    table = pd.concat(frames, ignore_index=True)
    return table, landscape_markdown(table)


def landscape_markdown(table: pd.DataFrame) -> str:
    """Per method and landscape: mean and median total evaluations, and the Holm-adjusted p against
    ``single``."""
    from ktnas.report.stats import MARK, format_p

    lands = list(dict.fromkeys(table["landscape"]))
    totals = table[table["task"] == "total"]
    cell = {(r.landscape, r.method): r for r in totals.itertuples(index=False)}
    head = " | ".join(f"{land}: mean | median | p vs single" for land in lands)
    lines = [
        "# NAS-Bench-201: the main comparison on three fitness landscapes",
        "",
        "Total evaluations over the three tasks until each task's best cell (on that landscape) is first "
        "queried, mean and median over seeds (lower is better). Landscapes: "
        + "; ".join(f"`{k}` = {LANDSCAPE_TITLES.get(k, k)}" for k in lands)
        + ". `p vs single` = two-sided Wilcoxon signed-rank test (scipy.stats.wilcoxon) of the row against "
        f"`single` on the same landscape, paired over the seeds both have, Holm-adjusted across the rows of "
        f"that landscape; `{MARK}` = differs at adjusted p < 0.05. No method was tuned on these landscapes.",
        "",
        f"| method | {head} | seeds |",
        "|---|" + "---|---|---|" * len(lands) + "---|",
    ]
    for m in dict.fromkeys(totals["method"]):
        cells, seeds = [], []
        for land in lands:
            r = cell.get((land, m))
            if r is None:
                cells += ["–", "–", "–"]
                continue
            p = float(r.p_vs_single)
            mark = MARK if np.isfinite(p) and p < 0.05 else ""
            cells += [f"{r.mean:.1f}{mark}", f"{r.median:.1f}", format_p(p)]
            seeds.append(int(r.n_seeds))
        lines.append(f"| {m} | " + " | ".join(cells) + f" | {min(seeds) if seeds else 0} |")
    return "\n".join(lines) + "\n"


# -- what `ktnas table` and the results page read ----------------------------------------------------------


def build(
    inputs: Sequence[Path], study: str, benchmark: str | Path | None, versus: str | None = None
) -> tuple[pd.DataFrame, str]:
    """One study's table (CSV frame and Markdown) from its search results."""
    results = [SearchResult.load(p) for p in inputs]
    if study == "landscapes":
        return landscape_table(results)
    return evaluations_table(results, study, versus)


def _claims() -> tuple[ClaimSpec, ...]:
    """The paper's claims (a)–(c) and (e), decided on Table II."""
    ours, what = PAPER_TABLE_II["ktnas"][3], "evaluations in total"
    return (
        ClaimSpec(
            "a",
            "KTNAS needs the fewest evaluations on NAS-Bench-201 in total "
            f"(paper Table II: {ours}, the lowest row).",
            FEWEST,
            "total",
            what,
        ),
        ClaimSpec(
            "b",
            "KTNAS beats KTNAS without transfer rank (ktnas_random) on NAS-Bench-201 "
            f"(paper: {ours} vs {PAPER_TABLE_II['ktnas_random'][3]} in total).",
            BEATS,
            "total",
            what,
            "ktnas_random",
        ),
        ClaimSpec(
            "c",
            f"KTNAS beats MTNAS on NAS-Bench-201 (paper: {ours} vs {PAPER_TABLE_II['mtnas'][3]} in total).",
            BEATS,
            "total",
            what,
            "mtnas",
        ),
        ClaimSpec(
            "e", "KTNAS's transferred cells rank better than random transfer's (paper Fig. 6).", TRANSFER
        ),
    )


#: Table II on the results page, and the paper's claims (a)–(c) and (e) on it
SPEC = TableSpec(build, "total", 1, page_markdown, _claims())
