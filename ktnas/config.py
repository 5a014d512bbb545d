"""Pipeline configuration: schema validation with one clear message, defaults, and the expansion of the
config into search runs for every space (shared by the Snakefile and the CLI).

This module imports the parameter model and the plan (the method and recipe registries), none of which
imports pandas or torch, so validating a config is cheap (``tests/test_config.py`` checks it).
"""

from __future__ import annotations

import copy
from dataclasses import fields
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from ktnas.params import Runtime
from ktnas.plan import Run, plan_runs

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


#: hyper-parameter keys of earlier versions that are run-time settings now (docs/reproduction.md §6)
_MOVED = {
    "device": "device",
    "max_batches_per_epoch": "max_train_batches",
    "max_full_val_images": "max_eval_images",
    "max_test_images": "max_eval_images",
    "limit": "max_proxy_cells",  # proxies.limit
}


#: the command-line option of a run-time setting where it is not ``ktnas search --<name>``
_OPTION = {"max_proxy_cells": "ktnas proxies compute --limit"}


def _moved_setting(error: jsonschema.ValidationError) -> str | None:
    """The message for a run-time setting written among an experiment's hyper-parameters."""
    if error.validator != "additionalProperties" or not isinstance(error.instance, dict):
        return None
    allowed = error.schema.get("properties", {})
    for key in error.instance:
        if key not in allowed and key in _MOVED:
            new = _MOVED[key]
            option = _OPTION.get(new, "ktnas search / darts-retrain --" + new.replace("_", "-"))
            return (
                f"config key {_path(error)}: {key} is a run-time setting, not part of the experiment; remove "
                f"it and give it to the run, e.g. `snakemake --config {new}=...` or a profile "
                f"(profiles/test), or `{option} ...` "
                "(docs/reproduction.md §6)"
            )
    return None


def validate_config(config: dict[str, Any]) -> dict[str, Any]:
    """Validate against the schema and the parameter model; return a copy with defaults.

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
        raise ValueError(_moved_setting(err) or _message(err))
    cfg = _with_defaults(copy.deepcopy(config), schema())
    runtime_settings(cfg)  # the run-time settings (docs/reproduction.md §6) check their own values
    expand_runs(
        cfg
    )  # the plan, the recipes and the parameter model check what the schema cannot (M <= K, ...)
    return cfg


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


def expand_runs(config: dict[str, Any]) -> dict[str, dict[str, Run]]:
    """Every run the config asks for: space -> run name -> :class:`~ktnas.plan.Run` (the
    ``{space}``/``{run}`` wildcards of the workflow), as the plan reads each space's section."""
    return plan_runs(config)


def runtime_settings(config: dict[str, Any]) -> Runtime:
    """The run-time settings of a validated config: its top-level keys named like :class:`Runtime`'s
    fields, which a profile or ``--config KEY=VALUE`` sets (docs/reproduction.md §6)."""
    return Runtime(**{f.name: config[f.name] for f in fields(Runtime) if f.name in config})


def embedding_settings(config: dict[str, Any], space: str) -> dict[str, Any]:
    """A space's embedding settings: its own ``embedding`` section over the top-level one."""
    top = config.get("embedding", {})
    out = {k: top[k] for k in ("method", "dim", "seed") if k in top}
    out.update((config.get(space) or {}).get("embedding") or {})
    return out
