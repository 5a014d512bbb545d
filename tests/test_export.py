"""`ktnas export`: a DARTS result's cells as DARTS Genotypes (Python literal and JSON), the parameter count
of the retraining network and a picture of the cells; the authors' Appendix A genotypes round-trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ktnas.cli import main
from ktnas.recipes.darts import retrain_config
from ktnas.report.darts_export import export_darts, genotype_literal, load_darts_result
from ktnas.results import SearchResult, TaskResult
from ktnas.spaces.darts import DARTS_OPS, RETRAIN_OPS, DartsSpace
from ktnas.training.network import EvalNetwork, count_params

SPACE = DartsSpace()

# docs/reproduction.md Appendix A in the DARTS Genotype form: the authors' op names (DW3 = sep_conv_3x3,
# DC7 = dil_conv_7x7, Identity = skip_connect, MAX/AVG = max/avg_pool_3x3), their input convention
# (0 = older), nodes and pairs in their order
KT_C10 = {
    "normal": [("skip_connect", 1), ("avg_pool_3x3", 1), ("max_pool_3x3", 1), ("sep_conv_3x3", 1),
               ("sep_conv_3x3", 1), ("dil_conv_7x7", 2), ("dil_conv_5x5", 0), ("max_pool_3x3", 4),
               ("sep_conv_3x3", 0), ("sep_conv_7x7", 4)],
    "normal_concat": [3, 5, 6],
    "reduce": [("max_pool_3x3", 1), ("dil_conv_7x7", 1), ("skip_connect", 0), ("dil_conv_5x5", 1),
               ("sep_conv_5x5", 0), ("avg_pool_3x3", 0), ("avg_pool_3x3", 4), ("max_pool_3x3", 3),
               ("dil_conv_3x3", 3), ("max_pool_3x3", 0)],
    "reduce_concat": [2, 5, 6],
}  # fmt: skip
KT_C100 = {
    "normal": [("dil_conv_5x5", 0), ("dil_conv_7x7", 0), ("sep_conv_5x5", 1), ("sep_conv_7x7", 0),
               ("avg_pool_3x3", 1), ("max_pool_3x3", 0), ("sep_conv_7x7", 1), ("skip_connect", 0),
               ("sep_conv_5x5", 1), ("avg_pool_3x3", 4)],
    "normal_concat": [2, 3, 5, 6],
    "reduce": [("dil_conv_7x7", 1), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
               ("dil_conv_5x5", 0), ("avg_pool_3x3", 2), ("dil_conv_3x3", 0), ("dil_conv_3x3", 4),
               ("sep_conv_3x3", 2), ("dil_conv_3x3", 1)],
    "reduce_concat": [3, 5, 6],
}  # fmt: skip
# the same cells in ktnas's canonical form (docs/reproduction.md Appendix A)
KT_C10_ARCH = (
    "R:Dc7x7~0+Max3x3~0|Dc5x5~0+Identity~1|Dw5x5~1+Avg3x3~1|Max3x3~3+Avg3x3~4|Max3x3~1+Dc3x3~3;"
    "N:Identity~0+Avg3x3~0|Dw3x3~0+Max3x3~0|Dw3x3~0+Dc7x7~2|Dc5x5~1+Max3x3~4|Dw3x3~1+Dw7x7~4"
)
KT_C100_ARCH = (
    "R:Dw3x3~0+Dc7x7~0|Dw3x3~0+Dw3x3~1|Dc5x5~1+Avg3x3~2|Dc3x3~1+Dc3x3~4|Dc3x3~0+Dw3x3~2;"
    "N:Dc5x5~1+Dc7x7~1|Dw5x5~0+Dw7x7~1|Avg3x3~0+Max3x3~1|Dw7x7~0+Identity~1|Dw5x5~0+Avg3x3~4"
)


def _nodes(cell):
    """A cell as its nodes, each the multiset of its two (op, input) pairs: a node adds them."""
    return [sorted(tuple(p) for p in cell[i : i + 2]) for i in range(0, len(cell), 2)]


def _same(a, b) -> bool:
    return all(_nodes(a[c]) == _nodes(b[c]) for c in ("normal", "reduce")) and all(
        list(a[c]) == list(b[c]) for c in ("normal_concat", "reduce_concat")
    )


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize(("published", "arch"), [(KT_C10, KT_C10_ARCH), (KT_C100, KT_C100_ARCH)])
def test_appendix_a_genotypes_round_trip(published, arch) -> None:
    assert SPACE.from_darts(published) == arch
    back = SPACE.to_darts(arch)
    assert _same(back, published)
    assert back["normal"] != published["normal"] or back["reduce"] != published["reduce"]  # order differs
    assert SPACE.from_darts(back) == arch
    # the retraining genotype of the authors' names and the DARTS one name the same ops
    retrain = SPACE.to_retrain(arch)
    assert _same(
        {
            **retrain,
            **{
                c: [(DARTS_OPS[RETRAIN_OPS.index(o)], i) for o, i in retrain[c]] for c in ("normal", "reduce")
            },
        },
        published,
    )


def test_darts_genotype_is_in_the_darts_convention() -> None:
    # canonical node 2 of the normal cell: sep_conv_3x3 on the newer input (ktnas 0) = DARTS input 1
    arch = (
        "R:" + "|".join(["Dw3x3~0+Dw3x3~1"] * 5) + ";N:Dw3x3~0+Max3x3~0|" + "|".join(["Avg3x3~1+Dw3x3~2"] * 4)
    )
    geno = SPACE.to_darts(arch)
    assert geno["normal"][:2] == [("sep_conv_3x3", 1), ("max_pool_3x3", 1)]
    assert geno["normal"][2:4] == [("avg_pool_3x3", 0), ("sep_conv_3x3", 2)]
    assert geno["normal_concat"] == [3, 4, 5, 6] and geno["reduce_concat"] == [2, 3, 4, 5, 6]
    assert {op for op, _ in geno["reduce"]} == {"sep_conv_3x3"}


def test_from_darts_rejects_what_is_not_this_space() -> None:
    four_nodes = {"normal": KT_C10["normal"][:8], "reduce": KT_C10["reduce"]}
    with pytest.raises(ValueError, match="normal cell needs 10 .op, input. pairs, got 8"):
        SPACE.from_darts(four_nodes)
    with pytest.raises(ValueError, match="unknown op 'conv_7x1_1x7'"):
        SPACE.from_darts({**KT_C10, "normal": [("conv_7x1_1x7", 0)] + KT_C10["normal"][1:]})
    with pytest.raises(
        ValueError, match=r"normal_concat=\[2, 3, 4, 5\] is not this space's cell output.*\[3, 5, 6\]"
    ):
        SPACE.from_darts({**KT_C10, "normal_concat": range(2, 6)})


def _result(tmp_path: Path, space: str = "darts", run: str = "ktnas") -> Path:
    """A DARTS search result file of the two synthetic tasks (as `ktnas search --space darts` writes it)."""
    rng = np.random.default_rng(3)
    tasks = [
        TaskResult("synthetic", SPACE.sample(rng), 0.5, generations=3, extra={"best_val_acc": 50.0}),
        TaskResult("synthetic_b", KT_C10_ARCH, 0.6, generations=3, extra={"best_val_acc": 60.0}),
    ]
    result = SearchResult(space, "ktnas", 2, {}, tasks, "0", "abc", extra={"group": "synthetic"})
    path = tmp_path / "results" / "search" / space / run / "seed2.json"
    result.save(path)
    return path


def test_export_writes_genotypes_counts_and_pictures(tmp_path, capsys) -> None:
    path = _result(tmp_path)
    out = tmp_path / "export"
    assert (
        main(
            [
                "export",
                str(path),
                "--params",
                '{"layers": 5, "synthetic_b": {"channels": 6}}',
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    summary = json.loads((out / "export.json").read_text())
    assert (summary["method"], summary["run"], summary["seed"]) == ("ktnas", "ktnas", 2)
    result = SearchResult.load(path)
    for entry, task in zip(summary["tasks"], result.tasks, strict=True):
        name = entry["task"]
        assert name == task.task and entry["arch"] == task.best_arch
        # the parameter count is that of the network `ktnas darts-retrain` builds at these settings
        cfg = retrain_config(name, {"layers": 5, **({"channels": 6} if name == "synthetic_b" else {})})
        classes = {"synthetic": 10, "synthetic_b": 5}[name]
        net = EvalNetwork(task.best_arch, cfg.channels, classes, layers=5, auxiliary=cfg.auxiliary)
        assert entry["params"] == count_params(net)
        assert entry["network"] == {
            "channels": cfg.channels,
            "layers": 5,
            "auxiliary": True,
            "num_classes": classes,
        }
        assert f"{entry['params']:,}" in printed and f"C={cfg.channels}, 5 cells" in printed
        # the Python file runs and defines the Genotype that the JSON holds
        scope: dict = {}
        exec((out / f"{name}.genotype.py").read_text(), scope)
        genotype = scope[entry["name"]]
        assert type(genotype).__name__ == "Genotype" and genotype._fields == (
            "normal", "normal_concat", "reduce", "reduce_concat"
        )  # fmt: skip
        saved = json.loads((out / f"{name}.genotype.json").read_text())
        assert saved["params"] == entry["params"] and saved["source"] == str(path)
        assert genotype._asdict() == {
            k: [tuple(p) for p in v] if k in ("normal", "reduce") else v for k, v in saved["genotype"].items()
        }
        assert SPACE.from_darts(saved["genotype"]) == task.best_arch
        assert f"{entry['name']} = {genotype_literal(saved['genotype'])}" in printed
        png = out / f"{name}.cells.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    assert summary["tasks"][1]["params"] != summary["tasks"][0]["params"]
    assert summary["tasks"][1]["not_in_darts"] == ["dil_conv_7x7"]  # KT_C10 uses it
    assert "add it there" in (out / "synthetic_b.genotype.py").read_text()
    assert not list(out.glob(".*.tmp"))  # written atomically, nothing left behind


def test_export_defaults_to_the_task_retraining_settings(tmp_path, monkeypatch, capsys) -> None:
    path = _result(tmp_path, run="ktnas-r0.5")
    monkeypatch.chdir(tmp_path)
    assert main(["export", str(path)]) == 0
    out = tmp_path / "export" / "ktnas-r0.5" / "seed2"
    entry = json.loads((out / "synthetic_b.genotype.json").read_text())
    assert entry["name"] == "KTNAS_R0_5_SYNTHETIC_B_SEED2"
    assert entry["network"] == {"channels": 48, "layers": 11, "auxiliary": True, "num_classes": 5}
    assert "C=48, 11 cells" in capsys.readouterr().out


def test_appendix_a_export_counts_the_published_parameters(tmp_path) -> None:
    # the paper's 2.97 M (CIFAR-10, C=48), from the CIFAR-10 retraining defaults
    result = SearchResult("darts", "ktnas", 0, {}, [TaskResult("cifar10", KT_C10_ARCH, 0.9)], "0", "abc")
    summary = export_darts(result, {"cifar10": retrain_config("cifar10")}, tmp_path)
    assert summary["tasks"][0]["params"] / 1e6 == pytest.approx(2.97, abs=0.005)
    assert summary["tasks"][0]["network"]["channels"] == 48
    assert _same(summary["tasks"][0]["genotype"], KT_C10)


def test_export_errors_name_the_file_and_the_fix(tmp_path, capsys) -> None:
    missing = tmp_path / "seed0.json"
    assert main(["export", str(missing)]) == 2
    assert f"{missing}: no such search result" in capsys.readouterr().err
    nb201 = _result(tmp_path, space="nb201")
    assert main(["export", str(nb201)]) == 2
    assert f"export needs a DARTS search result; {nb201} is a nb201 result" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text('{"space": "darts"')
    assert main(["export", str(broken)]) == 2
    assert f"{broken}: unreadable search result" in capsys.readouterr().err
    bad_cell = _result(tmp_path / "bad")
    blob = json.loads(bad_cell.read_text())
    blob["tasks"][0]["best_arch"] = "R:nonsense"
    bad_cell.write_text(json.dumps(blob))
    assert main(["export", str(bad_cell)]) == 2
    assert f"{bad_cell}: task synthetic: invalid DARTS cell" in capsys.readouterr().err
    good = _result(tmp_path / "good")
    assert (
        main(["export", str(good), "--params", '{"cifar10": {"channels": 36}}', "--out", str(tmp_path / "x")])
        == 2
    )
    assert "'cifar10' is not a task of this result (synthetic, synthetic_b)" in capsys.readouterr().err
    assert main(["export", str(good), "--params", '{"chanels": 36}', "--out", str(tmp_path / "x")]) == 2
    assert "unknown DARTS retraining hyper-parameter(s) ['chanels']" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()  # nothing written before the settings are known good
    assert load_darts_result(good).tasks[0].task == "synthetic"
