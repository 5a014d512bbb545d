"""`ktnas <stage>`: one sub-command per pipeline stage, usable with or without Snakemake."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ktnas import __version__
from ktnas._io import KtnasError, write_json
from ktnas.params import OwnTask, Runtime, own_tasks

log = logging.getLogger("ktnas")
_STARTED = time.time()  # for the wall time of the closing log line (interpreter start-up not included)


def _cmd_benchmark(args: argparse.Namespace) -> None:
    import shutil

    from ktnas._io import atomic_path
    from ktnas.benchmarks import BUNDLED, bundled_path, load_benchmark
    from ktnas.recipes import get_recipe
    from ktnas.recipes.base import TabularRecipe

    source = str(args.source)
    if source != "bundled" and not Path(source).exists():
        raise FileNotFoundError(
            f"benchmark source {source!r} does not exist; give 'bundled', a folder or a file"
        )
    recipe = get_recipe(args.space)
    if not isinstance(recipe, TabularRecipe):
        raise ValueError(f"space {args.space} has no tabular benchmark to build")
    df = recipe.build_benchmark(source)
    if df is None:
        load_benchmark(args.space)  # validates the bundled table before copying it
        with atomic_path(args.out) as tmp:
            shutil.copyfile(bundled_path(BUNDLED[args.space][0]), tmp)
    else:
        recipe.write_benchmark(df, args.out)
    log.info("wrote %s (%s)", args.out, source)


def _cmd_embed(args: argparse.Namespace) -> None:
    from ktnas.embedding import build_embedding
    from ktnas.spaces import get_space

    options = {} if args.corpus_size is None else {"corpus_size": args.corpus_size}
    table = build_embedding(
        get_space(args.space), method=args.method, dim=args.dim, seed=args.seed, **options
    )
    table.save(args.out)
    log.info(
        "wrote %d %s embeddings (%s, dim %d) to %s", len(table), args.space, args.method, table.dim, args.out
    )


def _cmd_proxies(args: argparse.Namespace) -> None:
    from ktnas._io import write_parquet
    from ktnas.proxies import canonical_proxies, chunk_archs, merge_chunks

    if args.action == "merge":
        if not args.inputs:
            raise ValueError("proxies merge needs --inputs CHUNK.parquet ...")
        write_parquet(args.out, merge_chunks(args.inputs), {"chunks": len(args.inputs)})
        log.info("merged %d chunk(s) into %s", len(args.inputs), args.out)
        return
    from ktnas.proxies import compute_proxies
    from ktnas.proxies.table import DATASET_NAMES
    from ktnas.spaces import get_space

    if args.dataset is None:
        raise ValueError(f"proxies compute needs --dataset, one of {', '.join(DATASET_NAMES)}")
    names = canonical_proxies(args.proxies.split(","))
    archs = chunk_archs(get_space("nb201").all_archs(), args.chunk, args.n_chunks)
    if args.limit is not None:
        archs = archs[: args.limit]
    device = args.device
    if device != "cpu":  # a GPU of this job's own (docs/guide/gpus.md)
        from ktnas.training.device import pick_device

        device = str(pick_device(device))
    df = compute_proxies(archs, args.dataset, names, seed=args.seed, device=device)
    meta = {
        "dataset": args.dataset,
        "proxies": names,
        "seed": args.seed,
        "chunk": [args.chunk, args.n_chunks],
        "limit": args.limit,
    }
    write_parquet(args.out, df, meta)
    log.info("wrote %d cells x %s for %s to %s", len(df), ",".join(names), args.dataset, args.out)


def _params(text: str) -> dict[str, object]:
    try:
        params = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"--params must be a JSON object, got {text!r} ({err})") from None
    if not isinstance(params, dict):
        raise ValueError(f"--params must be a JSON object, got {text!r}")
    return params


def parse_seeds(text: str) -> list[int]:
    """``"0-24"``, ``"3"`` or ``"0,2,5-7"`` -> the seeds, in order."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            lo, _, hi = part.partition("-")
            seeds += list(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise ValueError(f"--seeds must look like 0-24 or 0,3,5-7, got {text!r}") from None
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds must name distinct non-negative seeds, got {text!r}")
    return seeds


def _cmd_search(args: argparse.Namespace) -> None:
    from tqdm.auto import tqdm

    from ktnas.recipes import SearchPaths, get_recipe
    from ktnas.runner import clear_checkpoint, run_fingerprint, run_search
    from ktnas.search.checkpoint import Checkpointer
    from ktnas.training.progress import metrics_path

    if (args.seed is None) == (args.seeds is None):
        raise ValueError("give exactly one of --seed N or --seeds 0-24")
    seeds = [args.seed] if args.seeds is None else parse_seeds(args.seeds)
    for name, pattern in (("--out", args.out), ("--checkpoint", args.checkpoint)):
        if len(seeds) > 1 and pattern is not None and "{seed}" not in str(pattern):
            raise ValueError(f"{name} {pattern} must contain {{seed}} when several seeds run in one job")
    tasks, params = args.tasks.split(","), _params(args.params)
    recipe = get_recipe(args.space)
    runtime = _runtime(args)
    recipe.check_tasks(tasks, runtime.tasks)
    recipe.params(tasks, params)  # fails early, before any seed runs
    written, checkpoints = [], []
    for seed in tqdm(
        seeds, desc=f"{args.space} {args.method} seeds", disable=None if len(seeds) > 1 else True
    ):
        out = Path(str(args.out).format(seed=seed))
        ckpt = None if args.checkpoint is None else Path(str(args.checkpoint).format(seed=seed))
        paths = SearchPaths(args.benchmark, args.embedding, args.proxies, ckpt, runtime, metrics_path(out))
        marker = Checkpointer(ckpt, run_fingerprint(args.space, args.method, seed, tasks, params, paths))
        if marker.finished(out):  # an earlier attempt of this job (killed later) wrote it
            log.info(
                "%s was finished by an earlier attempt (same code, run and run-time settings); kept", out
            )
        else:
            run_search(args.space, args.method, seed, tasks, params, paths).save(out)
            marker.finish(out)  # only once the result is safely written
            log.info("wrote %s", out)
        written.append(str(out))
        checkpoints.append(ckpt)
    if args.manifest is not None:
        write_json(
            args.manifest, {"space": args.space, "method": args.method, "seeds": seeds, "files": written}
        )
    for ckpt in checkpoints:  # the job is done: a rerun (forced, or of changed code) searches again
        clear_checkpoint(ckpt)


def _runtime(args: argparse.Namespace) -> Runtime:
    """The run-time settings of the command line (docs/reproduction.md §6)."""
    return Runtime(
        device=args.device,
        data_root=str(args.data_root),
        max_train_batches=args.max_train_batches,
        max_eval_images=args.max_eval_images,
        tasks=_task_data(args.task_data),
    )


def _task_data(text: str | None) -> dict[str, OwnTask]:
    """``--task-data``: a JSON object ``{name: {path, size}}``, or a JSON/YAML file holding one."""
    if not text:
        return {}
    if not text.lstrip().startswith("{"):
        try:
            text = Path(text).read_text()
        except OSError as err:
            raise ValueError(
                f"--task-data {text}: unreadable ({err}); give a JSON object or a file"
            ) from None
    import yaml

    try:
        declared = yaml.safe_load(text)  # YAML reads JSON too
    except yaml.YAMLError as err:
        raise ValueError(f"--task-data must be a JSON object {{name: {{path, size}}}} ({err})") from None
    if not isinstance(declared, dict):
        raise ValueError(f"--task-data must be an object {{name: {{path, size}}}}, got {declared!r}")
    return own_tasks(declared)


def _add_runtime(p: argparse.ArgumentParser) -> None:
    """The run-time options of the DARTS stages (docs/reproduction.md §6); the defaults run the full thing."""
    p.add_argument(
        "--device", default=None, help="torch device, e.g. cuda:0 or cpu (default: CUDA if present)"
    )
    p.add_argument("--data-root", type=Path, default=Path(Runtime.data_root), help="dataset folder (DARTS)")
    p.add_argument(
        "--task-data",
        default=None,
        help='own DARTS tasks: JSON {"NAME": {"path": FOLDER_OR_NPZ, "size": N}} or a JSON/YAML file of it',
    )
    p.add_argument(
        "--max-train-batches",
        type=int,
        default=None,
        help="smoke runs: cap every training epoch at N batches",
    )
    p.add_argument(
        "--max-eval-images", type=int, default=None, help="smoke runs: cap every full evaluation at N images"
    )


def _cmd_darts_data(args: argparse.Namespace) -> None:
    from ktnas.training.stages import prepare_dataset

    info = prepare_dataset(args.task, args.data_root, own=_task_data(args.task_data))
    write_json(args.out, info)
    log.info("%s ready in %s: %s", args.task, args.data_root, info["sizes"])


def _cmd_darts_retrain(args: argparse.Namespace) -> None:
    from ktnas.recipes.darts import retrain_params
    from ktnas.training.progress import metrics_path
    from ktnas.training.stages import run_darts_retrain

    result = run_darts_retrain(
        args.search,
        args.task,
        retrain_params(args.task, _params(args.params)),
        _runtime(args),
        checkpoint_path=args.checkpoint,
        metrics=metrics_path(args.out),
    )
    write_json(args.out, result)
    if args.checkpoint is not None:
        args.checkpoint.unlink(missing_ok=True)
    log.info(
        "wrote %s (test accuracy %.2f%%, %.2f M params)", args.out, result["test_acc"], result["params_m"]
    )


def _export_configs(tasks: Sequence[str], params: dict[str, object], seed: int) -> dict[str, Any]:
    """Each task's retraining settings: its defaults < ``params``' settings < ``params[task]``."""
    from ktnas.recipes.darts import retrain_config

    for key, value in params.items():
        if key in tasks and not isinstance(value, dict):
            raise ValueError(f"--params: {key!r} must map to an object of retraining settings, got {value!r}")
        if isinstance(value, dict) and key not in tasks:
            example = json.dumps({tasks[0]: {"channels": 36}})
            raise ValueError(
                f"--params: {key!r} is not a task of this result ({', '.join(tasks)}); give settings for "
                f'every task, e.g. {{"channels": 36}}, or per task, e.g. {example}'
            )
    common = {k: v for k, v in params.items() if k not in tasks}
    return {
        t: retrain_config(t, {**common, **params.get(t, {})}, seed)  # type: ignore[dict-item]
        for t in tasks
    }


def _cmd_export(args: argparse.Namespace) -> None:
    from ktnas.report.darts_export import export_darts, load_darts_result, summary_text

    result = load_darts_result(args.result)
    tasks = [t.task for t in result.tasks]
    configs = _export_configs(tasks, _params(args.params), result.seed)
    out = args.out if args.out is not None else Path("export") / result.run / f"seed{result.seed}"
    summary = export_darts(result, configs, out, source=args.result)
    print(summary_text(summary, out))


def _cmd_table(args: argparse.Namespace) -> None:
    from ktnas._io import write_text
    from ktnas.report.spaces import get_table
    from ktnas.report.tables import csv_text

    table, md = get_table(args.space).build(args.inputs, args.study, args.benchmark, args.versus)
    write_text(args.out_csv, csv_text(table))
    write_text(args.out_md, md)


def _cmd_diagnostics(args: argparse.Namespace) -> None:
    from ktnas._io import write_text
    from ktnas.report.transfer_diagnostics import diagnostics, plot_diagnostics

    table, md, results = diagnostics(args.inputs)
    write_text(args.out_csv, table.to_csv(index=False, float_format="%.4f"))
    write_text(args.out_md, md)
    plot_diagnostics(results, args.out_png)


def _cmd_figure(args: argparse.Namespace) -> None:
    from ktnas.benchmarks import load_benchmark
    from ktnas.report.figures import FIGURES
    from ktnas.results import SearchResult

    results = [SearchResult.load(p) for p in args.inputs]
    FIGURES[args.kind](results, load_benchmark(args.space, args.benchmark), args.out)


def _cmd_results_page(args: argparse.Namespace) -> None:
    from ktnas._io import write_text
    from ktnas.report.results_page import read_table, results_page, transfer_ranks
    from ktnas.report.spaces import page_specs

    transfer = None
    if args.transfer:
        from ktnas.benchmarks import load_benchmark
        from ktnas.results import SearchResult

        results = [SearchResult.load(p) for p in args.transfer]
        transfer = transfer_ranks(results, load_benchmark(results[0].space, args.benchmark))
    specs = page_specs()
    tables = [read_table(p, specs) for p in args.tables]
    write_text(args.out, results_page(tables, specs, transfer, args.landscapes or ()))
    log.info("wrote %s", args.out)


LIST_SECTIONS = ("spaces", "methods", "tasks", "encoders")


def registry(section: str) -> dict[str, Any]:
    """One section of `ktnas list`, read from its registry: name -> what there is to know about it."""
    from ktnas.recipes import RECIPES

    if section == "spaces":
        return {n: {"description": r.description, "tabular": r.tabular} for n, r in RECIPES.items()}
    if section == "methods":
        from ktnas.methods import METHODS

        return {
            n: {
                "description": m.description,
                "multitask": m.multitask,
                "spaces": [s for s, r in RECIPES.items() if m.runs_on(r.tabular)],
            }
            for n, m in METHODS.items()
        }
    if section == "tasks":
        return {n: {g: list(ts) for g, ts in r().task_groups().items()} for n, r in RECIPES.items()}
    if section == "encoders":
        from ktnas.embedding import ENCODERS, EmbeddingConfig

        return {
            n: {"description": e.description, "default": n == EmbeddingConfig.method}
            for n, e in ENCODERS.items()
        }
    raise ValueError(f"unknown section {section!r}; choose one of {', '.join(LIST_SECTIONS)}")


def _rows(rows: Sequence[tuple[str, str]], indent: str = "  ") -> list[str]:
    width = max(len(name) for name, _ in rows)
    return [f"{indent}{name:<{width}}  {text}".rstrip() for name, text in rows]


def _list_text(section: str, entries: dict[str, Any]) -> list[str]:
    if section == "spaces":
        lines = ["spaces (ktnas search --space; a tabular space has a benchmark table that counts queries)"]
        tag = {True: " [tabular]", False: ""}
        return lines + _rows([(n, e["description"] + tag[e["tabular"]]) for n, e in entries.items()])
    if section == "methods":
        lines = ["methods (ktnas search --method; config: <space>.methods)"]
        kinds: dict[tuple[bool, tuple[str, ...]], list[str]] = {}
        for n, e in entries.items():
            kinds.setdefault((e["multitask"], tuple(e["spaces"])), []).append(n)
        for (multitask, spaces), names in kinds.items():
            kind = "multi-task loop (Algorithm 4)" if multitask else "single-task searches, once per task"
            lines.append(f"  {kind}, on {', '.join(spaces) or 'no registered space'}:")
            lines += _rows([(n, entries[n]["description"]) for n in names], "    ")
        return lines
    if section == "tasks":
        lines = ["tasks (ktnas search --tasks, comma-separated; a space with task groups searches one group)"]
        flat = {s: groups[s] for s, groups in entries.items() if list(groups) == [s]}
        lines += _rows([(s, ", ".join(ts)) for s, ts in flat.items()])
        for space, groups in entries.items():
            if space not in flat:
                lines.append(f"  {space}, by task group:")
                lines += _rows([(g, ", ".join(ts)) for g, ts in groups.items()], "    ")
        return lines
    lines = ["encoders (ktnas embed --method; config: embedding.method)"]
    return lines + _rows(
        [(n, e["description"] + (" (default)" if e["default"] else "")) for n, e in entries.items()]
    )


def _cmd_list(args: argparse.Namespace) -> None:
    sections = [args.what] if args.what else list(LIST_SECTIONS)
    listing = {s: registry(s) for s in sections}
    if args.format == "json":
        print(json.dumps(listing, indent=1))
        return
    print("\n\n".join("\n".join(_list_text(s, entries)) for s, entries in listing.items()))


# -- the parser ------------------------------------------------------------------------------------------
# Options that take a registered name read it from its registry (ktnas.recipes.RECIPES, ktnas.methods.METHODS,
# each recipe's task groups, ktnas.embedding.ENCODERS, ...), so a new entry shows up in `--help` and in the
# error argparse gives for a bad name. A command's options are added only when that command is parsed or
# its help is printed: a job imports the registries its own command needs, not every command's.


class _Command(argparse.ArgumentParser):
    """A sub-command whose options are added on first use by ``options(parser)``."""

    def __init__(
        self, *args: Any, options: Callable[[argparse.ArgumentParser], None] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._options = options

    def complete(self) -> _Command:
        """Add the command's options now (idempotent)."""
        if self._options is not None:
            options, self._options = self._options, None
            options(self)
        return self

    def parse_known_args(self, *args: Any, **kwargs: Any) -> Any:
        self.complete()
        return super().parse_known_args(*args, **kwargs)

    def format_usage(self) -> str:
        self.complete()
        return super().format_usage()

    def format_help(self) -> str:
        self.complete()
        return super().format_help()


def _one_of(names: Sequence[str]) -> str:
    return ", ".join(names)


def _spaces(tabular: bool = False) -> list[str]:
    """Registered spaces; only those with a tabular benchmark if ``tabular``."""
    from ktnas.recipes import RECIPES

    return [name for name, recipe in RECIPES.items() if recipe.tabular or not tabular]


def _space_option(p: argparse.ArgumentParser, tabular: bool = False, help: str = "search space") -> None:
    names = _spaces(tabular)
    p.add_argument("--space", required=True, choices=names, metavar="SPACE", help=f"{help}: {_one_of(names)}")


def _tasks_help() -> str:
    """Each space's tasks; a space with several task groups searches one group's tasks together."""
    from ktnas.recipes import RECIPES

    parts = []
    for name, recipe in RECIPES.items():
        groups = recipe().task_groups()
        if len(groups) == 1:
            (tasks,) = groups.values()
            parts.append(f"{name}: {_one_of(tasks)}")
        else:
            listed = "; ".join(f"{g}: {_one_of(tasks)}" for g, tasks in groups.items())
            parts.append(f"{name}: the tasks of one group, in order ({listed})")
    return " | ".join(parts)


def _datasets() -> list[str]:
    """Datasets that the searches of any space download (``ktnas darts-data``)."""
    from ktnas.recipes import RECIPES

    recipes = [r() for r in RECIPES.values()]
    return list(dict.fromkeys(d for r in recipes for d in r.datasets(r.tasks())))


def _benchmark_options(b: argparse.ArgumentParser) -> None:
    _space_option(b, tabular=True, help="a space with a tabular benchmark")
    b.add_argument(
        "--source",
        default="bundled",
        help="'bundled' (the table shipped with ktnas), a folder with the public CSV/JSON files, "
        "or an official benchmark file to convert",
    )
    b.add_argument("--out", type=Path, required=True)
    b.set_defaults(func=_cmd_benchmark)


def _embed_options(e: argparse.ArgumentParser) -> None:
    from ktnas.embedding import ENCODERS, EmbeddingConfig

    _space_option(e)
    default = EmbeddingConfig.method
    e.add_argument(
        "--method",
        default=default,
        choices=list(ENCODERS),
        metavar="ENCODER",
        help=f"architecture encoder (docs/reproduction.md §2.6): {_one_of(list(ENCODERS))} (default {default})",
    )
    e.add_argument("--dim", type=int, default=EmbeddingConfig.dim)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument(
        "--corpus-size",
        type=int,
        default=None,
        help="node2vec corpus architectures; arch2vec/cate pre-training sample in DARTS "
        f"(default {EmbeddingConfig.corpus_size})",
    )
    e.add_argument("--out", type=Path, required=True)
    e.set_defaults(func=_cmd_embed)


def _proxies_options(z: argparse.ArgumentParser) -> None:
    from ktnas.proxies.table import ALIASES, DATASET_NAMES, PROXIES

    z.add_argument("action", choices=["compute", "merge"])
    z.add_argument(
        "--dataset",
        default=None,
        choices=DATASET_NAMES,
        metavar="DATASET",
        help=f"NB201 dataset (compute): {_one_of(DATASET_NAMES)}",
    )
    aliases = ", ".join(f"{a} = {p}" for a, p in ALIASES.items())
    z.add_argument(
        "--proxies", default="synflow", help=f"comma-separated proxy names: {_one_of(PROXIES)} ({aliases})"
    )
    z.add_argument("--chunk", type=int, default=0)
    z.add_argument("--n-chunks", type=int, default=1)
    z.add_argument("--limit", type=int, default=None, help="only the first N cells of the chunk (tests)")
    z.add_argument("--seed", type=int, default=0)
    z.add_argument("--device", default="cpu")
    z.add_argument("--inputs", nargs="*", type=Path, default=[], help="chunk files to merge")
    z.add_argument("--out", type=Path, required=True)
    z.set_defaults(func=_cmd_proxies)


def _search_options(s: argparse.ArgumentParser) -> None:
    from ktnas.methods import METHODS

    _space_option(s)
    s.add_argument(
        "--method",
        required=True,
        choices=list(METHODS),
        metavar="METHOD",
        help=f"search method (`ktnas list methods` says which spaces each runs on): {_one_of(list(METHODS))}",
    )
    s.add_argument("--seed", type=int, default=None, help="one seed")
    s.add_argument(
        "--seeds", default=None, help="several seeds in one process, e.g. 0-24 (with {seed} in --out)"
    )
    s.add_argument("--tasks", required=True, help=f"comma-separated tasks of the space: {_tasks_help()}")
    s.add_argument("--params", default="{}", help="JSON object of search hyper-parameters")
    s.add_argument("--benchmark", type=Path, default=None, help="benchmark table (default: bundled)")
    s.add_argument("--embedding", type=Path, default=None, help="embedding table (needed by transfer rank)")
    s.add_argument("--proxies", type=Path, default=None, help="proxy table (default: bundled)")
    _add_runtime(s)
    s.add_argument("--checkpoint", type=Path, default=None, help="checkpoint file: resume from it if present")
    s.add_argument("--out", type=Path, required=True, help="result JSON (a pattern with {seed} for --seeds)")
    s.add_argument("--manifest", type=Path, default=None, help="also write the list of result files here")
    s.set_defaults(func=_cmd_search)


def _darts_data_options(g: argparse.ArgumentParser) -> None:
    names = _datasets()
    g.add_argument("--task", required=True, metavar="TASK", help=f"dataset: {_one_of(names)}, or an own task")
    g.add_argument("--data-root", type=Path, default=Path(Runtime.data_root), help="dataset folder")
    g.add_argument("--task-data", default=None, help="own DARTS tasks (as for ktnas search)")
    g.add_argument("--out", type=Path, required=True, help="JSON description of the splits")
    g.set_defaults(func=_cmd_darts_data)


def _darts_retrain_options(r: argparse.ArgumentParser) -> None:
    names = _datasets()
    r.add_argument("--search", type=Path, required=True, help="result JSON of `ktnas search --space darts`")
    r.add_argument(
        "--task", required=True, metavar="TASK", help=f"task of the search: {_one_of(names)}, or an own task"
    )
    r.add_argument("--params", default="{}", help="JSON object of retraining settings (RetrainConfig)")
    _add_runtime(r)
    r.add_argument(
        "--checkpoint", type=Path, default=None, help="per-epoch checkpoint: resume from it if present"
    )
    r.add_argument("--out", type=Path, required=True)
    r.set_defaults(func=_cmd_darts_retrain)


def _export_options(x: argparse.ArgumentParser) -> None:
    x.add_argument("result", type=Path, help="result JSON of `ktnas search --space darts`")
    x.add_argument(
        "--params",
        default="{}",
        help="JSON object of retraining settings the parameter count is taken at (channels, layers, "
        'auxiliary), for every task or per task, e.g. {"layers": 20, "cifar10": {"channels": 36}} '
        "(default: each task's retraining defaults, e.g. C=48 and 11 cells on CIFAR-10)",
    )
    x.add_argument(
        "--out", type=Path, default=None, help="output folder (default: export/<run>/seed<N> of the result)"
    )
    x.set_defaults(func=_cmd_export)


def _table_options(a: argparse.ArgumentParser) -> None:
    from ktnas.methods import METHODS

    _space_option(a)
    a.add_argument("--study", default="main", help="main, sensitivity, ablation; DARTS: the task group")
    a.add_argument(
        "--inputs",
        nargs="+",
        type=Path,
        required=True,
        help="per-seed result files; in a sensitivity or ablation study, add the ktnas run's files to test "
        "against them where the default variant is absent",
    )
    a.add_argument("--out-csv", type=Path, required=True)
    a.add_argument("--out-md", type=Path, required=True)
    a.add_argument("--benchmark", type=Path, default=None)
    a.add_argument(
        "--versus",
        default=None,
        choices=list(METHODS),
        metavar="METHOD",
        help=f"the method every row is tested against (default ktnas): {_one_of(list(METHODS))}",
    )
    a.set_defaults(func=_cmd_table)


def _diagnostics_options(t: argparse.ArgumentParser) -> None:
    t.add_argument("--inputs", nargs="+", type=Path, required=True, help="search result files")
    t.add_argument("--out-csv", type=Path, required=True)
    t.add_argument("--out-md", type=Path, required=True)
    t.add_argument("--out-png", type=Path, required=True)
    t.set_defaults(func=_cmd_diagnostics)


def _figure_options(f: argparse.ArgumentParser) -> None:
    from ktnas.report.figures import FIGURES

    f.add_argument(
        "--kind",
        required=True,
        choices=list(FIGURES),
        metavar="KIND",
        help=f"figure: {_one_of(list(FIGURES))}",
    )
    _space_option(f, tabular=True, help="a space with a tabular benchmark")
    f.add_argument("--inputs", nargs="*", type=Path, default=[])
    f.add_argument("--benchmark", type=Path, default=None)
    f.add_argument("--out", type=Path, required=True)
    f.set_defaults(func=_cmd_figure)


def _results_page_options(w: argparse.ArgumentParser) -> None:
    w.add_argument(
        "--tables",
        nargs="+",
        type=Path,
        required=True,
        help="`ktnas table` CSVs: nb201_main, trans101_main, ...",
    )
    w.add_argument(
        "--transfer",
        nargs="*",
        type=Path,
        default=[],
        help="search results of ktnas and ktnas_random with transfer traces (claim e; optional)",
    )
    w.add_argument(
        "--benchmark", type=Path, default=None, help="the benchmark of --transfer (default: bundled)"
    )
    w.add_argument(
        "--landscapes",
        nargs="*",
        type=Path,
        default=[],
        help="landscape tables (nb201_landscapes.csv): the claims decided on each fitness landscape",
    )
    w.add_argument("--out", type=Path, required=True, help="e.g. docs/results.md")
    w.set_defaults(func=_cmd_results_page)


def _list_options(n: argparse.ArgumentParser) -> None:
    n.add_argument(
        "what", nargs="?", choices=LIST_SECTIONS, help=f"one section: {_one_of(LIST_SECTIONS)} (default: all)"
    )
    n.add_argument("--format", choices=["text", "json"], default="text")
    n.set_defaults(func=_cmd_list)


#: name -> (one-line help, options); the order of `ktnas --help`
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "list": ("list the registered spaces, methods, tasks and encoders", _list_options),
    "benchmark": ("build a benchmark table (Parquet) from public data or official files", _benchmark_options),
    "embed": ("embed every architecture of a space (Parquet)", _embed_options),
    "proxies": ("zero-cost proxies of NB201 cells (compute a chunk, or merge chunks)", _proxies_options),
    "search": ("one seeded search of one method on the tasks of a space", _search_options),
    "darts-data": ("download one DARTS-space dataset and describe its splits", _darts_data_options),
    "darts-retrain": ("retrain a found DARTS genotype from scratch and test it", _darts_retrain_options),
    "export": (
        "a DARTS result's cells as DARTS Genotypes (Python, JSON), parameter counts and pictures",
        _export_options,
    ),
    "table": ("a results table (CSV + Markdown) from per-seed result files", _table_options),
    "diagnostics": ("transfer diagnostics (table + figure) of multi-task runs", _diagnostics_options),
    "figure": ("a figure (PNG) from search results and a benchmark table", _figure_options),
    "results-page": (
        "the 'Results against the paper' page (Markdown) from the tables' CSV files",
        _results_page_options,
    ),
}


def build_parser(complete: bool = False) -> argparse.ArgumentParser:
    """The ``ktnas`` parser; each command's options are added when it is used, or all at once if
    ``complete`` (for tools that read every option)."""
    p = argparse.ArgumentParser(prog="ktnas", description=__doc__)
    p.add_argument("--version", action="version", version=f"ktnas {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging and full tracebacks")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Command)
    for name, (help, options) in COMMANDS.items():
        command = sub.add_parser(name, help=help, description=help, options=options)
        if complete:
            command.complete()
    return p


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # --help, --version, or a usage error that argparse has printed
        return int(done.code or 0)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    func: Callable[[argparse.Namespace], None] = args.func
    try:
        func(args)
    except (KtnasError, ValueError, FileNotFoundError) as err:
        if args.verbose:  # the full traceback, for bug reports
            raise
        print(f"ktnas {args.command}: error: {err}", file=sys.stderr)
        return 2
    if args.command != "list":  # a query, not a pipeline stage
        log.info("%s", _usage(args.command))
    return 0


def _usage(command: str) -> str:
    """What the process cost, start-up included: wall, CPU (user + system, with any child processes) and
    peak memory. The pipeline's speed accounting (scripts/pipeline_cpu.py) reads this line from job logs."""
    wall = time.time() - _STARTED
    try:
        import resource
    except ImportError:  # not on POSIX
        return f"{command} finished: {wall:.1f} s wall"
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    return f"{command} finished: {wall:.1f} s wall, {cpu:.1f} s CPU, {me.ru_maxrss / 1024:.0f} MB peak memory"


if __name__ == "__main__":
    sys.exit(main())
