"""Datasets of the DARTS-space experiments (docs/reproduction.md §3.3.8) and on-device batching with augmentation.

Every dataset is held in memory as uint8 ``(N, C, H, W)`` images plus int64 labels (:class:`ImageSet`).
Batches are normalised and augmented on the compute device from an explicit ``torch.Generator``, so
training is reproducible and resumable without DataLoader worker state. Grayscale images are repeated
to 3 channels (docs/reproduction.md §3.3.3).

Downloads go to ``<root>/<dataset name>/`` (default root ``resources/data``) through torchvision and
the medmnist URLs; offline, missing files raise one :class:`~ktnas._io.KtnasError` saying what to put
where. The ``digits`` tasks (scikit-learn's bundled 8×8 digits) and the generated ``synthetic`` tasks
never download.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ktnas._io import KtnasError
from ktnas.params import OwnTask

log = logging.getLogger(__name__)

DEFAULT_ROOT = Path("resources/data")

_CIFAR_MEAN = (125.3 / 255, 123.0 / 255, 113.9 / 255)
_CIFAR_STD = (63.0 / 255, 62.1 / 255, 66.7 / 255)
_MNIST_MEAN = (0.1307,) * 3
_MNIST_STD = (0.3081,) * 3
_HALF = (0.5,) * 3
#: side of the upsampled digits: the synthetic tasks' 16, so the smoke settings keep their meaning
DIGITS_SIZE = 16
#: pixel mean and std of all 1,797 digits at 16×16 (label-free statistics, like the MNIST constants)
_DIGITS_MEAN = (0.3053,) * 3
_DIGITS_STD = (0.3186,) * 3


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset: shape, normalisation, training augmentation and how its splits are made (§3.3.8)."""

    name: str
    num_classes: int
    channels: int  # stored channels (1 or 3); batches always have 3
    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    pad: int  # RandomCrop padding of the training augmentation
    hflip: bool
    source: str  # "cifar" | "mnist" | "medmnist" | "sklearn" | "synthetic"
    # how search train/val are made: "every5th" | "random80" | "official" | "stratified" | "generated"
    search_split: str
    description: str
    archives: tuple[str, ...] = ()  # the downloaded files, enough to build the dataset offline
    url: str = ""  # where the archives come from
    subdir: str = ""  # where the archives go inside <root>/<name>/

    def folder(self, root: str | Path) -> Path:
        """Folder the dataset's archives live in."""
        return Path(root) / self.name / self.subdir


_MNIST_ARCHIVES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def _cifar(name: str, classes: int) -> DatasetSpec:
    archive = f"{name[:5]}-{classes}-python.tar.gz"
    return DatasetSpec(
        name=name,
        num_classes=classes,
        channels=3,
        size=32,
        mean=_CIFAR_MEAN,
        std=_CIFAR_STD,
        pad=4,
        hflip=True,
        source="cifar",
        search_split="every5th",
        description=f"CIFAR-{classes}: search 40k/10k (every 5th image per class → val), retrain 50k, test 10k",
        archives=(archive,),
        url=f"https://www.cs.toronto.edu/~kriz/{archive}",
    )


def _mnist(name: str, subdir: str, url: str, title: str) -> DatasetSpec:
    return DatasetSpec(
        name=name,
        num_classes=10,
        channels=1,
        size=28,
        mean=_MNIST_MEAN,
        std=_MNIST_STD,
        pad=2,
        hflip=True,
        source="mnist",
        search_split="random80",
        description=f"{title}: search = seeded random 48k/12k split of the 60k train set, test 10k "
        "(normalised with the MNIST statistics, as the authors' code)",
        archives=_MNIST_ARCHIVES,
        url=url,
        subdir=subdir,
    )


def _med(name: str, classes: int, channels: int, title: str) -> DatasetSpec:
    return DatasetSpec(
        name=name,
        num_classes=classes,
        channels=channels,
        size=28,
        mean=_HALF,
        std=_HALF,
        pad=2,
        hflip=True,
        source="medmnist",
        search_split="official",
        description=f"{title} (MedMNIST v2, 28×28, official train/val/test splits)",
        archives=(f"{name}.npz",),
        url=f"https://zenodo.org/records/10519652/files/{name}.npz",
    )


def _digits(name: str, classes: int, labels: str) -> DatasetSpec:
    return DatasetSpec(
        name=name,
        num_classes=classes,
        channels=1,
        size=DIGITS_SIZE,
        mean=_DIGITS_MEAN,
        std=_DIGITS_STD,
        pad=2,
        hflip=False,  # a mirrored digit is another symbol
        source="sklearn",
        search_split="stratified",
        description=f"real images: scikit-learn's 1,797 8×8 grey digits (bundled, no download), upsampled "
        f"bilinearly to {DIGITS_SIZE}×{DIGITS_SIZE}; {labels}; seeded stratified split 1,151 / 287 / 359 "
        "(search train / val / test), retraining on search train + val (1,438)",
    )


DATASETS: dict[str, DatasetSpec] = {
    s.name: s
    for s in (
        _cifar("cifar10", 10),
        _cifar("cifar100", 100),
        _mnist("mnist", "MNIST/raw", "https://ossci-datasets.s3.amazonaws.com/mnist/", "MNIST"),
        _mnist(
            "fashion_mnist",
            "FashionMNIST/raw",
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "Fashion-MNIST",
        ),
        _med("pathmnist", 9, 3, "PathMNIST"),
        _med("organamnist", 11, 1, "OrganAMNIST"),
        _med("organcmnist", 11, 1, "OrganCMNIST"),
        _med("organsmnist", 11, 1, "OrganSMNIST"),
        _digits("digits", 10, "10 classes, the digit"),
        _digits("digits_parity", 2, "2 classes, the digit's parity (even / odd)"),
        DatasetSpec(
            name="synthetic",
            num_classes=10,
            channels=3,
            size=16,
            mean=_HALF,
            std=(0.25,) * 3,
            pad=2,
            hflip=False,
            source="synthetic",
            search_split="generated",
            description="generated: 10 classes of 3×16×16 smooth class patterns plus noise (512/128/256 images)",
        ),
        DatasetSpec(
            name="synthetic_b",
            num_classes=5,
            channels=3,
            size=16,
            mean=_HALF,
            std=(0.25,) * 3,
            pad=2,
            hflip=False,
            source="synthetic",
            search_split="generated",
            description="generated: a second synthetic task, 5 classes with their own patterns (512/128/256 images)",
        ),
    )
}

#: generator stream of each synthetic dataset (0 = seeded with split_seed itself)
_SYNTHETIC_STREAM = {"synthetic": 0, "synthetic_b": 1}
#: shares of the digits (per class) that go to test, then to search validation of the rest
_DIGITS_TEST, _DIGITS_VAL = 0.2, 0.2


def derive_seed(*parts: int) -> int:
    """A 63-bit seed derived from non-negative integers, e.g. (seed, epoch, stream): stable everywhere."""
    return int(np.random.SeedSequence(list(parts)).generate_state(1, dtype=np.uint64)[0]) >> 1


def get_dataset_spec(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}") from None


@dataclass(frozen=True)
class ImageSet:
    """uint8 images ``(N, C, H, W)`` and int64 labels ``(N,)``, on any device."""

    images: torch.Tensor
    labels: torch.Tensor

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(
                f"images must be uint8 (N, C, H, W), got {self.images.dtype} {tuple(self.images.shape)}"
            )
        if len(self.labels) != len(self.images):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray | torch.Tensor | slice) -> ImageSet:
        if isinstance(index, np.ndarray):
            index = torch.as_tensor(index, dtype=torch.long)
        return ImageSet(self.images[index], self.labels[index])

    def to(self, device: torch.device) -> ImageSet:
        from ktnas.training.device import to_device

        return ImageSet(to_device(self.images, device), to_device(self.labels, device))


@dataclass(frozen=True)
class Splits:
    """All splits of one dataset: search train/val (§3.3.8), retraining train and test (§3.3.9–§3.3.10)."""

    spec: DatasetSpec
    search_train: ImageSet
    search_val: ImageSet
    train: ImageSet
    test: ImageSet


# -- split rules ----------------------------------------------------------------------------------------


def every_nth_per_class(labels: np.ndarray, every: int = 5) -> np.ndarray:
    """Sorted indices of positions 0, every, 2·every, ... < n_c − 1 within each class (the authors' val split)."""
    val: list[np.ndarray] = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        val.append(idx[np.arange(0, len(idx) - 1, every)])
    return np.sort(np.concatenate(val))


def _complement(n: int, index: np.ndarray) -> np.ndarray:
    mask = np.ones(n, dtype=bool)
    mask[index] = False
    return np.flatnonzero(mask)


def _as_nchw(images: np.ndarray) -> torch.Tensor:
    arr = np.asarray(images, dtype=np.uint8)
    if arr.ndim == 3:
        arr = arr[:, None]
    elif arr.ndim == 4 and arr.shape[-1] in (1, 3):
        arr = arr.transpose(0, 3, 1, 2)
    return torch.from_numpy(np.ascontiguousarray(arr))


def _image_set(images: np.ndarray, labels: np.ndarray) -> ImageSet:
    return ImageSet(_as_nchw(images), torch.as_tensor(np.asarray(labels).reshape(-1), dtype=torch.long))


# -- loaders ----------------------------------------------------------------------------------------------


def _offline_error(spec: DatasetSpec, root: Path, download: bool, err: BaseException) -> KtnasError:
    detail = str(err).strip().splitlines()[0] if str(err).strip() else "no detail"
    how = "could not be downloaded" if download else "download=False"
    return KtnasError(
        f"dataset {spec.name!r} is missing and {how} ({type(err).__name__}: {detail}); "
        f"put {', '.join(spec.archives)} (from {spec.url}) into {spec.folder(root)}/ and rerun"
    )


_LOAD_ERRORS = (RuntimeError, OSError, EOFError, ValueError)


def _load_cifar_or_mnist(spec: DatasetSpec, root: Path, download: bool) -> tuple[ImageSet, ImageSet]:
    import torchvision.datasets as tvd

    cls = {
        "cifar10": tvd.CIFAR10,
        "cifar100": tvd.CIFAR100,
        "mnist": tvd.MNIST,
        "fashion_mnist": tvd.FashionMNIST,
    }[spec.name]
    folder = root / spec.name  # torchvision adds MNIST/raw etc. itself
    # with the archives in place torchvision's "download" only verifies (md5) and extracts them
    offline_ok = all((spec.folder(root) / a).exists() for a in spec.archives)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        train = cls(root=str(folder), train=True, download=download or offline_ok)
        test = cls(root=str(folder), train=False, download=download or offline_ok)
    except _LOAD_ERRORS as err:
        raise _offline_error(spec, root, download, err) from None
    out = []
    for ds in (train, test):
        data = ds.data.numpy() if isinstance(ds.data, torch.Tensor) else ds.data
        targets = ds.targets.numpy() if isinstance(ds.targets, torch.Tensor) else np.asarray(ds.targets)
        out.append(_image_set(data, targets))
    return out[0], out[1]


def _load_medmnist(spec: DatasetSpec, root: Path, download: bool) -> dict[str, ImageSet]:
    folder = spec.folder(root)
    path = folder / f"{spec.name}.npz"
    if not path.exists():
        try:
            if not download:
                raise FileNotFoundError(f"{path} missing and download=False")
            from medmnist import INFO
            from torchvision.datasets.utils import download_url

            folder.mkdir(parents=True, exist_ok=True)
            download_url(INFO[spec.name]["url"], str(folder), filename=path.name, md5=INFO[spec.name]["MD5"])
        except _LOAD_ERRORS as err:
            raise _offline_error(spec, root, download, err) from None
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {s: _image_set(npz[f"{s}_images"], npz[f"{s}_labels"]) for s in ("train", "val", "test")}
    except (OSError, KeyError, ValueError) as err:
        raise KtnasError(
            f"{path}: not a readable MedMNIST file ({err}); delete it and rerun to download again"
        ) from None


def load_digit_images(size: int = DIGITS_SIZE) -> tuple[torch.Tensor, np.ndarray]:
    """scikit-learn's 1,797 8×8 digits (bundled with the package) as uint8 ``(N, 1, size, size)`` images,
    upsampled bilinearly (``align_corners=False``) from the 0–16 grey levels, and their digits (§3.3.8)."""
    if size < 8:
        raise ValueError(f"digits size {size} is below the images' native 8; use 8 or more (default 16)")
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:
        raise KtnasError(
            f"the digits tasks need scikit-learn ({err}); install it with: pip install scikit-learn"
        ) from None
    bunch = load_digits()
    x = torch.from_numpy(np.asarray(bunch.images, dtype=np.float32) / 16.0)[:, None]
    if size != x.shape[-1]:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    images = (x.clamp(0, 1) * 255).round().to(torch.uint8)
    return images, np.asarray(bunch.target, dtype=np.int64)


def stratified_split(
    labels: np.ndarray, seed: int, test: float = _DIGITS_TEST, val: float = _DIGITS_VAL
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted (train, val, test) indices: per class, a ``seed``-ed permutation gives ``round(test·n)``
    images to test and ``round(val·rest)`` of the rest to validation (the digits tasks, §3.3.8)."""
    if not (0.0 < test < 1.0 and 0.0 < val < 1.0):
        raise ValueError(f"split shares test={test}, val={val} must lie in (0, 1), e.g. 0.2 and 0.2")
    rng = np.random.default_rng(seed)
    parts: tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]] = ([], [], [])
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = int(round(test * len(idx)))
        n_val = int(round(val * (len(idx) - n_test)))
        parts[2].append(idx[:n_test])
        parts[1].append(idx[n_test : n_test + n_val])
        parts[0].append(idx[n_test + n_val :])
    train, val_idx, test_idx = (np.sort(np.concatenate(p)) for p in parts)
    return train, val_idx, test_idx


def _digits_splits(spec: DatasetSpec, split_seed: int) -> Splits:
    images, digits = load_digit_images(spec.size)
    labels = digits % 2 if spec.name == "digits_parity" else digits
    data = ImageSet(images, torch.from_numpy(labels))
    # stratified on the digit, so every digits task of one split_seed shares the same partition
    train, val, test = stratified_split(digits, split_seed)
    return Splits(
        spec, data.subset(train), data.subset(val), data.subset(np.sort(np.r_[train, val])), data.subset(test)
    )


def make_synthetic(
    seed: int = 0,
    num_classes: int = 10,
    size: int = 16,
    n_train: int = 640,
    n_test: int = 256,
    noise: float = 0.2,
) -> tuple[ImageSet, ImageSet]:
    """A small learnable image set: per class a fixed smooth colour pattern, plus Gaussian noise.

    Class patterns are 4×4×3 uniform draws upsampled bilinearly; labels are balanced and shuffled.
    """
    rng = np.random.default_rng(seed)
    proto = torch.from_numpy(rng.random((num_classes, 3, 4, 4), dtype=np.float32))
    proto = F.interpolate(proto, size=(size, size), mode="bilinear", align_corners=False)
    sets = []
    for n in (n_train, n_test):
        labels = rng.permutation(np.arange(n) % num_classes)
        x = proto[torch.from_numpy(labels)] + noise * torch.from_numpy(
            rng.standard_normal((n, 3, size, size), dtype=np.float32)
        )
        images = (x.clamp(0, 1) * 255).round().to(torch.uint8)
        sets.append(ImageSet(images, torch.from_numpy(labels).long()))
    return sets[0], sets[1]


def load_splits(
    name: str,
    root: str | Path = DEFAULT_ROOT,
    *,
    download: bool = True,
    split_seed: int = 0,
    own: Mapping[str, OwnTask] | None = None,
) -> Splits:
    """Load ``name`` (downloading into ``<root>/<name>/`` if needed) and build its splits (docs/reproduction.md §3.3.8).

    - CIFAR: search val = every 5th image per class of the train set (1,000 / 100 per class), search
      train = the rest; retraining uses the whole train set; test = official test set.
    - MNIST, Fashion-MNIST: a random 80/20 split of the 60k train set seeded with ``split_seed``
      (a ktnas decision; the code's split is unseeded); test = official test set.
    - MedMNIST: official train / val / test (retraining trains on train).
    - digits, digits_parity: scikit-learn's bundled digits (no download), a per-digit stratified split
      seeded with ``split_seed``: 20 % test, 20 % of the rest search val; retraining on train + val.
    - synthetic: generated (``split_seed`` seeds the generator); the last 128 train images are the val.
    - an own task of ``own`` (:func:`load_own`): its given splits, the missing ones stratified from the rest.
    """
    if own and name in own:
        return load_own(name, own[name], split_seed)
    if name not in DATASETS:
        declared = f"; declared own tasks: {', '.join(own)}" if own else ""
        raise ValueError(
            f"unknown DARTS task {name!r}: not built in ({', '.join(DATASETS)}){declared}; declare your own "
            "data under darts.tasks in the config or with --task-data (docs/guide/own-tasks.md)"
        )
    spec = get_dataset_spec(name)
    root = Path(root)
    if spec.source == "sklearn":
        return _digits_splits(spec, split_seed)
    if spec.source == "synthetic":
        stream = _SYNTHETIC_STREAM[spec.name]
        seed = split_seed if stream == 0 else derive_seed(split_seed, stream)
        train, test = make_synthetic(seed=seed, num_classes=spec.num_classes, size=spec.size)
        val_idx = np.arange(len(train) - 128, len(train))
        return Splits(spec, train.subset(np.arange(len(train) - 128)), train.subset(val_idx), train, test)
    if spec.source == "medmnist":
        parts = _load_medmnist(spec, root, download)
        return Splits(spec, parts["train"], parts["val"], parts["train"], parts["test"])
    train, test = _load_cifar_or_mnist(spec, root, download)
    labels = train.labels.numpy()
    if spec.search_split == "every5th":
        val_idx = every_nth_per_class(labels, 5)
    else:
        perm = np.random.default_rng(split_seed).permutation(len(labels))
        val_idx = np.sort(perm[int(round(0.8 * len(labels))) :])
    return Splits(spec, train.subset(_complement(len(labels), val_idx)), train.subset(val_idx), train, test)


# -- own tasks (docs/guide/own-tasks.md) ------------------------------------------------------------------

#: the in-memory design's limit: all images of a task, as uint8 N × C × H × W, stay in (device) memory
MAX_TASK_BYTES = 4 * 2**30
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
_SPLITS = ("train", "val", "test")


def _check_bytes(name: str, path: Path, n: int, shape: tuple[int, ...]) -> None:
    """Refuse a task whose ``n`` uint8 images of ``shape`` exceed :data:`MAX_TASK_BYTES`."""
    nbytes = n * int(np.prod(shape))
    if nbytes > MAX_TASK_BYTES:
        raise ValueError(
            f"own task {name!r} ({path}): {n:,} images of {'×'.join(map(str, shape))} need {nbytes:,} bytes, "
            f"above the {MAX_TASK_BYTES:,} bytes ({MAX_TASK_BYTES / 2**30:g} GiB) that ktnas holds in memory "
            "per task (uint8 images × C × H × W); declare a smaller size or use a subset of the images"
        )


def _npz_images(name: str, path: Path, key: str, arr: np.ndarray) -> np.ndarray:
    """uint8 (N, C, H, W) from (N, H, W), (N, H, W, C) or (N, C, H, W); floats must lie in [0, 1]."""
    arr = np.asarray(arr)
    if arr.ndim == 3:
        arr = arr[:, None]
    elif arr.ndim == 4 and arr.shape[-1] in (1, 3) and arr.shape[1] not in (1, 3):
        arr = arr.transpose(0, 3, 1, 2)
    if arr.ndim != 4 or arr.shape[1] not in (1, 3):
        raise ValueError(
            f"own task {name!r}: {path}[{key}] has shape {arr.shape}; store images as (N, H, W), "
            "(N, H, W, C) or (N, C, H, W) with 1 or 3 channels"
        )
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if np.issubdtype(arr.dtype, np.floating) and arr.size and arr.min() >= 0.0 and arr.max() <= 1.0:
        return np.ascontiguousarray((arr * 255).round().astype(np.uint8))
    raise ValueError(
        f"own task {name!r}: {path}[{key}] is {arr.dtype}; store uint8 pixels (0-255) or floats in [0, 1]"
    )


def _read_npz(name: str, path: Path, size: int | None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    try:
        npz = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise ValueError(
            f"own task {name!r}: {path} is not a readable .npz file ({err}); write it with numpy.savez"
        ) from None
    with npz:
        if "x_train" not in npz or "y_train" not in npz:
            raise ValueError(
                f"own task {name!r}: {path} has arrays {sorted(npz.files)}; it needs x_train and y_train "
                "(optionally x_val, y_val, x_test, y_test)"
            )
        out = {}
        for split in _SPLITS:
            xk, yk = f"x_{split}", f"y_{split}"
            if (xk in npz) != (yk in npz):
                raise ValueError(
                    f"own task {name!r}: {path} has only one of {xk}, {yk}; give both or neither"
                )
            if xk not in npz:
                continue
            shape = tuple(npz[xk].shape)
            if size is not None and len(shape) >= 3:  # the images are held at the declared size
                shape = (shape[0], *(s for s in shape[1:] if s in (1, 3) and len(shape) == 4), size, size)
            _check_bytes(name, path, shape[0], shape[1:])
            x, y = _npz_images(name, path, xk, npz[xk]), np.asarray(npz[yk]).reshape(-1)
            if len(x) != len(y):
                raise ValueError(
                    f"own task {name!r}: {path} has {len(x)} {xk} but {len(y)} {yk}; give one label per image"
                )
            out[split] = (x, y)
    return out


def _open_image(name: str, file: Path) -> Any:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as img:
            img.load()
            return img.copy()
    except (OSError, UnidentifiedImageError, ValueError) as err:
        raise ValueError(
            f"own task {name!r}: cannot read image {file} ({type(err).__name__}); replace or delete it"
        ) from None


def _read_folder(name: str, path: Path, size: int | None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``path/<class>/*`` or ``path/{train,val,test}/<class>/*`` as uint8 arrays; class names are labels."""
    split_dirs = {s: path / s for s in _SPLITS if (path / s).is_dir()}
    if split_dirs and "train" not in split_dirs:
        raise ValueError(
            f"own task {name!r}: {path} has {', '.join(split_dirs)}/ but no train/; add train/<class>/"
        )
    roots = split_dirs or {"train": path}
    files: dict[str, list[tuple[Path, str]]] = {}
    for split, root in roots.items():
        files[split] = [
            (f, d.name)
            for d in sorted(p for p in root.iterdir() if p.is_dir())
            for f in sorted(d.iterdir())
            if f.suffix.lower() in _IMAGE_SUFFIXES
        ]
    n = sum(len(v) for v in files.values())
    if not files["train"]:
        raise ValueError(
            f"own task {name!r}: no images in {roots['train']}/<class>/; put one subfolder per class with "
            f"the images ({', '.join(_IMAGE_SUFFIXES)}) in it"
        )
    first = _open_image(name, files["train"][0][0])
    grey = first.mode in ("1", "L", "I", "I;16", "F")
    c, (w, h) = (1 if grey else 3), ((size, size) if size else first.size)
    _check_bytes(name, path, n, (c, h, w))
    out = {}
    for split, entries in files.items():
        arrays, labels = [], []
        for file, label in entries:
            img = _open_image(name, file)
            if size:
                img = img.resize((size, size), resample=2)  # bilinear
            elif img.size != first.size:
                raise ValueError(
                    f"own task {name!r}: {file} is {img.size[0]}×{img.size[1]} but {files['train'][0][0]} is "
                    f"{first.size[0]}×{first.size[1]}; declare a size to resize to (e.g. size: {max(first.size)})"
                )
            arr = np.asarray(img.convert("L" if grey else "RGB"), dtype=np.uint8)
            arrays.append(arr[None] if grey else arr.transpose(2, 0, 1))
            labels.append(label)
        if arrays:
            out[split] = (np.stack(arrays), np.asarray(labels))
    return out


def load_own(name: str, task: OwnTask, split_seed: int = 0) -> Splits:
    """Splits of an own task (docs/guide/own-tasks.md): the given train / val / test; a missing test split
    takes 20 % of train per class, a missing val 20 % of the rest (seeded with ``split_seed``). Retraining
    trains on search train + val. Normalisation: the per-channel mean and std of the training images."""
    path = Path(task.path)
    if not path.exists():
        raise ValueError(
            f"own task {name!r}: {path} does not exist; give the path of an image folder or an .npz file "
            "(relative to the working directory)"
        )
    parts = _read_npz(name, path, task.size) if path.is_file() else _read_folder(name, path, task.size)
    if path.is_file() and task.size is not None:
        parts = {s: (_resize(x, task.size), y) for s, (x, y) in parts.items()}
    shapes = {s: x.shape[1:] for s, (x, _) in parts.items()}
    if len(set(shapes.values())) > 1:
        raise ValueError(
            f"own task {name!r}: {path} splits differ in image shape {shapes}; declare a size to resize to"
        )
    classes = np.unique(np.concatenate([y for _, y in parts.values()]))
    if len(classes) < 2:
        raise ValueError(
            f"own task {name!r}: {path} has {len(classes)} class ({', '.join(map(str, classes))}); a "
            "classification task needs at least two (one subfolder or label value per class)"
        )
    x, y = parts["train"]
    labels = np.searchsorted(classes, y).astype(np.int64)
    data = ImageSet(torch.from_numpy(x), torch.from_numpy(labels))
    given = {s: ImageSet(torch.from_numpy(px), torch.from_numpy(np.searchsorted(classes, py).astype(np.int64)))
             for s, (px, py) in parts.items() if s != "train"}  # fmt: skip
    rest = np.arange(len(labels))
    if "test" in given:
        test = given["test"]
    else:
        keep, taken = _take_share(labels, split_seed, _DIGITS_TEST)
        rest, test = rest[keep], data.subset(taken)
    if "val" in given:
        search_train, search_val = data.subset(rest), given["val"]
    else:
        keep, taken = _take_share(labels[rest], derive_seed(split_seed, 1), _DIGITS_VAL)
        search_train, search_val = data.subset(rest[keep]), data.subset(rest[taken])
    if min(len(search_train), len(search_val), len(test)) == 0:
        raise ValueError(f"own task {name!r}: {path} has too few images to split; give at least 5 per class")
    train = ImageSet(
        torch.cat([search_train.images, search_val.images]),
        torch.cat([search_train.labels, search_val.labels]),
    )
    pixels = search_train.images.float().div_(255.0)
    mean = pixels.mean(dim=(0, 2, 3)).tolist()
    std = pixels.std(dim=(0, 2, 3)).clamp(min=1e-3).tolist()
    if len(mean) == 1:
        mean, std = mean * 3, std * 3
    c, h, w = x.shape[1:]
    spec = DatasetSpec(
        name=name,
        num_classes=len(classes),
        channels=c,
        size=max(h, w),
        mean=(mean[0], mean[1], mean[2]),
        std=(std[0], std[1], std[2]),
        pad=max(1, max(h, w) // 8),
        hflip=False,  # a mirrored image may be another class (letters, digits); unknown for own data
        source="own",
        search_split=",".join(s for s in _SPLITS if s in parts),
        description=f"own data: {path} ({len(classes)} classes, {c}×{h}×{w}; given splits: "
        f"{', '.join(s for s in _SPLITS if s in parts)}; the rest stratified, seed {split_seed})",
    )
    return Splits(spec, search_train, search_val, train, test)


def _take_share(labels: np.ndarray, seed: int, share: float) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (kept, taken) indices: per class, a ``seed``-ed permutation gives ``round(share·n)`` to taken."""
    rng = np.random.default_rng(seed)
    keep, take = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = int(round(share * len(idx)))
        take.append(idx[:k])
        keep.append(idx[k:])
    return np.sort(np.concatenate(keep)), np.sort(np.concatenate(take))


def _resize(x: np.ndarray, size: int) -> np.ndarray:
    t = torch.from_numpy(x).float()
    t = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False)
    return t.round().clamp(0, 255).to(torch.uint8).numpy()


# -- batching ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Augment:
    """Training augmentation: RandomCrop with zero padding ``pad``, horizontal flip, Cutout ``cutout``."""

    pad: int = 0
    hflip: bool = False
    cutout: int = 0

    @classmethod
    def search(cls, spec: DatasetSpec) -> Augment:
        """The dataset's training augmentation (docs/reproduction.md §3.3.8)."""
        return cls(pad=spec.pad, hflip=spec.hflip)


def prepare_batch(
    images: torch.Tensor,
    spec: DatasetSpec,
    augment: Augment | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """uint8 ``(B, C, H, W)`` → normalised float ``(B, 3, H, W)`` on the images' device, augmented with
    random numbers drawn from the CPU ``generator`` (crop → flip → normalise → cutout, as DARTS)."""
    x = images.float().div_(255.0)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    b, _, h, w = x.shape
    dev = x.device
    if augment is not None and augment.pad > 0:
        p = augment.pad
        xp = F.pad(x, (p, p, p, p))
        off = torch.randint(0, 2 * p + 1, (2, b), generator=generator).to(dev)
        rows = (off[0][:, None] + torch.arange(h, device=dev))[:, :, None]
        cols = (off[1][:, None] + torch.arange(w, device=dev))[:, None, :]
        x = xp[torch.arange(b, device=dev)[:, None, None], :, rows, cols].permute(0, 3, 1, 2)
    if augment is not None and augment.hflip:
        flip = (torch.rand(b, generator=generator) < 0.5).to(dev)
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
    mean = torch.tensor(spec.mean, device=dev).view(1, 3, 1, 1)
    std = torch.tensor(spec.std, device=dev).view(1, 3, 1, 1)
    x = (x - mean) / std
    if augment is not None and augment.cutout > 0:
        half = augment.cutout // 2
        cy = torch.randint(0, h, (b,), generator=generator).to(dev)
        cx = torch.randint(0, w, (b,), generator=generator).to(dev)
        ys = torch.arange(h, device=dev)[None, :]
        xs = torch.arange(w, device=dev)[None, :]
        in_y = (ys >= (cy[:, None] - half).clamp(min=0)) & (ys < (cy[:, None] + half).clamp(max=h))
        in_x = (xs >= (cx[:, None] - half).clamp(min=0)) & (xs < (cx[:, None] + half).clamp(max=w))
        hole = in_y[:, :, None] & in_x[:, None, :]
        x = x.masked_fill(hole[:, None], 0.0)
    return x.contiguous()


def iterate_batches(
    data: ImageSet,
    spec: DatasetSpec,
    batch_size: int,
    *,
    augment: Augment | None = None,
    generator: torch.Generator | None = None,
    shuffle: bool = False,
    max_batches: int | None = None,
    device: torch.device | None = None,
    channels_last: bool = False,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield (normalised images, labels) batches on ``device`` (default: where ``data`` lives).

    Shuffling and augmentation draw from the CPU ``generator``; the last batch may be smaller.
    """
    n = len(data)
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    n_batches = (n + batch_size - 1) // batch_size
    if max_batches is not None:
        n_batches = min(n_batches, max_batches)
    from ktnas.training.device import to_device

    dev = device if device is not None else data.images.device
    for i in range(n_batches):
        idx = order[i * batch_size : (i + 1) * batch_size].to(data.images.device)
        imgs, labels = data.images[idx], data.labels[idx]
        if imgs.device != dev:
            imgs, labels = to_device(imgs, dev), to_device(labels, dev)
        x = prepare_batch(imgs, spec, augment, generator)
        if channels_last and dev.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        yield x, labels
