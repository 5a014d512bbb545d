"""Pipeline configuration: schema validation with one clear message, defaults, and the expansion of
the config into search runs (shared by the Snakefile and the CLI)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA_FILE = "config.schema.yaml"


@cache
def schema() -> dict[str, Any]:
    text = (resources.files("ktnas") / SCHEMA_FILE).read_text()
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def _path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "<top level>"


def _message(error: jsonschema.ValidationError) -> str:
    where = _path(error)
    v = error.validator
    if v == "enum":
        allowed = ", ".join(map(str, error.validator_value))
        return f"config key {where}: {error.instance!r} is not allowed; use one of: {allowed}"
    if v == "propertyNames":
        allowed = ", ".join(map(str, error.validator_value.get("enum", [])))
        name = error.instance if not isinstance(error.instance, dict) else "?"
        return f"config key {where}: unknown name {name!r}; use one of: {allowed}"
    if v == "additionalProperties":
        allowed = ", ".join(sorted(error.schema.get("properties", {})))
        return f"config key {where}: {error.message}; allowed keys: {allowed}"
    if v == "type":
        return f"config key {where}: {error.instance!r} has the wrong type; expected {error.validator_value}"
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"config key {where}: {error.instance!r} is out of range ({v} {error.validator_value})"
    return f"config key {where}: {error.message}"


def validate_config(config: dict[str, Any]) -> dict[str, Any]:
    """Validate against the schema and the rules JSON schema cannot say; return a copy with defaults.

    Raises ``ValueError`` with one line naming the key, the bad value and what is allowed.
    """
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(list(e.absolute_path)), _path(e)))
    if errors:
        # propertyNames errors nest the real cause one level down
        err = errors[0]
        if err.validator == "propertyNames" and err.context:
            sub = err.context[0]
            allowed = ", ".join(map(str, sub.validator_value))
            raise ValueError(f"config key {_path(err)}: unknown name {sub.instance!r}; use one of: {allowed}")
        raise ValueError(_message(err))
    cfg = _with_defaults(copy.deepcopy(config), schema())
    for name, hp in (cfg.get("nb201", {}).get("methods") or {}).items():
        k = hp.get("population_size", 10)
        m = hp.get("n_transferred", 4)
        if m > k:
            raise ValueError(
                f"config key nb201.methods.{name}.n_transferred: M={m} exceeds population_size K={k}; use M <= K"
            )
    _check_darts(cfg)
    return cfg


def _check_darts(cfg: dict[str, Any]) -> None:
    """DARTS rules the schema cannot say: M <= K per group, retrain_tasks name the group's own tasks."""
    from ktnas.darts import GROUPS, search_params

    for group, settings in (cfg.get("darts", {}).get("groups") or {}).items():
        hp = darts_search_params(cfg, group)
        k = hp.get("population_size", GROUPS[group].search_defaults.get("population_size", 20))
        m = hp.get("n_transferred", 4)
        if m > k:
            raise ValueError(
                f"config key darts.groups.{group}: M=n_transferred={m} exceeds population_size K={k}; use M <= K"
            )
        search_params(group, hp)  # the remaining cross-field checks (one clear ValueError)
        for task in (settings or {}).get("retrain_tasks") or {}:
            if task not in GROUPS[group].tasks:
                raise ValueError(
                    f"config key darts.groups.{group}.retrain_tasks: {task!r} is not a task of group {group}; "
                    f"use one of: {', '.join(GROUPS[group].tasks)}"
                )


def darts_search_params(config: dict[str, Any], group: str) -> dict[str, Any]:
    """Search hyper-parameters of ``group``: darts.search, then darts.groups.<group>.search."""
    darts = config.get("darts", {})
    group_cfg = (darts.get("groups") or {}).get(group) or {}
    return {**(darts.get("search") or {}), **(group_cfg.get("search") or {})}


def darts_retrain_params(config: dict[str, Any], group: str, task: str) -> dict[str, Any]:
    """Retraining settings of ``task``: darts.retrain < the group's retrain < its retrain_tasks.<task>."""
    darts = config.get("darts", {})
    group_cfg = (darts.get("groups") or {}).get(group) or {}
    per_task = (group_cfg.get("retrain_tasks") or {}).get(task) or {}
    return {**(darts.get("retrain") or {}), **(group_cfg.get("retrain") or {}), **per_task}


def darts_embedding(config: dict[str, Any]) -> dict[str, Any]:
    """The DARTS embedding settings: darts.embedding over the top-level embedding section."""
    top = config.get("embedding", {})
    out = {k: top[k] for k in ("method", "dim", "seed") if k in top}
    out.update(config.get("darts", {}).get("embedding") or {})
    return out


def _with_defaults(obj: dict[str, Any], sch: dict[str, Any]) -> dict[str, Any]:
    for key, sub in sch.get("properties", {}).items():
        if key not in obj and "default" in sub:
            obj[key] = copy.deepcopy(sub["default"])
        if isinstance(obj.get(key), dict) and sub.get("type") == "object":
            _with_defaults(obj[key], sub)
    return obj


def load_config(path: str | Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(Path(path).read_text()) or {}
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML ({err})") from None
    return validate_config(raw)


@dataclass(frozen=True)
class Run:
    """One named series of seeded searches (a Table II row, a figure method, a sensitivity variant)."""

    name: str
    method: str
    params: dict[str, Any]
    seeds: int
    embedding: str = "node2vec"
    group: str = "main"
    label: dict[str, Any] = field(default_factory=dict)


def nb201_runs(config: dict[str, Any]) -> dict[str, Run]:
    """Every NB201 run the config asks for, keyed by run name (the ``{run}`` wildcard)."""
    nb = config.get("nb201", {})
    methods: dict[str, dict[str, Any]] = nb.get("methods") or {}
    default_emb = config.get("embedding", {}).get("method", "node2vec")
    runs: dict[str, Run] = {}
    for m, hp in methods.items():
        runs[m] = Run(m, m, dict(hp), nb.get("seeds", 30), default_emb)
    fig = nb.get("figures") or {}
    for m in fig.get("methods", []):
        if m not in methods:
            raise ValueError(f"config key nb201.figures.methods: {m!r} is not in nb201.methods; add it there")
        hp = dict(methods[m], generations=fig["generations"], stop_at_optimum=False)
        runs[f"fig-{m}"] = Run(f"fig-{m}", m, hp, fig["seeds"], default_emb, "figures")
    base = methods.get("ktnas")
    sens = nb.get("sensitivity") or {}
    abl = nb.get("embedding_ablation") or {}
    if (sens or abl) and base is None:
        raise ValueError(
            "config keys nb201.sensitivity / embedding_ablation vary ktnas: add ktnas to nb201.methods"
        )
    for key, short in (("elite_ratio", "r"), ("saved_generations", "m"), ("n_transferred", "M")):
        for v in sens.get(key, []):
            name = f"ktnas-{short}{v}"
            hp = dict(base or {}, **{key: v})
            if hp.get("n_transferred", 4) > hp.get("population_size", 10):
                raise ValueError(
                    f"config key nb201.sensitivity.{key}: {v} exceeds population_size; use M <= K"
                )
            runs[name] = Run(
                name, "ktnas", hp, sens["seeds"], default_emb, "sensitivity", {"parameter": key, "value": v}
            )
    for enc in abl.get("methods", []):
        name = f"ktnas-emb-{enc}"
        runs[name] = Run(name, "ktnas", dict(base or {}), abl["seeds"], enc, "ablation", {"embedding": enc})
    return runs
