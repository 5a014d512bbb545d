"""A result is the product of the code that is checked out: the code fingerprint (ktnas/_fingerprint.py),
which files it covers, and reruns of the pipeline and of a killed search on a copy of the package."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ktnas._fingerprint import OUTPUT_ONLY, fingerprint_of, fingerprinted_files, unit_of

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
#: the one-line change of the method: the historical transfer set's labels negated (Algorithm 2)
TRANSFER = "ktnas/search/transfer.py"
LABELS = "return np.array([r.label for r in self.records], dtype=np.float64)"
NEGATED = LABELS.replace("return ", "return -")
TARGET = "results/tables/nb201_main.csv"


# -- the rule ------------------------------------------------------------------------------------------
def test_the_rule_covers_the_method_and_its_data_not_the_output_only_units() -> None:
    files = {p.as_posix() for p in fingerprinted_files()}
    for inside in (
        "__init__.py",
        "_fingerprint.py",
        "runner.py",
        "results.py",
        "search/transfer.py",
        "baselines/rea.py",
        "recipes/nb201.py",
        "training/retrain.py",
        "benchmarks/data/nb201.parquet",
        "spaces/data/nb201_official_order.npy",
    ):
        assert inside in files
    for outside in ("cli.py", "__main__.py", "config.py", "config.schema.yaml", "report/tables.py"):
        assert outside not in files
    assert not [f for f in files if "__pycache__" in f or f.endswith(".pyc")]
    # every output-only unit exists (no stale name in the list) and gives its reason
    units = {unit_of(p.relative_to(ROOT / "ktnas")) for p in (ROOT / "ktnas").iterdir()}
    assert set(OUTPUT_ONLY) <= units and all(OUTPUT_ONLY.values())


def test_one_byte_of_a_covered_file_changes_the_fingerprint_others_do_not(tmp_path: Path) -> None:
    pkg = tmp_path / "ktnas"
    shutil.copytree(ROOT / "ktnas", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    before = fingerprint_of(pkg)
    assert before == fingerprint_of(ROOT / "ktnas")  # content, not location
    (pkg / "report" / "tables.py").write_text("# a changed table layout\n", encoding="utf-8")
    (pkg / "cli.py").write_bytes((pkg / "cli.py").read_bytes() + b"\n# help text\n")
    (pkg / "search" / "__pycache__").mkdir()
    (pkg / "search" / "__pycache__" / "transfer.cpython-311.pyc").write_bytes(b"\0")
    (pkg / "search" / ".transfer.py.x1.tmp").write_bytes(b"\0")
    assert fingerprint_of(pkg) == before
    data = pkg / "benchmarks" / "data" / "nb201.parquet"
    data.write_bytes(data.read_bytes() + b"\0")
    assert fingerprint_of(pkg) != before


def test_a_search_never_imports_an_output_only_unit() -> None:
    """The reason the units of OUTPUT_ONLY may be left out: a search does not run their code."""
    code = (
        "import sys; from ktnas.runner import run_search\n"
        "r = run_search('nb201', 'ktnas_random', 0, ['cifar10', 'cifar100'], {'generations': 3})\n"
        "import json; print(json.dumps(sorted({m.split('.')[1] for m in sys.modules if m.startswith('ktnas.')})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    imported = set(json.loads(out.stdout))
    assert {"runner", "recipes", "search"} <= imported
    assert not imported & set(OUTPUT_ONLY)


# -- the pipeline on a copy of the package ---------------------------------------------------------------
def _copy_repo(dest: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", ".snakemake")
    for name in ("ktnas", "workflow", "config", "profiles", "docs"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    shutil.copy2(ROOT / "Snakefile", dest / "Snakefile")
    return dest


def _edit(repo: Path, rel: str, old: str, new: str) -> None:
    path = repo / rel
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} not found once in {rel}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def _env(repo: Path) -> dict[str, str]:
    """The environment of a command that runs the copy's code (run it with ``cwd=repo``: ``python -m``
    puts the working directory first on the path)."""
    return dict(os.environ, PYTHONPATH=str(repo), PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")


def _snakemake(repo: Path, work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        str(BIN / "snakemake"),
        "-s",
        str(repo / "Snakefile"),
        "--profile",
        str(repo / "profiles" / "test"),
        "--configfile",
        str(repo / "config" / "test.yaml"),
        "--cores",
        "2",
        "-d",
        str(work),
        *args,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, env=_env(repo), timeout=900, check=False)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    return out


def _planned(dry_run: subprocess.CompletedProcess[str]) -> list[tuple[str, str]]:
    """(rule, output) of each job a dry run plans."""
    jobs, rule = [], None
    for line in dry_run.stdout.splitlines():
        if m := re.match(r"^(?:local)?rule (\w+):", line.strip()):
            rule = m.group(1)
        elif rule and line.strip().startswith("output:"):
            jobs.append((rule, line.split(":", 1)[1].strip()))
            rule = None
    return jobs


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """A copy of the package, and a working directory where it built the NB201 main table."""
    base = tmp_path_factory.mktemp("fingerprint")
    repo, work = _copy_repo(base / "repo"), base / "work"
    _snakemake(repo, work, TARGET)
    return repo, work


def _variant(built: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    """Another copy of the package and of the built working directory (modification times kept)."""
    repo, work = built
    shutil.copytree(repo, tmp_path / "repo")
    shutil.copytree(work, tmp_path / "work", symlinks=True)
    return tmp_path / "repo", tmp_path / "work"


@pytest.mark.slow
@pytest.mark.workflow
def test_a_one_line_change_of_the_method_reruns_its_searches(built, tmp_path: Path) -> None:
    repo, work = _variant(built, tmp_path)
    assert "Nothing to be done" in _snakemake(repo, work, TARGET, "-n").stdout
    old = json.loads((work / "results/search/nb201/ktnas/seed0.json").read_text())
    assert old["code_fingerprint"] == fingerprint_of(repo / "ktnas")
    assert {"ktnas_version", "git_sha", "numpy_version", "torch_version"} <= set(old)

    _edit(repo, TRANSFER, LABELS, NEGATED)
    planned = _planned(_snakemake(repo, work, TARGET, "-n"))
    searches = sorted(out for rule, out in planned if rule == "search")
    runs = sorted(p.name for p in (work / "results/search/nb201").iterdir())
    main = [r for r in runs if r in ("rs", "rea", "zero", "ktnas_random", "ktnas")]
    assert searches == [f"results/search/nb201/{r}/seeds0-1.done" for r in sorted(main)]

    _snakemake(repo, work, "results/search/nb201/ktnas/seeds0-1.done")
    for seed in (0, 1):
        new = json.loads((work / f"results/search/nb201/ktnas/seed{seed}.json").read_text())
        assert new["code_fingerprint"] == fingerprint_of(repo / "ktnas") != old["code_fingerprint"]


@pytest.mark.slow
@pytest.mark.workflow
def test_a_change_of_a_report_module_or_of_the_docs_plans_no_search(built, tmp_path: Path) -> None:
    repo, work = _variant(built, tmp_path)
    tables = repo / "ktnas" / "report" / "tables.py"
    tables.write_text(tables.read_text(encoding="utf-8") + "\n# a wording change\n", encoding="utf-8")
    (repo / "docs" / "architecture.md").write_text("# rewritten\n", encoding="utf-8")
    assert not [
        job for job in _planned(_snakemake(repo, work, TARGET, "-n")) if job[0] in ("search", "reuse")
    ]


def _search_cmd(work: Path, *, seeds: str, generations: int) -> list[str]:
    params = {
        **{"population_size": 10, "tournament_size": 5, "n_candidates": 10, "warmup": 3000},
        **{"proxy": "synflow", "elite_ratio": 0.2, "saved_generations": 5, "n_transferred": 4},
        **{"generations": generations, "stop_at_optimum": False},
    }
    return [
        sys.executable,
        "-m",
        "ktnas",
        "search",
        "--space",
        "nb201",
        "--method",
        "ktnas",
        "--seeds",
        seeds,
        "--tasks",
        "cifar10,cifar100,imagenet16",
        "--params",
        json.dumps(params),
        "--benchmark",
        str(work / "results/benchmarks/nb201.parquet"),
        "--embedding",
        str(work / "results/embeddings/nb201.parquet"),
    ]


def _files(folder: Path) -> list[str]:
    return [
        "--out",
        str(folder / "seed{seed}.json"),
        "--checkpoint",
        str(folder / "ckpt" / "seed{seed}.json"),
    ]


@pytest.fixture(scope="module")
def killed(built, tmp_path_factory) -> tuple[Path, Path, Path]:
    """A two-seed search job of the copy killed mid-way through its second seed, and the same job run
    uninterrupted: (killed folder, uninterrupted folder, working directory)."""
    repo, work = built
    base = tmp_path_factory.mktemp("killed")
    cmd = _search_cmd(work, seeds="0-1", generations=120)
    ref, cut = base / "uninterrupted", base / "killed"
    subprocess.run(
        [*cmd, *_files(ref)], env=_env(repo), cwd=repo, check=True, capture_output=True, timeout=600
    )
    proc = subprocess.Popen([*cmd, *_files(cut)], env=_env(repo), cwd=repo, stderr=subprocess.DEVNULL)
    ckpt = cut / "ckpt" / "seed1.json"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if ckpt.exists() and json.loads(ckpt.read_text() or "{}").get("state", {}).get("generation", 0) >= 10:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (cut / "seed0.json").exists() and not (cut / "seed1.json").exists()
    assert json.loads(ckpt.read_text())["state"]["generation"] < 119
    return cut, ref, work


def _rerun(repo: Path, work: Path, folder: Path) -> str:
    cmd = [*_search_cmd(work, seeds="0-1", generations=120), *_files(folder)]
    out = subprocess.run(
        cmd, env=_env(repo), cwd=repo, check=True, capture_output=True, text=True, timeout=600
    )
    return out.stderr


@pytest.mark.slow
@pytest.mark.workflow
def test_a_killed_job_resumed_with_unchanged_code_equals_the_uninterrupted_one(built, killed, tmp_path):
    cut, ref, work = killed
    folder = tmp_path / "cut"
    shutil.copytree(cut, folder)
    log = _rerun(built[0], work, folder)
    assert re.search(r"seed0\.json was finished by an earlier attempt .*; kept", log)
    assert re.search(r"resuming from .*seed1\.json \(generation \d+\)", log)
    for seed in (0, 1):
        assert (folder / f"seed{seed}.json").read_bytes() == (ref / f"seed{seed}.json").read_bytes()
    assert not list((folder / "ckpt").glob("seed*"))  # the finished job clears its checkpoints


@pytest.mark.slow
@pytest.mark.workflow
def test_a_checkpoint_of_a_changed_module_is_set_aside_not_resumed(built, killed, tmp_path: Path) -> None:
    cut, ref, work = killed
    repo = tmp_path / "repo"
    shutil.copytree(built[0] / "ktnas", repo / "ktnas")
    _edit(repo, TRANSFER, LABELS, NEGATED)
    folder = tmp_path / "cut"
    shutil.copytree(cut, folder)
    log = _rerun(repo, work, folder)
    assert "resuming from" not in log and "kept" not in log
    assert (
        len(re.findall(r"seed\d\.json was written by other code .*; set aside as seed\d\.json\.stale", log))
        == 2
    )
    for seed in (0, 1):
        result = json.loads((folder / f"seed{seed}.json").read_text())
        assert result["code_fingerprint"] == fingerprint_of(repo / "ktnas")
        assert (folder / "ckpt" / f"seed{seed}.json.stale").exists()
