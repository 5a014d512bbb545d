"""The code fingerprint: which code made a result or a checkpoint (docs/architecture.md, "When a result is
current").

:func:`code_fingerprint` is a SHA-256 over the relative path and the bytes of every file of the ktnas
package (its modules and the data it ships: bundled benchmark tables, cell lists) except the units of
:data:`OUTPUT_ONLY`. A unit is a top-level module or sub-package, named as in ``[tool.ktnas.layers]`` of
pyproject.toml; a data file belongs to the unit its name starts with (``config.schema.yaml`` to
``config``). Every search result and checkpoint records the fingerprint; Snakemake passes it to each
expensive job as a parameter, so that a job reruns when the code that determines its result changes.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from collections.abc import Mapping
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PACKAGE = Path(__file__).resolve().parent

#: Units that only read or format what a search hands them, with the reason each cannot change a result.
#: Everything else of the package is in the fingerprint; a new unit is in it until it is listed here.
OUTPUT_ONLY: Mapping[str, str] = {
    "__main__": "`python -m ktnas`: calls the command line and nothing else",
    "cli": "parses the command line; what it decides (space, method, seed, tasks, parameters, run-time "
    "settings) is recorded in each result and compared on its own",
    "config": "validates the pipeline's config and plans its runs, which reach a search only as the "
    "command line above; no module below it imports it (config.schema.yaml is its data)",
    "plan": "expands the config into runs; what it decides reaches a search only as the command line "
    "(method, seeds, tasks, parameters), recorded in each result and compared on its own",
    "report": "tables, figures and the results page, built from result files; a search never imports it",
}

#: Libraries whose versions every result and checkpoint records beside the fingerprint.
LIBRARIES = ("numpy", "torch")


def unit_of(relative: Path) -> str:
    """The unit a package file belongs to: ``search/transfer.py`` -> ``search``, ``cli.py`` -> ``cli``,
    ``config.schema.yaml`` -> ``config``."""
    return relative.parts[0].split(".")[0]


def fingerprinted_files(package: Path = PACKAGE) -> list[Path]:
    """The files in the fingerprint, relative to ``package`` and sorted: every file except those of the
    :data:`OUTPUT_ONLY` units, byte-code caches (``__pycache__``) and hidden or temporary files (a name
    starting with ``.``, e.g. an atomic write in progress)."""
    out = []
    for path in package.rglob("*"):
        rel = path.relative_to(package)
        if not path.is_file() or any(p == "__pycache__" or p.startswith(".") for p in rel.parts):
            continue
        if rel.suffix in (".pyc", ".tmp") or unit_of(rel) in OUTPUT_ONLY:
            continue
        out.append(rel)
    return sorted(out, key=lambda p: p.as_posix())


def fingerprint_of(package: Path) -> str:
    """SHA-256 (hex) of the fingerprinted files' relative paths and bytes."""
    h = hashlib.sha256()
    for rel in fingerprinted_files(package):
        data = (package / rel).read_bytes()
        name = rel.as_posix().encode()
        h.update(len(name).to_bytes(8, "little") + name + len(data).to_bytes(8, "little") + data)
    return h.hexdigest()


@cache
def code_fingerprint() -> str:
    """The fingerprint of the ktnas package this process imported (computed once per process)."""
    return fingerprint_of(PACKAGE)


@cache
def library_versions() -> dict[str, str]:
    """The installed versions of :data:`LIBRARIES` (``"absent"`` for one that is not installed)."""
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def provenance() -> dict[str, str]:
    """The code fields of a result file: ``code_fingerprint``, ``numpy_version`` and ``torch_version``."""
    versions = library_versions()
    return {"code_fingerprint": code_fingerprint()} | {f"{k}_version": versions[k] for k in LIBRARIES}


def code_record() -> dict[str, Any]:
    """The part of a checkpoint's fingerprint that names the code: the package and the libraries."""
    return {"code": code_fingerprint(), "libraries": library_versions()}


def mismatch(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> str:
    """Why a checkpoint's recorded fingerprint is not ``current``, in a few words for one log line."""
    if recorded.get("code") != current.get("code"):
        was = str(recorded.get("code") or "none")[:12]
        return f"other code (fingerprint {was}, now {str(current.get('code'))[:12]})"
    if recorded.get("libraries") != current.get("libraries"):
        return f"other library versions ({recorded.get('libraries')}, now {current.get('libraries')})"
    keys = sorted(k for k in set(recorded) | set(current) if recorded.get(k) != current.get(k))
    return f"other parameters ({', '.join(keys)})"


def set_aside(path: Path, why: str, side: Path | None = None) -> Path:
    """Rename a checkpoint that must not be resumed to ``<name>.stale`` (and its side-file folder
    ``side`` beside it), replacing an earlier one, and log one line naming why."""
    stale = path.with_name(path.name + ".stale")
    path.replace(stale)
    if side is not None and side.exists():
        old = side.with_name(side.name + ".stale")
        if old.exists():
            shutil.rmtree(old)
        side.rename(old)
    log.warning("%s was written by %s; set aside as %s, starting from scratch", path, why, stale.name)
    return stale
