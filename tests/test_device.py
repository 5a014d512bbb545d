"""GPU assignment (docs/guide/gpus.md), tested without CUDA by giving the device count."""

from __future__ import annotations

import logging
import multiprocessing as mp
from pathlib import Path

import pytest
import torch

from ktnas.training import device as dv


@pytest.fixture(autouse=True)
def _no_claim(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    dv.release_gpu()
    yield
    dv.release_gpu()


def _claim_and_hold(lock_dir: str, count: int, barrier, out) -> None:  # type: ignore[no-untyped-def]
    dv._CLAIM = None  # a forked child starts without its parent's claim
    out.put(dv.claim_gpu(count, lock_dir))
    barrier.wait(timeout=60)  # every claim is held until all four have claimed


def test_four_concurrent_jobs_get_four_gpus(tmp_path: Path) -> None:
    ctx = mp.get_context("fork")
    barrier, out = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_claim_and_hold, args=(str(tmp_path), 4, barrier, out)) for _ in range(4)]
    for p in procs:
        p.start()
    got = sorted(out.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert got == [0, 1, 2, 3]


def test_a_fifth_job_shares_and_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    held = []
    for k in range(4):  # four other jobs hold the four GPUs
        dv._CLAIM = None
        assert dv.claim_gpu(4, tmp_path) == k
        held.append(dv._CLAIM)
    dv._CLAIM = None
    with caplog.at_level(logging.WARNING, logger="ktnas.training.device"):
        k = dv.claim_gpu(4, tmp_path)
    assert k in range(4)
    assert "all 4 GPUs are claimed" in caplog.text
    for _, fd in held:
        dv._CLAIM = (0, fd)
        dv.release_gpu()


def test_a_released_gpu_is_claimed_again(tmp_path: Path) -> None:
    assert dv.claim_gpu(2, tmp_path) == 0
    assert dv.claim_gpu(2, tmp_path) == 0  # the same process keeps its GPU
    dv.release_gpu()
    assert dv.claim_gpu(2, tmp_path) == 0


def test_one_visible_gpu_is_used_without_a_claim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")  # what SLURM gives a job with --gpus=1
    assert dv.claim_gpu(1, tmp_path) == 0
    assert list(tmp_path.iterdir()) == []


def test_locks_are_named_by_the_visible_devices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,5")
    assert dv.claim_gpu(2, tmp_path) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gpu2.lock"]


def test_pick_device_claims_unless_an_index_is_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.setattr(torch.cuda, "set_device", lambda d: None)
    monkeypatch.setattr(dv, "gpu_lock_dir", lambda: tmp_path)
    dv._CLAIM = None
    other = dv.claim_gpu(4, tmp_path)  # another job holds GPU 0
    _, fd = dv._CLAIM  # type: ignore[misc]
    dv._CLAIM = None
    assert dv.pick_device("cuda:0") == torch.device("cuda", 0)  # an explicit index is used as given
    assert dv._CLAIM is None
    assert dv.pick_device(None) == torch.device("cuda", other + 1)
    assert dv.pick_device("cuda") == torch.device("cuda", other + 1)
    dv.release_gpu()
    dv._CLAIM = (0, fd)


def test_pick_device_without_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert dv.pick_device(None) == torch.device("cpu")
    with pytest.raises(ValueError, match="CUDA is not available"):
        dv.pick_device("cuda:1")


# -- on a GPU (scripts/gpu_check.py runs these; skipped without CUDA) ---------------------------------------

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.cuda
@cuda
def test_a_gpu_job_gets_a_gpu_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dv, "gpu_lock_dir", lambda: tmp_path)
    dev = dv.pick_device(None)
    assert dev.type == "cuda" and dev.index is not None and dev.index < torch.cuda.device_count()
    assert torch.cuda.current_device() == dev.index


@pytest.mark.cuda
@cuda
def test_mixed_precision_channels_last_supernet_epoch() -> None:
    import numpy as np

    from ktnas.spaces.darts import DartsSpace
    from ktnas.training.data import load_splits
    from ktnas.training.search_task import SearchConfig, WeightSharingTask

    cfg = SearchConfig(channels=8, batch_size=32, val_batch_size=64, fitness_images=64, generations=2)
    wst = WeightSharingTask(load_splits("synthetic", download=False), cfg)
    assert wst.device.type == "cuda" and wst.amp is not None
    assert next(wst.model.parameters()).is_cuda
    archs = [DartsSpace().sample(np.random.default_rng(i)) for i in range(3)]
    stats = wst.train_epoch(archs, 0)
    assert np.isfinite(stats["loss"]) and stats["images"] > 0
    fitness = wst.evaluate(archs)
    assert len(fitness) == 3 and all(np.isfinite(fitness))
