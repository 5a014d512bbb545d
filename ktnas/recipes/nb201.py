"""NAS-Bench-201 (docs/method.md §6.1): three image-classification tasks, REA with a zero-cost proxy
warm-up and pre-screen, evaluations counted until each task's best cell is queried (paper Table II)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ktnas._io import KtnasError
from ktnas.recipes.base import SearchPaths, Setup, TabularRecipe
from ktnas.results import SearchResult

if TYPE_CHECKING:
    import pandas as pd

    from ktnas.methods import Method
    from ktnas.search.base import Individual
    from ktnas.search.problem import Problem
    from ktnas.search.reproduction import Child
    from ktnas.spaces.base import SearchSpace


class NB201Recipe(TabularRecipe):
    name: ClassVar[str] = "nb201"
    description: ClassVar[str] = "NAS-Bench-201: cifar10, cifar100, imagenet16; evaluations to the optimum"

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
        last)."""
        from ktnas.proxies import canonical_proxies, load_bundled_proxies

        (name,) = canonical_proxies([proxy])
        df = load_bundled_proxies(paths.proxies)
        where = paths.proxies or "bundled"
        if name not in df.columns:
            raise KtnasError(f"proxy table {where} has no {name!r} column; recompute it with that proxy")
        sub = df[(df["dataset"] == task) & np.isfinite(df[name])]
        if sub.empty:
            raise KtnasError(f"proxy table {where} has no {name} scores for dataset {task!r}")
        return dict(zip(sub["arch"], sub[name].astype(float), strict=True))

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
        from ktnas.report.tables import evaluations_table

        return evaluations_table([SearchResult.load(p) for p in inputs], study, versus)


class PerTaskProxyREA:
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
