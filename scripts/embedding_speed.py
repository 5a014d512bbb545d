"""Speed of the architecture embedding (docs/method.md §4.3, acceptance property 8).

Prints, all measured in this run on this machine:

1. NB201: time to fit the node2vec token table and embed all 15,625 cells (default config; target ≤ 2 min
   on 2 cores).
2. DARTS: time for a 100 × 40 distance matrix between genotypes never seen before, including embedding
   the 140 new genotypes (target ≤ 50 ms). The DARTS token table is fitted once beforehand (timed and
   printed separately, as it is cached on disk in a real run). Median over ``--repeats`` fresh draws.
3. The per-pair baseline on the same 100 × 40 problem: for every pair, node2vec + gensim fitted
   separately on each of the two graphs (the same walk and skip-gram settings; distance = 1 − mean
   cosine of same-vertex vectors, as the official code does, but with one repetition instead of ten).
   It is timed on ``--baseline-pairs`` pairs and scaled to the 4,000 pairs; the ratio against (2) must
   be ≥ 1000×.
4. Extras: a 1,000 × 1,000 distance matrix from cached vectors (target < 0.1 s) and the time to embed
   one new DARTS genotype (target < 1 ms).

Usage: ``.venv/bin/python scripts/embedding_speed.py [--quick]`` (``--quick``: small corpora, a
smoke run of the script itself, not the numbers to report).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from importlib.metadata import version

import numpy as np

from ktnas.embedding import build_embedding
from ktnas.spaces import get_space


def per_pair_baseline(space, a: str, b: str, seed: int, dim: int, cfg) -> float:  # type: ignore[no-untyped-def]
    """Official-style distance (docs/method.md §4.2), one repetition: two independent node2vec fits."""
    from node2vec import Node2Vec

    vecs = []
    for arch in (a, b):
        graph = space.to_graph(arch).to_undirected()
        n2v = Node2Vec(
            graph,
            dimensions=dim,
            walk_length=cfg.walk_length,
            num_walks=cfg.num_walks,
            workers=1,
            quiet=True,
            seed=seed,
        )
        model = n2v.fit(
            window=cfg.window, negative=cfg.negative, epochs=cfg.epochs, min_count=1, workers=1, seed=seed
        )
        vecs.append(model.wv)
    common = [v for v in vecs[0].index_to_key if v in vecs[1].key_to_index]
    x, y = vecs[0][common], vecs[1][common]
    cos = np.sum(x * y, axis=1) / (np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1))
    return float(1.0 - cos.mean())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small corpora: smoke-test the script")
    parser.add_argument("--repeats", type=int, default=20, help="fresh 100x40 draws timed (median)")
    parser.add_argument("--baseline-pairs", type=int, default=20, help="pairs timed for the baseline")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    opts = {"corpus_size": 200, "dim": 64} if args.quick else {}
    rng = np.random.default_rng(args.seed)

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"machine: {cpus} usable cores, load average {os.getloadavg()[0]:.2f} at start")
    print(f"node2vec {version('node2vec')}, gensim {version('gensim')}, numpy {np.__version__}")
    print("embedding: node2vec, 1 gensim worker" + (" [--quick: small corpora]" if args.quick else ""))

    # 1. NB201 whole space
    t0 = time.perf_counter()
    nb = build_embedding("nb201", seed=args.seed, progress=False, **opts)
    t_nb = time.perf_counter() - t0
    print(
        f"[1] NB201: fit token table + embed all {len(nb):,} cells: {t_nb:.1f} s "
        f"(dim {nb.dim}, corpus {nb.config.corpus_size})  target <= 120 s"
    )

    # 2. DARTS on-demand distance matrix
    darts = get_space("darts")
    t0 = time.perf_counter()
    table = build_embedding("darts", seed=args.seed, progress=False, **opts)
    t_fit = time.perf_counter() - t0
    print(f"    DARTS token table fit (once per seed, cached on disk): {t_fit:.1f} s (dim {table.dim})")
    times = []
    for _ in range(args.repeats):
        a = [darts.sample(rng) for _ in range(100)]
        b = [darts.sample(rng) for _ in range(40)]
        t0 = time.perf_counter()
        d = table.distances(a, b)
        times.append(time.perf_counter() - t0)
    assert d.shape == (100, 40)
    t_ours = statistics.median(times)
    print(
        f"[2] DARTS 100x40 distance matrix incl. embedding 140 new genotypes: {t_ours * 1e3:.2f} ms "
        f"(median of {args.repeats}; min {min(times) * 1e3:.2f}, max {max(times) * 1e3:.2f})  target <= 50 ms"
    )

    # 3. per-pair baseline
    cfg = table.config
    pairs = [(darts.sample(rng), darts.sample(rng)) for _ in range(args.baseline_pairs)]
    t0 = time.perf_counter()
    for i, (a1, b1) in enumerate(pairs):
        per_pair_baseline(darts, a1, b1, seed=i, dim=table.dim // 2, cfg=cfg)
    per_pair = (time.perf_counter() - t0) / len(pairs)
    t_base = per_pair * 100 * 40
    print(
        f"[3] per-pair baseline: {per_pair * 1e3:.1f} ms per pair (timed on {len(pairs)} pairs) -> "
        f"{t_base:.1f} s for 4,000 pairs; ratio {t_base / t_ours:,.0f}x  target >= 1000x"
    )

    # 4. extras
    many = nb.archs[:1000]
    nb.vectors(many)
    t0 = time.perf_counter()
    nb.distances(many, many)
    t_mat = time.perf_counter() - t0
    fresh = [darts.sample(rng) for _ in range(1000)]
    t0 = time.perf_counter()
    table.vectors(fresh)
    t_one = (time.perf_counter() - t0) / len(fresh)
    print(
        f"[4] 1000x1000 NB201 distance matrix from cached vectors: {t_mat * 1e3:.1f} ms (target < 100 ms); "
        f"embedding one new DARTS genotype: {t_one * 1e6:.0f} us (target < 1 ms)"
    )


if __name__ == "__main__":
    main()
