"""Tables from per-seed search results: CSV in long format plus a Markdown twin (paper Tables II, III,
VII- and VIII-style).

CSV columns, in this order (:data:`COLUMNS`; the first is ``method``, or ``run`` in a study table):

- ``method`` / ``run``, ``task`` (a task name, or ``total`` / ``avg_rank``, the per-seed sum / mean);
- ``mean``, ``std`` (ddof 1), ``n_seeds``, ``median`` over seeds;
- ``p_vs_ktnas``: Holm-adjusted two-sided paired Wilcoxon p-value of the row against its reference over
  the seeds both share (:mod:`ktnas.report.stats`), adjusted across the rows of the table per task;
- ``p_raw``: the same p before adjustment;
- ``reference``: the row it is compared with: ``ktnas`` in a main table, the default setting in a study
  (:func:`study_references`); empty on the reference row itself.

The p columns are empty where no test applies: on the reference row, and where the two rows share
fewer than six seeds or all their paired differences are zero.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ktnas.report.stats import MARK, MIN_SHARED_SEEDS, compare_rows, format_p, significant
from ktnas.results import SearchResult

#: CSV columns after the label column (see the module docstring)
COLUMNS = ["task", "mean", "std", "n_seeds", "median", "p_vs_ktnas", "p_raw", "reference"]
#: the row every method of a main table is compared with
REFERENCE = "ktnas"

#: studies whose table has one row per method, each tested against ``versus`` (Table II / III style), and
#: how a title names each besides the main table (before its seed range)
METHOD_STUDIES = {
    "main": "",
    "heldout": "held-out seeds",
    "transfer_study": "transfer-selector study, seeds",
    "transfer_study_heldout": "transfer-selector study, held-out seeds",
}

#: sensitivity runs ``ktnas-<letter><value>`` (named by the plan, :mod:`ktnas.plan`) -> the parameter varied
STUDY_PARAMS = {"r": "elite_ratio", "m": "saved_generations", "M": "n_transferred"}
_SENSITIVITY = re.compile(r"^ktnas-(?P<letter>[rmM])(?P<value>[0-9.]+)$")
_ABLATION = re.compile(r"^ktnas-emb-(?P<encoding>.+)$")
#: study -> its table's title; what a study row is tested against
STUDY_TITLES = {"sensitivity": "Sensitivity of KTNAS (r, m, M)", "ablation": "Embedding ablation"}
STUDY_CAPTION = "the default setting (`vs`: the run with ktnas's default value of the parameter varied)"


def evaluations_frame(results: Sequence[SearchResult], label: str = "method") -> pd.DataFrame:
    """Per-seed evaluations-to-optimum: one row per (label, seed, task); ``censored`` when the optimum
    was never queried (the value is then the evaluations spent, a lower bound)."""
    rows = []
    for res in results:
        for t in res.tasks:
            found = t.found_at
            rows.append(
                {
                    label: res.run if label == "run" else res.method,
                    "seed": res.seed,
                    "task": t.task,
                    "evaluations": found if found is not None else t.n_queries,
                    "censored": found is None,
                }
            )
    return pd.DataFrame(rows)


def summarise(
    long: pd.DataFrame,
    label: str,
    row_order: Sequence[str],
    value: str,
    reference: Callable[[str], str | None] | Mapping[str, str | None] | None = None,
) -> pd.DataFrame:
    """The CSV table (:data:`COLUMNS`) of ``value`` over seeds per (label, task); labels in order of
    appearance, tasks in ``row_order``. ``reference`` maps a label to the row it is tested against
    (default: every row against ``ktnas``)."""
    g = long.groupby([label, "task"], sort=False)[value]
    table = pd.DataFrame(
        {"mean": g.mean(), "std": g.std(ddof=1), "n_seeds": g.count(), "median": g.median()}
    ).reset_index()
    present = set(long[label])
    ref = reference if reference is not None else (lambda _: REFERENCE if REFERENCE in present else None)
    tests = compare_rows(long[[label, "seed", "task", value]], label, value, ref)
    table = table.merge(tests, on=[label, "task"], how="left")
    order = {t: i for i, t in enumerate(row_order)}
    labels = {m: i for i, m in enumerate(dict.fromkeys(long[label]))}
    table = table.sort_values(by=[label, "task"], key=lambda s: s.map(labels if s.name == label else order))
    return table[[label, *COLUMNS]].reset_index(drop=True)


def study_references(runs: Mapping[str, Mapping[str, Any]]) -> dict[str, str | None]:
    """run -> the run with the default setting it is compared with, from each run's recorded params.

    A sensitivity variant ``ktnas-r0.5`` is compared with the variant of its parameter whose value equals
    the default: the value ``ktnas`` ran with (or any run that does not vary that parameter), else the
    parameter model's default (``ktnas-r0.2``, ``ktnas-m5``, ``ktnas-M4`` by default). An ablation
    variant is compared with ``ktnas-emb-<the default encoding>`` (node2vec). Where the default variant
    is absent, the reference is ``ktnas`` if its runs are in the table, else None.
    """
    from ktnas.embedding.config import EmbeddingConfig
    from ktnas.params import BenchmarkParams

    fallback = REFERENCE if REFERENCE in runs else None
    letter = {r: m.group("letter") for r in runs if (m := _SENSITIVITY.match(r))}
    default_enc = f"ktnas-emb-{EmbeddingConfig().method}"
    out: dict[str, str | None] = {}
    for run in runs:
        if run in letter:
            key = STUDY_PARAMS[letter[run]]
            # ktnas's own value first, else that of any run that does not vary this parameter
            ranked = sorted(runs, key=lambda r: r != REFERENCE)
            others = [runs[r] for r in ranked if letter.get(r) != letter[run] and key in runs[r]]
            default = others[0][key] if others else getattr(BenchmarkParams(), key)
            group = [r for r in runs if letter.get(r) == letter[run]]
            same = [r for r in group if runs[r].get(key) == default]
            out[run] = same[0] if same else fallback
        elif _ABLATION.match(run):
            out[run] = default_enc if default_enc in runs else fallback
        else:
            out[run] = fallback if run != REFERENCE else None
    return out


def summarise_evaluations(
    per_seed: pd.DataFrame,
    label: str,
    task_order: Sequence[str],
    reference: Mapping[str, str | None] | None = None,
) -> pd.DataFrame:
    """Evaluations to the optimum per task, plus ``total`` = the per-seed sum over tasks."""
    totals = per_seed.groupby([label, "seed"], sort=False)["evaluations"].sum().reset_index()
    totals["task"] = "total"
    both = pd.concat([per_seed[[label, "seed", "task", "evaluations"]], totals], ignore_index=True)
    return summarise(both, label, [*task_order, "total"], "evaluations", reference)


def markdown_table(df: pd.DataFrame, floatfmt: str = ".1f") -> str:
    """A plain Markdown rendering of a frame (finite floats formatted with ``floatfmt``)."""
    cols = list(df.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, row in df.iterrows():
        cells = []
        for c in cols:
            v = row[c]
            finite = isinstance(v, float | np.floating) and np.isfinite(v)
            cells.append(format(v, floatfmt) if finite else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def csv_text(table: pd.DataFrame) -> str:
    """The table as CSV: four decimals, but p-values with four significant digits (they go below 1e-4)."""
    out = table.copy()
    for col in [c for c in out.columns if str(c).startswith("p_")]:  # p_vs_ktnas, p_raw, p_vs_single, ...
        out[col] = [f"{p:.4g}" if np.isfinite(p) else "" for p in out[col].astype(float)]
    text: str = out.to_csv(index=False, float_format="%.4f")
    return text


def p_caption(reference: str) -> str:
    """The caption sentence that explains the p column, the mark and the dashes."""
    return (
        f"`p` = two-sided Wilcoxon signed-rank test (scipy.stats.wilcoxon) of the row against {reference}, "
        "paired over the seeds both have, Holm-adjusted across the rows of the table (each column "
        f"separately); `{MARK}` = differs at adjusted p < 0.05 in that column. – = not tested: the "
        f"reference row itself, fewer than {MIN_SHARED_SEEDS} shared seeds, or all paired differences zero."
    )


def _cell(row: Any, digits: int) -> str:
    if row is None or not np.isfinite(row.mean):
        return "–"
    text = (
        f"{row.mean:.{digits}f} ± {row.std:.{digits}f}" if np.isfinite(row.std) else f"{row.mean:.{digits}f}"
    )
    return text + (MARK if significant(row.p_vs_ktnas) else "")


def wide_markdown(
    table: pd.DataFrame,
    headline: str,
    paper: Mapping[str, Mapping[str, float]] | None = None,
    heads: Mapping[str, str] | None = None,
    digits: int = 1,
    show_reference: bool = False,
) -> list[str]:
    """Markdown rows of a :data:`COLUMNS` table: mean ± std per task (the paper's value beside it where
    ``paper`` is given), the headline column's median and p, the reference and the row's seed count."""
    label = table.columns[0]
    tasks = list(dict.fromkeys(table["task"]))
    tasks = [t for t in tasks if t != headline] + [headline]
    cells = {(getattr(r, label), r.task): r for r in table.itertuples(index=False)}
    heads = heads or {}
    cols = []
    for t in tasks:
        cols.append(heads.get(t, t))
        if paper is not None:
            cols.append("paper")
    cols += [f"median {heads.get(headline, headline)}", "p", *(["vs"] if show_reference else []), "seeds"]
    lines = [f"| {label} | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for lab in dict.fromkeys(table[label]):
        row = [f"{lab}"]
        for t in tasks:
            row.append(_cell(cells.get((lab, t)), digits))
            if paper is not None:
                value = (paper.get(str(lab)) or {}).get(t)
                row.append("–" if value is None else f"{value:.{digits}f}")
        head = cells.get((lab, headline))
        row.append(f"{head.median:.{digits}f}" if head is not None else "–")
        row.append(format_p(head.p_vs_ktnas) if head is not None else "–")
        if show_reference:
            ref = head.reference if head is not None else None
            row.append(ref if isinstance(ref, str) and ref else "–")
        n = [cells[(lab, t)].n_seeds for t in tasks if (lab, t) in cells]
        row.append(str(min(n)) if n else "0")
        lines.append("| " + " | ".join(row) + " |")
    return lines


def paper_by_task(
    paper: Mapping[str, Sequence[float]], paper_tasks: Sequence[str], tasks: Sequence[str]
) -> dict[str, dict[str, float]]:
    """method -> {task: paper value}; the paper's aggregate column only where the table has exactly the
    paper's tasks (a total over other tasks is not comparable)."""
    same = list(tasks) == list(paper_tasks[:-1])
    return {
        m: {
            t: v
            for t, v in zip(paper_tasks, values, strict=True)
            if t in tasks or (same and t == paper_tasks[-1])
        }
        for m, values in paper.items()
    }


def method_references(methods: Sequence[str], versus: str) -> dict[str, str | None]:
    """Every method tested against ``versus`` (None: the reference row itself, or ``versus`` absent)."""
    return {m: (versus if versus in methods and m != versus else None) for m in methods}


def reference_of(table: pd.DataFrame) -> str | None:
    """The row a table read back from CSV tests its rows against (its ``reference`` column)."""
    if "reference" not in table:
        return None
    refs = table["reference"].dropna()
    return str(refs.iloc[0]) if len(refs) else None


def study_frame(results: Sequence[SearchResult]) -> tuple[list[SearchResult], dict[str, str | None]]:
    """The results of a KTNAS study table and each run's reference (:func:`study_references`); the
    ``ktnas`` run's results, passed as the fallback reference, are kept only where a variant uses them."""
    params: dict[str, dict[str, Any]] = {}
    for r in results:
        params.setdefault(r.run, r.params)
    refs = study_references(params)
    if REFERENCE not in refs.values():
        results = [r for r in results if r.run != REFERENCE]
        refs.pop(REFERENCE, None)
    return list(results), refs
