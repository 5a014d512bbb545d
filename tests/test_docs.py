"""Docs that cannot rot: every `ktnas` and `snakemake` command in a shell code block of README.md and
docs/**/*.md is accepted by the current parsers and workflow, and docs/reference/cli.md matches the parsers.

Only fenced blocks marked ```bash, ```sh, ```shell or ```console are read; put a command that is not
meant to run as written (pseudo-code, a template) in a ```text block.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHELL = {"bash", "sh", "shell", "console"}
FENCE = re.compile(r"^```(\S*)[^\n]*\n(.*?)^```", re.S | re.M)


def doc_pages() -> list[Path]:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    return [p for p in pages if p.exists()]


def shell_lines(text: str) -> list[str]:
    """The logical lines of the shell blocks of a Markdown page (continuations joined, prompts dropped)."""
    lines: list[str] = []
    for lang, body in FENCE.findall(text):
        if lang.lower() not in SHELL:
            continue
        for line in body.replace("\\\n", " ").splitlines():
            line = line.strip()
            if line.startswith("$ "):
                line = line[2:]
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def commands(text: str, program: str) -> list[list[str]]:
    """Each `program ...` invocation in the page's shell blocks, as argv without the program name."""
    found = []
    for line in shell_lines(text):
        words = shlex.split(line, comments=True)
        current: list[str] | None = None
        for word in [*words, "&&"]:
            if word in ("&&", "||", ";", "|"):
                if current is not None:
                    found.append(current)
                current = None
            elif current is not None:
                current.append(word)
            elif word == program:
                current = []
    return found


def all_commands(program: str) -> list[tuple[str, list[str]]]:
    return [
        (str(page.relative_to(ROOT)), argv)
        for page in doc_pages()
        for argv in commands(page.read_text(), program)
    ]


KTNAS = all_commands("ktnas")
SNAKEMAKE = all_commands("snakemake")


def test_the_docs_have_commands_to_check():
    assert len(KTNAS) >= 5 and len(SNAKEMAKE) >= 5


def test_the_extractor_reads_only_shell_blocks():
    page = "```bash\nsnakemake --cores 2  # all\nktnas search \\\n  --seed 0 && ls\n```\n```text\nktnas nope\n```\n"
    assert commands(page, "ktnas") == [["search", "--seed", "0"]]
    assert commands(page, "snakemake") == [["--cores", "2"]]


@pytest.mark.parametrize(("page", "argv"), KTNAS, ids=[f"{p}: ktnas {' '.join(a)}" for p, a in KTNAS])
def test_ktnas_command_in_docs_parses(page, argv, monkeypatch):
    from ktnas.cli import build_parser
    from ktnas.methods import METHODS, Method

    if "add-a-method" in page:  # the guide's example method, registered as the page tells the reader to
        monkeypatch.setitem(
            METHODS,
            "hill",
            Method("hill", "hill climbing", searcher="ktnas.baselines.hill_climb:hill_climb", plain=True),
        )
    parser = build_parser(complete=True)
    if "--help" in argv or "-h" in argv:  # `ktnas SUB --help`: the sub-command must exist
        argv = [a for a in argv if a not in ("--help", "-h")]
        names = {a for a in argv if not a.startswith("-")}
        sub = next(a for a in parser._actions if a.dest == "command")
        assert names <= set(sub.choices), f"{page}: no sub-command among {names}"  # type: ignore[arg-type]
        return
    try:
        parser.parse_args(argv)
    except SystemExit as err:
        pytest.fail(f"{page}: `ktnas {' '.join(argv)}` is rejected by the parser (exit {err.code})")


def _snakemake_invocations() -> dict[tuple[str, ...], list[str]]:
    """Distinct invocations (argv) and the pages that show them."""
    seen: dict[tuple[str, ...], list[str]] = {}
    for page, argv in SNAKEMAKE:
        seen.setdefault(tuple(argv), []).append(page)
    return seen


INVOCATIONS = _snakemake_invocations()


def _dry_run_argv(argv: tuple[str, ...], workdir: Path) -> list[str]:
    """The documented invocation as a dry run in ``workdir``: `--report` and run-control flags dropped,
    the default config named explicitly (the Snakefile reads config/config.yaml relative to the working
    directory)."""
    out, skip = [], 0
    for i, word in enumerate(argv):
        if skip:
            skip -= 1
            continue
        if word == "--report":
            skip = 1 if i + 1 < len(argv) and not argv[i + 1].startswith("-") else 0
            continue
        if word in ("-d", "--directory"):
            skip = 1
            continue
        out.append(word)
    if "--configfile" not in out:
        out += ["--configfile", str(ROOT / "config" / "config.yaml")]
    return ["-s", str(ROOT / "Snakefile"), "-d", str(workdir), "-n", *out]


@pytest.mark.workflow
@pytest.mark.parametrize("argv", list(INVOCATIONS), ids=[f"snakemake {' '.join(a)}" for a in INVOCATIONS])
def test_snakemake_command_in_docs_dry_runs(argv, tmp_path):
    exe = shutil.which("snakemake", path=str(Path(sys.executable).parent)) or shutil.which("snakemake")
    if exe is None:  # pragma: no cover
        pytest.skip("snakemake is not installed in this environment")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    cmd = [exe, *_dry_run_argv(argv, tmp_path)]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=300, check=False)
    pages = ", ".join(sorted(set(INVOCATIONS[argv])))
    assert out.returncode == 0, (
        f"{pages}: `snakemake {' '.join(argv)}` fails a dry run:\n{out.stderr[-3000:]}"
    )


def test_cli_reference_is_up_to_date():
    spec = importlib.util.spec_from_file_location("cli_reference", ROOT / "scripts" / "cli_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    page = ROOT / "docs" / "reference" / "cli.md"
    assert page.exists() and page.read_text() == module.render(), (
        f"docs/reference/cli.md is out of date with ktnas.cli.build_parser(); regenerate it: {module.COMMAND}"
    )


def test_doc_links_point_to_files():
    """Relative links of the docs name files that exist."""
    broken = []
    for page in doc_pages():
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if re.match(r"[a-z]+:", target):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, "broken links: " + "; ".join(broken)
