"""TransNAS-Bench-101 micro benchmark (Duan et al., CVPR 2021; docs/reproduction.md §3.2).

The bundled table ``data/trans101.parquet`` holds the 711 micro cells (of 4,096) for which NASLib's
zero-cost benchmark file records the validation metric of all 7 tasks plus 11 zero-cost proxy scores.
A user with the official ``transnas-bench_v10141024.pth`` can convert it to the same schema with
:func:`convert_official` and pass the result to ``load_benchmark("trans101", path)``.

Columns: ``arch`` (official string ``64-41414-a_bc_def``), ``<task>_valid`` (the task's validation
metric, best epoch; room layout as a positive L2 loss ×100), and ``<task>_<proxy>`` (proxy scores,
NASLib file only). See DATA.md "TransNAS-Bench-101 micro" for the op-index → string mapping evidence.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ktnas._io import KtnasError, write_parquet
from ktnas.benchmarks import (
    BUNDLED,
    Benchmark,
    Direction,
    TaskSpec,
    bundled_path,
    load_benchmark,
    register_tasks,
)
from ktnas.spaces.restricted import RestrictedSpace
from ktnas.spaces.trans101 import PREFIX, Trans101Space

log = logging.getLogger(__name__)

SPACE = "trans101"
BUNDLED_FILE = "trans101.parquet"
REBUILD_HINT = (
    "rebuild it with write_bundled(build_from_naslib_json(<naslib_zc_transbench101_micro_subset.json>)) "
    "or convert the official file with convert_official(<.pth>) (ktnas.benchmarks.trans101; see DATA.md)"
)
NASLIB_SOURCE = (
    "automl/NASLib@e5a821c2dadf608042e4e046e386006cf6bd0564:naslib/data/zc_transbench101_micro.json"
)
NASLIB_JSON = "naslib_zc_transbench101_micro_subset.json"
NASLIB_JSON_SHA256 = "f9f2c5d6d9b9a73964f1bffb2869f218e1110755d84ddd4a46a8cf482f799cd1"

#: official task names, in the order of the official API's ``task_list``
TASK_NAMES: tuple[str, ...] = (
    "class_scene",
    "class_object",
    "room_layout",
    "jigsaw",
    "segmentsemantic",
    "normal",
    "autoencoder",
)

#: the official per-epoch validation metric NASLib queried for each task (its ``Metric.VAL_ACCURACY``)
OFFICIAL_VALID_METRIC: dict[str, str] = {
    "class_scene": "valid_top1",
    "class_object": "valid_top1",
    "jigsaw": "valid_top1",
    "room_layout": "valid_neg_loss",
    "segmentsemantic": "valid_acc",
    "normal": "valid_ssim",
    "autoencoder": "valid_ssim",
}

#: zero-cost proxies stored per task in the NASLib file (column ``<task>_<proxy>``)
PROXIES: tuple[str, ...] = (
    "flops",
    "params",
    "grasp",
    "fisher",
    "grad_norm",
    "l2_norm",
    "plain",
    "nwot",
    "epe_nas",
    "jacov",
    "snip",
)

#: room layout: the stored value is the negative L2 loss; tables report L2 × 100 (the paper's unit)
ROOM_LAYOUT_SCALE = -100.0

_DESCRIPTIONS: dict[str, tuple[str, Direction, str]] = {
    "class_object": ("object classification, validation top-1 accuracy", Direction.MAXIMIZE, "%"),
    "class_scene": ("scene classification, validation top-1 accuracy", Direction.MAXIMIZE, "%"),
    "room_layout": ("room layout, validation L2 loss x100 (best epoch)", Direction.MINIMIZE, "L2x100"),
    "jigsaw": ("jigsaw puzzle, validation top-1 accuracy", Direction.MAXIMIZE, "%"),
    "segmentsemantic": (
        "semantic segmentation, validation pixel accuracy (official 'valid_acc', not mIoU)",
        Direction.MAXIMIZE,
        "%",
    ),
    "normal": ("surface normal, validation SSIM", Direction.MAXIMIZE, "SSIM"),
    "autoencoder": ("autoencoding, validation SSIM", Direction.MAXIMIZE, "SSIM"),
}


def valid_column(task: str) -> str:
    return f"{task}_valid"


TASKS: tuple[TaskSpec, ...] = tuple(
    TaskSpec(
        name=task,
        space=SPACE,
        # only validation metrics exist in the bundled data; fitness and report are the same column
        fitness_column=valid_column(task),
        report_column=valid_column(task),
        direction=direction,
        description=description,
        unit=unit,
    )
    for task, (description, direction, unit) in _DESCRIPTIONS.items()
)
register_tasks(*TASKS)
BUNDLED[SPACE] = (BUNDLED_FILE, REBUILD_HINT)

_SPACE = Trans101Space()


# -- NASLib op-index tuples ---------------------------------------------------------------------------
def naslib_to_official(op_indices: Sequence[int] | str) -> str:
    """Official micro string of a tuple from NASLib's TransNAS-Bench-101 files.

    The mapping is the identity on digits: tuple position k is the k-th digit of ``a_bc_def``. NASLib
    builds its query string (and the model its proxies are scored on) with
    ``'64-41414-{}_{}{}_{}{}{}'.format(*op_indices)``, so the stored numbers belong to that string, not
    to the cell NASLib's own op names (0=skip, 1=none, 2=conv3x3, 3=conv1x1) would describe. Evidence
    in DATA.md and tests/test_trans101.py.
    """
    if isinstance(op_indices, str):
        try:
            parsed = json.loads(op_indices.replace("(", "[").replace(")", "]"))
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, list) or not all(isinstance(o, int) for o in parsed):
            raise ValueError(
                f"trans101: cannot parse NASLib op-index tuple {op_indices!r}; expected '(a, b, c, d, e, f)'"
            )
        op_indices = parsed
    ops = [int(o) for o in op_indices]
    if len(ops) != 6 or any(not 0 <= o < 4 for o in ops):
        raise ValueError(f"trans101: NASLib op-index tuple {tuple(ops)!r} must hold 6 integers in 0..3")
    d = "".join(str(o) for o in ops)
    return f"{PREFIX}{d[0]}_{d[1:3]}_{d[3:6]}"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def build_from_naslib_json(path: str | os.PathLike[str], check_sha256: bool = True) -> pd.DataFrame:
    """One row per architecture from NASLib's ``zc_transbench101_micro.json`` (docs/reproduction.md §3.2).

    ``check_sha256`` compares against the file documented in the data README (the 711-cell subset).
    """
    p = Path(path)
    if not p.exists():
        raise KtnasError(f"{p}: file not found; expected NASLib's zc_transbench101_micro.json")
    if check_sha256 and (digest := _sha256(p)) != NASLIB_JSON_SHA256:
        raise KtnasError(
            f"{p}: sha256 {digest} is not the documented {NASLIB_JSON_SHA256}; "
            "pass check_sha256=False to convert another version of the file"
        )
    try:
        raw = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise KtnasError(f"{p}: not a JSON file ({err})") from None
    missing = [t for t in TASK_NAMES if t not in raw]
    if missing:
        raise KtnasError(f"{p}: tasks {missing} missing; found {sorted(raw)}")
    keys = sorted(raw[TASK_NAMES[0]], key=lambda k: int(raw[TASK_NAMES[0]][k]["idx"]))
    rows: dict[str, list[Any]] = {"arch": [naslib_to_official(k) for k in keys]}
    rows["naslib_idx"] = [int(raw[TASK_NAMES[0]][k]["idx"]) for k in keys]
    for task in TASK_NAMES:
        entries = raw[task]
        if set(entries) != set(keys):
            raise KtnasError(f"{p}: task {task} covers other architectures than {TASK_NAMES[0]}")
        if any(int(entries[k]["idx"]) != idx for k, idx in zip(keys, rows["naslib_idx"], strict=True)):
            raise KtnasError(f"{p}: task {task} numbers the architectures differently")
        valid = np.array([entries[k]["val_accuracy"] for k in keys], dtype=np.float64)
        rows[valid_column(task)] = list(_to_report_unit(task, valid))
        for proxy in PROXIES:
            rows[f"{task}_{proxy}"] = [float(entries[k][proxy]["score"]) for k in keys]
    df = pd.DataFrame(rows)
    if df["arch"].duplicated().any():
        raise KtnasError(f"{p}: two NASLib tuples map to the same architecture string")
    df = df.sort_values("arch", kind="stable").reset_index(drop=True)
    df.attrs["sources"] = {
        "builder": "ktnas.benchmarks.trans101.build_from_naslib_json",
        "files": {
            p.name: {
                "from": NASLIB_SOURCE,
                "licence": "Apache-2.0",
                "sha256": NASLIB_JSON_SHA256 if check_sha256 else _sha256(p),
            }
        },
        "arch_mapping": "identity on digits: '64-41414-{}_{}{}_{}{}{}'.format(*naslib_tuple)",
        "room_layout_valid": "-100 x NASLib val_accuracy (valid_neg_loss, best epoch) = L2 loss x100",
    }
    return df


def _to_report_unit(task: str, values: np.ndarray) -> np.ndarray:
    """Stored metric → table unit: room layout's negative L2 loss becomes a positive L2 loss × 100."""
    return values * ROOM_LAYOUT_SCALE if task == "room_layout" else values


# -- the official benchmark file --------------------------------------------------------------------
def convert_official(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The official ``transnas-bench_v10141024.pth`` → the bundled schema, all 4,096 micro cells.

    Each ``<task>_valid`` is the best epoch of the metric NASLib queries (``get_single_metric(...,
    mode="best")``), so the values agree with the bundled NASLib subset; ``<task>_test`` is the matching
    test metric at its own best epoch, kept for reference. Unpickling runs code from the file: only
    convert the official file you downloaded yourself.
    """
    import torch  # lazy: only this converter needs it

    p = Path(path)
    if not p.exists():
        raise KtnasError(f"{p}: file not found; download transnas-bench_v10141024.pth from the TransNAS site")
    try:
        # the official file is a pickled dict of python lists, which weights_only=True refuses
        db = torch.load(p, map_location="cpu", weights_only=False)
    except Exception as err:  # noqa: BLE001 - any unpickling failure means "not the official file"
        raise KtnasError(
            f"{p}: not a readable TransNAS-Bench-101 file ({type(err).__name__}: {err})"
        ) from None
    return _official_to_frame(db, str(p))


def _official_to_frame(db: Mapping[str, Any], source: str) -> pd.DataFrame:
    try:
        micro = db["data"]["micro"]
        metrics_dict = db["metrics_dict"]
    except (KeyError, TypeError):
        raise KtnasError(
            f"{source}: no data['micro'] / metrics_dict, not the official TransNAS-Bench-101 file"
        ) from None
    for task in TASK_NAMES:
        if OFFICIAL_VALID_METRIC[task] not in metrics_dict.get(task, ()):
            raise KtnasError(f"{source}: task {task} has no metric {OFFICIAL_VALID_METRIC[task]!r}")
    if len(micro) != 4096:
        log.warning("%s: %d micro cells, the official file has 4096", source, len(micro))
    rows: dict[str, list[Any]] = {"arch": [_SPACE.canonical(arch) for arch in micro]}
    for task in TASK_NAMES:
        metric = OFFICIAL_VALID_METRIC[task]
        valid, test = [], []
        for arch, result in micro.items():
            try:
                series = result[task]["metrics"]
                valid.append(float(max(series[metric])))  # mode="best", as NASLib queried it
            except (KeyError, TypeError, ValueError):
                raise KtnasError(f"{source}: cell {arch} has no {task} {metric} series") from None
            test_series = series.get(metric.replace("valid_", "test_"))
            test.append(float(max(test_series)) if test_series else np.nan)
        rows[valid_column(task)] = list(_to_report_unit(task, np.array(valid)))
        rows[f"{task}_test"] = list(_to_report_unit(task, np.array(test)))
    df = pd.DataFrame(rows)
    df = df.sort_values("arch", kind="stable").reset_index(drop=True)
    df.attrs["sources"] = {"builder": "ktnas.benchmarks.trans101.convert_official", "file": Path(source).name}
    return df


# -- bundled table and the restricted search ---------------------------------------------------------
def write_bundled(
    df: pd.DataFrame, path: str | os.PathLike[str] | None = None, sources: Mapping[str, Any] | None = None
) -> Path:
    """Write a Trans101 table as Parquet with its sources in the metadata (default: the bundled file)."""
    if "arch" not in df.columns or any(valid_column(t) not in df.columns for t in TASK_NAMES):
        raise ValueError(
            f"not a trans101 table: needs 'arch' and {[valid_column(t) for t in TASK_NAMES]}, got "
            f"{list(df.columns)[:10]}...; build it with build_from_naslib_json or convert_official"
        )
    target = Path(path) if path is not None else bundled_path(BUNDLED_FILE)
    meta = {"space": SPACE, "sources": dict(sources if sources is not None else df.attrs.get("sources", {}))}
    write_parquet(target, df.reset_index(drop=True), metadata=meta)
    return target


def load(path: str | os.PathLike[str] | None = None) -> Benchmark:
    """The Trans101 benchmark (bundled 711-cell table unless ``path``), loaded once per process."""
    return load_benchmark(SPACE, None if path is None else Path(path))


def optima(table: pd.DataFrame, tasks: Sequence[str] = TASK_NAMES) -> dict[str, tuple[str, float]]:
    """task -> (arch, value in the report unit) of the best cell by fitness (first on ties)."""
    specs = {t.name: t for t in TASKS}
    out = {}
    for task in tasks:
        spec = specs[task]
        pos = int(np.nanargmax(spec.fitness(table[spec.fitness_column])))
        out[task] = (str(table["arch"].iloc[pos]), float(table[spec.report_column].iloc[pos]))
    return out


@cache
def _searchable() -> tuple[str, ...]:
    return tuple(sorted(load_benchmark(SPACE).archs()))


def searchable_archs() -> list[str]:
    """Sorted archs of the bundled table: by default the search only samples these (docs/reproduction.md §3.2)."""
    return list(_searchable())


def searchable_space() -> RestrictedSpace:
    """Trans101 restricted to :func:`searchable_archs` (sample/mutate/crossover stay inside)."""
    return RestrictedSpace(Trans101Space(), _searchable())
