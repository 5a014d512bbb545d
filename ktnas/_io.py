"""Atomic, self-describing outputs: every file is written to a temporary name and renamed, and every
Parquet file carries the ktnas version, git SHA and the config that produced it."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ktnas import __version__

if TYPE_CHECKING:  # pandas and pyarrow are imported where Parquet is read or written (start-up cost)
    import pandas as pd
    import pyarrow as pa


class KtnasError(Exception):
    """A user-facing error: the CLI prints its message as one line and exits non-zero."""


def file_key(path: str | os.PathLike[str]) -> tuple[str, int, int] | None:
    """(resolved path, mtime in ns, size) of an existing file, None for a missing one: a key for tables
    loaded once per process (a job runs many seeds) that changes whenever the file is rewritten."""
    p = Path(path).resolve()
    try:
        st = p.stat()
    except OSError:
        return None
    return (str(p), st.st_mtime_ns, st.st_size)


@cache
def git_sha() -> str:
    """The SHA of the checkout ktnas runs from, or "unknown" for an installed wheel."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it into place only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; outputs should be readable like any file
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def provenance(extra: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Key/value metadata stored in every Parquet file (values JSON-encoded)."""
    meta = {"ktnas_version": __version__, "git_sha": git_sha()}
    for key, value in (extra or {}).items():
        meta[key] = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return meta


def write_parquet(
    path: str | os.PathLike[str], df: pd.DataFrame | pa.Table, metadata: Mapping[str, Any] | None = None
) -> None:
    """Write a table atomically with provenance metadata; deterministic bytes for the same input."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = df if isinstance(df, pa.Table) else pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta.pop(b"pandas", None)  # holds library versions: would make bytes depend on the environment
    meta.update({k.encode(): v.encode() for k, v in provenance(metadata).items()})
    table = table.replace_schema_metadata(meta)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def read_parquet(path: str | os.PathLike[str], rebuild_hint: str) -> pd.DataFrame:
    """Read a Parquet table; a missing or corrupt file is one KtnasError naming it and how to rebuild."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = Path(path)
    if not p.exists():
        raise KtnasError(f"{p}: file not found; {rebuild_hint}")
    try:
        return pq.read_table(p).to_pandas()
    except (OSError, pa.ArrowException) as err:
        raise KtnasError(f"{p}: not a readable Parquet table ({err}); {rebuild_hint}") from None


def parquet_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    return {k.decode(): v.decode() for k, v in meta.items() if k != b"pandas"}
