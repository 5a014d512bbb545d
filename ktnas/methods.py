"""The method registry: every row of the results tables is one entry here (docs/reproduction.md §5).

A method is either a transfer policy run in the multi-task loop (Algorithm 4; any space) or a
single-task search run once per task on a tabular benchmark (the space's recipe must count queries).
Single-task searches are named by ``module:function`` and imported only when they run, so this registry
is cheap to import from the config, the CLI and the Snakefile.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ktnas.baselines.base import Searcher
from ktnas.search.policies import (
    AdaptiveTransfer,
    FittestTransfer,
    NoTransfer,
    RandomTransfer,
    RankTransfer,
    TransferPolicy,
)
from ktnas.search.selectors import (
    CentredPriorTransfer,
    GradedTransfer,
    KNearestTransfer,
    KnnTransfer,
    ParentTransfer,
    PriorTransfer,
)

if TYPE_CHECKING:
    import numpy as np

    from ktnas.evaluator import BenchmarkProblem
    from ktnas.spaces.base import SearchSpace


@dataclass(frozen=True)
class Method:
    """One method of the harness: ``policy`` for the multi-task loop, or ``searcher`` (``module:function``)
    for a single-task search."""

    name: str
    description: str
    policy: type[TransferPolicy] | None = None
    searcher: str | None = None
    #: reads the space's zero-cost proxy table (``zero``)
    uses_proxy: bool = False
    #: the searcher takes only (space, problem, rng): its settings are its paper's (module docstring)
    plain: bool = False

    def __post_init__(self) -> None:
        if (self.policy is None) == (self.searcher is None):
            raise ValueError(f"method {self.name!r} needs exactly one of a transfer policy or a searcher")

    @property
    def multitask(self) -> bool:
        return self.policy is not None

    def runs_on(self, tabular: bool) -> bool:
        """Whether this method can search a space (``tabular``: the space has a benchmark that counts
        queries, which a single-task search needs); the multi-task loop runs on every space."""
        return self.multitask or tabular

    @property
    def needs_distance(self) -> bool:
        return self.policy is not None and self.policy.needs_distance

    def search(self) -> Searcher:
        assert self.searcher is not None
        module, func = self.searcher.split(":")
        fn = getattr(importlib.import_module(module), func)
        if not self.plain:
            return fn

        def adapted(
            space: SearchSpace, problem: BenchmarkProblem, rng: np.random.Generator, hp: Any, ctx: Any
        ) -> Any:
            return fn(space, problem, rng)

        return adapted


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("rs", "random search", searcher="ktnas.baselines.random_search:run_random_search"),
        Method("rea", "regularized evolution (aging; Real et al.)", searcher="ktnas.baselines.rea:run_rea"),
        Method(
            "zero",
            "REA with zero-cost warm-up and pre-screen",
            searcher="ktnas.baselines.rea:run_zero",
            uses_proxy=True,
        ),
        Method(
            "gcn",
            "GCN neural predictor search (Wen et al.)",
            searcher="ktnas.baselines.neural_predictor:neural_predictor",
            plain=True,
        ),
        Method(
            "lanas",
            "LaNAS: MCTS over learned partitions (Wang et al.)",
            searcher="ktnas.baselines.lanas:lanas",
            plain=True,
        ),
        Method(
            "weaknas",
            "WeakNAS: iterated weak predictors (Wu et al.)",
            searcher="ktnas.baselines.weaknas:weaknas",
            plain=True,
        ),
        Method(
            "nsganetv2",
            "NSGA-NetV2-style surrogate evolution, single objective",
            searcher="ktnas.baselines.nsganetv2:nsganetv2",
            plain=True,
        ),
        Method("single", "the KTNAS loop without transfer (single-tasking)", policy=NoTransfer),
        Method("emtnas", "transfer of the M fittest (EMT-NAS)", policy=FittestTransfer),
        Method("mtnas", "random transfer with adaptive frequency (MTNAS)", policy=AdaptiveTransfer),
        Method("ktnas_random", "KTNAS without transfer rank (M random)", policy=RandomTransfer),
        Method("ktnas", "KTNAS: transfer rank", policy=RankTransfer),
        # the transfer-selector study (docs/transfer-study.md): variants of transfer rank
        Method(
            "ktnas_centred",
            "source-rank prior + evidence centred on the positive rate",
            policy=CentredPriorTransfer,
        ),
        Method("ktnas_prior", "transfer rank + source-rank prior", policy=PriorTransfer),
        Method("ktnas_graded", "transfer rank over graded labels", policy=GradedTransfer),
        Method("ktnas_parent", "labels against the child's parent", policy=ParentTransfer),
        Method("ktnas_knn", "MMOTK's kNN classifier splits ties of transfer rank", policy=KnnTransfer),
        Method("ktnas_k3", "3 nearest candidates per record, distance-weighted", policy=KNearestTransfer),
    )
}


def get_method(name: str) -> Method:
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}") from None
