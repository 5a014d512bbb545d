"""The DARTS stages around the search (docs/reproduction.md §3.3.8–§3.3.10): download a dataset once, and retrain
a found genotype from scratch. The CLI (``ktnas darts-data`` / ``ktnas darts-retrain``) and Snakemake call
them; the search itself is ``ktnas search --space darts`` (:func:`ktnas.runner.run_search`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any

from ktnas import __version__
from ktnas._fingerprint import provenance
from ktnas._io import KtnasError, git_sha
from ktnas.params import OwnTask, Runtime, own_tasks

DEFAULT_DATA_ROOT = Path(Runtime.data_root)


def prepare_dataset(
    task: str,
    data_root: str | Path = DEFAULT_DATA_ROOT,
    download: bool = True,
    own: Mapping[str, OwnTask] | None = None,
) -> dict[str, Any]:
    """Download ``task``'s dataset into ``data_root`` once (before any GPU job) and describe its splits
    (docs/reproduction.md §3.3.8); the searches and retrainings then read the files without downloading.
    An own task of ``own`` is read and checked instead (docs/guide/own-tasks.md)."""
    from ktnas.training.data import load_splits

    splits = load_splits(task, data_root, download=download, own=own)
    return {
        "task": task,
        "data_root": str(data_root),
        "num_classes": splits.spec.num_classes,
        "image_shape": list(splits.train.images.shape[1:]),
        "sizes": {
            "search_train": len(splits.search_train),
            "search_val": len(splits.search_val),
            "train": len(splits.train),
            "test": len(splits.test),
        },
        "description": splits.spec.description,
    }


def retrain_config(params: Mapping[str, Any] | None = None, seed: int = 0) -> Any:
    """RetrainConfig defaults < ``params`` (the DARTS recipe merges in its per-task defaults first:
    :func:`ktnas.recipes.darts.retrain_params`); ``seed`` applies unless ``params`` sets one."""
    from ktnas.training.retrain import RetrainConfig

    params = dict(params or {})
    known = {f.name for f in fields(RetrainConfig)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ValueError(f"unknown DARTS retraining hyper-parameter(s) {unknown}; allowed: {sorted(known)}")
    return RetrainConfig(**{"seed": seed, **params})


def run_darts_retrain(
    search: Mapping[str, Any] | str | Path,
    task: str,
    params: Mapping[str, Any] | None = None,
    runtime: Runtime | None = None,
    checkpoint_path: str | Path | None = None,
    download: bool = True,
    stop_after: int | None = None,
    metrics: str | Path | None = None,
) -> dict[str, Any]:
    """Retrain the genotype a search found for ``task`` from scratch (docs/reproduction.md §3.3.9; §3.3.10 (b) on 28×28 data).

    ``search`` is a DARTS search result (``ktnas search --space darts``) or its JSON file. The retraining seed defaults to the
    search's seed (five independent runs, each seeded end to end). ``runtime`` gives the data folder,
    the device and the smoke-run caps (docs/reproduction.md §6); the result records them. ``metrics``: the
    per-epoch CSV (:func:`ktnas.training.retrain.retrain`). The result carries the search's cost and, where
    measured, the §3.3.10 (a) supernet test accuracy, so tables need only retraining results.
    """
    from ktnas.training.device import device_name, pick_device
    from ktnas.training.retrain import retrain

    if not isinstance(search, Mapping):
        try:
            search = json.loads(Path(search).read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise KtnasError(
                f"{search}: unreadable DARTS search result ({err}); rerun its search job"
            ) from None
    assert isinstance(search, Mapping)
    found = {t["task"]: t for t in search["tasks"]}
    if task not in found:
        raise ValueError(f"task {task!r} is not in the search result (tasks: {', '.join(found)})")
    summary = found[task]
    arch = summary["best_arch"]
    runtime = runtime or Runtime()
    if not runtime.tasks and (search.get("runtime") or {}).get("tasks"):  # the search's own tasks
        runtime = replace(runtime, tasks=own_tasks(search["runtime"]["tasks"]))
    cfg = retrain_config(params, int(search["seed"]))
    result = retrain(
        arch, task, cfg, runtime, checkpoint=checkpoint_path, download=download, stop_after=stop_after,
        metrics=metrics,
    )  # fmt: skip
    out: dict[str, Any] = {
        "space": "darts",
        "protocol": "retrain",
        "group": search["group"],
        "method": search["method"],
        "seed": search["seed"],
        "task": task,
        "search_gpu_days": search["gpu_days"],
        "search_device_name": search.get("device_name"),
        "best_val_acc": summary.get("best_val_acc"),
        "supernet_test_acc": summary.get("supernet_test_acc"),
        "retrain_params": asdict(cfg),
        "runtime": runtime.record(),
        "device_name": device_name(pick_device(runtime.device)),
        "retrain_seconds": float(sum(h["seconds"] for h in result["history"])),
        "ktnas_version": __version__,
        "git_sha": git_sha(),
        **provenance(),
    }
    out.update(result)
    return out
