"""The Snakemake pipeline: dry run of the test config, and incremental reruns (a tiny real run)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.workflow

if shutil.which("snakemake", path=str(Path(sys.executable).parent)) is None:  # pragma: no cover
    pytest.skip("snakemake is not installed in this environment", allow_module_level=True)


def _snakemake(workdir: Path, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    cmd = [
        str(Path(sys.executable).parent / "snakemake"),
        "-s",
        str(ROOT / "Snakefile"),
        "-d",
        str(workdir),
        "--configfile",
        str(config),
        "--cores",
        "2",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, check=False)


def _jobs(dry_run_output: str) -> list[tuple[str, str]]:
    """(rule, wildcards) of each job a dry run lists."""
    jobs, rule = [], None
    for line in dry_run_output.splitlines():
        m = re.match(r"^(?:local)?rule (\w+):", line.strip())
        if m:
            rule = m.group(1)
            jobs.append((rule, ""))
        elif rule and line.strip().startswith("wildcards:"):
            jobs[-1] = (rule, line.split(":", 1)[1].strip())
    return jobs


def test_dry_run_of_test_config_lists_every_stage(tmp_path):
    # config/config.yaml where the Snakefile's `configfile:` would find it: `--configfile` must replace it,
    # not be merged into it (no --replace-workflow-config needed)
    shutil.copytree(ROOT / "config", tmp_path / "config")
    out = _snakemake(tmp_path, ROOT / "config" / "test.yaml", "-n")
    assert out.returncode == 0, out.stderr + out.stdout
    rules = {r for r, _ in _jobs(out.stdout)}
    assert {"benchmark", "embed", "search", "table", "figure"} <= rules
    searched = {w.split(",")[0] for r, w in _jobs(out.stdout) if r == "search"}
    assert searched == {"space=nb201", "space=trans101"}
    test, default = (yaml.safe_load((ROOT / "config" / f).read_text()) for f in ("test.yaml", "config.yaml"))
    for space in ("nb201", "trans101"):
        runs = {w.split(", ")[1][4:] for r, w in _jobs(out.stdout) if w.startswith(f"space={space}, run=")}
        assert set(test[space]["methods"]) <= runs
        assert not runs & (set(default[space]["methods"]) - set(test[space]["methods"])), space


def test_bad_config_fails_before_any_job(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump({"nb201": {"methods": {"ktnas": {"elite_ratio": 1.5}}}}))
    out = _snakemake(tmp_path, cfg, "-n")
    assert out.returncode != 0
    assert "nb201.methods.ktnas.elite_ratio: 1.5 is out of range" in out.stdout + out.stderr
    assert not (tmp_path / "results").exists()


def test_rerun_only_what_changed(tmp_path):
    cfg = tmp_path / "cfg.yaml"
    config = {
        "embedding": {"method": "onehot", "dim": 16, "seed": 0},
        "nb201": {"seeds": 2, "methods": {"rs": {}, "rea": {"population_size": 10, "tournament_size": 5}}},
        "trans101": {"methods": {}},
    }
    cfg.write_text(yaml.safe_dump(config))
    first = _snakemake(tmp_path, cfg)
    assert first.returncode == 0, first.stderr[-3000:]
    table = (tmp_path / "results/tables/nb201_main.csv").read_text()
    assert table.splitlines()[0] == "method,task,mean,std,n_seeds,median,p_vs_ktnas,p_raw,reference"

    again = _snakemake(tmp_path, cfg, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr

    config["nb201"]["methods"]["rea"]["tournament_size"] = 4
    cfg.write_text(yaml.safe_dump(config))
    changed = _snakemake(tmp_path, cfg, "-n")
    jobs = _jobs(changed.stdout)
    searches = sorted(w for r, w in jobs if r == "search")
    assert searches == ["space=nb201, run=rea, first=0, last=1"]  # one job runs both seeds
    assert {r for r, _ in jobs} == {"search", "table", "results_page", "all"}


def test_proxy_stage_runs_in_chunks_and_merges(tmp_path):
    import pandas as pd

    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "proxies": {"source": "compute", "proxies": ["synflow"], "chunks": 2},
                "max_proxy_cells": 2,  # a run-time setting (docs/reproduction.md §6)
                "nb201": {"tasks": ["cifar10", "imagenet16"], "seeds": 1, "methods": {"rs": {}, "zero": {}}},
                "trans101": {"methods": {}},
            }
        )
    )
    out = _snakemake(tmp_path, cfg, "results/proxies/nb201.parquet")
    assert out.returncode == 0, out.stderr[-3000:]
    df = pd.read_parquet(tmp_path / "results/proxies/nb201.parquet")
    assert sorted(df["dataset"].unique()) == ["cifar10", "imagenet16"] and len(df) == 2 * 2 * 2
    assert df["synflow"].notna().all()
    # the searches that use a proxy then read the computed table instead of the bundled one; rs reads none
    dry = _snakemake(tmp_path, cfg, "-n")
    commands = re.findall(r"ktnas search .*?2> \S+", dry.stdout.replace("\n", " "))
    assert len(commands) == 2
    for cmd in commands:
        assert ("--proxies results/proxies/nb201.parquet" in cmd) == ("--method zero" in cmd)


def test_a_study_default_point_reuses_the_main_runs_files(tmp_path):
    """The sensitivity study's default point is the main ktnas row's search: no job searches it again, its
    files are byte-for-byte copies, and its table row is built from them."""
    cfg = tmp_path / "cfg.yaml"
    ktnas = {"population_size": 10, "tournament_size": 5, "elite_ratio": 0.2, "n_transferred": 4}
    config = {
        "embedding": {"method": "onehot", "dim": 16, "seed": 0},
        "nb201": {
            "seeds": 3,
            "seeds_per_job": 2,
            "methods": {"rea": {}, "ktnas": ktnas},
            "sensitivity": {"seeds": 2, "elite_ratio": [0.2, 0.5]},
        },
        "trans101": {"methods": {}},
    }
    cfg.write_text(yaml.safe_dump(config))
    dry = _jobs(_snakemake(tmp_path, cfg, "-n").stdout)
    assert sorted(w for r, w in dry if r == "reuse") == ["reused=nb201/ktnas-r0.2, first=0, last=1"]
    assert not [w for r, w in dry if r == "search" and "ktnas-r0.2" in w]
    assert [w for r, w in dry if r == "search" and "ktnas-r0.5" in w]
    out = _snakemake(tmp_path, cfg)
    assert out.returncode == 0, out.stderr[-3000:]
    search = tmp_path / "results/search/nb201"
    for seed in (0, 1):
        assert (search / f"ktnas-r0.2/seed{seed}.json").read_bytes() == (
            search / f"ktnas/seed{seed}.json"
        ).read_bytes()
    assert not (search / "ktnas-r0.2/seed2.json").exists()
    table = (tmp_path / "results/tables/nb201_sensitivity.csv").read_text()
    assert "ktnas-r0.2" in table and "ktnas-r0.5" in table


def test_the_transfer_study_is_only_in_its_own_target(tmp_path):
    """The concluded selector study runs only under `snakemake transfer_study`, beside the main runs."""
    config = ROOT / "config" / "test.yaml"
    default = _jobs(_snakemake(tmp_path, config, "-n").stdout)
    assert not [w for r, w in default if "ktnas_prior" in w or "transfer_study" in w]
    out = _snakemake(tmp_path, config, "-n", "transfer_study")
    assert out.returncode == 0, out.stderr + out.stdout
    study = _jobs(out.stdout)
    assert ("table", "space=nb201, study=transfer_study") in study
    assert "run=ktnas_prior" in " ".join(w for r, w in study if r == "search")
