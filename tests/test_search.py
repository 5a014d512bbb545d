"""Evaluator counting, single-task baselines and the multi-task loop (Algorithm 4, docs/reproduction.md §2.5)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from toys import onehot_distance

from ktnas.baselines.random_search import random_search
from ktnas.baselines.rea import aging_evolution
from ktnas.benchmarks import get_task, load_benchmark
from ktnas.evaluator import BenchmarkProblem, Evaluator
from ktnas.params import LoopParams
from ktnas.recipes.base import searchable_space
from ktnas.runner import run_search
from ktnas.search.checkpoint import Checkpointer
from ktnas.search.multitask import MultiTaskSearch
from ktnas.search.policies import make_policy
from ktnas.search.reproduction import ProxyREA
from ktnas.spaces import get_space

TASKS = ["cifar10", "cifar100", "imagenet16"]


@pytest.fixture(scope="module")
def nb201():
    return load_benchmark("nb201")


def _problems(bench, tasks, **kw):
    space = searchable_space(bench.space, bench)
    allowed = space.all_archs()
    return [
        BenchmarkProblem(
            Evaluator(bench, get_task(t), allowed), kw.get("max_evaluations", 15625), kw.get("stop", True)
        )
        for t in tasks
    ]


def test_evaluator_counts_unique_queries_and_finds_optimum(nb201):
    ev = Evaluator(nb201, get_task("cifar10"))
    space = get_space("nb201")
    best = space.from_index(6111)
    assert ev.optima == {best}
    a = space.from_index(0)
    assert ev.query(a) == ev.query(a) and ev.n_queries == 1
    ev.query(best)
    assert ev.found_at == 2 and ev.best_fitness == pytest.approx(91.6067, abs=1e-3)
    with pytest.raises(ValueError, match="not in the nb201 benchmark"):
        ev.query("|none~0|")


def test_random_search_finds_optimum_and_is_deterministic(nb201):
    space = get_space("nb201")
    runs = []
    for _ in range(2):
        (p,) = _problems(nb201, ["cifar100"])
        runs.append(random_search(space, p, np.random.default_rng(3)))
    assert runs[0] == runs[1]
    assert runs[0].found_at == runs[0].n_queries and 1 <= runs[0].found_at <= 15625
    assert runs[0].best_fitness == pytest.approx(73.4933, abs=1e-3)


def test_aging_evolution_beats_random_on_average(nb201):
    space = get_space("nb201")
    found = []
    for seed in range(5):
        (p,) = _problems(nb201, ["cifar10"])
        found.append(aging_evolution(space, p, np.random.default_rng(seed)).found_at)
    assert all(f is not None for f in found)
    assert np.mean(found) < 7800  # random search needs about half the space on average


@pytest.mark.parametrize("policy", ["none", "random", "rank", "fittest", "adaptive"])
def test_multitask_invariants(nb201, policy):
    space = get_space("nb201")
    problems = _problems(nb201, TASKS, stop=False)
    cfg = LoopParams(generations=15)
    search = MultiTaskSearch(
        space,
        problems,
        ProxyREA(None),
        make_policy(policy, 3, onehot_distance(space)),
        cfg,
        np.random.default_rng(0),
    )
    out = search.run()
    assert [o.task for o in out] == TASKS
    for task, o in zip(search.tasks, out, strict=True):
        assert len(task.population) == cfg.population_size
        assert len({i.arch for i in task.population}) == cfg.population_size
        fits = [i.fitness for i in task.population]
        assert fits == sorted(fits, reverse=True)
        assert len(o.trace) == 15
        best = [t["best_fitness"] for t in o.trace]
        assert best == sorted(best)  # elitist: the best never gets worse
        for t in o.trace[1:]:
            assert len(t["transferred"]) == (0 if policy == "none" else 4) or policy == "adaptive"
    if policy != "none":
        assert any(len(t.hts) > 0 for t in search.tasks)


def test_transferred_come_from_other_tasks(nb201):
    space = get_space("nb201")
    problems = _problems(nb201, TASKS, stop=False)
    search = MultiTaskSearch(
        space,
        problems,
        ProxyREA(None),
        make_policy("random", 3),
        LoopParams(generations=3),
        np.random.default_rng(1),
    )
    search.run()
    for i, task in enumerate(search.tasks):
        others = {ind.arch for j, t in enumerate(search.tasks) if j != i for ind in t.population}
        assert set(task.transferred) <= others


@pytest.mark.parametrize("n_tasks", [2, 4])
def test_multitask_runs_for_2_and_4_tasks(n_tasks):
    bench = load_benchmark("trans101")
    tasks = ["class_object", "class_scene", "room_layout", "jigsaw"][:n_tasks]
    space = searchable_space("trans101", bench)
    problems = _problems(bench, tasks, max_evaluations=50, stop=False)
    search = MultiTaskSearch(
        space,
        problems,
        ProxyREA(None),
        make_policy("rank", n_tasks, onehot_distance(space)),
        LoopParams(generations=5),
        np.random.default_rng(0),
    )
    out = search.run()
    assert len(out) == n_tasks
    assert all(p.evaluator.n_queries <= 50 for p in problems)
    assert all(a in bench.table.index for t in search.tasks for a in t.transferred)


class _Crash(Exception):
    pass


class _CrashingProblem(BenchmarkProblem):
    """Raises during generation ``at``: what a kill between two checkpoints leaves behind."""

    def __init__(self, inner: BenchmarkProblem, at: int) -> None:
        super().__init__(inner.evaluator, inner.max_evaluations, inner.stop_at_optimum)
        self.at = at

    def evaluate_generation(self, generation, *args):
        if generation == self.at:
            raise _Crash
        return super().evaluate_generation(generation, *args)


@pytest.mark.parametrize("policy", ["rank", "adaptive"])
def test_resume_after_crash_gives_identical_result(nb201, tmp_path, policy):
    space = get_space("nb201")
    dist = onehot_distance(space)

    def search(problems, ckpt):
        return MultiTaskSearch(
            space,
            problems,
            ProxyREA(None),
            make_policy(policy, 3, dist),
            LoopParams(generations=12),
            np.random.default_rng(7),
            ckpt,
        )

    reference = search(_problems(nb201, TASKS, stop=False), None).run()
    ckpt = Checkpointer(tmp_path / "ckpt.json", {"test": 1})
    problems = _problems(nb201, TASKS, stop=False)
    problems[1] = _CrashingProblem(problems[1], at=6)
    with pytest.raises(_Crash):
        search(problems, ckpt).run()
    assert json.loads((tmp_path / "ckpt.json").read_text())["state"]["generation"] == 5
    resumed = search(_problems(nb201, TASKS, stop=False), ckpt).run()
    assert resumed == reference


def test_config_errors_from_driver():
    with pytest.raises(ValueError, match="K must be >= 2"):
        LoopParams(population_size=1)
    with pytest.raises(ValueError, match=r"r must be in \(0, 1\]"):
        LoopParams(elite_ratio=0)
    with pytest.raises(ValueError, match="M=11 exceeds population_size K=10"):
        LoopParams(n_transferred=11)
    with pytest.raises(ValueError, match="unknown transfer policy"):
        make_policy("bogus", 3)


def test_run_search_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown method 'foo'"):
        run_search("nb201", "foo", 0, TASKS)
    with pytest.raises(ValueError, match="seed must be a non-negative"):
        run_search("nb201", "rs", -1, TASKS)
    with pytest.raises(ValueError, match=r"unknown or repeated task\(s\) \['mnist'\]"):
        run_search("nb201", "rs", 0, ["mnist"])
    with pytest.raises(ValueError, match="unknown or repeated"):
        run_search("nb201", "rs", 0, ["cifar10", "cifar10"])
    out = run_search("nb201", "rea", 0, ["imagenet16", "cifar10"], {"max_evaluations": 20})
    assert [t.task for t in out.tasks] == ["imagenet16", "cifar10"]
    with pytest.raises(ValueError, match="unknown search hyper-parameter"):
        run_search("nb201", "rs", 0, TASKS, {"K": 3})


@pytest.mark.parametrize("p_m", [0.0, 1.0])
def test_genetic_algorithm_uses_the_configured_mutation_rate(p_m):
    from functools import partial

    from ktnas.search.base import Individual
    from ktnas.search.reproduction import GeneticAlgorithm
    from ktnas.spaces.darts import DartsSpace

    space = DartsSpace()
    rng = np.random.default_rng(3)
    pop = [Individual(space.sample(rng), float(f), i) for i, f in enumerate(range(6))]

    class Fresh:
        def seen(self, arch):
            return False

    kids = GeneticAlgorithm(partial(space.mutate, p_m=p_m)).offspring(space, Fresh(), pop, [], 6, rng)
    assert kids
    for kid in kids:
        a, b = (space.genes(p) for p in kid.parents)
        g = space.genes(kid.arch)
        blocks = [(g[i : i + 4], a[i : i + 4], b[i : i + 4]) for i in range(0, 40, 4)]
        inherited = all(sorted(x) in (sorted(y), sorted(z)) for x, y, z in blocks)
        assert inherited == (p_m == 0.0)
