"""Speed of the pipeline's NAS-Bench-201 table searches, old code path against the current one, same seeds.

The old path is kept below as a faithful copy of the code before the speed-up (main at 85fc027):

- ``CellSpace.sample`` / ``mutate`` / ``crossover`` parsed and formatted the cell string on every call,
  and ``all_archs`` formatted all 15,625 cells at every search set-up;
- ``distinct_samples`` drew the warm-up pool one ``space.sample`` call at a time;
- every seed read the embedding table and the proxy table (once per task) again from Parquet, and built a
  new evaluator per task from the benchmark table (a pandas ``.loc`` over all 15,625 cells).

The script patches that path in, runs the same seeds of each method both ways in this process
(interleaved, so load on a shared machine hits both alike, after a warm-up of both), checks that every
result is identical (``SearchResult`` minus version and git SHA), and prints the CPU seconds per seed and
the ratio per method. The searches run as the pipeline runs them: one process for many seeds, each seed
with its own checkpoint file, one BLAS thread.

    python scripts/pipeline_speed.py [--seeds 10] [--methods single emtnas ktnas_random ktnas rea zero]
        [--embedding results/embeddings/nb201.parquet]

Without ``--embedding`` the script builds a small node2vec table first (``ktnas embed`` defaults, dim 256;
a minute or two) in a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # as Snakemake sets for a job
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import yaml  # noqa: E402

from ktnas.recipes import SearchPaths, base, nb201  # noqa: E402
from ktnas.runner import clear_checkpoint, run_search  # noqa: E402
from ktnas.search import reproduction  # noqa: E402
from ktnas.spaces.base import SearchSpace  # noqa: E402
from ktnas.spaces.nb201 import EDGES, CellSpace, NB201Space, _official_order  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TASKS = ["cifar10", "cifar100", "imagenet16"]


# -- the old code path (faithful copies) -----------------------------------------------------------------
def old_sample(self: CellSpace, rng: np.random.Generator) -> str:
    return self._format(tuple(int(g) for g in rng.integers(len(self.ops), size=len(EDGES))))


def old_mutate(self: CellSpace, arch: str, rng: np.random.Generator) -> str:
    genes = list(self._parse(arch))
    edge = int(rng.integers(len(EDGES)))
    genes[edge] = (genes[edge] + 1 + int(rng.integers(len(self.ops) - 1))) % len(self.ops)
    return self._format(tuple(genes))


def old_crossover(self: CellSpace, a: str, b: str, rng: np.random.Generator) -> tuple[str, str]:
    ga, gb = self._parse(a), self._parse(b)
    take_a = rng.random(len(EDGES)) < 0.5
    c1 = tuple(x if t else y for x, y, t in zip(ga, gb, take_a, strict=True))
    c2 = tuple(y if t else x for x, y, t in zip(ga, gb, take_a, strict=True))
    return self._format(c1), self._format(c2)


def old_canonical(self: CellSpace, arch: str) -> str:
    return SearchSpace.canonical(self, arch)


def old_genes(self: CellSpace, arch: str) -> tuple[int, ...]:
    return self._parse(SearchSpace.canonical(self, arch))


def old_from_index(self: NB201Space, index: int) -> str:
    code = int(_official_order()[index])
    return self._format(tuple((code // 5 ** (5 - k)) % 5 for k in range(6)))


def old_all_archs(self: NB201Space) -> list[str]:
    return [old_from_index(self, i) for i in range(15625)]


def old_distinct_samples(space: SearchSpace, n: int, rng: np.random.Generator) -> list[str]:
    size = space.size()
    n = min(n, size) if size is not None else n
    out: dict[str, None] = {}
    while len(out) < n:
        out.setdefault(space.sample(rng), None)
    return list(out)


def old_setup(self: Any, tasks: Sequence[str], hp: Any, seed: int, paths: SearchPaths) -> Any:
    from ktnas.evaluator import BenchmarkProblem, Evaluator

    bench = self.benchmark(paths)
    space = base.searchable_space(self.name, bench)
    known = {t.name: t for t in bench.tasks()}
    self.check_tasks(tasks)
    allowed = space.all_archs()
    problems = [
        BenchmarkProblem(Evaluator(bench, known[t], allowed), hp.max_evaluations, hp.stop_at_optimum)
        for t in tasks
    ]
    return base.Setup(space, problems)


def old_distance(self: Any, paths: SearchPaths) -> Any:
    from ktnas.embedding import EmbeddingTable

    return EmbeddingTable.load(paths.embedding, self.name).distances


def old_proxy_scores(self: Any, paths: SearchPaths, task: str, proxy: str) -> dict[str, float]:
    from ktnas.proxies import canonical_proxies, load_bundled_proxies

    (name,) = canonical_proxies([proxy])
    df = load_bundled_proxies(paths.proxies)
    sub = df[(df["dataset"] == task) & np.isfinite(df[name])]
    return dict(zip(sub["arch"], sub[name].astype(float), strict=True))


@contextmanager
def old_path() -> Iterator[None]:
    patches = [
        mock.patch.object(CellSpace, "sample", old_sample),
        mock.patch.object(CellSpace, "mutate", old_mutate),
        mock.patch.object(CellSpace, "crossover", old_crossover),
        mock.patch.object(CellSpace, "canonical", old_canonical),
        mock.patch.object(CellSpace, "genes", old_genes),
        mock.patch.object(NB201Space, "from_index", old_from_index),
        mock.patch.object(NB201Space, "all_archs", old_all_archs),
        mock.patch.object(reproduction, "distinct_samples", old_distinct_samples),
        mock.patch.object(base.TabularRecipe, "setup", old_setup),
        mock.patch.object(base.Recipe, "distance", old_distance),
        mock.patch.object(nb201.NB201Recipe, "proxy_scores", old_proxy_scores),
    ]
    with ExitStack() as stack:
        for p in patches:
            stack.enter_context(p)
        yield


# -- measurement --------------------------------------------------------------------------------------------
def comparable(result: Any) -> dict[str, Any]:
    d = result.to_dict()
    d.pop("git_sha", None), d.pop("ktnas_version", None)
    return d


def run_seeds(
    method: str, seeds: Sequence[int], hp: dict[str, Any], emb: str, tmp: Path
) -> tuple[list, float]:
    """The seeds of one job, each with its checkpoint file as the pipeline runs them; (results, CPU s)."""
    out = []
    start = time.process_time()
    for seed in seeds:
        ckpt = tmp / f"{method}-seed{seed}.json"
        out.append(
            comparable(
                run_search("nb201", method, seed, TASKS, hp, SearchPaths(embedding=emb, checkpoint=ckpt))
            )
        )
        clear_checkpoint(ckpt)
    return out, time.process_time() - start


def timed_both(fn: Callable[[bool], tuple[list, float]]) -> tuple[list, float, list, float]:
    with old_path():
        old, t_old = fn(True)
    new, t_new = fn(False)
    return old, t_old, new, t_new


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=10, help="seeds per method (default 10)")
    ap.add_argument(
        "--methods",
        nargs="+",
        default=["single", "emtnas", "mtnas", "ktnas_random", "ktnas", "rea", "zero", "rs"],
        help="NB201 methods of config/config.yaml to time",
    )
    ap.add_argument("--embedding", type=Path, default=None, help="NB201 embedding table (default: build one)")
    args = ap.parse_args()
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["nb201"]["methods"]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        emb = args.embedding
        if emb is None:
            from ktnas.embedding import build_embedding

            emb = tmp / "nb201.parquet"
            build_embedding("nb201", "node2vec", 256, 0, progress=False).save(emb)
        seeds = list(range(args.seeds))
        print(f"{'method':<14}{'old s/seed':>11}{'new s/seed':>11}{'ratio':>8}  identical")
        tot_old = tot_new = 0.0
        for method in args.methods:
            hp = dict(config[method])
            # warm-up of both paths (imports, first table loads), not timed
            with old_path():
                run_seeds(method, [1000], hp, str(emb), tmp)
            run_seeds(method, [1000], hp, str(emb), tmp)
            old, t_old, new, t_new = timed_both(
                lambda _old, m=method, h=hp: run_seeds(m, seeds, h, str(emb), tmp)
            )
            same = old == new
            tot_old, tot_new = tot_old + t_old, tot_new + t_new
            print(
                f"{method:<14}{t_old / len(seeds):>11.3f}{t_new / len(seeds):>11.3f}{t_old / t_new:>7.1f}x  {same}"
            )
            if not same:
                raise SystemExit(f"{method}: the old and the new path give different results")
        print(f"{'all':<14}{tot_old / len(seeds) / len(args.methods):>11.3f}{tot_new / len(seeds) / len(args.methods):>11.3f}"
              f"{tot_old / tot_new:>7.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
