"""DARTS cell space: weight-sharing multi-task search (docs/reproduction.md §3.3.3-§3.3.7), retraining
(§3.3.9), tables and the `darts` Snakemake target, on CPU: the generated ``synthetic`` tasks, and the
real-image ``digits`` group that config/test.yaml's smoke run uses."""

from __future__ import annotations

import copy
import csv
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from ktnas.cli import main
from ktnas.config import load_config, validate_config
from ktnas.embedding import build_embedding
from ktnas.params import Runtime
from ktnas.plan import group_retrain_params, group_search_params
from ktnas.recipes import SearchPaths, get_recipe
from ktnas.recipes.base import task_seed
from ktnas.recipes.darts import (
    GROUPS,
    get_group,
    retrain_config,
    retrain_params,
)
from ktnas.runner import run_fingerprint, run_search
from ktnas.spaces.darts import DartsSpace
from ktnas.training.data import load_splits
from ktnas.training.search_task import SearchConfig
from ktnas.training.stages import run_darts_retrain

ROOT = Path(__file__).resolve().parents[1]
KTNAS = [sys.executable, "-m", "ktnas"]
SPACE = DartsSpace()

TINY = {
    "population_size": 4, "n_transferred": 1, "generations": 3, "channels": 4, "batch_size": 32,
    "val_batch_size": 64, "fitness_images": 32, "drop_path_start": 1,
}  # fmt: skip
RETRAIN_TINY = {
    "epochs": 1,
    "channels": 4,
    "layers": 5,
    "batch_size": 32,
    "eval_batch_size": 128,
    "cutout": 4,
}
#: run-time settings of the tiny runs (docs/reproduction.md §6): the CPU, two mini-batches per epoch, 64 images
RUNTIME = Runtime(device="cpu", max_train_batches=2, max_eval_images=64)
RUNTIME_FLAGS = ["--device", "cpu", "--max-train-batches", "2", "--max-eval-images", "64"]
SYNTHETIC = "synthetic,synthetic_b"
TIMING = ("search_seconds", "gpu_days", "images_per_s", "seconds", "device_name", "elapsed_s", "eta_s")


def _counted(acc: float, n: int) -> bool:
    """Whether ``acc`` (%) is k/n correct of ``n`` images for some whole k (the tests that recompute
    accuracies from the weights are in tests/test_darts_training.py)."""
    k = acc * n / 100.0
    return 0 <= round(k) <= n and abs(k - round(k)) < 1e-6


def _without_timing(obj):
    """The result minus wall-clock measurements (everything else must be reproduced exactly)."""
    if isinstance(obj, dict):
        return {k: _without_timing(v) for k, v in obj.items() if k not in TIMING}
    if isinstance(obj, list):
        return [_without_timing(v) for v in obj]
    return obj


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def embedding(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("emb") / "darts.parquet"
    build_embedding("darts", "onehot", seed=0, progress=False).save(path)
    return path


@pytest.fixture(scope="module")
def searched(tmp_path_factory, embedding) -> tuple[Path, dict]:
    """`ktnas search --space darts` of KTNAS over the two synthetic tasks, with a checkpoint."""
    d = tmp_path_factory.mktemp("search")
    out, ckpt = d / "seed0.json", d / "ckpt" / "seed0.json"
    args = ["search", "--space", "darts", "--tasks", SYNTHETIC, "--method", "ktnas", "--seed", "0", "--params", json.dumps(TINY),
            "--embedding", str(embedding), "--checkpoint", str(ckpt), "--out", str(out), *RUNTIME_FLAGS]  # fmt: skip
    assert main(args) == 0
    assert not ckpt.exists() and not ckpt.with_suffix(".d").exists()  # removed once the result is written
    return out, json.loads(out.read_text())


# -- registries, parameters and config (no training) ----------------------------------------------------
def search_params(group, params=None):
    return get_recipe("darts").params(get_group(group).tasks, params)


def test_groups_and_their_defaults():
    assert GROUPS["cifar"].tasks == ("cifar10", "cifar100")
    assert GROUPS["mnist"].tasks == ("mnist", "fashion_mnist")
    assert GROUPS["medmnist"].tasks == ("pathmnist", "organamnist", "organcmnist", "organsmnist")
    assert GROUPS["digits"].tasks == ("digits", "digits_parity")
    assert GROUPS["synthetic"].tasks == ("synthetic", "synthetic_b")
    assert search_params("cifar").population_size == 20 and search_params("cifar").channels == 20
    med = search_params("medmnist")
    assert (med.population_size, med.channels, med.drop_path_start) == (40, 48, 25)
    assert search_params("medmnist", {"population_size": 30}).population_size == 30
    hp = search_params("cifar")
    assert SearchConfig(**hp.supernet(), generations=hp.generations, seed=7).channels == 20
    assert task_seed(0, 0) != task_seed(0, 1) != task_seed(1, 1)
    assert retrain_config("cifar10").channels == 48 and retrain_config("cifar100").channels == 42
    assert retrain_config("organsmnist", {"epochs": 3}, seed=4).channels == 20
    assert retrain_config("organsmnist", {"epochs": 3}, seed=4).seed == 4
    with pytest.raises(ValueError, match=r"unknown search hyper-parameter\(s\) \['K'\]"):
        search_params("cifar", {"K": 3})
    with pytest.raises(ValueError, match="unknown DARTS task group 'imagenet'.*digits, synthetic"):
        search_params("imagenet")
    with pytest.raises(ValueError, match="M=30 exceeds population_size K=20"):
        search_params("cifar", {"n_transferred": 30})


def test_bad_method_and_missing_embedding_fail_before_training():
    with pytest.raises(ValueError, match="'rea' is a single-task benchmark search; space darts"):
        run_search("darts", "rea", 0, GROUPS["synthetic"].tasks, TINY)
    with pytest.raises(ValueError, match="ktnas embed --space darts"):
        run_search("darts", "ktnas", 0, GROUPS["synthetic"].tasks, TINY, SearchPaths())
    with pytest.raises(ValueError, match=r"unknown or repeated DARTS task\(s\) \['mine'\]"):
        run_search("darts", "single", 0, ["synthetic", "mine"], TINY)  # an own task needs a declaration


def test_config_darts_section_validates_and_merges():
    full = load_config(ROOT / "config" / "config.yaml")
    assert set(full["darts"]["groups"]) == {"cifar", "mnist", "medmnist"}
    assert full["darts"]["seeds"] == 5 and full["darts"]["methods"] == [
        "single",
        "emtnas",
        "mtnas",
        "ktnas_random",
        "ktnas",
        "ktnas_centred",
    ]
    med = group_search_params(full, "darts", "medmnist")
    assert (med["population_size"], med["channels"], med["generations"]) == (40, 48, 200)
    assert group_retrain_params(full, "darts", "cifar", "cifar100")["channels"] == 42
    assert group_retrain_params(full, "darts", "cifar", "cifar100")["epochs"] == 600
    test = load_config(ROOT / "config" / "test.yaml")
    assert set(test["darts"]["groups"]) == {"digits"}  # the smoke run trains on real images

    raw = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    bad = copy.deepcopy(raw)
    bad["darts"]["search"]["n_transferred"] = 5
    with pytest.raises(
        ValueError, match=r"darts.groups.digits: n_transferred: M=5 exceeds population_size K=4"
    ):
        validate_config(bad)
    bad = copy.deepcopy(raw)
    bad["darts"]["groups"]["digits"] = {"retrain_tasks": {"cifar10": {"channels": 8}}}
    with pytest.raises(ValueError, match="'cifar10' is not a task of group digits"):
        validate_config(bad)
    bad = copy.deepcopy(raw)
    bad["darts"]["search"]["chanels"] = 8
    with pytest.raises(ValueError, match="darts.search"):
        validate_config(bad)


def test_second_synthetic_task_is_another_dataset(tmp_path):
    assert main(["darts-data", "--task", "synthetic_b", "--out", str(tmp_path / "b.json")]) == 0
    info = json.loads((tmp_path / "b.json").read_text())
    assert info["num_classes"] == 5 and info["sizes"] == {
        "search_train": 512,
        "search_val": 128,
        "train": 640,
        "test": 256,
    }
    a, b = load_splits("synthetic"), load_splits("synthetic_b")
    assert b.spec.num_classes == 5 and int(b.train.labels.max()) == 4
    assert a.train.images.shape == b.train.images.shape
    assert not torch.equal(a.train.images, b.train.images)
    assert torch.equal(load_splits("synthetic_b").train.images, b.train.images)


# -- search (docs/reproduction.md §2.5 with §3.3.5-§3.3.7) --------------------------------------------------------------------


def test_two_task_ktnas_search_finds_valid_genotypes(searched):
    _, res = searched
    assert (res["space"], res["group"], res["method"], res["seed"]) == ("darts", "synthetic", "ktnas", 0)
    assert [t["task"] for t in res["tasks"]] == ["synthetic", "synthetic_b"]
    assert res["gpu_days"] == pytest.approx(res["search_seconds"] / 86400) and res["gpu_days"] > 0
    assert res["device"] == "cpu" and res["device_name"].startswith("cpu") and res["images_per_s"] > 0
    # docs/reproduction.md §6: the run-time settings are recorded beside the hyper-parameters, not among them
    assert res["runtime"] == RUNTIME.record() and not set(res["params"]) & {"device", "max_train_batches"}
    for t in res["tasks"]:
        assert SPACE.canonical(t["best_arch"]) == t["best_arch"]
        assert len(t["trace"]) == len(t["history"]) == TINY["generations"]
        # §3.3.7: the reported architecture is the population best with the highest full-validation accuracy
        full = [h["full_val_acc"] for h in t["history"]]
        assert t["best_val_acc"] == max(full) and all(_counted(v, 64) for v in full)  # 64 images (RUNTIME)
        assert t["best_generation"] == full.index(max(full))
        assert t["best_arch"] == t["trace"][t["best_generation"]]["best_arch"]
        assert _counted(t["supernet_test_acc"], 256)  # the whole test split: 256 generated images
        # M = 1 architecture of the other task is transferred every generation
        assert all(len(g["transferred"]) == 1 for g in t["trace"])
        assert [h["generation"] for h in t["history"]] == [0, 1, 2]
    assert all(t["trace"][-1]["hts_size"] >= 1 for t in res["tasks"])  # transfers were labelled


def test_a_result_is_kept_only_under_the_same_run_time_settings(searched, tmp_path):
    """A batched job keeps a finished seed only if the caps and device match: a smoke result capped at two
    mini-batches per epoch is never taken for a full run (docs/reproduction.md §6)."""
    from ktnas.search.checkpoint import Checkpointer

    out, res = searched
    tasks = [t["task"] for t in res["tasks"]]

    def marker(runtime: Runtime) -> Checkpointer:
        fp = run_fingerprint("darts", "ktnas", 0, tasks, TINY, SearchPaths(runtime=runtime))
        return Checkpointer(tmp_path / "seed0.json", fp)

    marker(RUNTIME).finish(out)
    assert marker(RUNTIME).finished(out)
    assert not marker(Runtime(device="cpu")).finished(out)
    assert not marker(Runtime()).finished(out)


def test_run_time_settings_are_not_experiment_settings():
    raw = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    assert validate_config(raw)["max_train_batches"] is None  # the experiment config sets none
    capped = validate_config({**raw, "max_train_batches": 3, "device": "cpu"})
    assert (capped["max_train_batches"], capped["device"]) == (3, "cpu")
    for section, key, fix in (
        ("search", "max_batches_per_epoch", "max_train_batches"),
        ("retrain", "max_test_images", "max_eval_images"),
        ("search", "device", "device"),
    ):
        bad = copy.deepcopy(raw)
        bad["darts"][section][key] = 3
        with pytest.raises(
            ValueError, match=rf"darts.{section}: {key} is a run-time setting.*--config {fix}="
        ):
            validate_config(bad)
    bad = copy.deepcopy(raw)
    bad["proxies"] = {"limit": 2}
    with pytest.raises(
        ValueError, match=r"proxies: limit is a run-time setting.*ktnas proxies compute --limit"
    ):
        validate_config(bad)
    with pytest.raises(ValueError, match=r"config key max_eval_images: 0 is out of range"):
        validate_config({**raw, "max_eval_images": 0})
    with pytest.raises(ValueError, match="max_eval_images must be a positive integer"):
        Runtime(max_eval_images=0)


@pytest.mark.slow
def test_sigkill_mid_search_then_resume_matches_uninterrupted(tmp_path, embedding):
    params = dict(TINY, generations=5)
    cmd = [*KTNAS, "search", "--space", "darts", "--tasks", SYNTHETIC, "--method", "ktnas", "--seed", "3",
           "--params", json.dumps(params), "--embedding", str(embedding), *RUNTIME_FLAGS]  # fmt: skip
    env = dict(os.environ, OMP_NUM_THREADS="1")
    ref = tmp_path / "ref.json"
    subprocess.run([*cmd, "--out", str(ref)], check=True, capture_output=True, timeout=300, env=env)

    ckpt, out = tmp_path / "ckpt.json", tmp_path / "out.json"
    proc = subprocess.Popen(
        [*cmd, "--checkpoint", str(ckpt), "--out", str(out)], stderr=subprocess.DEVNULL, env=env
    )
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if ckpt.exists() and json.loads(ckpt.read_text() or "{}").get("state", {}).get("generation", 0) >= 1:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert ckpt.exists() and not out.exists()
    killed_at = json.loads(ckpt.read_text())["state"]["generation"]
    assert 1 <= killed_at < params["generations"] - 1
    # supernet files: the checkpointed generation's is always there, at most one older one is kept
    files = {f.name for f in ckpt.with_suffix(".d").glob("*.pt")}
    for task in ("synthetic", "synthetic_b"):
        assert f"{task}_gen{killed_at}.pt" in files
        assert {f for f in files if f.startswith(f"{task}_gen")} <= {
            f"{task}_gen{g}.pt" for g in (killed_at - 1, killed_at, killed_at + 1)
        }

    again = subprocess.run(
        [*cmd, "--checkpoint", str(ckpt), "--out", str(out)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert f"(generation {killed_at})" in again.stderr and "resuming from" in again.stderr  # not a restart
    resumed, reference = json.loads(out.read_text()), json.loads(ref.read_text())
    assert _without_timing(resumed) == _without_timing(reference)
    assert not ckpt.exists()
    # the metrics CSV of the resumed search holds every generation, also those before the kill
    rows = list(csv.DictReader(out.with_suffix(".metrics.csv").open()))
    assert [(int(r["generation"]), r["task"]) for r in rows] == [
        (g, t) for g in range(params["generations"]) for t in ("synthetic", "synthetic_b")
    ]
    for task in resumed["tasks"]:
        mine = [r for r in rows if r["task"] == task["task"]]
        assert [float(r["best_fitness"]) for r in mine] == [e["best_fitness"] for e in task["trace"]]
        assert [float(r["elapsed_s"]) for r in mine] == [e["elapsed_s"] for e in task["trace"]]
    assert float(rows[-1]["eta_s"]) == 0.0
    elapsed = [float(r["elapsed_s"]) for r in rows[::2]]
    assert elapsed == sorted(elapsed) and elapsed[0] > 0


# -- retraining (§3.3.9) and tables ---------------------------------------------------------------------------


def test_a_darts_search_logs_a_clock_and_writes_its_metrics_beside_the_result(searched):
    out, res = searched
    rows = list(csv.DictReader(out.with_suffix(".metrics.csv").open()))
    assert list(rows[0])[:3] == ["generation", "task", "best_fitness"]
    assert len(rows) == TINY["generations"] * len(res["tasks"])
    for task in res["tasks"]:
        mine = [r for r in rows if r["task"] == task["task"]]
        assert [float(r["best_fitness"]) for r in mine] == [e["best_fitness"] for e in task["trace"]]
        full = [h["full_val_acc"] for h in task["history"]]
        assert [float(r["best_val_acc"]) for r in mine] == [max(full[: i + 1]) for i in range(len(full))]
        assert float(mine[-1]["best_val_acc"]) == task["best_val_acc"]
        assert [float(r["eta_s"]) for r in mine][-1] == 0.0


def test_retrain_cli_on_found_genotype_and_darts_table(searched, tmp_path):
    search_file, res = searched
    outs = []
    for task in ("synthetic", "synthetic_b"):
        out, ckpt = tmp_path / f"{task}.json", tmp_path / f"{task}.pt"
        args = ["darts-retrain", "--search", str(search_file), "--task", task, "--params", json.dumps(RETRAIN_TINY),
                "--checkpoint", str(ckpt), "--out", str(out), *RUNTIME_FLAGS]  # fmt: skip
        assert main(args) == 0
        assert not ckpt.exists()
        r = json.loads(out.read_text())
        metrics = list(csv.DictReader(out.with_suffix(".metrics.csv").open()))
        assert [float(m["test_acc"]) for m in metrics] == [h["test_acc"] for h in r["history"]]
        found = next(t for t in res["tasks"] if t["task"] == task)
        assert r["arch"] == found["best_arch"] and r["protocol"] == "retrain" and r["finished"]
        assert r["retrain_params"]["seed"] == res["seed"] and r["retrain_params"]["layers"] == 5
        assert r["test_acc"] == r["history"][-1]["test_acc"] and _counted(r["test_acc"], 64)
        assert r["params_m"] > 0 and r["epochs_done"] == 1
        assert (
            r["search_gpu_days"] == res["gpu_days"] and r["supernet_test_acc"] == found["supernet_test_acc"]
        )
        outs.append(out)

    csv_path, md = tmp_path / "darts.csv", tmp_path / "darts.md"
    args = [
        "table",
        "--space",
        "darts",
        "--inputs",
        *map(str, outs),
        "--out-csv",
        str(csv_path),
        "--out-md",
        str(md),
    ]
    assert main(args) == 0
    rows = list(csv.DictReader(csv_path.open()))
    assert list(rows[0])[:7] == [
        "method",
        "task",
        "test_acc_mean",
        "test_acc_std",
        "params_m",
        "gpu_days",
        "n_seeds",
    ]
    assert [(r["method"], r["task"], r["n_seeds"]) for r in rows] == [
        ("ktnas", "synthetic", "1"),
        ("ktnas", "synthetic_b", "1"),
    ]
    retrained = {
        t: json.loads(o.read_text()) for t, o in zip(("synthetic", "synthetic_b"), outs, strict=True)
    }
    for row in rows:
        assert float(row["test_acc_mean"]) == pytest.approx(retrained[row["task"]]["test_acc"], abs=1e-4)
        assert float(row["gpu_days"]) == pytest.approx(res["gpu_days"], abs=1e-4)
        assert row["test_acc_std"] == ""  # one seed: no standard deviation
    assert "| ktnas |" in md.read_text()

    with pytest.raises(ValueError, match="not in the search result"):
        run_darts_retrain(res, "cifar10", retrain_params("cifar10", RETRAIN_TINY), RUNTIME)


@pytest.mark.slow
def test_digits_group_search_and_retrain_on_real_images(tmp_path):
    """The smoke run's group: a tiny two-task search (no transfer, no embedding) and a retraining on the
    bundled digits, with the same tiny settings as the synthetic runs above."""
    res = run_search("darts", "single", 0, GROUPS["digits"].tasks, TINY, SearchPaths(runtime=RUNTIME))
    out = res.to_dict()
    assert out["group"] == "digits" and [t["task"] for t in out["tasks"]] == ["digits", "digits_parity"]
    for t in out["tasks"]:
        assert SPACE.canonical(t["best_arch"]) == t["best_arch"] and _counted(t["best_val_acc"], 64)
    r = run_darts_retrain(out, "digits_parity", retrain_params("digits_parity", RETRAIN_TINY), RUNTIME)
    arch = next(t["best_arch"] for t in out["tasks"] if t["task"] == "digits_parity")
    assert r["arch"] == arch and r["finished"] and _counted(r["test_acc"], 64)


# -- workflow ----------------------------------------------------------------------------------------------


def _snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    bindir = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}")
    cmd = [str(bindir / "snakemake"), "-s", str(ROOT / "Snakefile"), "-d", str(workdir), "--configfile",
           str(ROOT / "config" / "test.yaml"), "--cores", "2", "-n", *args]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)


@pytest.mark.workflow
@pytest.mark.skipif(
    shutil.which("snakemake", path=str(Path(sys.executable).parent)) is None, reason="no snakemake"
)
def test_darts_target_is_separate_from_the_default_target(tmp_path):
    out = _snakemake(tmp_path, "darts")
    assert out.returncode == 0, out.stderr + out.stdout
    counts = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    assert counts["search"] == 4 and counts["retrain"] == 8  # 4 methods x 1 seed (x 2 tasks)
    assert counts["embed"] == 1 and counts["table"] == 1 and counts["data"] == 2
    assert counts["export"] == 4  # every search result's cells (ktnas export)
    assert "gpu=1" in out.stdout
    default = _snakemake(tmp_path)
    assert default.returncode == 0, default.stderr
    assert "results/search/nb201/" in default.stdout and "results/search/darts/" not in default.stdout
    assert not re.search(r"^rule (retrain|data):", default.stdout, flags=re.MULTILINE)


def test_full_scale_search_params_match_the_spec_decisions():
    full = load_config(ROOT / "config" / "config.yaml")
    for group in ("cifar", "mnist"):
        hp = search_params(group, group_search_params(full, "darts", group))
        assert (hp.population_size, hp.n_transferred, hp.elite_ratio, hp.saved_generations) == (20, 4, 0.2, 5)
        assert (hp.generations, hp.tournament_size, hp.mutation_prob, hp.channels) == (200, 2, 0.02, 20)
        assert (hp.batch_size, hp.fitness_images, hp.val_batch_size) == (128, 2000, 1000)
    assert math.isclose(search_params("cifar").lr, 0.1)


@pytest.mark.slow
def test_search_then_retrain_learns_the_digits():
    """The DARTS path learns: a short search on the bundled digits (CPU, no caps), then the found cell
    retrained for 15 epochs reaches at least 90 % test accuracy on 359 held-out digits (chance: 10 %).
    A broken supernet, fitness, genotype decoding, network or optimiser step stays far below."""
    search = {"population_size": 6, "generations": 3, "channels": 8, "batch_size": 64, "val_batch_size": 256,
              "fitness_images": 128, "supernet_test": False}  # fmt: skip
    runtime = Runtime(device="cpu")
    torch.set_num_threads(2)  # real epochs, not the tiny ones the module's single thread is for
    res = run_search("darts", "single", 0, ["digits"], search, SearchPaths(runtime=runtime)).to_dict()
    (found,) = res["tasks"]
    assert res["group"] == "digits" and _counted(found["best_val_acc"], 287)  # the whole search val split
    retrain = {
        "epochs": 15,
        "channels": 8,
        "layers": 5,
        "cutout": 0,
        "batch_size": 64,
        "eval_batch_size": 512,
    }
    r = run_darts_retrain(res, "digits", retrain, runtime)
    torch.set_num_threads(1)
    assert r["arch"] == found["best_arch"] and r["finished"] and _counted(r["test_acc"], 359)
    assert r["test_acc"] >= 90.0, [h["test_acc"] for h in r["history"]]
