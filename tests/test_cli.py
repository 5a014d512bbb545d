"""The command line: `ktnas list` and the choices in `--help` follow the registries; bad names are one message."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from ktnas.cli import LIST_SECTIONS, main, registry
from ktnas.embedding import ENCODERS
from ktnas.methods import METHODS
from ktnas.recipes import RECIPES
from ktnas.report.figures import FIGURES

SPACES = list(RECIPES)
TABULAR = [name for name, recipe in RECIPES.items() if recipe.tabular]
TASKS = {name: recipe().tasks() for name, recipe in RECIPES.items()}
ALL_TASKS = list(dict.fromkeys(t for tasks in TASKS.values() for t in tasks))
DATASETS = list(dict.fromkeys(d for r in RECIPES.values() for d in r().datasets(r().tasks())))


def _words(text: str) -> set[str]:
    return set(re.split(r"[^\w-]+", text))


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _help(capsys: pytest.CaptureFixture[str], command: str) -> set[str]:
    code, out, _ = _run(capsys, command, "--help")
    assert code == 0
    return _words(out)


def test_list_names_every_registered_space_method_task_and_encoder(capsys):
    code, out, err = _run(capsys, "list")
    assert code == 0 and err == ""
    words = _words(out)
    for kind, names in (
        ("space", SPACES),
        ("method", METHODS),
        ("task", ALL_TASKS),
        ("encoder", ENCODERS),
    ):
        missing = [n for n in names if n not in words]
        assert not missing, f"`ktnas list` leaves out the {kind}(s) {missing}"
    for space, recipe in RECIPES.items():
        assert recipe.description in out, space
    for name, method in METHODS.items():
        assert method.description in out, name
    for name, encoder in ENCODERS.items():
        assert encoder.description in out, name


def test_list_groups_methods_by_the_spaces_they_run_on(capsys):
    methods = registry("methods")
    assert set(methods) == set(METHODS)
    for name, entry in methods.items():
        assert entry["spaces"] == (SPACES if METHODS[name].multitask else TABULAR), name
    _, out, _ = _run(capsys, "list", "methods")
    header = [line for line in out.splitlines() if line.startswith("  ") and not line.startswith("    ")]
    assert len(header) == len({(m.multitask) for m in METHODS.values()})
    assert any(", ".join(SPACES) in line for line in header)  # multi-task methods run everywhere


def test_list_one_section_and_json(capsys):
    for section in LIST_SECTIONS:
        code, out, _ = _run(capsys, "list", section)
        assert code == 0 and out.startswith(section) and "\n\n" not in out.strip()
    code, out, _ = _run(capsys, "list", "--format", "json")
    listing = json.loads(out)
    assert list(listing) == list(LIST_SECTIONS)
    assert listing["tasks"] == {
        n: {g: list(t) for g, t in r().task_groups().items()} for n, r in RECIPES.items()
    }
    assert [n for n, e in listing["encoders"].items() if e["default"]] == ["node2vec"]


def test_help_shows_the_choices_of_every_registered_name(capsys):
    search = _help(capsys, "search")
    for names in (SPACES, METHODS, ALL_TASKS):
        assert not [n for n in names if n not in search], names
    embed = _help(capsys, "embed")
    assert not [n for n in [*SPACES, *ENCODERS] if n not in embed]
    table = _help(capsys, "table")
    assert not [n for n in [*SPACES, *METHODS] if n not in table]
    figure = _help(capsys, "figure")
    assert not [n for n in [*TABULAR, *FIGURES] if n not in figure]
    benchmark = _help(capsys, "benchmark")
    assert not [n for n in TABULAR if n not in benchmark]
    for command in ("darts-data", "darts-retrain"):
        words = _help(capsys, command)
        assert not [n for n in DATASETS if n not in words], command
    assert not [n for n in LIST_SECTIONS if n not in _help(capsys, "list")]


@pytest.mark.parametrize(
    ("argv", "bad"),
    [
        (["search", "--space", "nb201", "--method", "nope", "--seed", "0", "--tasks", "cifar10"], "nope"),
        (["search", "--space", "nb301", "--method", "ktnas", "--seed", "0", "--tasks", "cifar10"], "nb301"),
        (["embed", "--space", "nb201", "--method", "word2vec"], "word2vec"),
        (["figure", "--kind", "pie", "--space", "nb201"], "pie"),
        (["figure", "--kind", "kendall", "--space", "darts"], "darts"),
        (["benchmark", "--space", "darts"], "darts"),
        (["table", "--space", "nb201", "--inputs", "x.json", "--versus", "nope"], "nope"),
        (["list", "spacez"], "spacez"),
    ],
)
def test_a_bad_name_is_one_message_with_the_choices(capsys, argv, bad):
    code, out, err = _run(capsys, *argv)
    assert code == 2 and out == ""
    assert "Traceback" not in err
    (message,) = [line for line in err.splitlines() if "error" in line]
    assert f"invalid choice: '{bad}'" in message
    choices = re.search(r"choose from (.*)\)", message)
    assert choices is not None and len(choices.group(1).split(", ")) >= 2


@pytest.mark.parametrize(("space", "tasks"), [("nb201", "cifar10,cifar11"), ("darts", "cifar10,cifar11")])
def test_bad_tasks_are_one_message_naming_them_and_the_valid_ones(tmp_path, capsys, space, tasks):
    argv = ["search", "--space", space, "--method", "ktnas", "--seed", "0", "--tasks", tasks]
    code, out, err = _run(capsys, *argv, "--out", str(tmp_path / "r.json"))
    assert code == 2 and out == ""
    (message,) = err.strip().splitlines()
    assert message.startswith("ktnas search: error:")
    assert tasks.split(",")[1] in message
    assert all(t in message for t in TASKS[space]), message


def test_a_single_task_method_on_an_untabular_space_names_the_usable_methods(tmp_path, capsys):
    (untabular, *_) = [s for s in SPACES if s not in TABULAR]
    single = next(n for n, m in METHODS.items() if not m.multitask)
    tasks = ",".join(next(iter(RECIPES[untabular]().task_groups().values())))
    argv = ["search", "--space", untabular, "--method", single, "--seed", "0", "--tasks", tasks]
    code, _, err = _run(capsys, *argv, "--out", str(tmp_path / "r.json"))
    assert code == 2
    usable = [n for n, m in METHODS.items() if m.multitask]
    assert f"use one of: {', '.join(usable)}" in err


def test_list_and_the_parser_import_no_torch():
    code = (
        "import sys; from ktnas.cli import build_parser, main; build_parser();"
        "assert 'ktnas.recipes' not in sys.modules, 'building the parser reads the registries';"
        "assert main(['list']) == 0; assert 'torch' not in sys.modules, 'ktnas list imports torch'"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
