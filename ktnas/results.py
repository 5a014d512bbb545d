"""Typed search results: what a run returns, what its JSON file holds, what the report reads.

A result file is ``SearchResult.to_dict()`` written with sorted keys; :meth:`SearchResult.load` reads it
back. Fields that only some spaces or methods produce (a tabular benchmark's evaluation counts, a
weight-sharing search's cost and throughput) live in the ``extra`` mappings, filled by the problem or the
recipe through their protocol hooks, never by overwriting the fields below.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ktnas._io import KtnasError, atomic_path, write_json

#: keys of a task's JSON entry that are typed fields; everything else goes to ``TaskResult.extra``
_TASK_FIELDS = ("task", "best_arch", "best_fitness", "generations", "trace")
_RUN_FIELDS = (
    "space",
    "method",
    "seed",
    "params",
    "tasks",
    "ktnas_version",
    "git_sha",
    "code_fingerprint",
    "numpy_version",
    "torch_version",
)


@dataclass
class TaskResult:
    """One task's outcome: the reported architecture and its search fitness (higher is better).

    ``generations`` and ``trace`` (one entry per generation: best fitness, transferred cells, ...) are
    set by the multi-task loop and absent (None) for single-task baselines. Tabular problems add
    ``found_at`` (evaluations until the task's optimum was first queried, None if never) and
    ``n_queries`` to ``extra``.
    """

    task: str
    best_arch: str
    best_fitness: float
    generations: int | None = None
    trace: list[dict[str, Any]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def found_at(self) -> int | None:
        value = self.extra.get("found_at")
        return None if value is None else int(value)

    @property
    def n_queries(self) -> int | None:
        value = self.extra.get("n_queries")
        return None if value is None else int(value)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "task": self.task,
            "best_arch": self.best_arch,
            "best_fitness": self.best_fitness,
        }
        if self.generations is not None:
            out["generations"] = self.generations
        if self.trace is not None:
            out["trace"] = self.trace
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TaskResult:
        return cls(
            task=d["task"],
            best_arch=d["best_arch"],
            best_fitness=d["best_fitness"],
            generations=d.get("generations"),
            trace=d.get("trace"),
            extra={k: v for k, v in d.items() if k not in _TASK_FIELDS},
        )


@dataclass
class SearchResult:
    """One seeded run of one method on one space's tasks (a row of the per-seed results)."""

    space: str
    method: str
    seed: int
    params: dict[str, Any]
    tasks: list[TaskResult]
    ktnas_version: str
    git_sha: str
    #: the code that made the result (:mod:`ktnas._fingerprint`) and the library versions beside it
    code_fingerprint: str = ""
    numpy_version: str = ""
    torch_version: str = ""
    #: recipe-specific run fields (DARTS: task group, device, search cost)
    extra: dict[str, Any] = field(default_factory=dict)
    #: the run's name in the pipeline (a method, or a variant such as ``ktnas-r0.5``); not serialised
    run: str = ""

    def __post_init__(self) -> None:
        if not self.run:
            self.run = self.method

    def task(self, name: str) -> TaskResult:
        for t in self.tasks:
            if t.task == name:
                return t
        raise ValueError(
            f"task {name!r} is not in this result (tasks: {', '.join(t.task for t in self.tasks)})"
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "space": self.space,
            "method": self.method,
            "seed": self.seed,
            "params": self.params,
            "ktnas_version": self.ktnas_version,
            "git_sha": self.git_sha,
            "code_fingerprint": self.code_fingerprint,
            "numpy_version": self.numpy_version,
            "torch_version": self.torch_version,
            "tasks": [t.to_dict() for t in self.tasks],
        }
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], run: str = "") -> SearchResult:
        return cls(
            space=d["space"],
            method=d["method"],
            seed=int(d["seed"]),
            params=dict(d.get("params") or {}),
            tasks=[TaskResult.from_dict(t) for t in d["tasks"]],
            ktnas_version=d.get("ktnas_version", ""),
            git_sha=d.get("git_sha", ""),
            code_fingerprint=d.get("code_fingerprint", ""),
            numpy_version=d.get("numpy_version", ""),
            torch_version=d.get("torch_version", ""),
            extra={k: v for k, v in d.items() if k not in _RUN_FIELDS},
            run=run,
        )

    def save(self, path: str | Path) -> None:
        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> SearchResult:
        """Read a result file; its run name is its folder (``results/search/<space>/<run>/seedN.json``)."""
        try:
            blob = json.loads(Path(path).read_text())
            return cls.from_dict(blob, run=Path(path).parent.name)
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as err:
            raise KtnasError(
                f"{path}: unreadable search result ({err}); delete it and rerun its search job"
            ) from None


def reuse_results(
    source: str | Path,
    target: str | Path,
    seeds: Sequence[int],
    manifest: str | Path,
    space: str,
    method: str,
) -> list[str]:
    """Copy the per-seed result files (``seed{N}.json``) of the run folder ``source`` into ``target`` and
    write the manifest a search job would have: for a run whose searches another run already makes (the
    same method, parameters, tasks and encoding on more seeds, e.g. a study's default point and the main
    ``ktnas`` row), so that no seed is searched twice. The files are copied, not linked, byte for byte."""
    written = []
    for seed in seeds:
        src, dst = Path(source) / f"seed{seed}.json", Path(target) / f"seed{seed}.json"
        if not src.is_file():
            raise KtnasError(f"{src} is missing: the run {Path(source).name!r} must be searched first")
        with atomic_path(dst) as tmp:
            shutil.copyfile(src, tmp)
        written.append(str(dst))
    write_json(manifest, {"space": space, "method": method, "seeds": list(seeds), "files": written})
    return written
