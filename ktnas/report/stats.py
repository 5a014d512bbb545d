"""Paired comparisons of table rows: a two-sided Wilcoxon signed-rank test (``scipy.stats.wilcoxon``) of
each row against its reference row over the seeds both have, Holm-adjusted across the rows of a column.

A comparison is not made (p = NaN, shown as "–") when the two rows share fewer than
:data:`MIN_SHARED_SEEDS` seeds (with five pairs the exact two-sided p can never go below 0.0625) or when
every paired difference is zero (identical runs: nothing to test).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon

#: fewest seeds two rows must share for a test
MIN_SHARED_SEEDS = 6
#: significance level of the marks
ALPHA = 0.05
#: the mark of a row that differs from its reference at Holm-adjusted p < ALPHA
MARK = "*"


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (Holm 1979), NaNs left out of the family.

    With the m finite p-values sorted ascending, p_(1) <= ... <= p_(m), the adjusted value of the i-th is
    max over j <= i of min(1, (m - j + 1) p_(j)); it is returned in the input order. Rejecting where the
    adjusted p is below alpha controls the family-wise error rate at alpha. This is an adjustment of
    p-values that scipy computed, not a test (scipy.stats has no Holm correction).
    """
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    m = order.size
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out


def paired_wilcoxon(x: pd.Series, y: pd.Series) -> tuple[float, int]:
    """(two-sided p, shared seeds) of ``x`` against ``y``, both indexed by seed; p is NaN when fewer than
    :data:`MIN_SHARED_SEEDS` seeds are shared or every difference is zero."""
    both = pd.concat([x.rename("x"), y.rename("y")], axis=1, join="inner").dropna()
    n = len(both)
    diff = both["x"].to_numpy(dtype=np.float64) - both["y"].to_numpy(dtype=np.float64)
    if n < MIN_SHARED_SEEDS or not np.any(diff != 0):
        return float("nan"), n
    return float(wilcoxon(diff, alternative="two-sided").pvalue), n


def compare_rows(
    long: pd.DataFrame,
    label: str,
    value: str,
    reference: Callable[[str], str | None] | Mapping[str, str | None],
) -> pd.DataFrame:
    """One row per (label, task) of ``long`` (columns label, seed, task, value): ``reference`` (the row it
    is compared with, None if none), ``p_raw`` (paired two-sided Wilcoxon over shared seeds) and
    ``p_vs_ktnas`` (Holm-adjusted across the rows of each task column). A reference row is not compared
    with itself."""
    ref_of = reference if callable(reference) else reference.get
    series = {key: g.set_index("seed")[value] for key, g in long.groupby([label, "task"], sort=False)}
    rows = []
    for lab, task in series:
        ref = ref_of(str(lab))
        p = float("nan")
        if ref is not None and ref != lab and (ref, task) in series:
            p, _ = paired_wilcoxon(series[(lab, task)], series[(ref, task)])
        rows.append({label: lab, "task": task, "reference": ref if ref != lab else None, "p_raw": p})
    out = pd.DataFrame(rows, columns=[label, "task", "reference", "p_raw"])
    out["p_vs_ktnas"] = np.nan
    for _, idx in out.groupby("task", sort=False).groups.items():
        out.loc[idx, "p_vs_ktnas"] = holm(out.loc[idx, "p_raw"].to_numpy())
    return out


def significant(p: float) -> bool:
    """Whether a Holm-adjusted p marks a difference (NaN never does)."""
    return bool(np.isfinite(p) and p < ALPHA)


def format_p(p: float) -> str:
    """A p-value for a Markdown cell: "–" when not tested, three significant digits otherwise."""
    if not np.isfinite(p):
        return "–"
    return f"{p:.3g}" if p >= 1e-3 else f"{p:.1e}"
