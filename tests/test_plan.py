"""The plan: the config's runs and studies, written once for every space (ktnas/plan.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ktnas.config import load_config
from ktnas.plan import (
    METHOD_STUDIES,
    OPT_IN_STUDIES,
    Run,
    job_size,
    space_runs,
    studies,
    study_versus,
    table_runs,
)
from ktnas.recipes import RECIPES, get_recipe
from ktnas.recipes.darts import GROUPS
from ktnas.recipes.nb201 import LANDSCAPES
from ktnas.report import darts as darts_tables
from ktnas.report import tables
from ktnas.report.nb201 import LANDSCAPE_TITLES
from ktnas.report.spaces import TABLES, get_table

ROOT = Path(__file__).resolve().parents[1]
TASKS = ["cifar10", "cifar100", "imagenet16"]
SELECTORS = ["ktnas_prior", "ktnas_graded", "ktnas_parent", "ktnas_knn", "ktnas_k3"]


def _section(**extra: object) -> dict[str, object]:
    return {
        "tasks": TASKS,
        "seeds": 4,
        "methods": {"rea": {}, "ktnas": {"elite_ratio": 0.5}, "ktnas_centred": {"elite_ratio": 0.5}},
        "heldout": {"first_seed": 10, "seeds": 3, "versus": "ktnas_centred"},
        **extra,
    }


def test_the_transfer_study_runs_the_selectors_with_ktnas_settings_apart_from_the_default_studies() -> None:
    study = {"methods": ["ktnas_prior", "ktnas_k3"], "seeds": 2, "heldout": {"first_seed": 10, "seeds": 3}}
    runs = space_runs(get_recipe("nb201"), {"nb201": _section(transfer_study=study)})
    prior, held = runs["ktnas_prior"], runs["heldout-ktnas_prior"]
    assert (prior.study, prior.seeds, prior.params) == ("transfer_study", (0, 1), {"elite_ratio": 0.5})
    assert (held.study, held.seeds, held.method) == ("transfer_study_heldout", (10, 11, 12), "ktnas_prior")
    assert studies(runs) == ["main", "heldout"]  # the default target never builds the study
    assert studies(runs, opt_in=True) == ["main", "heldout", *OPT_IN_STUDIES]
    # its tables set the selectors below every method of the table they extend
    assert [r.name for r in table_runs(runs, "transfer_study")] == [
        "rea",
        "ktnas",
        "ktnas_centred",
        "ktnas_prior",
        "ktnas_k3",
    ]
    assert [r.name for r in table_runs(runs, "transfer_study_heldout")][-2:] == [
        "heldout-ktnas_prior",
        "heldout-ktnas_k3",
    ]
    assert [r.name for r in table_runs(runs, "main")] == ["rea", "ktnas", "ktnas_centred"]
    config = {"nb201": _section()}
    assert study_versus(config, "nb201", "transfer_study_heldout") == "ktnas_centred"
    assert study_versus(config, "nb201", "heldout") == "ktnas_centred"
    assert study_versus(config, "nb201", "transfer_study") is None


def test_the_transfer_study_refuses_what_it_cannot_compare() -> None:
    recipe = get_recipe("nb201")
    held = {"methods": ["ktnas_prior"], "seeds": 2, "heldout": {"first_seed": 10, "seeds": 3}}
    no_heldout = {k: v for k, v in _section(transfer_study=held).items() if k != "heldout"}
    with pytest.raises(ValueError, match=r"nb201.transfer_study.heldout: .* add nb201.heldout"):
        space_runs(recipe, {"nb201": no_heldout})
    twice = {"methods": ["ktnas_centred"], "seeds": 2}
    with pytest.raises(ValueError, match=r"'ktnas_centred' is also in nb201.methods"):
        space_runs(recipe, {"nb201": _section(transfer_study=twice)})
    no_ktnas = _section(transfer_study={"methods": ["ktnas_prior"], "seeds": 2})
    no_ktnas["methods"] = {"rea": {}}
    del no_ktnas["heldout"]
    with pytest.raises(ValueError, match="add ktnas to nb201.methods"):
        space_runs(recipe, {"nb201": no_ktnas})


def test_the_default_config_keeps_the_study_s_choice_and_every_peer_and_moves_only_the_selectors() -> None:
    runs = space_runs(get_recipe("nb201"), load_config(ROOT / "config" / "config.yaml"))
    main = [r.name for r in runs.values() if r.study == "main"]
    assert {"ktnas", "ktnas_random", "ktnas_centred", "rs", "rea", "zero", "gcn", "single", "mtnas"} <= set(
        main
    )
    assert not set(SELECTORS) & set(main)
    assert {r.name for r in runs.values() if r.study == "transfer_study"} == set(SELECTORS)
    assert {r.name for r in runs.values() if r.study == "transfer_study_heldout"} == {
        f"heldout-{m}" for m in SELECTORS
    }
    assert all(runs[m].seeds == tuple(range(100)) for m in SELECTORS)
    assert all(runs[f"heldout-{m}"].seeds == tuple(range(100, 200)) for m in SELECTORS)
    assert all(runs[m].params == runs["ktnas"].params for m in SELECTORS)


def test_job_sizes_come_from_the_space_s_cost_model() -> None:
    nb201 = Run("nb201", "ktnas", "ktnas", {}, tuple(range(100)), tuple(TASKS))
    assert job_size(nb201, 100) == {"threads": 1, "mem_mb": 2000, "runtime": 200}
    assert job_size(nb201, 5)["runtime"] == 30
    full = load_config(ROOT / "config" / "config.yaml")
    darts = space_runs(get_recipe("darts"), full)["cifar-ktnas"]
    assert job_size(darts, 1) == {"threads": 8, "mem_mb": 32000, "runtime": 1440}  # the paper-scale search
    retrain = job_size(darts, 1, "cifar10")  # C=48 > 20: capped at the paper-scale request
    assert retrain["threads"] == 8 and retrain["mem_mb"] == 16000
    tiny = space_runs(get_recipe("darts"), load_config(ROOT / "config" / "test.yaml"))["digits-ktnas"]
    assert job_size(tiny, 1) == {"threads": 1, "mem_mb": 2000, "runtime": 30}


def test_each_space_has_its_tables_and_the_report_agrees_with_the_plan_and_recipes() -> None:
    assert list(TABLES) == list(RECIPES)
    assert get_table("darts").on_page is False and get_table("nb201").on_page
    with pytest.raises(ValueError, match="space 'nope' has no tables"):
        get_table("nope")
    assert tuple(tables.METHOD_STUDIES) == METHOD_STUDIES
    assert tuple(LANDSCAPE_TITLES) == LANDSCAPES
    assert tuple(g.tasks for g in GROUPS.values()) == darts_tables.TASK_GROUPS
