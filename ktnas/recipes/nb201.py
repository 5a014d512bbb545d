"""NAS-Bench-201 (docs/method.md §6.1): three image-classification tasks, REA with a zero-cost proxy
warm-up and pre-screen, evaluations counted until each task's best cell is queried (paper Table II)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ktnas._io import KtnasError, file_key
from ktnas.recipes.base import SearchPaths, Setup, TabularRecipe
from ktnas.results import SearchResult
from ktnas.search.reproduction import Reproducer

if TYPE_CHECKING:
    import pandas as pd

    from ktnas.methods import Method
    from ktnas.report.results_page import TableSpec
    from ktnas.search.base import Individual
    from ktnas.search.problem import Problem
    from ktnas.search.reproduction import Child
    from ktnas.spaces.base import SearchSpace


#: landscape of a run whose params leave ``fitness`` unset (the benchmark's search column)
DEFAULT_LANDSCAPE = "valid_acc"
LANDSCAPE_TITLES = {
    "valid_acc": "200-epoch x-valid accuracy (the paper's)",
    "valid_acc_12ep": "12-epoch x-valid accuracy",
    "test_acc": "200-epoch test accuracy",
}


class NB201Recipe(TabularRecipe):
    name: ClassVar[str] = "nb201"
    description: ClassVar[str] = "NAS-Bench-201: cifar10, cifar100, imagenet16; evaluations to the optimum"
    landscapes: ClassVar[tuple[str, ...]] = tuple(LANDSCAPE_TITLES)

    def reproduction(self, setup: Setup, tasks: Sequence[str], hp: Any, paths: SearchPaths) -> Any:
        # one proxy table per task: the proxy is computed with each dataset's input size and classes
        return PerTaskProxyREA(
            {t: self.proxy_scores(paths, t, hp.proxy) for t in tasks},
            hp.tournament_size,
            hp.n_candidates,
            hp.warmup,
        )

    def reads_proxies(self, method: Method) -> bool:
        return method.multitask or method.uses_proxy

    def proxy_scores(self, paths: SearchPaths, task: str, proxy: str) -> dict[str, float]:
        """arch -> proxy score on ``task``'s dataset; missing and non-finite scores are left out (ranked
        last). The table is read once per process while its file is unchanged."""
        from ktnas.proxies import bundled_proxies_path, canonical_proxies, load_bundled_proxies

        (name,) = canonical_proxies([proxy])
        key = file_key(paths.proxies if paths.proxies is not None else bundled_proxies_path())
        if key is None:
            load_bundled_proxies(paths.proxies)  # raises the one-line error that says how to rebuild it
        assert key is not None
        return dict(_proxy_scores(key, str(paths.proxies or "bundled"), task, name))

    def build_benchmark(self, source: str) -> pd.DataFrame | None:
        from ktnas.benchmarks import nb201

        if source == "bundled":
            return None
        return nb201.build_from_csv(source) if Path(source).is_dir() else nb201.convert_official(source)

    def write_benchmark(self, df: pd.DataFrame, out: str | Path) -> None:
        from ktnas.benchmarks import nb201

        nb201.write_bundled(df, out)

    def table(
        self, inputs: Sequence[Path], study: str, benchmark: str | Path | None, versus: str | None = None
    ) -> tuple[pd.DataFrame, str]:
        results = [SearchResult.load(p) for p in inputs]
        if study == "landscapes":
            return landscape_table(results)
        return evaluations_table(results, study, versus)

    def table_spec(self) -> TableSpec:
        """Table II on the results page, and the paper's claims (a)–(c) and (e) on it."""
        from ktnas.report.results_page import BEATS, FEWEST, TRANSFER, ClaimSpec, TableSpec

        ours, what = PAPER_TABLE_II["ktnas"][3], "evaluations in total"
        claims = (
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
        return TableSpec("total", 1, page_markdown, claims)


@lru_cache(maxsize=16)
def _proxy_scores(key: tuple[str, int, int], where: str, task: str, name: str) -> dict[str, float]:
    """The proxy scores of one (table file, dataset, proxy): the seeds of one job share them."""
    df = _proxy_table(key)
    if name not in df.columns:
        raise KtnasError(f"proxy table {where} has no {name!r} column; recompute it with that proxy")
    sub = df[(df["dataset"] == task) & np.isfinite(df[name])]
    if sub.empty:
        raise KtnasError(f"proxy table {where} has no {name} scores for dataset {task!r}")
    return dict(zip(sub["arch"], sub[name].astype(float), strict=True))


@lru_cache(maxsize=2)
def _proxy_table(key: tuple[str, int, int]) -> pd.DataFrame:
    from ktnas.proxies import load_bundled_proxies

    return load_bundled_proxies(key[0])


class PerTaskProxyREA(Reproducer):
    """:class:`~ktnas.search.reproduction.ProxyREA` whose proxy table follows the task being reproduced."""

    def __init__(
        self, proxies: Mapping[str, Mapping[str, float]], tournament_size: int, n_candidates: int, warmup: int
    ) -> None:
        from ktnas.search.reproduction import ProxyREA

        self.by_task = {t: ProxyREA(p, tournament_size, n_candidates, warmup) for t, p in proxies.items()}

    def initial(self, space: SearchSpace, problem: Problem, k: int, rng: np.random.Generator) -> list[str]:
        return self.by_task[problem.name].initial(space, problem, k, rng)

    def offspring(
        self,
        space: SearchSpace,
        problem: Problem,
        population: Sequence[Individual],
        transferred: Sequence[str],
        k: int,
        rng: np.random.Generator,
    ) -> list[Child]:
        return self.by_task[problem.name].offspring(space, problem, population, transferred, k, rng)


# -- Table II and the KTNAS studies (Tables VII- and VIII-style) ------------------------------------------
#: paper Table II tasks, in the order of the tuples below
PAPER_TASKS_II = ("cifar10", "cifar100", "imagenet16", "total")
#: paper Table II (docs/method.md §7): evaluations until the best architecture is found (C-10, C-100,
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
    """A table read back from its CSV for the results page: Table II (main or held-out, against the
    table's own reference row) or a study."""
    from ktnas.report.tables import reference_of

    if study not in ("main", "heldout"):
        return study_markdown(table, study)
    md = nb201_markdown(table, versus=reference_of(table))
    return md if study == "main" else md.replace("# NAS-Bench-201: ", "# NAS-Bench-201, held-out seeds: ", 1)


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
    """Table II (``main``, or the held-out ``heldout``: one row per method, each tested against
    ``versus``, default ``ktnas``) or a KTNAS study (one row per run variant, each tested against the
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
    if study in ("main", "heldout"):
        versus = versus or REFERENCE
        per_seed = evaluations_frame(results)
        refs = method_references(list(dict.fromkeys(per_seed["method"])), versus)
        table = summarise_evaluations(per_seed, "method", tasks, refs)
        md = nb201_markdown(table, int(per_seed["censored"].sum()), versus)
        if study == "heldout":
            seeds = sorted(set(per_seed["seed"]))
            md = md.replace(
                "# NAS-Bench-201: evaluations",
                f"# NAS-Bench-201, held-out seeds {seeds[0]}–{seeds[-1]}: evaluations",
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
