"""Compare the per-seed result files of two pipeline runs (e.g. before and after a refactor).

    python scripts/compare_results.py BEFORE_DIR AFTER_DIR [--rename trans101/gcn=trans101/single]
        [--move params.device=runtime.device ...] [--added phi ...]

Each directory is a Snakemake working directory. Result files are matched by (space, run, seed[, task])
whatever folder layout the run used (``results/search/{space}/{run}/seedN.json``, and the older
``results/darts/search/{group}/{method}/seedN.json``; retraining results likewise). Fields that differ by
construction are dropped before comparing: the code's identity (``ktnas_version``, ``git_sha``,
``code_fingerprint``, ``numpy_version``, ``torch_version``) everywhere, and wall-clock
measurements (any key naming seconds, GPU days, images per second or the device name). ``--move OLD=NEW``
relocates a field of the before-files (dotted paths) where a change moved it on purpose, so that its value
is still compared; ``--added KEY`` drops a key (at any depth) from the after-files where a change added a
new field, so that every field both sides have is still compared. Exits 1 when a file is missing on either side or differs.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

VOLATILE = re.compile(
    r"seconds|gpu_days|images_per_s|device_name"
    r"|^ktnas_version$|^git_sha$|^code_fingerprint$|^numpy_version$|^torch_version$"
)
PATTERNS = [
    (re.compile(r"results/search/(?P<space>[^/]+)/(?P<run>[^/]+)/seed(?P<seed>\d+)\.json$"), "search"),
    (
        re.compile(r"results/darts/search/(?P<group>[^/]+)/(?P<method>[^/]+)/seed(?P<seed>\d+)\.json$"),
        "search",
    ),
    (
        re.compile(
            r"results/retrain/(?P<space>[^/]+)/(?P<run>[^/]+)/seed(?P<seed>\d+)/(?P<task>[^/]+)\.json$"
        ),
        "retrain",
    ),
    (
        re.compile(
            r"results/darts/retrain/(?P<group>[^/]+)/(?P<method>[^/]+)/seed(?P<seed>\d+)/(?P<task>[^/]+)\.json$"
        ),
        "retrain",
    ),
]


def strip(obj: Any, added: re.Pattern[str] | None = None) -> Any:
    if isinstance(obj, dict):
        return {
            k: strip(v, added)
            for k, v in obj.items()
            if not VOLATILE.search(k) and not (added and added.match(k))
        }
    if isinstance(obj, list):
        return [strip(v, added) for v in obj]
    return obj


def move(d: dict[str, Any], old: str, new: str) -> bool:
    """Move the field at dotted path ``old`` to ``new`` (creating parents); False if ``old`` is absent."""
    *head, last = old.split(".")
    src = d
    for k in head:
        src = src.get(k)
        if not isinstance(src, dict):
            return False
    if last not in src:
        return False
    value = src.pop(last)
    *head, last = new.split(".")
    dst = d
    for k in head:
        dst = dst.setdefault(k, {})
    dst[last] = value
    return True


def collect(root: Path) -> dict[tuple[str, ...], Path]:
    out: dict[tuple[str, ...], Path] = {}
    for path in sorted(root.glob("results/**/*.json")):
        rel = path.relative_to(root).as_posix()
        for pattern, kind in PATTERNS:
            m = pattern.search(rel)
            if m:
                d = m.groupdict()
                space, run = (
                    (d["space"], d["run"]) if "space" in d else ("darts", f"{d['group']}-{d['method']}")
                )
                out[(kind, space, run, d["seed"], d.get("task") or "")] = path
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument(
        "--rename", action="append", default=[], help="SPACE/RUN=SPACE/RUN: before's name -> after's"
    )
    ap.add_argument(
        "--move", action="append", default=[], help="OLD=NEW: a before-file field's new place (dotted paths)"
    )
    ap.add_argument(
        "--added", action="append", default=[], help="KEY: a field only the after-files have (any depth)"
    )
    args = ap.parse_args()
    moves = [tuple(m.split("=")) for m in args.move]
    added = re.compile("^(" + "|".join(map(re.escape, args.added)) + ")$") if args.added else None
    renames = dict(tuple(r.split("=")) for r in args.rename)
    before, after = collect(args.before), collect(args.after)
    mapped, renamed = {}, set()
    for (kind, space, run, seed, task), path in before.items():
        new_space, new_run = renames.get(f"{space}/{run}", f"{space}/{run}").split("/")
        key = (kind, new_space, new_run, seed, task)
        mapped[key] = path
        if (new_space, new_run) != (space, run):
            renamed.add(key)
    bad = 0
    for key in sorted(set(mapped) | set(after)):
        if key not in after or key not in mapped:
            print(f"MISSING on the {'after' if key not in after else 'before'} side: {key}")
            bad += 1
            continue
        a, b = (json.loads(p.read_text()) for p in (mapped[key], after[key]))
        for old, new in moves:
            move(a, old, new)
        a, b = strip(a), strip(b, added)
        if key in renamed:  # a renamed run records its method under the new name
            a.pop("method", None)
            b.pop("method", None)
        if a != b:
            print(f"DIFFERENT: {key}\n  {mapped[key]}\n  {after[key]}")
            bad += 1
    print(f"{len(after)} result files compared, {bad} missing or different")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
