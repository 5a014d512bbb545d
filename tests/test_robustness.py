"""Issue "Robustness": clear errors on bad input, byte-identical reruns, resume after SIGKILL."""

from __future__ import annotations

import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ktnas.cli import main
from ktnas.search.base import Individual, sort_population, top_k
from ktnas.search.reproduction import ProxyREA
from ktnas.spaces import get_space

KTNAS = [sys.executable, "-m", "ktnas"]
TASKS = "cifar10,cifar100,imagenet16"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("space", "bad", "form"),
    [
        ("nb201", "|nor_conv_3x3~0|+|conv~0|", "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|"),
        ("trans101", "64-41414-9_99_999", "64-41414-a_bc_def"),
        ("darts", "R:nonsense", "R:"),
    ],
)
def test_malformed_architecture_names_string_and_form(space, bad, form):
    with pytest.raises(ValueError) as err:
        get_space(space).canonical(bad)
    assert repr(bad) in str(err.value) and form in str(err.value)


def test_nan_and_inf_rank_last():
    pop = [
        Individual("a", float("nan"), 0),
        Individual("b", 1.0, 1),
        Individual("c", -math.inf, 2),
        Individual("d", 2.0, 3),
    ]
    assert [i.arch for i in sort_population(pop)] == ["d", "b", "c", "a"]
    assert [i.arch for i in top_k(pop, 2)] == ["d", "b"]


def test_nan_proxy_scores_never_win_the_prescreen():
    space = get_space("nb201")
    rng = np.random.default_rng(0)
    archs = space.all_archs()
    proxy = {a: (float("nan") if i % 2 else float(i)) for i, a in enumerate(archs)}
    proxy[archs[1]] = float("inf")
    reproduction = ProxyREA(proxy, warmup=200)

    class Fresh:
        def seen(self, arch):
            return False

    initial = reproduction.initial(space, Fresh(), 10, rng)
    assert all(math.isfinite(proxy[a]) for a in initial)


def test_missing_and_corrupt_tables_give_one_line(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert (
        main(
            [
                "search",
                "--space",
                "nb201",
                "--method",
                "rs",
                "--seed",
                "0",
                "--tasks",
                TASKS,
                "--benchmark",
                str(tmp_path / "missing.parquet"),
                "--out",
                str(out),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert (
        len(err.splitlines()) == 1 and "missing.parquet: file not found" in err and "ktnas benchmark" in err
    )
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 this is not parquet")
    for flag, method in (("--benchmark", "rs"), ("--embedding", "ktnas"), ("--proxies", "zero")):
        args = [
            "search",
            "--space",
            "nb201",
            "--method",
            method,
            "--seed",
            "0",
            "--tasks",
            TASKS,
            flag,
            str(corrupt),
            "--out",
            str(out),
        ]
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "corrupt.parquet" in err, err
    assert not out.exists()


def test_cli_rejects_bad_params(tmp_path, capsys):
    base = ["search", "--space", "nb201", "--seed", "0", "--tasks", TASKS, "--out", str(tmp_path / "r.json")]
    assert main([*base, "--method", "rea", "--params", "{not json"]) == 2
    assert "--params must be a JSON object" in capsys.readouterr().err
    assert main([*base, "--method", "rea", "--params", '{"population_size": 1}']) == 2
    assert main([*base, "--method", "nope"]) == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err


def test_search_and_table_are_byte_identical_across_runs(tmp_path):
    paths = []
    for rep in range(2):
        res = tmp_path / f"rea{rep}.json"
        assert (
            main(
                [
                    "search",
                    "--space",
                    "nb201",
                    "--method",
                    "rea",
                    "--seed",
                    "4",
                    "--tasks",
                    TASKS,
                    "--out",
                    str(res),
                ]
            )
            == 0
        )
        csv, md = tmp_path / f"t{rep}.csv", tmp_path / f"t{rep}.md"
        assert (
            main(
                [
                    "table",
                    "--space",
                    "nb201",
                    "--inputs",
                    str(res),
                    "--out-csv",
                    str(csv),
                    "--out-md",
                    str(md),
                ]
            )
            == 0
        )
        paths.append((res, csv, md))
    for a, b in zip(*paths, strict=True):
        assert _sha(a) == _sha(b)


@pytest.mark.slow
def test_sigkill_mid_search_then_resume_matches_uninterrupted(tmp_path):
    emb = tmp_path / "emb.parquet"
    assert main(["embed", "--space", "nb201", "--method", "onehot", "--out", str(emb)]) == 0
    params = json.dumps({"generations": 400, "stop_at_optimum": False, "warmup": 200})
    cmd = [
        *KTNAS,
        "search",
        "--space",
        "nb201",
        "--method",
        "ktnas",
        "--seed",
        "2",
        "--tasks",
        TASKS,
        "--params",
        params,
        "--embedding",
        str(emb),
    ]
    ref = tmp_path / "ref.json"
    subprocess.run([*cmd, "--out", str(ref)], check=True, capture_output=True, timeout=300)

    ckpt, out = tmp_path / "ckpt.json", tmp_path / "out.json"
    proc = subprocess.Popen([*cmd, "--checkpoint", str(ckpt), "--out", str(out)], stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        if ckpt.exists() and json.loads(ckpt.read_text() or "{}").get("state", {}).get("generation", 0) >= 50:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert ckpt.exists() and not out.exists()
    killed_at = json.loads(ckpt.read_text())["state"]["generation"]
    assert 50 <= killed_at < 399
    subprocess.run(
        [*cmd, "--checkpoint", str(ckpt), "--out", str(out)], check=True, capture_output=True, timeout=300
    )
    assert out.read_bytes() == ref.read_bytes()
    assert not ckpt.exists()  # a finished run removes its checkpoint
