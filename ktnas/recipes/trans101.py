"""TransNAS-Bench-101 micro (docs/reproduction.md §3.2): evolution with a GCN predictor, 50 queries per task,
the found cell's metric and rank reported (paper Table III, built by :mod:`ktnas.report.trans101`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ktnas.recipes.base import SearchPaths, Setup, TabularRecipe

if TYPE_CHECKING:
    import pandas as pd

    from ktnas.search.problem import Problem


class Trans101Recipe(TabularRecipe):
    name: ClassVar[str] = "trans101"
    description: ClassVar[str] = "TransNAS-Bench-101 micro: found cell's metric and rank after 50 queries"

    def reproduction(self, setup: Setup, tasks: Sequence[str], hp: Any, paths: SearchPaths) -> Any:
        from ktnas.predictors.gcn import fit_many
        from ktnas.search.reproduction import PredictorEvolution

        return PredictorEvolution(gcn_factory(), _history, hp.tournament_size, hp.n_candidates, fit_many)

    def build_benchmark(self, source: str) -> pd.DataFrame | None:
        from ktnas.benchmarks import trans101

        if source == "bundled":
            return None
        if Path(source).is_dir():
            return trans101.build_from_naslib_json(Path(source) / "naslib_zc_transbench101_micro_subset.json")
        if source.endswith(".json"):
            return trans101.build_from_naslib_json(source)
        return trans101.convert_official(source)

    def write_benchmark(self, df: pd.DataFrame, out: str | Path) -> None:
        from ktnas.benchmarks import trans101

        trans101.write_bundled(df, out)


def gcn_factory() -> Callable[[int], object]:
    """seed -> a fresh GCN predictor (docs/reproduction.md §3.2.2); one cell encoding shared by the process."""
    from ktnas.predictors.gcn import GCNPredictor, shared_graphs
    from ktnas.spaces.trans101 import Trans101Space

    graphs = shared_graphs(Trans101Space())
    return lambda seed: GCNPredictor(seed=seed, graphs=graphs)


def _history(problem: Problem) -> tuple[list[str], list[float]]:
    return problem.evaluated()  # type: ignore[attr-defined]
