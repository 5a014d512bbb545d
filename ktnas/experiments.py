"""From (space, method, seed, hyper-parameters) to a result: the one place that wires spaces,
benchmarks, embeddings, proxies and search algorithms together. The CLI and Snakemake both call it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from ktnas import __version__
from ktnas._io import KtnasError, git_sha
from ktnas.benchmarks import load_benchmark
from ktnas.evaluator import Evaluator
from ktnas.search.checkpoint import Checkpointer
from ktnas.search.multitask import MultiTaskConfig, MultiTaskSearch, make_policy
from ktnas.search.problem import BenchmarkProblem
from ktnas.search.reproduction import ProxyREA
from ktnas.search.single import aging_evolution, random_search
from ktnas.spaces import get_space
from ktnas.spaces.base import SearchSpace

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MethodSpec:
    """How a method name maps onto the search machinery (paper Tables II–VI rows)."""

    name: str
    kind: str  # "rs" | "aging" | "multitask"
    policy: str | None = None  # transfer policy for kind="multitask"
    uses_proxy: bool = False  # aging REA with zero-cost warm-up / pre-screen
    description: str = ""


METHODS: dict[str, MethodSpec] = {
    m.name: m
    for m in (
        MethodSpec("rs", "rs", description="random search"),
        MethodSpec("rea", "aging", description="regularized evolution (aging), random initial population"),
        MethodSpec("zero", "aging", uses_proxy=True, description="REA with zero-cost warm-up and pre-screen"),
        MethodSpec("single", "multitask", "none", description="KTNAS machinery without transfer"),
        MethodSpec("gcn", "multitask", "none", description="GCN-predictor evolution, single task"),
        MethodSpec("emtnas", "multitask", "fittest", description="transfer of the M fittest (EMT-NAS)"),
        MethodSpec("mtnas", "multitask", "adaptive", description="adaptive transfer frequency (MTNAS)"),
        MethodSpec("ktnas_random", "multitask", "random", description="KTNAS without transfer rank"),
        MethodSpec("ktnas", "multitask", "rank", description="KTNAS: transfer rank"),
    )
}


@dataclass(frozen=True)
class SearchParams:
    """Hyper-parameters of one search run (paper Table I defaults for NAS-Bench-201)."""

    population_size: int = 10
    tournament_size: int = 5
    n_candidates: int = 10
    warmup: int = 3000
    proxy: str = "synflow"
    elite_ratio: float = 0.2
    saved_generations: int = 5
    n_transferred: int = 4
    generations: int = 20000
    max_evaluations: int = 15625
    stop_at_optimum: bool = True

    def __post_init__(self) -> None:
        for name in ("tournament_size", "n_candidates", "warmup", "max_evaluations"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"search hyper-parameter {name} must be a positive integer, got {value!r}")
        self.multitask()  # validates K, M, r, m, T with messages naming each

    @classmethod
    def from_mapping(cls, params: Mapping[str, Any]) -> SearchParams:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"unknown search hyper-parameter(s) {unknown}; allowed: {sorted(known)}")
        return cls(**params)

    def multitask(self) -> MultiTaskConfig:
        return MultiTaskConfig.from_params(self)


def get_method(name: str) -> MethodSpec:
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}") from None


def run_benchmark_search(
    space_name: str,
    method: str,
    seed: int,
    tasks: Sequence[str],
    params: Mapping[str, Any] | None = None,
    benchmark_path: str | Path | None = None,
    embedding_path: str | Path | None = None,
    proxy_path: str | Path | None = None,
    checkpoint_path: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """One seeded search of ``method`` over the ``tasks`` of a tabular benchmark space."""
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    spec = get_method(method)
    hp = SearchParams.from_mapping(params or {})
    bench = load_benchmark(space_name, benchmark_path)
    space = searchable_space(space_name, bench)
    known = {t.name: t for t in bench.tasks()}
    bad = [t for t in tasks if t not in known]
    if bad or not tasks or len(set(tasks)) != len(tasks):
        raise ValueError(
            f"unknown or repeated task(s) {bad or list(tasks)} for space {space_name}; "
            f"give distinct tasks from {list(known)}"
        )
    task_specs = [known[t] for t in tasks]
    allowed = space.all_archs()
    problems = [
        BenchmarkProblem(Evaluator(bench, t, allowed), hp.max_evaluations, hp.stop_at_optimum)
        for t in task_specs
    ]
    fingerprint = {
        "space": space_name,
        "method": method,
        "seed": seed,
        "tasks": list(tasks),
        "params": hp.__dict__,
    }
    started = time.perf_counter()
    if spec.kind == "multitask":
        distance = _distance(embedding_path) if spec.policy == "rank" else None
        search = MultiTaskSearch(
            space,
            problems,
            _reproduction(space_name, hp, tasks, proxy_path),
            make_policy(spec.policy or "none", len(problems), distance),
            hp.multitask(),
            np.random.default_rng(seed),
            Checkpointer(checkpoint_path, fingerprint),
            progress=progress,
        )
        summaries = search.run()
        search.checkpointer.clear()
    else:
        summaries = []
        for i, problem in enumerate(problems):
            rng = np.random.default_rng([seed, i])
            ckpt = Checkpointer(
                None if checkpoint_path is None else Path(f"{checkpoint_path}.task{i}"), fingerprint
            )
            if spec.kind == "rs":
                summaries.append(random_search(space, problem, rng, ckpt))
            else:
                proxy = _proxy_scores(proxy_path, problem.name, hp.proxy) if spec.uses_proxy else None
                summaries.append(
                    aging_evolution(
                        space,
                        problem,
                        rng,
                        hp.population_size,
                        hp.tournament_size,
                        proxy,
                        hp.n_candidates,
                        hp.warmup,
                        ckpt,
                    )
                )
            ckpt.clear()
    log.info("%s seed %d on %s finished in %.1f s", method, seed, space_name, time.perf_counter() - started)
    return {
        "space": space_name,
        "method": method,
        "seed": seed,
        "params": hp.__dict__,
        "ktnas_version": __version__,
        "git_sha": git_sha(),
        "tasks": summaries,
    }


def searchable_space(space_name: str, bench: Any) -> SearchSpace:
    """The space a benchmark search explores: the whole space, or only the benchmark's cells when the
    bundled table covers part of it (TransNAS-Bench-101: 711 of 4,096)."""
    space = get_space(space_name)
    size = space.size()
    if size is not None and len(bench.table) < size:
        from ktnas.spaces.restricted import RestrictedSpace

        return RestrictedSpace(space, sorted(bench.table.index))
    return space


def _reproduction(
    space_name: str, hp: SearchParams, tasks: Sequence[str], proxy_path: str | Path | None
) -> Any:
    if space_name == "nb201":
        # one proxy table per task (the proxy is computed with each dataset's input size and classes)
        return _PerTaskProxyREA(
            {t: _proxy_scores(proxy_path, t, hp.proxy) for t in tasks},
            hp.tournament_size,
            hp.n_candidates,
            hp.warmup,
        )
    if space_name == "trans101":
        from ktnas.search.reproduction import PredictorEvolution

        return PredictorEvolution(_gcn_factory(), _history, hp.tournament_size, hp.n_candidates)
    raise ValueError(f"no benchmark search for space {space_name!r}")


class _PerTaskProxyREA:
    """ProxyREA whose proxy table follows the task being reproduced."""

    def __init__(
        self, proxies: Mapping[str, Mapping[str, float]], tournament_size: int, n_candidates: int, warmup: int
    ):
        self.by_task = {t: ProxyREA(p, tournament_size, n_candidates, warmup) for t, p in proxies.items()}

    def initial(self, space: SearchSpace, problem: Any, k: int, rng: np.random.Generator) -> list[str]:
        return self.by_task[problem.name].initial(space, problem, k, rng)

    def offspring(
        self,
        space: SearchSpace,
        problem: Any,
        population: Sequence[Any],
        transferred: Sequence[str],
        k: int,
        rng: np.random.Generator,
    ) -> list[Any]:
        return self.by_task[problem.name].offspring(space, problem, population, transferred, k, rng)


def _history(problem: Any) -> tuple[list[str], list[float]]:
    ev: Evaluator = problem.evaluator
    return list(ev.queried), [ev.query(a) for a in ev.queried]


def _gcn_factory() -> Callable[[int], object]:
    from ktnas.predictors.gcn import CellGraphs, GCNPredictor
    from ktnas.spaces.trans101 import Trans101Space

    graphs = CellGraphs(Trans101Space())  # one encoding per cell for the whole search
    return lambda seed: GCNPredictor(seed=seed, graphs=graphs)


def _distance(embedding_path: str | Path | None) -> Callable[[Sequence[str], Sequence[str]], np.ndarray]:
    from ktnas.embedding import EmbeddingTable

    if embedding_path is None:
        raise ValueError("method 'ktnas' needs an embedding table: pass --embedding (built by `ktnas embed`)")
    table = EmbeddingTable.load(embedding_path)
    return table.distances


def _proxy_scores(proxy_path: str | Path | None, task: str, proxy: str) -> dict[str, float]:
    """arch -> proxy score on ``task``'s dataset; missing and non-finite scores are left out (ranked last)."""
    from ktnas.proxies import canonical_proxies, load_bundled_proxies

    (name,) = canonical_proxies([proxy])
    df = load_bundled_proxies(proxy_path)
    if name not in df.columns:
        raise KtnasError(
            f"proxy table {proxy_path or 'bundled'} has no {name!r} column; recompute it with that proxy"
        )
    sub = df[(df["dataset"] == task) & np.isfinite(df[name])]
    if sub.empty:
        raise KtnasError(f"proxy table {proxy_path or 'bundled'} has no {name} scores for dataset {task!r}")
    return dict(zip(sub["arch"], sub[name].astype(float), strict=True))
