"""Own DARTS tasks (docs/guide/own-tasks.md): an .npz file or an image folder declared by name, searched
together with built-in tasks, retrained from the search result, and one clear message per bad input."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch

import ktnas.training.data as data_module
from ktnas.cli import main
from ktnas.params import OwnTask, Runtime, own_tasks
from ktnas.training.data import load_splits

ROOT = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


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


def _blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def test_the_guide_example_runs(tmp_path, monkeypatch):
    """docs/guide/own-tasks.md as written: its Python writes the .npz, its two commands search a built-in
    and an own task together and retrain the own task from the search result alone (which records the
    declaration), with tiny settings appended (the last --params wins) and the smoke-run caps."""
    guide = (ROOT / "docs" / "guide" / "own-tasks.md").read_text()
    (python,) = _blocks(guide, "python")
    search, retrain = (shlex.split(b.replace("\\\n", " ")) for b in _blocks(guide, "bash"))
    monkeypatch.chdir(tmp_path)
    exec(python, {})  # noqa: S102 - the guide's own snippet
    tiny = {"population_size": 4, "generations": 2, "channels": 4, "batch_size": 32, "fitness_images": 32}
    caps = ["--max-train-batches", "2", "--max-eval-images", "64"]
    assert main([*search[1:], "--params", json.dumps(tiny), *caps]) == 0
    res = json.loads(Path("results/own/search.json").read_text())
    assert [t["task"] for t in res["tasks"]] == ["digits_parity", "mydigits"]
    assert res["group"] == "digits_parity+mydigits"
    declared = {"mydigits": {"path": "data/mydigits.npz", "size": 16}}
    assert (
        res["runtime"]
        == Runtime(device="cpu", max_train_batches=2, max_eval_images=64, tasks=own_tasks(declared)).record()
    )
    assert res["runtime"]["tasks"] == declared
    assert main([*retrain[1:], "--params", json.dumps({"epochs": 1, "channels": 4, "layers": 3}), *caps]) == 0
    r = json.loads(Path("results/own/mydigits.json").read_text())
    found = next(t for t in res["tasks"] if t["task"] == "mydigits")
    assert r["arch"] == found["best_arch"] and r["dataset"] == "mydigits" and r["finished"]
    assert r["runtime"]["tasks"] == declared
    assert round(r["test_acc"] * 64 / 100, 6).is_integer()  # k of the first 64 of the 397 test digits
