"""Build the bundled NB201 proxy table ``ktnas/benchmarks/data/nb201_proxies.parquet`` (docs/reproduction.md §3.1.2).

Contents (long format, one row per (arch, dataset), 3 × 15,625 rows, sorted by dataset then NB201 index):
``arch``, ``dataset`` (cifar10 / cifar100 / imagenet16), ``synflow`` (every cell), ``nwot``, ``snip``,
``grad_norm`` (only on the fixed sample :func:`~ktnas.proxies.table.batch_sample_archs` (2,000 cells,
sample seed 0, the same cells for each dataset), NaN elsewhere), ``batch_sample`` (bool: the row is in
that sample). Within a computed column NaN means a non-finite score. All scores use seed 0, one thread.

The work runs in resumable chunks (one Parquet file per (kind, dataset, chunk); an existing file is
skipped), then the chunks are merged::

    nice -n 10 python -m ktnas.proxies.build_bundled --chunk-dir .dev/proxy_chunks      # compute + merge
    python -m ktnas.proxies.build_bundled --chunk-dir .dev/proxy_chunks --merge-only  # merge only
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence
from pathlib import Path

from ktnas._io import write_parquet
from ktnas.proxies.table import (
    BATCH_PROXIES,
    BUNDLED_SAMPLE_SIZE,
    DATASET_NAMES,
    batch_sample_archs,
    bundled_proxies_path,
    chunk_archs,
    merge_chunks,
)

log = logging.getLogger(__name__)


def chunk_path(chunk_dir: Path, kind: str, dataset: str, chunk: int, n_chunks: int) -> Path:
    return chunk_dir / f"{kind}_{dataset}_{chunk:03d}of{n_chunks:03d}.parquet"


def jobs(synflow_chunks: int, batch_chunks: int) -> list[tuple[str, str, int, int]]:
    """(kind, dataset, chunk, n_chunks), synflow for every dataset first (the search needs only it)."""
    out = [("synflow", d, i, synflow_chunks) for d in DATASET_NAMES for i in range(synflow_chunks)]
    out += [("batch", d, i, batch_chunks) for d in DATASET_NAMES for i in range(batch_chunks)]
    return out


def run_chunks(
    chunk_dir: Path, seed: int, sample_size: int, synflow_chunks: int, batch_chunks: int
) -> list[Path]:
    """Compute every missing chunk file; return all chunk paths."""
    from ktnas.proxies.scores import compute_proxies
    from ktnas.spaces.nb201 import NB201Space

    all_archs = NB201Space().all_archs()
    sample = batch_sample_archs(sample_size, seed=0)
    paths = []
    for kind, dataset, chunk, n in jobs(synflow_chunks, batch_chunks):
        path = chunk_path(chunk_dir, kind, dataset, chunk, n)
        paths.append(path)
        if path.exists():
            continue
        archs = chunk_archs(all_archs if kind == "synflow" else sample, chunk, n)
        proxies = ["synflow"] if kind == "synflow" else list(BATCH_PROXIES)
        t0, c0 = time.perf_counter(), time.process_time()
        df = compute_proxies(archs, dataset, proxies, seed=seed, progress=False, threads=1)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        write_parquet(
            path, df, {"kind": kind, "dataset": dataset, "chunk": chunk, "n_chunks": n, "seed": seed}
        )
        log.info(
            "%s: %d cells, %.3f s/cell CPU, %.3f s/cell wall, %d NaN",
            path.name,
            len(archs),
            cpu / max(len(archs), 1),
            wall / max(len(archs), 1),
            int(df[proxies].isna().to_numpy().sum()),
        )
    return paths


def merge_bundled(paths: Sequence[Path], out: Path, seed: int, sample_size: int) -> None:
    """Merge chunk files into the bundled table (format in the module docstring)."""
    df = merge_chunks(paths)
    sample = set(batch_sample_archs(sample_size, seed=0))
    df["batch_sample"] = df["arch"].isin(sample)
    expected = 15625 * len(DATASET_NAMES)
    if len(df) != expected or df["synflow"].notna().sum() == 0:
        raise RuntimeError(f"merged table has {len(df)} rows, expected {expected}")
    outside = df.loc[~df["batch_sample"], list(BATCH_PROXIES)]
    assert outside.isna().all().all(), "batch proxies outside the sample"
    write_parquet(
        out,
        df,
        {
            "format": "long: arch, dataset, synflow (all cells), nwot/snip/grad_norm (batch_sample rows), "
            "batch_sample; NaN = non-finite or not computed",
            "seed": seed,
            "batch_size": 64,
            "sample_size": sample_size,
            "sample_seed": 0,
            "threads": 1,
        },
    )
    counts = {p: int(df[p].notna().sum()) for p in ["synflow", *BATCH_PROXIES]}
    log.info("wrote %s: %d rows, finite values per proxy %s", out, len(df), counts)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chunk-dir", type=Path, default=Path(".dev/proxy_chunks"))
    ap.add_argument("--out", type=Path, default=bundled_proxies_path())
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sample-size", type=int, default=BUNDLED_SAMPLE_SIZE)
    ap.add_argument("--synflow-chunks", type=int, default=25)
    ap.add_argument("--batch-chunks", type=int, default=10)
    ap.add_argument("--merge-only", action="store_true", help="only merge the existing chunk files")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.merge_only:
        paths = [chunk_path(args.chunk_dir, *j) for j in jobs(args.synflow_chunks, args.batch_chunks)]
        missing = [p for p in paths if not p.exists()]
        if missing:
            log.error("%d of %d chunk files missing, e.g. %s", len(missing), len(paths), missing[0])
            return 1
    else:
        paths = run_chunks(
            args.chunk_dir, args.seed, args.sample_size, args.synflow_chunks, args.batch_chunks
        )
    merge_bundled(paths, args.out, args.seed, args.sample_size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
