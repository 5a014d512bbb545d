"""Tabular benchmarks: one table per search space, loaded once, shipped as Parquet inside the package.

A table has one row per architecture: column ``arch`` (canonical string) plus per-task metric columns.
:class:`TaskSpec` says which column a search optimises and in which direction, so no code branches on
task names.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from ktnas._io import read_parquet


class Direction(enum.IntEnum):
    MAXIMIZE = 1
    MINIMIZE = -1


@dataclass(frozen=True)
class TaskSpec:
    """One task of a benchmark: the column searched (validation) and the column reported."""

    name: str
    space: str
    fitness_column: str  # validation metric a search sees through the Evaluator
    report_column: str  # metric reported in tables
    direction: Direction
    description: str
    unit: str = "%"
    #: other fitness landscapes of the task: name -> column (the search column is the default landscape)
    landscapes: tuple[tuple[str, str], ...] = ()

    def fitness(self, values: np.ndarray | pd.Series) -> np.ndarray:
        """Metric → fitness where higher is better (losses are negated)."""
        return np.asarray(values, dtype=np.float64) * int(self.direction)

    def on(self, landscape: str | None) -> TaskSpec:
        """The task searched on ``landscape`` (one of :attr:`landscapes`; None = its search column)."""
        if landscape is None:
            return self
        columns = dict(self.landscapes)
        if landscape not in columns:
            known = ", ".join(columns) or "none besides its search column"
            raise ValueError(
                f"fitness {landscape!r} is not a landscape of task {self.name}; its landscapes: {known}"
            )
        return dataclasses.replace(self, fitness_column=columns[landscape])


#: every benchmark task, keyed by name; spaces register theirs in their own module
TASKS: dict[str, TaskSpec] = {}


def register_tasks(*specs: TaskSpec) -> None:
    for spec in specs:
        TASKS[spec.name] = spec


def get_task(name: str) -> TaskSpec:
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(sorted(TASKS))}") from None


@dataclass(frozen=True)
class Benchmark:
    """A loaded benchmark table (one per space), indexed by canonical architecture string."""

    space: str
    table: pd.DataFrame
    source: str

    def tasks(self) -> list[TaskSpec]:
        return [t for t in TASKS.values() if t.space == self.space and t.fitness_column in self.table]

    def archs(self) -> list[str]:
        return list(self.table.index)


def bundled_path(filename: str) -> Path:
    """Path of a table shipped inside the package (``ktnas/benchmarks/data``)."""
    return Path(str(resources.files("ktnas.benchmarks") / "data" / filename))


#: space name -> (bundled file name, how to rebuild it)
BUNDLED: dict[str, tuple[str, str]] = {}


@cache
def _load_cached(space: str, path: str) -> Benchmark:
    hint = BUNDLED.get(space, ("", f"rebuild it with `ktnas benchmark --space {space}`"))[1]
    df = read_parquet(path, hint)
    if "arch" not in df.columns:
        from ktnas._io import KtnasError

        raise KtnasError(f"{path}: no 'arch' column, not a ktnas benchmark table; {hint}")
    return Benchmark(space=space, table=df.set_index("arch", drop=False), source=path)


def load_benchmark(space: str, path: str | Path | None = None) -> Benchmark:
    """Load a benchmark table once per process: the bundled one, or ``path`` (e.g. built from the
    official benchmark file with ``ktnas benchmark --space SPACE --source FILE``)."""
    _import_space_tasks(space)
    if path is None:
        if space not in BUNDLED:
            raise ValueError(f"no bundled benchmark for space {space!r}; bundled: {', '.join(BUNDLED)}")
        path = bundled_path(BUNDLED[space][0])
    return _load_cached(space, str(Path(path).resolve()))


def _import_space_tasks(space: str) -> None:
    import importlib

    try:
        importlib.import_module(f"ktnas.benchmarks.{space}")
    except ModuleNotFoundError as err:
        if err.name == f"ktnas.benchmarks.{space}":
            raise ValueError(f"unknown benchmark space {space!r}") from None
        raise


def tasks_of(space: str) -> tuple[str, ...]:
    """Names of the tasks a space's benchmark defines, in registration order."""
    _import_space_tasks(space)
    return tuple(t.name for t in TASKS.values() if t.space == space)
