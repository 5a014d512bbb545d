"""Own DARTS tasks (docs/guide/own-tasks.md): an .npz file or an image folder declared by name, searched
together with built-in tasks, retrained from the search result, and one clear message per bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import ktnas.training.data as data_module
from ktnas.cli import main
from ktnas.params import OwnTask, Runtime, own_tasks
from ktnas.training.data import load_splits


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _digits_npz(path: Path, with_test: bool = True) -> Path:
    """The guide's example: scikit-learn's 8×8 digits as uint8 images in an .npz file."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images * 255 / 16).round().astype(np.uint8)
    arrays = {"x_train": x[:1400], "y_train": d.target[:1400]}
    if with_test:
        arrays |= {"x_test": x[1400:], "y_test": d.target[1400:]}
    np.savez(path, **arrays)
    return path


def _image_folder(root: Path, sizes: tuple[int, ...] = (12,), splits: bool = False) -> Path:
    """Three colour classes of small noisy PNGs: ``root/<class>/*.png`` or under train/ and test/."""
    from PIL import Image

    rng = np.random.default_rng(0)
    colours = {"red": (200, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 200)}
    for split in ("train", "test") if splits else ("",):
        for name, colour in colours.items():
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(10):
                side = sizes[i % len(sizes)]
                pixels = np.array(colour)[None, None] + rng.normal(0, 40, (side, side, 3))
                Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(folder / f"{i}.png")
    return root


def test_npz_task_keeps_its_test_split_and_stratifies_val(tmp_path):
    npz = _digits_npz(tmp_path / "mydigits.npz")
    s = load_splits("mydigits", own={"mydigits": OwnTask(str(npz), size=16)})
    assert (s.spec.name, s.spec.num_classes, s.spec.channels, s.spec.size) == ("mydigits", 10, 1, 16)
    assert s.train.images.shape == (1400, 1, 16, 16) and s.test.images.shape == (397, 1, 16, 16)
    assert (len(s.search_train), len(s.search_val)) == (1120, 280)  # 20 % of each class to val
    assert (
        torch.equal(s.search_val.labels.bincount(), torch.full((10,), 28))
        or s.search_val.labels.bincount().min() >= 26
    )
    assert s.spec.mean[0] == pytest.approx(float(s.search_train.images.float().mean() / 255), rel=1e-4)
    again = load_splits("mydigits", own={"mydigits": OwnTask(str(npz), size=16)})
    assert torch.equal(again.search_val.images, s.search_val.images)  # seeded


def test_image_folder_with_and_without_splits(tmp_path):
    flat = load_splits("shapes", own={"shapes": OwnTask(str(_image_folder(tmp_path / "flat")))})
    assert (flat.spec.num_classes, flat.spec.channels) == (3, 3)
    assert (len(flat.search_train), len(flat.search_val), len(flat.test)) == (18, 6, 6)
    assert flat.train.images.shape[1:] == (3, 12, 12)
    split = load_splits(
        "shapes", own={"shapes": OwnTask(str(_image_folder(tmp_path / "s", splits=True)), 16)}
    )
    assert len(split.test) == 30 and split.test.images.shape[1:] == (3, 16, 16)
    assert (
        split.test.labels.tolist() == [0] * 10 + [1] * 10 + [2] * 10
    )  # classes in name order: blue, green, red


def _error(task: OwnTask) -> str:
    with pytest.raises(ValueError) as err:
        load_splits("mine", own={"mine": task})
    return str(err.value)


def test_bad_own_tasks_end_in_one_message_naming_the_file_and_the_fix(tmp_path, monkeypatch):
    assert "does not exist; give the path of an image folder or an .npz file" in _error(
        OwnTask(str(tmp_path / "nope.npz"))
    )
    np.savez(tmp_path / "one.npz", x_train=np.zeros((10, 8, 8), np.uint8), y_train=np.zeros(10))
    msg = _error(OwnTask(str(tmp_path / "one.npz")))
    assert "one.npz has 1 class" in msg and "needs at least two" in msg
    folder = _image_folder(tmp_path / "broken")
    (folder / "red" / "bad.png").write_text("not a picture")
    assert f"cannot read image {folder / 'red' / 'bad.png'}" in _error(OwnTask(str(folder)))
    mixed = _image_folder(tmp_path / "mixed", sizes=(12, 16))
    msg = _error(OwnTask(str(mixed)))
    assert "is 16×16 but" in msg and "declare a size to resize to" in msg
    assert len(load_splits("m", own={"m": OwnTask(str(mixed), size=16)}).train) == 24
    monkeypatch.setattr(data_module, "MAX_TASK_BYTES", 1000)
    msg = _error(OwnTask(str(_digits_npz(tmp_path / "big.npz"))))
    assert "above the 1,000 bytes" in msg and "declare a smaller size or use a subset" in msg
    with pytest.raises(ValueError, match="not built in .* declare your own data under darts.tasks"):
        load_splits("cifar11")
    with pytest.raises(ValueError, match="must be letters, digits"):
        own_tasks({"my data": "x.npz"})


def test_guide_example_search_with_a_builtin_task_then_retrain(tmp_path, monkeypatch):
    """docs/guide/own-tasks.md's commands, tiny: a built-in and an own task in one search, retrained from
    the search result alone (it records the declaration)."""
    monkeypatch.chdir(tmp_path)
    _digits_npz(tmp_path / "mydigits.npz")
    declared = json.dumps({"mydigits": {"path": "mydigits.npz", "size": 16}})
    tiny = {
        "population_size": 4,
        "generations": 2,
        "channels": 4,
        "batch_size": 32,
        "fitness_images": 32,
        "val_batch_size": 64,
    }
    caps = ["--device", "cpu", "--max-train-batches", "2", "--max-eval-images", "64"]
    args = ["search", "--space", "darts", "--method", "single", "--seed", "0", "--tasks", "synthetic,mydigits",
            "--task-data", declared, "--params", json.dumps(tiny), "--out", "search.json", *caps]  # fmt: skip
    assert main(args) == 0
    res = json.loads(Path("search.json").read_text())
    assert [t["task"] for t in res["tasks"]] == ["synthetic", "mydigits"]
    assert res["group"] == "synthetic+mydigits"
    assert res["runtime"]["tasks"] == {"mydigits": {"path": "mydigits.npz", "size": 16}}
    assert (
        res["runtime"]
        == Runtime(
            device="cpu", max_train_batches=2, max_eval_images=64, tasks=own_tasks(json.loads(declared))
        ).record()
    )
    retrain = {"epochs": 1, "channels": 4, "layers": 3, "batch_size": 32, "eval_batch_size": 64}
    args = ["darts-retrain", "--search", "search.json", "--task", "mydigits", "--params", json.dumps(retrain),
            "--out", "mydigits.json", *caps]  # fmt: skip
    assert main(args) == 0
    r = json.loads(Path("mydigits.json").read_text())
    found = next(t for t in res["tasks"] if t["task"] == "mydigits")
    assert r["arch"] == found["best_arch"] and r["dataset"] == "mydigits" and r["finished"]
    assert r["runtime"]["tasks"] == res["runtime"]["tasks"]
    assert round(r["test_acc"] * 64 / 100, 6).is_integer()  # k of the first 64 test images
