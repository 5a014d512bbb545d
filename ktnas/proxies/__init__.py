"""Zero-cost proxies of NAS-Bench-201 cells (docs/reproduction.md §3.1.2), computed by ktnas itself.

The torch-free helpers (proxy names, chunking, merging, the bundled table) import eagerly; the
torch-based ones (:func:`compute_proxies`, the network) load on first use.
"""

from __future__ import annotations

from typing import Any

from ktnas.proxies.table import (
    BATCH_PROXIES,
    BUNDLED_SAMPLE_SIZE,
    DATASET_NAMES,
    PROXIES,
    batch_sample_archs,
    bundled_proxies_path,
    canonical_proxies,
    chunk_archs,
    load_bundled_proxies,
    merge_chunks,
)

_LAZY = {
    "compute_proxies": "ktnas.proxies.scores",
    "score_arch": "ktnas.proxies.scores",
    "make_batch": "ktnas.proxies.scores",
    "build_network": "ktnas.proxies.nb201_net",
    "count_parameters": "ktnas.proxies.nb201_net",
    "NB201Network": "ktnas.proxies.nb201_net",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ktnas.proxies' has no attribute {name!r}")


__all__ = [
    "BATCH_PROXIES",
    "BUNDLED_SAMPLE_SIZE",
    "DATASET_NAMES",
    "PROXIES",
    "NB201Network",
    "batch_sample_archs",
    "build_network",
    "bundled_proxies_path",
    "canonical_proxies",
    "chunk_archs",
    "compute_proxies",
    "count_parameters",
    "load_bundled_proxies",
    "make_batch",
    "merge_chunks",
    "score_arch",
]
