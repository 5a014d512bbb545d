"""A run whose searches another run already makes (a study's default point and the main ``ktnas`` row) is
not searched again: its result files are copies, byte for byte, of the ones the search would write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ktnas._io import KtnasError
from ktnas.config import expand_runs, validate_config
from ktnas.plan import Run, reuse_identical
from ktnas.results import reuse_results

ROOT = Path(__file__).resolve().parents[1]


def test_default_config_reuses_exactly_the_study_default_points() -> None:
    config = validate_config(yaml.safe_load((ROOT / "config" / "config.yaml").read_text()))
    runs = expand_runs(config)
    for space in ("nb201", "trans101"):
        reused = {r.name: r.same_as for r in runs[space].values() if r.same_as}
        assert reused == {n: "ktnas" for n in ("ktnas-r0.2", "ktnas-m5", "ktnas-M4", "ktnas-emb-node2vec")}
        # the other study points, the held-out and the landscape runs are searched
        assert runs[space]["ktnas-r0.5"].same_as is None
        assert runs[space]["heldout-ktnas"].same_as is None
        assert all(r.same_as is None for r in runs[space].values() if r.name.startswith("land-"))


def _run(name: str, params: dict, seeds: range = range(3), embedding: str = "node2vec") -> Run:
    return Run("toy", name, "ktnas", params, tuple(seeds), ("a", "b"), embedding=embedding)


def test_reuse_needs_the_same_resolved_parameters_encoding_and_more_seeds() -> None:
    defaults = {"elite_ratio": 0.2, "n_transferred": 4}

    def resolve(run: Run) -> dict:
        return {**defaults, **run.params}

    runs = {
        r.name: r
        for r in [
            _run("main", {}),
            _run("explicit-default", {"elite_ratio": 0.2}),  # the same search once defaults are filled in
            _run("other-ratio", {"elite_ratio": 0.5}),
            _run("more-seeds", {}, seeds=range(5)),
            _run("other-encoding", {}, embedding="onehot"),
            _run("twin-of-more-seeds", {}, seeds=range(4, 5)),
        ]
    }
    same = {n: r.same_as for n, r in reuse_identical(runs, resolve).items()}
    assert same == {
        "main": None,
        "explicit-default": "main",
        "other-ratio": None,
        "more-seeds": None,  # seeds 3 and 4 were never searched by main
        "other-encoding": None,
        "twin-of-more-seeds": "more-seeds",
    }


def test_reuse_results_copies_bytes_and_writes_the_manifest(tmp_path: Path) -> None:
    src, dst = tmp_path / "ktnas", tmp_path / "ktnas-r0.2"
    src.mkdir()
    for seed in range(3):
        (src / f"seed{seed}.json").write_text(json.dumps({"seed": seed, "x": [1.5, seed]}, indent=2) + "\n")
    written = reuse_results(src, dst, [1, 2], tmp_path / "seeds1-2.done", "nb201", "ktnas")
    assert written == [str(dst / "seed1.json"), str(dst / "seed2.json")]
    for seed in (1, 2):
        assert (dst / f"seed{seed}.json").read_bytes() == (src / f"seed{seed}.json").read_bytes()
    assert not (dst / "seed0.json").exists()
    manifest = json.loads((tmp_path / "seeds1-2.done").read_text())
    assert manifest == {"space": "nb201", "method": "ktnas", "seeds": [1, 2], "files": written}
    with pytest.raises(KtnasError, match="seed7.json is missing"):
        reuse_results(src, dst, [7], tmp_path / "seeds7-7.done", "nb201", "ktnas")
    assert not (tmp_path / "seeds7-7.done").exists()
