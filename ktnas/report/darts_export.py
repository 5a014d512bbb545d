"""The found DARTS architectures, ready to take away (``ktnas export``).

For each task of a DARTS search result: the cells as the ``Genotype`` that DARTS code loads (a Python file
and JSON; :meth:`ktnas.spaces.darts.DartsSpace.to_darts`), the parameter count of the retraining network
(docs/reproduction.md §3.3.9, DARTS ``NetworkCIFAR``) at the given retraining settings, and a picture of
the normal and reduction cells (matplotlib only; no graphviz).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ktnas import __version__
from ktnas._io import KtnasError, atomic_path, git_sha, write_json, write_text
from ktnas.results import SearchResult
from ktnas.spaces.darts import NOT_IN_DARTS, DartsSpace

if TYPE_CHECKING:
    from ktnas.training.retrain import RetrainConfig

#: the DARTS code's definition of a genotype (``genotypes.py``)
GENOTYPE_HEADER = (
    "from collections import namedtuple\n\n"
    "Genotype = namedtuple('Genotype', 'normal normal_concat reduce reduce_concat')\n"
)
#: how to add the ops of this space that DARTS's ``operations.OPS`` lacks
MISSING_OPS = {
    "dil_conv_7x7": "'dil_conv_7x7': lambda C, stride, affine: DilConv(C, C, 7, stride, 6, 2, affine=affine),"
}
CELL_FIELDS = ("normal", "normal_concat", "reduce", "reduce_concat")


@dataclass(frozen=True)
class TaskExport:
    """One task's found cells, as exported."""

    task: str
    #: the Python name the ``.genotype.py`` file binds, e.g. ``KTNAS_DIGITS_SEED0``
    name: str
    arch: str
    genotype: dict[str, Any]
    #: parameters of the retraining network, the auxiliary head excluded (§3.3.9)
    params: int
    #: the network it was counted on: channels, layers (cells), auxiliary, num_classes
    network: dict[str, Any]
    files: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "name": self.name,
            "arch": self.arch,
            "genotype": self.genotype,
            "params": self.params,
            "params_m": self.params / 1e6,
            "network": self.network,
            "not_in_darts": ops_not_in_darts(self.genotype),
            "files": self.files,
        }


def load_darts_result(path: str | Path) -> SearchResult:
    """Read a DARTS search result; a missing file, another space's result or an invalid cell is one
    error naming the file."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(
            f"{p}: no such search result; give a DARTS search result file, "
            "e.g. results/search/darts/ktnas/seed0.json"
        )
    result = SearchResult.load(p)
    if result.space != "darts":
        raise ValueError(
            f"{p}: export needs a DARTS search result; {p} is a {result.space} result "
            "(results/search/darts/{run}/seed{N}.json)"
        )
    space = DartsSpace()
    for t in result.tasks:
        try:
            t.best_arch = space.canonical(t.best_arch)
        except ValueError as err:
            raise KtnasError(
                f"{p}: task {t.task}: invalid DARTS cell ({err}); rerun its search job"
            ) from None
    return result


def ops_not_in_darts(genotype: Mapping[str, Any]) -> list[str]:
    """The ops of ``genotype`` that DARTS's ``operations.OPS`` does not define."""
    used = {op for cell in ("normal", "reduce") for op, _ in genotype[cell]}
    return [op for op in NOT_IN_DARTS if op in used]


def python_name(run: str, task: str, seed: int) -> str:
    """``KTNAS_DIGITS_SEED0``: a Python name for a genotype in a DARTS ``genotypes.py``."""
    name = re.sub(r"\W+", "_", f"{run}_{task}_seed{seed}").upper()
    return name if name[0].isalpha() else f"G_{name}"


def genotype_source(name: str, genotype: Mapping[str, Any], comment: Sequence[str] = ()) -> str:
    """A Python file defining ``Genotype`` as DARTS does and binding ``name`` to ``genotype``."""
    lines = [f"# {line}".rstrip() for line in comment]
    for op in ops_not_in_darts(genotype):
        lines += [f"# {op} is not in DARTS's operations.OPS; add it there:", f"#   {MISSING_OPS[op]}"]
    lines += [GENOTYPE_HEADER, f"{name} = Genotype("]
    for cell in ("normal", "reduce"):
        pairs = [tuple(p) for p in genotype[cell]]
        lines.append(f"    {cell}=[")
        for n in range(len(pairs) // 2):
            lines.append(f"        {pairs[2 * n]!r}, {pairs[2 * n + 1]!r},  # node {n + 2}")
        lines.append("    ],")
        lines.append(f"    {cell}_concat={list(genotype[f'{cell}_concat'])!r},")
    lines.append(")")
    return "\n".join(lines) + "\n"


def genotype_literal(genotype: Mapping[str, Any]) -> str:
    """``Genotype(normal=[...], normal_concat=[...], reduce=[...], reduce_concat=[...])`` on one line."""
    parts = []
    for key in CELL_FIELDS:
        value = genotype[key]
        shown = [tuple(p) for p in value] if key in ("normal", "reduce") else list(value)
        parts.append(f"{key}={shown!r}")
    return f"Genotype({', '.join(parts)})"


def count_network_params(arch: str, num_classes: int, cfg: RetrainConfig) -> int:
    """Parameters of the network ``ktnas darts-retrain`` builds for ``arch`` at ``cfg`` (aux head excluded)."""
    from ktnas.training.network import count_params
    from ktnas.training.retrain import build_network

    return count_params(build_network(arch, num_classes, cfg))


def export_darts(
    result: SearchResult, configs: Mapping[str, RetrainConfig], out: str | Path, source: str | Path = ""
) -> dict[str, Any]:
    """Write every task's ``{task}.genotype.py``, ``{task}.genotype.json`` and ``{task}.cells.png`` and
    the summary ``export.json`` into ``out``; ``configs`` holds each task's retraining settings (only the
    network's channels, layers and auxiliary head matter here). Returns the summary."""
    from ktnas.training.data import get_dataset_spec

    out = Path(out)
    space = DartsSpace()
    run = {
        "source": str(source),
        "space": result.space,
        "method": result.method,
        "run": result.run,
        "seed": result.seed,
        "group": result.extra.get("group"),
        "search_code_fingerprint": result.code_fingerprint,
    }
    exported = []
    for t in result.tasks:
        if t.task not in configs:
            raise ValueError(f"no retraining settings for task {t.task!r} (given: {', '.join(configs)})")
        cfg = configs[t.task]
        num_classes = get_dataset_spec(t.task).num_classes
        network = {
            "channels": cfg.channels,
            "layers": cfg.layers,
            "auxiliary": cfg.auxiliary,
            "num_classes": num_classes,
        }
        genotype = space.to_darts(t.best_arch)
        params = count_network_params(t.best_arch, num_classes, cfg)
        name = python_name(result.run, t.task, result.seed)
        files = {
            "python": f"{t.task}.genotype.py",
            "json": f"{t.task}.genotype.json",
            "png": f"{t.task}.cells.png",
        }
        item = TaskExport(t.task, name, t.best_arch, genotype, params, network, files)
        comment = [
            f"The cells ktnas found for task {t.task}: method {result.method}, run {result.run}, "
            f"seed {result.seed}" + (f", from {source}" if source else "") + ".",
            "DARTS convention: inputs 0 and 1 are the outputs of the cell before the previous one and of",
            "the previous cell; 2.. are the intermediate nodes; two (op, input) pairs per node, added.",
            f"Retraining network (DARTS NetworkCIFAR): C={cfg.channels}, {cfg.layers} cells, "
            f"{num_classes} classes: {params:,} parameters (auxiliary head excluded).",
            f"ktnas canonical form (inputs 0 and 1 the other way round: 0 = newer): {t.best_arch}",
        ]
        write_text(out / files["python"], genotype_source(name, genotype, comment))
        write_json(out / files["json"], {**run, **item.to_dict()})
        title = (
            f"{t.task}: {result.run}, seed {result.seed} - {params / 1e6:.3f} M parameters "
            f"(C={cfg.channels}, {cfg.layers} cells, auxiliary head excluded)"
        )
        draw_cells(genotype, out / files["png"], title)
        exported.append(item.to_dict())
    summary = {**run, "ktnas_version": __version__, "git_sha": git_sha(), "tasks": exported}
    write_json(out / "export.json", summary)
    return summary


def summary_text(summary: Mapping[str, Any], out: str | Path) -> str:
    """The printed table of an export: one row per task, then each task's genotype."""
    head = (
        f"DARTS cells of {summary['source'] or 'the search result'} (method {summary['method']}, "
        f"run {summary['run']}, seed {summary['seed']}) written to {out}/"
    )
    rows = [("task", "parameters", "network", "files")]
    for t in summary["tasks"]:
        n = t["network"]
        aux = "auxiliary head" if n["auxiliary"] else "no auxiliary head"
        rows.append(
            (
                t["task"],
                f"{t['params']:,}",
                f"C={n['channels']}, {n['layers']} cells, {n['num_classes']} classes, {aux}",
                ", ".join(t["files"].values()),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [head, ""]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines += ["", "parameters: the retraining network at these settings, auxiliary head excluded", ""]
    for t in summary["tasks"]:
        lines.append(f"{t['name']} = {genotype_literal(t['genotype'])}")
        for op in t["not_in_darts"]:
            lines.append(f"  ({op} is not in DARTS's operations.OPS: {MISSING_OPS[op]})")
    return "\n".join(lines)


# -- the picture -------------------------------------------------------------------------------------------
_RADIUS = 0.42
_LABEL_W, _LABEL_H = 1.05, 0.3
_RADS = (0.0, 0.2, -0.2, 0.35, -0.35, 0.5, -0.5, 0.7, -0.7)
_LABEL_AT = (0.5, 0.4, 0.6, 0.3, 0.7)
_COLOURS = {"sep": "#1f5fa8", "dil": "#7b3294", "max": "#b35806", "avg": "#1b7837", "ski": "#555555"}


def _positions(n_nodes: int) -> dict[int, tuple[float, float]]:
    """Inputs 0/1 on the left, intermediate nodes zig-zagging to the right, the output (-1) last."""
    pos = {0: (0.0, 1.4), 1: (0.0, -1.4)}
    for k in range(2, 2 + n_nodes):
        pos[k] = (2.4 * (k - 1) + 0.4, 0.9 if k % 2 == 0 else -0.9)
    pos[-1] = (2.4 * n_nodes + 2.8, 0.0)
    return pos


def _bezier(a: tuple[float, float], b: tuple[float, float], rad: float, t: float) -> tuple[float, float]:
    """A point of matplotlib's ``arc3,rad=rad`` curve from ``a`` to ``b`` (equal axis scales)."""
    (x1, y1), (x2, y2) = a, b
    cx, cy = (x1 + x2) / 2 + rad * (y2 - y1), (y1 + y2) / 2 - rad * (x2 - x1)
    u = 1.0 - t
    return u * u * x1 + 2 * u * t * cx + t * t * x2, u * u * y1 + 2 * u * t * cy + t * t * y2


def _route(
    a: int,
    b: int,
    pos: Mapping[int, tuple[float, float]],
    labels: Sequence[tuple[float, float]],
    curves: Sequence[tuple[float, float]],
    labelled: bool,
) -> tuple[float, float]:
    """(curvature, label position along the curve) of edge a -> b: the edge passes no other node or label
    and its label sits on no other label, node or edge, or the least bad such choice."""
    best, best_cost = (_RADS[0], 0.5), math.inf
    for rad in _RADS:
        cost = abs(rad) * 0.1
        for t in (i / 20 for i in range(2, 19)):
            x, y = _bezier(pos[a], pos[b], rad, t)
            cost += sum(
                1.0
                for k, (nx, ny) in pos.items()
                if k not in (a, b) and math.hypot(x - nx, y - ny) < _RADIUS + 0.3
            )
            cost += sum(0.5 for lx, ly in labels if abs(x - lx) < _LABEL_W / 2 and abs(y - ly) < _LABEL_H / 2)
        at, label_cost = 0.5, 0.0
        if labelled:
            label_cost = math.inf
            for t in _LABEL_AT:
                mx, my = _bezier(pos[a], pos[b], rad, t)
                c = abs(t - 0.5) * 0.2
                c += sum(
                    3.0 for lx, ly in labels if abs(mx - lx) < _LABEL_W and abs(my - ly) < _LABEL_H * 1.2
                )
                c += sum(
                    3.0
                    for nx, ny in pos.values()
                    if abs(mx - nx) < _LABEL_W / 2 + _RADIUS and abs(my - ny) < _LABEL_H / 2 + _RADIUS
                )
                c += sum(0.3 for x, y in curves if abs(mx - x) < _LABEL_W / 2 and abs(my - y) < _LABEL_H / 2)
                if c < label_cost:
                    at, label_cost = t, c
        if cost + label_cost < best_cost:
            best, best_cost = (rad, at), cost + label_cost
    return best


def _draw_cell(
    ax: Any, pairs: Sequence[tuple[str, int]], concat: Sequence[int], title: str
) -> tuple[float, float, float, float]:
    """Draw one cell on ``ax``; returns the extent it needs (x0, x1, y0, y1)."""
    from matplotlib.patches import Circle, FancyArrowPatch

    n_nodes = len(pairs) // 2
    pos = _positions(n_nodes)
    circles = {}
    names = {0: "$c_{k-2}$", 1: "$c_{k-1}$", -1: "$c_{k}$"}
    fills = {0: "#cfe8cf", 1: "#cfe8cf", -1: "#f0e6a8"}
    for k, (x, y) in pos.items():
        circles[k] = Circle((x, y), _RADIUS, facecolor=fills.get(k, "#cfe0f3"), edgecolor="black", zorder=3)
        ax.add_patch(circles[k])
        ax.text(x, y, names.get(k, str(k)), ha="center", va="center", fontsize=10, zorder=4)
    ax.text(pos[0][0] - 0.55, pos[0][1], "input 0", ha="right", va="center", fontsize=8)
    ax.text(pos[1][0] - 0.55, pos[1][1], "input 1", ha="right", va="center", fontsize=8)
    labels: list[tuple[float, float]] = []
    curves: list[tuple[float, float]] = []
    edges = [(int(i), 2 + j // 2, str(op)) for j, (op, i) in enumerate(pairs)]
    # short edges first, so that they stay straight and the long ones curve around them; the output last
    edges.sort(key=lambda e: math.dist(pos[e[0]], pos[e[1]]))
    edges += [(int(k), -1, "") for k in concat]
    for src, dst, op in edges:
        rad, at = _route(src, dst, pos, labels, curves, bool(op))
        colour = _COLOURS.get(op[:3], "#999999")
        ax.add_patch(
            FancyArrowPatch(
                pos[src],
                pos[dst],
                connectionstyle=f"arc3,rad={rad}",
                arrowstyle="-|>",
                mutation_scale=11,
                patchA=circles[src],
                patchB=circles[dst],
                color=colour,
                lw=1.3 if op else 0.9,
                linestyle="-" if op else "--",
                zorder=1,
            )
        )
        curves += [_bezier(pos[src], pos[dst], rad, t / 20) for t in range(21)]
        if op:
            mx, my = _bezier(pos[src], pos[dst], rad, at)
            labels.append((mx, my))
            ax.text(
                mx,
                my,
                op,
                ha="center",
                va="center",
                fontsize=7,
                color=colour,
                zorder=2,
                bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.9},
            )
    points = list(pos.values()) + curves
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=10)
    return min(xs) - 1.6, max(xs) + 0.8, min(ys) - 0.7, max(ys) + 0.7


def draw_cells(genotype: Mapping[str, Any], path: str | Path, title: str = "") -> None:
    """PNG of the normal (top) and reduction (bottom) cell of a DARTS ``Genotype`` (DARTS convention:
    0 = older input), one arrow per (op, input) pair labelled with its op; dashed arrows are the
    concatenated cell output."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(12, 9))
    extents = []
    for ax, cell, what in (
        (axes[0], "normal", "normal cell"),
        (axes[1], "reduce", "reduction cell (ops reading input 0 or 1 have stride 2)"),
    ):
        concat = list(genotype[f"{cell}_concat"])
        title_ = f"{what}; output: concat of nodes {', '.join(map(str, concat))}"
        extents.append(_draw_cell(ax, genotype[cell], concat, title_))
    x0, x1 = min(e[0] for e in extents), max(e[1] for e in extents)
    for ax, e in zip(axes, extents, strict=True):  # one scale for both cells
        ax.set_xlim(x0, x1)
        ax.set_ylim(e[2], e[3])
    heights = [e[3] - e[2] for e in extents]
    axes[0].get_gridspec().set_height_ratios(heights)
    fig.set_size_inches(12, 12 * sum(heights) / (x1 - x0) + 1.5)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=130)
    plt.close(fig)
