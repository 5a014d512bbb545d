"""Proxy tables without torch: proxy names, chunking, merging chunk files, the bundled table (docs/reproduction.md §3.1.2).

A proxy table is long: one row per (architecture, dataset), columns ``arch``, ``dataset`` and one float64
column per proxy; NaN marks a score that was non-finite (ranked last by a search) or not computed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from ktnas._io import KtnasError, read_parquet

#: proxies ktnas computes; ``nwot`` is the NASWOT score (Mellor et al. 2021), the "jacov" slot of docs/reproduction.md §3.1
PROXIES: tuple[str, ...] = ("synflow", "nwot", "snip", "grad_norm")
#: proxies that need a batch of inputs (all others are data-free)
BATCH_PROXIES: tuple[str, ...] = ("nwot", "snip", "grad_norm")
#: accepted synonyms -> canonical name
ALIASES: dict[str, str] = {"jacov": "nwot", "naswot": "nwot"}
#: the NB201 datasets, in table order
DATASET_NAMES: tuple[str, ...] = ("cifar10", "cifar100", "imagenet16")
KEY: list[str] = ["arch", "dataset"]

BUNDLED_FILE = "nb201_proxies.parquet"
BUNDLED_HINT = (
    "recompute it with `ktnas proxies compute` per chunk and `ktnas proxies merge` (or run the pipeline "
    "with proxies.source: compute); the bundled table: `python -m ktnas.proxies.build_bundled`"
)
#: the bundled table: batch proxies are computed on this many cells per dataset (same cells for all)
BUNDLED_SAMPLE_SIZE = 2000


def canonical_proxies(proxies: Sequence[str]) -> list[str]:
    """Validate proxy names (aliases allowed) and return their canonical names, order kept."""
    if isinstance(proxies, str):
        proxies = [proxies]
    if not proxies:
        raise ValueError(f"no proxy requested; choose from {', '.join(PROXIES)}")
    out: list[str] = []
    for p in proxies:
        name = ALIASES.get(p, p)
        if name not in PROXIES:
            raise ValueError(
                f"unknown proxy {p!r}; choose from {', '.join(PROXIES)} (aliases: "
                + ", ".join(f"{a}={c}" for a, c in ALIASES.items())
                + ")"
            )
        if name in out:
            raise ValueError(f"proxy {p!r} requested twice (as {name!r})")
        out.append(name)
    return out


def check_dataset(dataset: str) -> str:
    if dataset not in DATASET_NAMES:
        raise ValueError(f"unknown NB201 dataset {dataset!r}; choose one of {', '.join(DATASET_NAMES)}")
    return dataset


def chunk_archs(all_archs: Sequence[str], chunk: int, n_chunks: int) -> list[str]:
    """Chunk ``chunk`` (0-based) of ``n_chunks`` contiguous, near-equal blocks of ``all_archs``.

    Every architecture lands in exactly one chunk; sizes differ by at most one.
    """
    if not isinstance(n_chunks, int | np.integer) or n_chunks < 1:
        raise ValueError(f"n_chunks must be a positive integer, got {n_chunks!r}")
    if not isinstance(chunk, int | np.integer) or not 0 <= chunk < n_chunks:
        raise ValueError(f"chunk must be an integer in 0..{n_chunks - 1} (0-based), got {chunk!r}")
    n = len(all_archs)
    lo, hi = chunk * n // n_chunks, (chunk + 1) * n // n_chunks
    return list(all_archs[lo:hi])


def _nb201_index() -> dict[str, int]:
    from ktnas.spaces.nb201 import NB201Space

    space = NB201Space()
    return {a: i for i, a in enumerate(space.all_archs())}


def sort_table(df: pd.DataFrame) -> pd.DataFrame:
    """Rows ordered by dataset (table order), then the official NB201 index."""
    index = _nb201_index()
    order = pd.DataFrame(
        {
            "_d": df["dataset"].map({d: i for i, d in enumerate(DATASET_NAMES)}),
            "_i": df["arch"].map(index),
        }
    )
    if order.isna().any().any():
        bad = df.loc[order.isna().any(axis=1), KEY].iloc[0].tolist()
        raise ValueError(f"row {bad} is not an NB201 (architecture, dataset) pair")
    return df.iloc[np.lexsort((order["_i"].to_numpy(), order["_d"].to_numpy()))].reset_index(drop=True)


def merge_chunks(paths: Sequence[str | os.PathLike[str]]) -> pd.DataFrame:
    """Outer-join chunk tables (as written from :func:`ktnas.proxies.compute_proxies`) on (arch, dataset).

    Chunks may hold different proxy columns (e.g. synflow for every cell, batch proxies for a sample);
    a (arch, dataset, proxy) value given by two chunks is an error. Rows sorted as :func:`sort_table`.
    """
    if not paths:
        raise ValueError("merge_chunks: no chunk files given")
    pieces: dict[str, list[pd.DataFrame]] = {p: [] for p in PROXIES}
    for path in paths:
        df = read_parquet(path, "recompute that chunk (delete it and rerun the job)")
        missing = [c for c in KEY if c not in df.columns]
        if missing:
            raise KtnasError(f"{path}: not a proxy chunk (missing column(s) {', '.join(missing)})")
        for p in PROXIES:
            if p in df.columns:
                pieces[p].append(df[[*KEY, p]])
    merged: pd.DataFrame | None = None
    for p in PROXIES:
        if not pieces[p]:
            continue
        col = pd.concat(pieces[p], ignore_index=True)
        dup = col.duplicated(KEY)
        if dup.any():
            arch, ds = col.loc[dup, KEY].iloc[0]
            raise ValueError(f"merge_chunks: {p} of ({arch}, {ds}) appears in more than one chunk")
        merged = col if merged is None else merged.merge(col, on=KEY, how="outer")
    if merged is None:
        raise ValueError(f"merge_chunks: no proxy column ({', '.join(PROXIES)}) in {len(paths)} file(s)")
    for p in PROXIES:
        if p in merged.columns:
            merged[p] = merged[p].astype(np.float64)
    return sort_table(merged)


def batch_sample_archs(n: int = BUNDLED_SAMPLE_SIZE, seed: int = 0) -> list[str]:
    """The fixed sample of cells on which the bundled table holds batch proxies (NB201 index order)."""
    from ktnas.spaces.nb201 import NB201Space

    if not 1 <= n <= 15625:
        raise ValueError(f"sample size must be in 1..15625, got {n}")
    idx = np.sort(np.random.default_rng(seed).choice(15625, size=n, replace=False))
    space = NB201Space()
    return [space.from_index(int(i)) for i in idx]


def bundled_proxies_path() -> Path:
    return Path(str(resources.files("ktnas.benchmarks") / "data" / BUNDLED_FILE))


def load_bundled_proxies(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """The bundled NB201 proxy table (long format, see module docstring and ``build_bundled``)."""
    return read_parquet(path if path is not None else bundled_proxies_path(), BUNDLED_HINT)
