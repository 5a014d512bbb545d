"""The embedding table of a search space (docs/reproduction.md §2.6 "Storage"): canonical key → row of a float32
L2-normalised matrix, with the distance dist(a, b) = 1 − cos(e(a), e(b)) as one matrix product."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from tqdm.auto import tqdm

from ktnas._io import KtnasError, parquet_metadata, read_parquet, write_parquet
from ktnas.embedding.config import EmbeddingConfig
from ktnas.embedding.encoders import ENCODERS, Encoder
from ktnas.spaces import get_space
from ktnas.spaces.base import SearchSpace

log = logging.getLogger(__name__)

#: rows embedded per call when building a table (bounds the memory of the token gather)
_CHUNK = 4096


def _versions() -> dict[str, str]:
    out = {}
    for pkg in ("ktnas", "node2vec", "gensim", "numpy", "networkx"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "unknown"
    return out


def _space(space: str | SearchSpace) -> SearchSpace:
    return get_space(space) if isinstance(space, str) else space


class EmbeddingTable:
    """Architecture vectors of one space in one coordinate system (docs/reproduction.md §2.6).

    Rows are keyed by canonical architecture strings. :meth:`vectors` and :meth:`distances` accept any
    valid spelling of an architecture; an architecture not in the table is embedded on demand by the
    table's fitted encoder (no training at query time) and memoised, so DARTS genotypes cost a token
    lookup. A vector never depends on which other architectures are embedded with it.
    """

    def __init__(
        self,
        space: SearchSpace,
        archs: Sequence[str],
        matrix: np.ndarray,
        *,
        config: EmbeddingConfig,
        seed: int,
        encoder: Encoder | None = None,
        versions: Mapping[str, str] | None = None,
    ) -> None:
        matrix = np.asarray(matrix, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[0] != len(archs):
            raise ValueError(f"embedding matrix of shape {matrix.shape} does not match {len(archs)} archs")
        self.space = space
        self.config = config
        self.seed = seed
        self.encoder = encoder
        self.versions = dict(versions) if versions is not None else _versions()
        self._dim = matrix.shape[1] if encoder is None else encoder.dim
        if matrix.shape[1] != self._dim:
            raise ValueError(f"embedding matrix has {matrix.shape[1]} columns, the encoder {self._dim}")
        self._keys: list[str] = list(archs)
        self._lookup: dict[str, int] = {a: i for i, a in enumerate(self._keys)}
        if len(self._lookup) != len(self._keys):
            raise ValueError("embedding table keys must be unique canonical architecture strings")
        self._buffer = np.array(matrix, dtype=np.float32, order="C")
        self._n = len(self._keys)

    # -- inspection -----------------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return self._dim

    @property
    def method(self) -> str:
        return self.config.method

    @property
    def archs(self) -> list[str]:
        """Canonical keys in row order (built rows first, then those embedded on demand)."""
        return list(self._keys)

    @property
    def matrix(self) -> np.ndarray:
        """Read-only (len, dim) float32 view of all rows."""
        view = self._buffer[: self._n]
        view.flags.writeable = False
        return view

    @property
    def metadata(self) -> dict[str, Any]:
        """What the Parquet file records besides provenance: space, method, seed, dim, config, versions."""
        return {
            "space": self.space.name,
            "method": self.method,
            "seed": self.seed,
            "dim": self.dim,
            "config": self.config.to_dict(),
            "versions": self.versions,
        }

    def __len__(self) -> int:
        return self._n

    def __contains__(self, arch: object) -> bool:
        if not isinstance(arch, str):
            return False
        if arch in self._lookup:
            return True
        try:
            return self.space.canonical(arch) in self._lookup
        except ValueError:
            return False

    def __repr__(self) -> str:
        return (
            f"EmbeddingTable(space={self.space.name!r}, method={self.method!r}, dim={self.dim}, "
            f"seed={self.seed}, rows={self._n})"
        )

    # -- queries --------------------------------------------------------------------------------------
    def rows(self, archs: Sequence[str]) -> np.ndarray:
        """Row index of every architecture, embedding (and memoising) those not in the table yet."""
        if isinstance(archs, str):
            raise ValueError(f"pass a list of architectures, not the single string {archs!r}")
        out = np.empty(len(archs), dtype=np.intp)
        missing: dict[str, list[int]] = {}
        for i, arch in enumerate(archs):
            row = self._lookup.get(arch)
            if row is None:
                key = self.space.canonical(arch)
                row = self._lookup.get(key)
                if row is None:
                    missing.setdefault(key, []).append(i)
                    continue
                self._lookup[arch] = row  # alias a non-canonical spelling
            out[i] = row
        if missing:
            if self.encoder is None:
                raise ValueError(
                    f"{len(missing)} architecture(s) not in this {self.space.name} {self.method} table "
                    f"(e.g. {next(iter(missing))!r}) and the table has no encoder to embed them"
                )
            keys = list(missing)
            first = self._append(keys, self.encoder.embed(keys))
            for j, key in enumerate(keys):
                out[missing[key]] = first + j
        return out

    def vectors(self, archs: Sequence[str]) -> np.ndarray:
        """(len(archs), dim) float32 unit vectors."""
        rows = self.rows(archs)  # may grow (replace) the buffer: index it afterwards
        return self._buffer[rows]

    def distances(self, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        """The |a|×|b| matrix 1 − cos(e(a_i), e(b_j)), clipped to [0, 2] (docs/reproduction.md §2.6)."""
        va = self.vectors(a).astype(np.float64)
        vb = self.vectors(b).astype(np.float64)
        d = 1.0 - va @ vb.T
        np.clip(d, 0.0, 2.0, out=d)
        return d

    def _append(self, keys: Sequence[str], vecs: np.ndarray) -> int:
        first = self._n
        need = self._n + len(keys)
        if need > self._buffer.shape[0]:
            grown = np.empty((max(need, 2 * self._buffer.shape[0], 64), self._dim), dtype=np.float32)
            grown[: self._n] = self._buffer[: self._n]
            self._buffer = grown
        self._buffer[first:need] = vecs
        for j, key in enumerate(keys):
            self._lookup[key] = first + j
        self._keys.extend(keys)
        self._n = need
        return first

    # -- persistence ----------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write ``arch`` + ``embedding`` (fixed-size list of float32) Parquet, atomically, with the
        space, method, seed, dim, config, package versions, the fitted encoder state and its SHA-256
        in the metadata. Rows embedded on demand are included."""
        flat = pa.array(self._buffer[: self._n].reshape(-1), type=pa.float32())
        table = pa.table(
            {
                "arch": pa.array(self._keys, type=pa.string()),
                "embedding": pa.FixedSizeListArray.from_arrays(flat, self._dim),
            }
        )
        meta: dict[str, Any] = dict(self.metadata)
        state = self.encoder.state() if self.encoder is not None else None
        meta["encoder_state"] = state
        # content hash of the fitted encoder: two tables with equal hashes share one coordinate system
        meta["encoder_sha256"] = hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()
        write_parquet(path, table, meta)

    @classmethod
    def load(cls, path: str | os.PathLike[str], space: str | SearchSpace | None = None) -> EmbeddingTable:
        """Read a table written by :meth:`save`; the space defaults to the one named in the file."""
        hint = "rebuild it with `ktnas embed`"
        df = read_parquet(path, hint)
        try:
            meta = parquet_metadata(path)
            config = EmbeddingConfig.from_dict(json.loads(meta["config"]))
            seed = int(json.loads(meta["seed"]))
            dim = int(json.loads(meta["dim"]))
            stored_space = meta["space"]
            state = json.loads(meta["encoder_state"])
            versions = json.loads(meta["versions"])
            encoder_cls = ENCODERS[config.method]
        except (KeyError, ValueError, TypeError) as err:
            raise KtnasError(f"{path}: not a ktnas embedding table ({err!r}); {hint}") from None
        sp = _space(space if space is not None else stored_space)
        if sp.name != stored_space:
            raise ValueError(f"{path} embeds space {stored_space!r}, not {sp.name!r}")
        if list(df.columns) != ["arch", "embedding"]:
            raise KtnasError(f"{path}: expected columns arch, embedding, found {list(df.columns)}; {hint}")
        encoder = None if state is None else encoder_cls.from_state(sp, config, state)
        matrix = np.empty((len(df), dim), dtype=np.float32)
        for i, row in enumerate(df["embedding"]):
            matrix[i] = row
        archs = df["arch"].tolist()
        if encoder is not None and archs:
            # the stored rows must be what the stored encoder computes (guards against mixed files)
            probe = list(range(0, len(archs), max(1, len(archs) // 8)))[:8]
            if not np.allclose(encoder.embed([archs[i] for i in probe]), matrix[probe], atol=1e-6):
                raise KtnasError(f"{path}: rows disagree with the stored encoder state; {hint}")
        return cls(sp, archs, matrix, config=config, seed=seed, encoder=encoder, versions=versions)


def build_embedding(
    space: str | SearchSpace,
    method: str = "node2vec",
    dim: int = 256,
    seed: int = 0,
    archs: Sequence[str] | None = None,
    progress: bool = True,
    **options: Any,
) -> EmbeddingTable:
    """Fit ``method``'s encoder on ``space`` and embed ``archs`` (docs/reproduction.md §2.6).

    ``archs`` defaults to the whole space when it is enumerable (NB201: 15,625 rows; TransNAS micro:
    4,096) and to no rows otherwise (DARTS: rows are embedded on demand). ``options`` are the other
    :class:`EmbeddingConfig` fields (corpus_size, walk_length, …).
    """
    if method not in ENCODERS:
        raise ValueError(f"unknown embedding method {method!r}; choose one of {', '.join(ENCODERS)}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"embedding seed must be a non-negative integer, got {seed!r}")
    sp = _space(space)
    config = EmbeddingConfig.from_dict({**options, "method": method, "dim": dim})
    encoder = ENCODERS[method].fit(sp, config, int(seed), progress)
    if archs is None:
        archs = sp.all_archs() if sp.size() is not None else []
    keys = list(dict.fromkeys(sp.canonical(a) for a in archs))
    matrix = np.empty((len(keys), encoder.dim), dtype=np.float32)
    starts = range(0, len(keys), _CHUNK)
    for start in tqdm(starts, desc=f"embed {sp.name}", disable=None if progress else True):
        matrix[start : start + _CHUNK] = encoder.embed(keys[start : start + _CHUNK])
    log.info("embedded %d %s architectures with %s (dim %d)", len(keys), sp.name, method, encoder.dim)
    return EmbeddingTable(sp, keys, matrix, config=config, seed=int(seed), encoder=encoder)


_OPEN: dict[tuple[str, str, str, int], EmbeddingTable] = {}


def load_or_build(
    space: str | SearchSpace,
    path: str | os.PathLike[str],
    method: str = "node2vec",
    dim: int = 256,
    seed: int = 0,
    progress: bool = True,
    **options: Any,
) -> EmbeddingTable:
    """The table at ``path`` if it was built for the same (space, method, config, seed), else build
    and save it there. Within a process the same object is returned again, with its on-demand rows;
    call ``table.save(path)`` to persist rows embedded since (DARTS cache)."""
    sp = _space(space)
    config = EmbeddingConfig.from_dict({**options, "method": method, "dim": dim})
    key = (str(Path(path).resolve()), sp.name, config.to_json(), int(seed))
    if key in _OPEN:
        return _OPEN[key]
    table = None
    if Path(path).exists():
        meta = parquet_metadata(path)
        stored = (meta.get("space"), meta.get("seed"), meta.get("config"))
        if stored == (sp.name, json.dumps(int(seed)), config.to_json()):
            table = EmbeddingTable.load(path, sp)
        else:
            log.warning("%s was built with other settings %s; rebuilding it", path, stored)
    if table is None:
        table = build_embedding(sp, method, dim, int(seed), progress=progress, **options)
        table.save(path)
    _OPEN[key] = table
    return table
