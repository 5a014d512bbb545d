"""scripts/bench.py's worker runs a part with the package it is given and prints one line (behaviour, not
speed: no timing is checked)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "scripts" / "bench.py"


def _worker(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, str(BENCH), "--worker", *args, "--quick"]
    return subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("part", ["gcn-fit", "trans101-weaknas"])
def test_worker_prints_the_cpu_per_seed_of_a_part(part: str, tmp_path: Path) -> None:
    proc = _worker(part, "--seeds", "0", "--data", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    line = json.loads(proc.stdout.strip().splitlines()[-1])
    assert line["part"] == part and line["cpu_per_seed"] > 0


def test_worker_refuses_an_unknown_part(tmp_path: Path) -> None:
    proc = _worker("nb201-nothing", "--seeds", "0", "--data", str(tmp_path))
    assert proc.returncode != 0 and "unknown part 'nb201-nothing'" in proc.stderr
