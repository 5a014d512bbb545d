"""Start-up cost of a ``ktnas`` call and what batching seeds saves (prints ratios against a baseline
measured in the same run).

1. Import cost: ``import ktnas.cli`` + config validation in a fresh interpreter, now, against the same
   with the modules the old ``ktnas._io`` imported eagerly (pandas, pyarrow) — what every call used to pay.
2. Batching: N seeds of one NB201 method as N ``ktnas search --seed`` processes (one job per seed, as the
   pipeline used to run) against one ``ktnas search --seeds`` process; the result files are compared
   byte for byte.

    python scripts/startup_speed.py [--seeds 8] [--method ktnas_random] [--repeat 5]
"""

from __future__ import annotations

import argparse
import filecmp
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VALIDATE = f"from ktnas.config import load_config; load_config({str(ROOT / 'config' / 'config.yaml')!r})"
OLD_EAGER = "import pandas, pyarrow, pyarrow.parquet; "


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--method", default="ktnas_random")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    py = sys.executable

    now = [wall([py, "-c", f"import ktnas.cli; {VALIDATE}"]) for _ in range(args.repeat)]
    old = [wall([py, "-c", f"{OLD_EAGER}import ktnas.cli; {VALIDATE}"]) for _ in range(args.repeat)]
    print(
        f"import + validate config: before {statistics.median(old):.2f} s, now {statistics.median(now):.2f} s, "
        f"ratio {statistics.median(old) / statistics.median(now):.2f}x (median of {args.repeat})"
    )

    tasks = "cifar10,cifar100,imagenet16"
    with tempfile.TemporaryDirectory() as tmp:
        one, many = Path(tmp, "one"), Path(tmp, "many")
        base = [py, "-m", "ktnas", "search", "--space", "nb201", "--method", args.method, "--tasks", tasks]
        start = time.perf_counter()
        for seed in range(args.seeds):
            subprocess.run([*base, "--seed", str(seed), "--out", str(one / f"seed{seed}.json")], check=True,
                           capture_output=True)  # fmt: skip
        t_one = time.perf_counter() - start
        t_many = wall([*base, "--seeds", f"0-{args.seeds - 1}", "--out", str(many / "seed{seed}.json")])
        same = all(
            filecmp.cmp(one / f"seed{s}.json", many / f"seed{s}.json", shallow=False)
            for s in range(args.seeds)
        )
    print(
        f"{args.seeds} seeds of {args.method}: one process per seed {t_one:.1f} s, one process for all "
        f"{t_many:.1f} s, ratio {t_one / t_many:.2f}x; result files byte-identical: {same}"
    )
    if not same:
        raise SystemExit("batched and one-per-seed results differ")


if __name__ == "__main__":
    main()
