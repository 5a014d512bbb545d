"""NAS-Bench-201 benchmark stage: bundled table, CSV build, official-file conversion (docs/reproduction.md §3.1)."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ktnas._io import KtnasError, parquet_metadata
from ktnas.benchmarks import BUNDLED, Direction, bundled_path, get_task, load_benchmark, nb201
from ktnas.spaces.nb201 import NB201Space

#: the public CSV exports the bundled table is built from (DATA.md); provenance tests need them
DATA_DIR = Path(os.environ.get("KTNAS_SOURCE_DATA", "source-data-not-given"))
needs_data = pytest.mark.skipif(
    not all((DATA_DIR / name).is_file() for name in nb201.CSV_SOURCES),
    reason=f"NB201 source CSVs not in {DATA_DIR}",
)

#: the paper's optima (x-valid, 200 epochs): task -> (official index, value at 2 decimals)
KNOWN_OPTIMA = {"cifar10": (6111, 91.61), "cifar100": (9930, 73.49), "imagenet16": (10676, 46.73)}


@pytest.fixture(scope="module")
def bundled() -> pd.DataFrame:
    return load_benchmark("nb201").table.reset_index(drop=True)


@pytest.fixture(scope="module")
def built() -> pd.DataFrame:
    if not all((DATA_DIR / name).is_file() for name in nb201.CSV_SOURCES):
        pytest.skip(f"NB201 source CSVs not in {DATA_DIR}")
    return nb201.build_from_csv(DATA_DIR)


# -- registration and the bundled table -------------------------------------------------------------------
def test_tasks_and_bundled_file_registered() -> None:
    for task in nb201.TASK_NAMES:
        spec = get_task(task)
        assert (spec.space, spec.direction) == ("nb201", Direction.MAXIMIZE)
        assert (spec.fitness_column, spec.report_column) == (f"{task}_valid_acc", f"{task}_test_acc")
    assert BUNDLED["nb201"][0] == "nb201.parquet"
    assert "ktnas benchmark --space nb201" in BUNDLED["nb201"][1]


def test_bundled_schema_and_index_order(bundled: pd.DataFrame) -> None:
    assert list(bundled.columns) == list(nb201.SCHEMA)
    assert {c: str(t) for c, t in bundled.dtypes.items()} == nb201.SCHEMA
    assert np.array_equal(bundled["index"].to_numpy(), np.arange(15625))
    assert bundled["arch"].tolist() == NB201Space().all_archs()
    assert not bundled.isna().any().any()
    bench = load_benchmark("nb201")
    assert bench.table.index[6111] == bench.table["arch"].iloc[6111]  # indexed by cell string
    assert [t.name for t in bench.tasks()] == list(nb201.TASK_NAMES)


def test_bundled_optima(bundled: pd.DataFrame) -> None:
    best = nb201.optima(bundled)
    for task, (index, value) in KNOWN_OPTIMA.items():
        column = bundled[f"{task}_valid_acc"]
        assert best[task][0] == index and round(best[task][2], 2) == value
        assert (column == column.max()).sum() == 1  # a unique optimum
        assert best[task][1] == NB201Space().from_index(index)


def test_bundled_metadata_records_sources() -> None:
    meta = parquet_metadata(bundled_path("nb201.parquet"))
    assert meta["space"] == "nb201"
    assert '"sha256": "6214c9a5cd40601314f96c1fdd73069b3e55f2676fcf1f8e214084f99e8b2ac3"' in meta["sources"]
    assert "BayesWatch/nas-without-training @ a1aa24c" in meta["sources"]


def test_loaded_table_memory() -> None:
    table = load_benchmark("nb201").table
    assert table.memory_usage(deep=True).sum() < 200e6
    assert nb201.load().table is table  # loaded once per process


# -- building from the CSVs --------------------------------------------------------------------------------
@needs_data
def test_build_reproduces_optima_and_bundled_file(built: pd.DataFrame, bundled: pd.DataFrame) -> None:
    for task, (index, value) in KNOWN_OPTIMA.items():
        column = built[f"{task}_valid_acc"]
        assert int(column.to_numpy().argmax()) == index and round(float(column.max()), 2) == value
    pd.testing.assert_frame_equal(built, bundled, check_exact=True)  # the bundled file is up to date


@needs_data
def test_build_is_deterministic(built: pd.DataFrame, tmp_path: Path) -> None:
    again = nb201.build_from_csv(DATA_DIR)
    pd.testing.assert_frame_equal(built, again, check_exact=True)
    nb201.write_bundled(built, tmp_path / "a.parquet")
    nb201.write_bundled(again, tmp_path / "b.parquet")
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()


@needs_data
def test_build_values_follow_sources(built: pd.DataFrame) -> None:
    exact = pd.read_csv(DATA_DIR / "nb201_cifar10_naswot.csv")
    np.testing.assert_allclose(built["cifar10_valid_acc"], exact["cifar10valid_xvalid_200ep"], rtol=1e-7)
    np.testing.assert_allclose(built["cifar10_test_acc"], exact["cifar10_test_200ep"], rtol=1e-7)
    # the float64 column keeps the source exactly; its top two cells differ only by float noise
    mini = pd.read_csv(DATA_DIR / "nb201_12epoch_minibench.csv")
    assert np.array_equal(built["cifar100_valid_acc_12ep"], mini["cifar100_xvalid_12ep"])
    assert not nb201._float32_safe(mini["cifar100_xvalid_12ep"].to_numpy())


def test_float32_check_detects_moved_optimum() -> None:
    assert nb201._float32_safe(np.array([50.0, 61.32, 61.2]))
    assert not nb201._float32_safe(np.array([50.0, 61.32, 61.31999992675781]))  # float32 ties the top
    assert not nb201._float32_safe(np.array([0.0, 1.004999999, 1.0049999999999]))  # max rounds 1.00→1.01


@needs_data
def test_sha_mismatch_and_missing_file(tmp_path: Path) -> None:
    for name in nb201.CSV_SOURCES:
        (tmp_path / name).symlink_to(DATA_DIR / name)
    target = tmp_path / "nb201_12epoch_minibench.csv"
    target.unlink()
    shutil.copyfile(DATA_DIR / target.name, target)
    with target.open("ab") as fh:
        fh.write(b"\n")
    with pytest.raises(
        KtnasError, match=r"nb201_12epoch_minibench\.csv: sha256 mismatch .*expected 967ae446"
    ):
        nb201.build_from_csv(tmp_path)
    target.unlink()
    with pytest.raises(
        KtnasError, match=r"nb201_12epoch_minibench\.csv: NAS-Bench-201 source file not found"
    ):
        nb201.build_from_csv(tmp_path)


def test_write_bundled_rejects_other_tables(tmp_path: Path, bundled: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="not an NB201 table"):
        nb201.write_bundled(bundled.drop(columns="cifar10_test_acc"), tmp_path / "x.parquet")
    with pytest.raises(ValueError, match="wrong dtypes: .*cifar10_valid_acc"):
        nb201.write_bundled(bundled.astype({"cifar10_valid_acc": "float64"}), tmp_path / "x.parquet")


# -- converting the official file: a tiny file in the official format, written by this test --------------
SEEDS = (777, 888)
FIXTURE_ARCHS = (0, 6111, 9930, 10676, 15624)
LESS_CIFAR10_ONLY = 15624  # like the v1_0 file: 12-epoch results only for cifar10-valid
SPREAD = 0.25  # the two seeds sit at value -/+ SPREAD, so their mean is the bundled value exactly


def _result(
    dataset: str, seed: int, epochs: int, evals: dict[str, float], params: float, time_s: float
) -> Any:
    """One trial, built with the API's own class; earlier epochs carry decoys (0) so only the last counts."""
    from nas_201_api import ResultsCount

    arch_config = {"channel": 16, "num_cells": 5, "arch_str": "", "class_num": 10}
    r = ResultsCount(dataset, None, {}, {}, params, 1.0, arch_config, seed, epochs, [0.01])
    last = epochs - 1
    r.update_train_info(
        {e: 2.0 for e in range(epochs)},
        None,
        {e: 3.0 for e in range(epochs)},
        {e: time_s / epochs for e in range(epochs)},
    )
    accs = {f"{s}@{e}": (v if e == last else 0.0) for s, v in evals.items() for e in range(epochs)}
    r.update_eval(accs, dict.fromkeys(accs, 1.0), dict.fromkeys(accs, 0.5))
    return r


def _evals(row: dict[str, Any], hp: str, d: float) -> dict[str, dict[str, float]]:
    """dataset -> {eval set: final accuracy}; sets the table never reads carry decoys (11, 12, 13)."""
    valid = "_valid_acc_12ep" if hp == "less" else "_valid_acc"
    return {
        "cifar10-valid": {"x-valid": float(row["cifar10" + valid]) + d, "ori-test": 11.0},
        "cifar10": {"ori-test": float(row["cifar10_test_acc"]) + d},
        "cifar100": {
            "x-valid": float(row["cifar100" + valid]) + d,
            "x-test": float(row["cifar100_test_acc"]) + d,
            "ori-test": 12.0,
        },
        "ImageNet16-120": {
            "x-valid": float(row["imagenet16" + valid]) + d,
            "x-test": float(row["imagenet16_test_acc"]) + d,
            "ori-test": 13.0,
        },
    }


TASK_OF = {
    "cifar10-valid": "cifar10",
    "cifar10": "cifar10",
    "cifar100": "cifar100",
    "ImageNet16-120": "imagenet16",
}


def _official_dict(table: pd.DataFrame, archs: tuple[int, ...] = FIXTURE_ARCHS) -> dict[str, Any]:
    """The official file's layout (meta_archs / arch2infos{index: {less, full}} / evaluated_indexes)."""
    from nas_201_api import ArchResults

    arch2infos = {}
    for i in archs:
        row = table.iloc[i].to_dict()
        per_hp = {}
        for hp, epochs in (("less", 12), ("full", 200)):
            res = ArchResults(i, row["arch"])
            for sign, seed in zip((-1, 1), SEEDS, strict=True):
                for dataset, evals in _evals(row, hp, sign * SPREAD).items():
                    if hp == "less" and (
                        dataset == "cifar10" or (i == LESS_CIFAR10_ONLY and dataset != "cifar10-valid")
                    ):
                        continue
                    task = TASK_OF[dataset]
                    params = float(row[f"{task}_params_mb"]) + (0.5 if seed != SEEDS[0] else 0.0)
                    time_s = float(row[f"{task}_train_time_s"]) * (1 if hp == "full" else 0.06)
                    res.update(dataset, seed, _result(dataset, seed, epochs, evals, params, time_s))
            per_hp[hp] = res.state_dict()
        arch2infos[i] = per_hp
    return {"meta_archs": NB201Space().all_archs(), "arch2infos": arch2infos, "evaluated_indexes": set(archs)}


def test_convert_official_fixture(tmp_path: Path, bundled: pd.DataFrame) -> None:
    import torch

    path = tmp_path / "NAS-Bench-201-v1_1-096897.pth"
    torch.save(_official_dict(bundled), path)
    table = nb201.convert_official(path, require_complete=False)

    assert list(table.columns) == list(nb201.SCHEMA)
    assert {c: str(t) for c, t in table.dtypes.items()} == nb201.SCHEMA
    expected = bundled.iloc[list(FIXTURE_ARCHS)].reset_index(drop=True)
    assert table["index"].tolist() == list(FIXTURE_ARCHS)
    assert table["arch"].tolist() == expected["arch"].tolist()
    for column in nb201.SCHEMA:
        if column in ("index", "arch"):
            continue
        got, want = table[column].to_numpy(), expected[column].to_numpy().copy()
        if column in ("cifar100_valid_acc_12ep", "imagenet16_valid_acc_12ep"):
            want[FIXTURE_ARCHS.index(LESS_CIFAR10_ONLY)] = np.nan  # absent from the file: NaN, not an error
        np.testing.assert_allclose(got, want, rtol=1e-6, err_msg=column)  # params: the lowest seed's
    assert nb201.optima(table)["cifar10"][0] == 6111
    assert table.attrs["sources"]["files"][path.name]["sha256"] == nb201.sha256_file(path)
    nb201.write_bundled(table, tmp_path / "official.parquet")
    reloaded = load_benchmark("nb201", tmp_path / "official.parquet").table
    assert (
        reloaded.loc[NB201Space().from_index(9930), "cifar100_valid_acc"]
        == table["cifar100_valid_acc"].iloc[2]
    )


def test_convert_official_checks(tmp_path: Path, bundled: pd.DataFrame) -> None:
    from nas_201_api import NASBench201API

    data = _official_dict(bundled, archs=(6111,))
    with pytest.raises(ValueError, match="results for 1 of 15625 architectures"):
        nb201.table_from_api(NASBench201API(data, verbose=False))
    data["meta_archs"][0], data["meta_archs"][1] = data["meta_archs"][1], data["meta_archs"][0]
    with pytest.raises(KtnasError, match="index 0 is .*not the NB201 official order"):
        nb201.table_from_api(NASBench201API(data, verbose=False), require_complete=False)
    other = tmp_path / "bench.json"
    other.write_text("{}")
    with pytest.raises(ValueError, match="not an official NAS-Bench-201 file"):
        nb201.convert_official(other)
    with pytest.raises(KtnasError, match="not found"):
        nb201.convert_official(tmp_path / "missing.pth")


def test_convert_nats_without_package_says_how(tmp_path: Path) -> None:
    if importlib.util.find_spec("nats_bench") is not None:
        pytest.skip("nats_bench is installed")
    folder = tmp_path / "NATS-tss-v1_0-3ffb9-simple"
    folder.mkdir()
    with pytest.raises(ValueError, match="pip install nats_bench"):
        nb201.convert_official(folder)
