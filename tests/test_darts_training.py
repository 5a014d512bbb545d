"""DARTS-space training: eval network (§3.3.9, Appendix A), supernet (§3.3.3), data (§3.3.8), search task
(§3.3.5–§3.3.7) and retraining. Tiny channel counts on the generated ``synthetic`` dataset; never downloads."""

from __future__ import annotations

import csv
import dataclasses
import math
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch

from ktnas._io import KtnasError
from ktnas.params import Runtime
from ktnas.spaces.darts import DartsSpace
from ktnas.training.data import (
    Augment,
    ImageSet,
    every_nth_per_class,
    get_dataset_spec,
    iterate_batches,
    load_digit_images,
    load_splits,
    prepare_batch,
    stratified_split,
)
from ktnas.training.network import EvalNetwork, count_params
from ktnas.training.retrain import RetrainConfig, retrain
from ktnas.training.search_task import SearchConfig, WeightSharingTask, cosine_lr, mixed_sampler
from ktnas.training.supernet import Supernet

SPACE = DartsSpace()

# docs/reproduction.md Appendix A, retraining convention (input 0 = older)
KT_C10 = (
    [("Identity", 1), ("AVG", 1), ("MAX", 1), ("DW3", 1), ("DW3", 1), ("DC7", 2), ("DC5", 0), ("MAX", 4), ("DW3", 0), ("DW7", 4)],
    [("MAX", 1), ("DC7", 1), ("Identity", 0), ("DC5", 1), ("DW5", 0), ("AVG", 0), ("AVG", 4), ("MAX", 3), ("DC3", 3), ("MAX", 0)],
)  # fmt: skip
KT_C100 = (
    [("DC5", 0), ("DC7", 0), ("DW5", 1), ("DW7", 0), ("AVG", 1), ("MAX", 0), ("DW7", 1), ("Identity", 0), ("DW5", 1), ("AVG", 4)],
    [("DC7", 1), ("DW3", 1), ("DW3", 0), ("DW3", 1), ("DC5", 0), ("AVG", 2), ("DC3", 0), ("DC3", 4), ("DW3", 2), ("DC3", 1)],
)  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def synthetic():
    return load_splits("synthetic")


def _archs(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [SPACE.sample(rng) for _ in range(n)]


# -- retraining network (§3.3.9) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("geno", "channels", "classes", "expected"),
    [(KT_C10, 48, 10, 2.973), (KT_C100, 42, 100, 2.923)],
    ids=["KT_C10", "KT_C100"],
)
def test_appendix_a_parameter_counts(geno, channels: int, classes: int, expected: float) -> None:
    arch = SPACE.from_retrain(*geno)
    net = EvalNetwork(arch, channels, classes)
    assert count_params(net) / 1e6 == pytest.approx(expected, abs=0.005)
    assert count_params(net) < sum(p.numel() for p in net.parameters())  # the aux head is excluded
    assert count_params(EvalNetwork(arch, channels, classes, auxiliary=False)) == count_params(net)


def test_eval_network_uses_the_retraining_input_convention() -> None:
    # search input 0 (newer) = retraining input 1 = preprocess1(s1): node 2 of the normal cell reads it
    arch = SPACE.from_retrain(*KT_C10)
    net = EvalNetwork(arch, 8, 10, layers=3)
    cell = net.cells[0]
    assert cell.indices[:2] == [1, 1]  # KT_C10 normal node 2: (Identity,1)(AVG,1)
    assert cell.concat == [3, 5, 6]


@pytest.mark.parametrize("size", [16, 28, 32])
def test_eval_network_forward_backward(size: int) -> None:
    arch = _archs(1, seed=size)[0]
    net = EvalNetwork(arch, 4, 10, layers=5)
    net.drop_path_prob = 0.2
    net.train()
    logits, aux = net(torch.randn(2, 3, size, size))
    assert logits.shape == (2, 10) and aux is not None and aux.shape == (2, 10)
    (logits.sum() + aux.sum()).backward()
    net.eval()
    logits, aux = net(torch.randn(2, 3, size, size))
    assert aux is None


# -- supernet (§3.3.3) -------------------------------------------------------------------------------------


def test_supernet_forward_backward_only_active_params_get_grads() -> None:
    net = Supernet(4, 10, seed=0)
    x, y = torch.randn(4, 3, 16, 16), torch.randint(0, 10, (4,))
    for arch in _archs(2, seed=1):
        net.activate(arch)
        net.zero_grad(set_to_none=True)
        out = net(x)
        assert out.shape == (4, 10)
        torch.nn.functional.cross_entropy(out, y).backward()
        active = {id(p) for p in net.active_parameters()}
        for name, p in net.named_parameters():
            if id(p) in active and p.dim() > 1 and p.requires_grad:
                assert p.grad is not None, name
            if id(p) not in active:
                assert p.grad is None, name


def test_inactive_params_untouched_by_sgd_step() -> None:
    net = Supernet(4, 10, seed=0)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
    x, y = torch.randn(4, 3, 16, 16), torch.randint(0, 10, (4,))
    a, b = _archs(2, seed=2)
    steps = []
    for arch in (a, b, b):
        net.activate(arch)
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(net(x), y).backward()
        before = {n: p.detach().clone() for n, p in net.named_parameters()}
        opt.step()
        active = {id(p) for p in net.active_parameters()}
        changed = {n for n, p in net.named_parameters() if not torch.equal(p, before[n])}
        steps.append((active, changed))
        # ops that were active for `a` only carry momentum, but must not move while `b` is active
        for n, p in net.named_parameters():
            if id(p) not in active:
                assert n not in changed, n
    a_only = steps[0][0] - steps[1][0]
    assert a_only, "the two genotypes share every op; pick another seed"
    assert steps[0][1], "the first step changed nothing"


def test_supernet_drop_path_drops_whole_ops() -> None:
    net = Supernet(4, 10, dropout=0.0, drop_path_keep=0.5, seed=0)
    net.activate(_archs(1, seed=3)[0])
    net.train()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        ref = net(x)
        net.set_drop_path(True)
        net.drop.generator.manual_seed(1)
        d1 = net(x)
        net.drop.generator.manual_seed(1)
        d2 = net(x)
    assert torch.equal(d1, d2)  # reproducible from the generator
    assert not torch.allclose(d1, ref)
    net.eval()  # no drop path at evaluation
    with torch.no_grad():
        assert torch.equal(net(x), net(x))


def test_supernet_init_is_seeded_and_leaves_global_rng_alone() -> None:
    state = torch.random.get_rng_state()
    a, b = Supernet(4, 10, seed=7), Supernet(4, 10, seed=7)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    c = Supernet(4, 10, seed=8)
    assert not torch.equal(a.stem[0].weight, c.stem[0].weight)


# -- data (§3.3.8) -----------------------------------------------------------------------------------------


def test_cifar_validation_split_every_fifth_per_class() -> None:
    for classes, per_class, val_per_class in ((10, 5000, 1000), (100, 500, 100)):
        labels = np.random.default_rng(0).permutation(np.repeat(np.arange(classes), per_class))
        val = every_nth_per_class(labels, 5)
        assert len(val) == classes * val_per_class
        assert np.all(np.bincount(labels[val]) == val_per_class)
        first = np.flatnonzero(labels == 0)
        assert set(first[::5]) == set(val[labels[val] == 0])


def test_synthetic_splits(synthetic) -> None:
    assert (len(synthetic.search_train), len(synthetic.search_val), len(synthetic.test)) == (512, 128, 256)
    assert synthetic.search_train.images.shape[1:] == (3, 16, 16)
    assert len(synthetic.train) == 640
    again = load_splits("synthetic")
    assert torch.equal(again.train.images, synthetic.train.images)


@pytest.fixture(scope="module")
def digits():
    return load_splits("digits")


def test_digits_load_offline_with_disjoint_deterministic_splits(
    digits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """scikit-learn's bundled digits (§3.3.8): no download, 1×16×16 uint8, 10 classes, seeded stratified split."""
    import socket

    def no_network(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket, "socket", no_network)
    again = load_splits("digits", tmp_path / "empty", download=False)  # no files, no network
    assert not (tmp_path / "empty").exists()
    sizes = (len(digits.search_train), len(digits.search_val), len(digits.train), len(digits.test))
    assert sizes == (1151, 287, 1438, 359) and sizes[2] + sizes[3] == 1797  # retraining: train + val
    assert digits.train.images.shape[1:] == (1, 16, 16) and digits.train.images.dtype == torch.uint8
    assert digits.spec.num_classes == 10 and not digits.spec.hflip
    for part in (digits.search_train, digits.search_val, digits.test):
        assert np.array_equal(np.unique(part.labels.numpy()), np.arange(10))  # stratified: every class
    assert torch.equal(again.test.images, digits.test.images)
    assert torch.equal(again.search_val.labels, digits.search_val.labels)

    images, labels = load_digit_images()
    assert images.shape == (1797, 1, 16, 16) and np.bincount(labels).size == 10
    tr, va, te = stratified_split(labels, seed=0)  # the split load_splits made (split_seed 0)
    assert len(np.r_[tr, va, te]) == len(np.unique(np.r_[tr, va, te])) == 1797  # disjoint, covering
    for part, index in ((digits.search_train, tr), (digits.search_val, va), (digits.test, te)):
        assert torch.equal(part.images, images[index]) and np.array_equal(part.labels.numpy(), labels[index])
    assert torch.equal(digits.train.images, images[np.sort(np.r_[tr, va])])
    assert np.allclose(np.bincount(labels[te]) / np.bincount(labels), 0.2, atol=0.01)  # stratified
    other = load_splits("digits", split_seed=1)
    assert not torch.equal(other.test.images, digits.test.images)
    assert len(other.test) == len(digits.test)
    with pytest.raises(ValueError, match="test=1.5"):
        stratified_split(np.zeros(4), seed=0, test=1.5)
    # the normalisation constants are the images' statistics
    x = digits.train.images.float() / 255
    assert float(x.mean()) == pytest.approx(digits.spec.mean[0], abs=0.005)
    assert float(x.std()) == pytest.approx(digits.spec.std[0], abs=0.005)


def test_digits_parity_shares_the_images_and_split(digits) -> None:
    parity = load_splits("digits_parity")
    assert parity.spec.num_classes == 2 and parity.spec.size == digits.spec.size
    for a, b in ((parity.search_train, digits.search_train), (parity.test, digits.test)):
        assert torch.equal(a.images, b.images)
        assert torch.equal(a.labels, b.labels % 2)


def test_prepare_batch_normalises_and_repeats_grayscale() -> None:
    spec = get_dataset_spec("mnist")
    imgs = torch.randint(0, 256, (3, 1, 28, 28), dtype=torch.uint8)
    x = prepare_batch(imgs, spec)
    assert x.shape == (3, 3, 28, 28)
    expected = (imgs.float() / 255 - 0.1307) / 0.3081
    assert torch.allclose(x[:, 2:], expected, atol=1e-6)


def test_random_crop_is_a_shifted_window_and_cutout_a_square() -> None:
    spec = get_dataset_spec("synthetic")
    imgs = torch.randint(1, 256, (6, 3, 8, 8), dtype=torch.uint8)
    plain = prepare_batch(imgs, spec)
    gen = torch.Generator().manual_seed(0)
    crop = prepare_batch(imgs, spec, Augment(pad=2, hflip=True), gen)
    pad_value = (0.0 - 0.5) / 0.25
    padded = torch.nn.functional.pad(plain, (2, 2, 2, 2), value=pad_value)
    for i in range(len(imgs)):
        windows = [padded[i, :, dy : dy + 8, dx : dx + 8] for dy in range(5) for dx in range(5)]
        windows += [w.flip(2) for w in windows]
        assert any(torch.allclose(crop[i], w) for w in windows)
    cut = prepare_batch(imgs, spec, Augment(cutout=4), torch.Generator().manual_seed(1))
    holes = (cut == 0).all(dim=1)  # zeroed pixels (no uint8 value normalises to exactly 0)
    assert torch.equal(cut[~holes[:, None].expand_as(cut)], plain[~holes[:, None].expand_as(plain)])
    for hole in holes:  # one clipped square per image: rows [cy-2, cy+2) x cols [cx-2, cx+2)
        rows, cols = hole.any(dim=1), hole.any(dim=0)
        assert 2 <= int(rows.sum()) <= 4 and 2 <= int(cols.sum()) <= 4
        assert torch.equal(hole, rows[:, None] & cols[None, :])


def test_iterate_batches_covers_the_set_once(synthetic) -> None:
    gen = torch.Generator().manual_seed(0)
    labels = torch.cat(
        [y for _, y in iterate_batches(synthetic.test, synthetic.spec, 100, generator=gen, shuffle=True)]
    )
    assert sorted(labels.tolist()) == sorted(synthetic.test.labels.tolist())


def test_offline_download_error_is_one_clear_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets as tvd

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(tvd, "CIFAR10", offline)
    with pytest.raises(KtnasError) as err:
        load_splits("cifar10", tmp_path)
    msg = str(err.value)
    assert "cifar-10-python.tar.gz" in msg and str(tmp_path / "cifar10") in msg and "\n" not in msg

    with pytest.raises(KtnasError, match=r"organsmnist\.npz"):
        load_splits("organsmnist", tmp_path, download=False)
    with pytest.raises(KtnasError, match="MNIST/raw"):
        load_splits("mnist", tmp_path, download=False)


class _FakeTorchvision:
    """Stands in for a torchvision dataset class: CIFAR-like (HWC numpy, list targets) or MNIST-like."""

    def __init__(self, root: str, train: bool, download: bool, hwc: bool = True) -> None:
        n = 500 if train else 100
        rng = np.random.default_rng(int(train))
        shape = (n, 32, 32, 3) if hwc else (n, 28, 28)
        data = rng.integers(0, 256, shape, dtype=np.uint8)
        targets = rng.permutation(np.arange(n) % 10)
        self.data = data if hwc else torch.from_numpy(data)
        self.targets = targets.tolist() if hwc else torch.from_numpy(targets)


def test_torchvision_splits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision.datasets as tvd

    monkeypatch.setattr(tvd, "CIFAR10", _FakeTorchvision)
    cifar = load_splits("cifar10", tmp_path)
    assert (len(cifar.search_train), len(cifar.search_val), len(cifar.train), len(cifar.test)) == (
        400,
        100,
        500,
        100,
    )
    assert np.all(np.bincount(cifar.search_val.labels.numpy()) == 10)
    assert cifar.train.images.shape == (500, 3, 32, 32)
    both = torch.cat([cifar.search_train.images, cifar.search_val.images])
    assert sorted(both.flatten(1).sum(1).tolist()) == sorted(cifar.train.images.flatten(1).sum(1).tolist())

    monkeypatch.setattr(
        tvd, "MNIST", lambda root, train, download: _FakeTorchvision(root, train, download, False)
    )
    mnist = load_splits("mnist", tmp_path, split_seed=3)
    assert (len(mnist.search_train), len(mnist.search_val)) == (400, 100)
    assert mnist.test.images.shape == (100, 1, 28, 28)
    again = load_splits("mnist", tmp_path, split_seed=3)
    other = load_splits("mnist", tmp_path, split_seed=4)
    assert torch.equal(again.search_val.images, mnist.search_val.images)
    assert not torch.equal(other.search_val.images, mnist.search_val.images)


def test_unknown_dataset() -> None:
    with pytest.raises(ValueError, match="cifar10"):
        get_dataset_spec("imagenet")


def test_image_set_validates() -> None:
    with pytest.raises(ValueError, match="uint8"):
        ImageSet(torch.zeros(2, 3, 4, 4), torch.zeros(2, dtype=torch.long))


def test_medmnist_npz_is_read_without_pickle(tmp_path: Path) -> None:
    folder = tmp_path / "organcmnist"
    folder.mkdir()
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 12), ("val", 5), ("test", 7)):
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        arrays[f"{split}_labels"] = rng.integers(0, 11, (n, 1))
    np.savez(folder / "organcmnist.npz", **arrays)
    splits = load_splits("organcmnist", tmp_path, download=False)
    assert (len(splits.search_train), len(splits.search_val), len(splits.test)) == (12, 5, 7)
    assert splits.test.images.shape == (7, 1, 28, 28) and splits.test.labels.shape == (7,)
    x, _ = next(iterate_batches(splits.test, splits.spec, 4))
    assert x.shape == (4, 3, 28, 28)


# -- search task (§3.3.5–§3.3.7) -----------------------------------------------------------------------------

TINY = SearchConfig(
    channels=4, batch_size=32, val_batch_size=64, fitness_images=64, generations=4, drop_path_start=1
)  # fmt: skip
# run-time settings, docs/reproduction.md §6
CPU = Runtime(device="cpu", max_train_batches=3, max_eval_images=96)


@torch.inference_mode()
def _count_correct(model: torch.nn.Module, data, spec, limit: int) -> float:
    """Accuracy (%) of ``model`` on the first ``limit`` images, batch by batch, written out independently
    of the code under test (its batching, caps and counting)."""
    model.eval()
    images, labels = data.images[:limit], data.labels[:limit]
    correct = 0
    for i in range(0, len(labels), 16):
        out = model(prepare_batch(images[i : i + 16], spec))
        logits = out[0] if isinstance(out, tuple) else out
        correct += int((logits.argmax(1) == labels[i : i + 16]).sum())
    return 100.0 * correct / len(labels)


def _supernet_acc_by_hand(task: WeightSharingTask, arch: str, limit: int) -> float:
    task.model.activate(SPACE.canonical(arch))
    return _count_correct(task.model, task.splits.search_val, task.spec, limit)


def _retrained_acc_by_hand(arch: str, splits, checkpoint: Path, limit: int) -> float:
    """Test accuracy of the weights the retraining saved last, recomputed from its checkpoint."""
    model = EvalNetwork(arch, RETRAIN_TINY.channels, splits.spec.num_classes, layers=RETRAIN_TINY.layers)
    model.load_state_dict(torch.load(checkpoint, weights_only=True)["model"])
    return _count_correct(model, splits.test, splits.spec, limit)


def test_cosine_lr_formula() -> None:
    assert cosine_lr(0.1, 0, 200) == pytest.approx(0.05 * (1 + math.cos(math.pi / 200)))
    assert cosine_lr(0.1, 199, 200) == pytest.approx(0.0, abs=1e-12)


def test_mixed_sampler_rule() -> None:
    rng = np.random.default_rng(0)
    only_parents = mixed_sampler(["p1", "p2"])
    assert {only_parents(rng) for _ in range(50)} == {"p1", "p2"}
    both = mixed_sampler(["p"], ["o1", "o2"], p_parent=0.5)
    draws = [both(rng) for _ in range(2000)]
    assert draws.count("p") / 2000 == pytest.approx(0.5, abs=0.05)
    with pytest.raises(ValueError):
        mixed_sampler([], [])


def test_search_task_trains_evaluates_and_resumes_exactly(synthetic, tmp_path: Path) -> None:
    archs = _archs(3, seed=4)
    task = WeightSharingTask(synthetic, TINY, CPU)
    s0 = task.train_epoch(archs, 0)
    assert s0["images"] == 96 and s0["images_per_s"] > 0 and s0["lr"] == pytest.approx(cosine_lr(0.1, 0, 4))
    fit = task.evaluate(archs)
    assert fit == [_supernet_acc_by_hand(task, a, TINY.fitness_images) for a in archs]
    assert task.evaluate(archs) == fit  # deterministic: fixed subset, eval-mode BN
    assert task.evaluate_full(archs[0]) == _supernet_acc_by_hand(task, archs[0], CPU.max_eval_images)
    task.save(tmp_path / "task.pt")
    sampler = mixed_sampler(archs[:2], archs[2:])
    s1 = task.train_epoch(sampler, 1)  # drop path on from generation 1
    after = task.evaluate(archs)

    resumed = WeightSharingTask(synthetic, TINY, CPU)
    resumed.load(tmp_path / "task.pt")
    assert resumed.generation == 0
    r1 = resumed.train_epoch(sampler, 1)
    assert r1["loss"] == s1["loss"]
    assert resumed.evaluate(archs) == after
    for (n, p), q in zip(task.model.state_dict().items(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(p, q), n


def test_search_task_learns_the_synthetic_data(synthetic) -> None:
    cfg = SearchConfig(
        channels=4, batch_size=32, val_batch_size=128, fitness_images=128, generations=8
    )  # fmt: skip
    arch = _archs(1, seed=1)
    task = WeightSharingTask(synthetic, cfg, Runtime(device="cpu", max_train_batches=8))
    stats = [task.train_epoch(arch, g) for g in range(3)]
    assert stats[-1]["loss"] < stats[0]["loss"] - 0.3
    # chance is 10%; eval-mode fitness still lags after 24 steps (BN running statistics)
    assert stats[-1]["train_acc"] > 30.0


def test_search_task_rejects_a_foreign_checkpoint(synthetic, tmp_path: Path) -> None:
    task = WeightSharingTask(synthetic, TINY, CPU)
    task.save(tmp_path / "t.pt")
    other = WeightSharingTask(synthetic, dataclasses.replace(TINY, weight_decay=0.0), CPU)
    with pytest.raises(KtnasError, match="another search config"):
        other.load(tmp_path / "t.pt")
    uncapped = WeightSharingTask(synthetic, TINY, Runtime(device="cpu"))  # same config, other run-time caps
    with pytest.raises(KtnasError, match="run-time settings"):
        uncapped.load(tmp_path / "t.pt")


# -- retraining (§3.3.9) -------------------------------------------------------------------------------------

RETRAIN_TINY = RetrainConfig(epochs=2, channels=4, layers=3, batch_size=32, eval_batch_size=128, cutout=4)
RETRAIN_CPU = Runtime(device="cpu", max_train_batches=2, max_eval_images=64)


def test_retrain_resume_equals_uninterrupted(synthetic, tmp_path: Path) -> None:
    arch = _archs(1, seed=6)[0]
    full = retrain(arch, synthetic, RETRAIN_TINY, RETRAIN_CPU, checkpoint=tmp_path / "a.pt")
    assert full["finished"] and full["epochs_done"] == 2
    assert full["params_m"] > 0
    assert full["test_acc"] == _retrained_acc_by_hand(
        arch, synthetic, tmp_path / "a.pt", RETRAIN_CPU.max_eval_images
    )
    assert full["best_test_acc"] == max(h["test_acc"] for h in full["history"])
    assert full["history"][1]["drop_path"] == pytest.approx(0.3 / 2)

    part = retrain(arch, synthetic, RETRAIN_TINY, RETRAIN_CPU, checkpoint=tmp_path / "b.pt", stop_after=1)
    assert not part["finished"] and part["epochs_done"] == 1
    resumed = retrain(
        arch, synthetic, RETRAIN_TINY, RETRAIN_CPU, checkpoint=tmp_path / "b.pt", metrics=tmp_path / "b.csv"
    )
    assert resumed["finished"]
    rows = list(csv.DictReader((tmp_path / "b.csv").open()))  # both epochs, the first from the checkpoint
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    assert [float(r["test_acc"]) for r in rows] == [h["test_acc"] for h in resumed["history"]]
    assert float(rows[0]["elapsed_s"]) > 0 and float(rows[0]["eta_s"]) > 0 and float(rows[1]["eta_s"]) == 0
    assert float(rows[1]["elapsed_s"]) > float(rows[0]["elapsed_s"])
    keys = ("train_loss", "train_acc", "test_acc", "lr")
    assert [[h[k] for k in keys] for h in resumed["history"]] == [
        [h[k] for k in keys] for h in full["history"]
    ]
    a = torch.load(tmp_path / "a.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "b.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_search_and_retrain_steps_on_the_digits(digits, tmp_path: Path) -> None:
    """A tiny supernet epoch, fitness and a retraining on real images (§3.3.5–§3.3.9)."""
    archs = _archs(2, seed=8)
    task = WeightSharingTask(digits, TINY, CPU)
    stats = task.train_epoch(archs, 0)
    assert stats["images"] == 96 and math.isfinite(stats["loss"])
    fit = task.evaluate(archs)
    assert fit == [_supernet_acc_by_hand(task, a, TINY.fitness_images) for a in archs]
    out = retrain(archs[0], digits, RETRAIN_TINY, RETRAIN_CPU, checkpoint=tmp_path / "r.pt")
    assert out["finished"] and out["epochs_done"] == 2
    assert out["test_acc"] == _retrained_acc_by_hand(
        archs[0], digits, tmp_path / "r.pt", RETRAIN_CPU.max_eval_images
    )


def test_retrain_sets_aside_a_checkpoint_of_another_architecture(synthetic, tmp_path: Path, caplog) -> None:
    a, b = _archs(2, seed=7)
    retrain(a, synthetic, RETRAIN_TINY, RETRAIN_CPU, checkpoint=tmp_path / "c.pt", stop_after=1)
    with caplog.at_level("WARNING"):
        out = retrain(b, synthetic, RETRAIN_TINY, RETRAIN_CPU, checkpoint=tmp_path / "c.pt")
    assert out["epochs_done"] == 2 and len(out["history"]) == 2  # from scratch, not from a's epoch
    assert (tmp_path / "c.pt.stale").exists()
    assert "written by other parameters (arch)" in caplog.text


def test_nothing_in_spaces_imports_torch() -> None:
    import subprocess
    import sys

    code = "import sys, ktnas.spaces; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
