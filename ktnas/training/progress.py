"""A clock on the long DARTS jobs: elapsed time and ETA in the log, and a metrics CSV for plotting.

A search logs one line per generation (elapsed, ETA, each task's best fitness) and rewrites
``{result stem}.metrics.csv`` beside its result; a retraining does the same per epoch. The CSV is
rewritten whole, atomically, from the state a checkpoint keeps, so a resumed job's file is complete.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ktnas._io import write_text


def metrics_path(result: str | Path) -> Path:
    """``results/.../seed0.json`` -> ``results/.../seed0.metrics.csv``."""
    return Path(result).with_suffix(".metrics.csv")


def eta_seconds(elapsed: float, done: int, total: int) -> float:
    """Time left at the mean time per unit so far (0 when done, NaN before the first unit)."""
    if done >= total:
        return 0.0
    return elapsed / done * (total - done) if done > 0 else float("nan")


def duration(seconds: float) -> str:
    """``3725`` -> ``1h02m05s``; ``?`` when unknown."""
    if not math.isfinite(seconds):
        return "?"
    s = round(seconds)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s" if m else f"{s}s"


def write_metrics(path: str | Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """``rows`` as a CSV (columns in first-seen order), written atomically."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buf.getvalue())
