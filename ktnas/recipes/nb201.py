"""NAS-Bench-201 (docs/reproduction.md §3.1): three image-classification tasks, REA with a zero-cost proxy
warm-up and pre-screen, evaluations counted until each task's best cell is queried (paper Table II,
built by :mod:`ktnas.report.nb201`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ktnas._io import KtnasError, file_key
from ktnas.recipes.base import SearchPaths, Setup, TabularRecipe
from ktnas.search.reproduction import Reproducer

if TYPE_CHECKING:
    import pandas as pd

    from ktnas.methods import Method
    from ktnas.search.base import Individual
    from ktnas.search.problem import Problem
    from ktnas.search.reproduction import Child
    from ktnas.spaces.base import SearchSpace


#: the fitness landscapes a run can search (its ``fitness``; the benchmark's ``TaskSpec.on``), the first
#: the paper's (200-epoch x-valid accuracy)
LANDSCAPES = ("valid_acc", "valid_acc_12ep", "test_acc")


class NB201Recipe(TabularRecipe):
    name: ClassVar[str] = "nb201"
    description: ClassVar[str] = "NAS-Bench-201: cifar10, cifar100, imagenet16; evaluations to the optimum"
    landscapes: ClassVar[tuple[str, ...]] = LANDSCAPES

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
