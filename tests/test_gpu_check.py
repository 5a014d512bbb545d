"""scripts/gpu_check.py: its CPU smoke mode runs the DARTS path end to end, and its cost model counts images."""

from __future__ import annotations

import csv
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from ktnas.config import load_config

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gpu_check.py"


def _module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def test_images_per_table_follow_the_formula() -> None:
    gc = _module()
    work, runs = gc.table_work(load_config(ROOT / "config" / "config.yaml"), "cifar")
    assert runs == 6 * 5
    # two tasks, T=200, K=20, V=2000: 40k trained and 20·2000 + 199·2·20·2000 + 200·10k evaluated per task
    assert work.search_train == 2 * 200 * 40_000
    assert work.search_eval == 2 * (20 * 2000 + 199 * 2 * 20 * 2000 + 200 * 10_000)
    assert (work.retrain_train, work.retrain_test) == (2 * 600 * 50_000, 2 * 600 * 10_000)


def test_smoke_mode_runs_the_darts_path_on_the_cpu(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--device", "cpu", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600, env=env, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    out = run.stdout
    assert "end to end: search of 2 generations" in out
    assert "Table IV (cifar)        30           480         1078      1800     360         -" in out
    assert "GPU-days: not projected from a CPU smoke run" in out
    search = list(csv.DictReader((tmp_path / "search.metrics.csv").open()))
    assert [(r["generation"], r["task"]) for r in search] == [
        (g, t) for g in ("0", "1") for t in ("cifar10", "cifar100")
    ]
    assert [r["epoch"] for r in csv.DictReader((tmp_path / "retrain.metrics.csv").open())] == ["0"]
