"""Config validation: every bad value is rejected before any job starts, naming the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from ktnas.config import expand_runs, load_config, validate_config

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"nb201": {"tasks": ["cifar11"]}},
            "nb201.tasks.0: 'cifar11' is not allowed; use one of: cifar10, cifar100, imagenet16",
        ),
        ({"trans101": {"tasks": ["segment"]}}, "trans101.tasks.0: 'segment' is not allowed"),
        (
            {"nb201": {"methods": {"ktnass": {}}}},
            "nb201.methods: 'ktnass' is not allowed; use one of: rs, rea",
        ),
        (
            {"nb201": {"methods": {"ktnas": {"population_size": 1}}}},
            "population_size: 1 is out of range (minimum 2)",
        ),
        (
            {"nb201": {"methods": {"ktnas": {"elite_ratio": 0}}}},
            "elite_ratio: 0 is out of range (exclusiveMinimum 0)",
        ),
        (
            {"nb201": {"methods": {"ktnas": {"elite_ratio": 1.2}}}},
            "elite_ratio: 1.2 is out of range (maximum 1)",
        ),
        (
            {"nb201": {"methods": {"ktnas": {"n_transferred": 11}}}},
            "n_transferred: M=11 exceeds population_size K=10; use M <= K",
        ),
        ({"nb201": {"seeds": -3}}, "nb201.seeds: -3 is out of range (minimum 1)"),
        ({"embedding": {"seed": -1}}, "embedding.seed: -1 is out of range (minimum 0)"),
        ({"nb201": {"seeds": "ten"}}, "nb201.seeds: 'ten' has the wrong type; expected integer"),
        (
            {"nb201": {"methods": {"rea": {"tournament_size": 2.5}}}},
            "tournament_size: 2.5 has the wrong type; expected integer",
        ),
        (
            {"embedding": {"method": "graph2vec"}},
            "embedding.method: 'graph2vec' is not allowed; use one of: node2vec, onehot, path, arch2vec, cate",
        ),
        (
            {"nb201": {"methods": {"ktnas": {"K": 10}}}},
            "nb201.methods.ktnas: Additional properties are not allowed ('K' was unexpected)",
        ),
        ({"seeds": 3}, "<top level>: Additional properties are not allowed ('seeds' was unexpected)"),
    ],
)
def test_bad_config_is_one_clear_message(config, message):
    with pytest.raises(ValueError) as err:
        validate_config(config)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_shipped_configs_are_valid_and_expand_to_runs():
    for name in ("config.yaml", "test.yaml"):
        cfg = load_config(ROOT / "config" / name)
        runs = expand_runs(cfg)["nb201"]
        assert "ktnas" in runs and all(len(r.seeds) >= 1 for r in runs.values())
    full = expand_runs(load_config(ROOT / "config" / "config.yaml"))["nb201"]
    from ktnas.methods import METHODS

    assert {r.method for r in full.values()} == set(METHODS)  # every method of the harness runs on NB201
    assert full["ktnas-r0.5"].params["elite_ratio"] == 0.5 and full["fig-ktnas"].params["generations"] == 100
    assert full["ktnas"].seeds == tuple(range(100)) and full["weaknas"].seeds == tuple(range(30))
    assert full["heldout-ktnas"].seeds == tuple(range(100, 200)) and full["heldout-ktnas"].study == "heldout"


def test_defaults_are_filled_in():
    cfg = validate_config({})
    assert cfg["embedding"] == {"method": "node2vec", "dim": 256, "seed": 0}
    assert cfg["nb201"]["tasks"] == ["cifar10", "cifar100", "imagenet16"] and cfg["nb201"]["seeds"] == 30
    assert cfg["benchmarks"] == {"nb201": "bundled", "trans101": "bundled"}


def test_unreadable_yaml(tmp_path):
    bad = tmp_path / "c.yaml"
    bad.write_text("nb201: [unclosed")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_config(bad)


def test_validating_the_config_imports_neither_pandas_nor_torch():
    """The Snakefile validates the config at DAG-parse time: that must not load the heavy stack."""
    import subprocess
    import sys

    code = (
        "import sys; from ktnas.config import load_config, expand_runs; "
        f"runs = expand_runs(load_config({str(ROOT / 'config' / 'config.yaml')!r})); "
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('pandas', 'torch', 'pyarrow')); "
        "print(sum(map(len, runs.values())), heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    n_runs, heavy = out.split(" ", 1)
    assert int(n_runs) > 20 and heavy.strip() == "[]"


def _fields(cls):
    from dataclasses import MISSING, fields

    return {f.name: (None if f.default is MISSING else f.default) for f in fields(cls)}


def test_schema_lists_exactly_the_parameter_model():
    """One parameter model: the schema's method sections are the dataclasses' fields, the shown DARTS
    defaults are the dataclass defaults, and the method enums are the method registry."""
    from ktnas.config import schema
    from ktnas.methods import METHODS
    from ktnas.params import BenchmarkParams, DartsParams

    defs = schema()["$defs"]
    assert set(defs["search_params"]["properties"]) == set(_fields(BenchmarkParams))
    assert set(defs["darts_search"]["properties"]) == set(_fields(DartsParams))
    shown = schema()["properties"]["darts"]["properties"]["search"]["default"]
    assert shown == _fields(DartsParams)
    assert defs["method_names"]["enum"] == list(METHODS)
    darts_methods = schema()["properties"]["darts"]["properties"]["methods"]["items"]["enum"]
    assert darts_methods == [m.name for m in METHODS.values() if m.multitask]


def test_retrain_schema_lists_exactly_the_retrain_config():
    from ktnas.config import schema
    from ktnas.training.retrain import RetrainConfig

    props = set(schema()["$defs"]["darts_retrain"]["properties"])
    assert props == set(_fields(RetrainConfig)) - {"channels_last", "data_on_device"}  # device switches


def test_schema_lists_exactly_the_run_time_settings():
    """The run-time settings (docs/reproduction.md §6) are top-level config keys with the dataclass defaults,
    and appear nowhere among the experiment's hyper-parameters."""
    from ktnas.config import schema
    from ktnas.params import Runtime

    top = schema()["properties"]
    settings = {k: v for k, v in _fields(Runtime).items() if k != "tasks"}  # own tasks: darts.tasks
    assert {k: top[k]["default"] for k in settings} == settings
    assert "tasks" not in top and "tasks" in schema()["properties"]["darts"]["properties"]
    defs = schema()["$defs"]
    for section in ("search_params", "darts_search", "darts_retrain"):
        assert not set(defs[section]["properties"]) & set(_fields(Runtime))
