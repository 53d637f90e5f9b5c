"""The docs stay true: every `kernelgan ...` command line in README.md names a command and options that exist,
every relative link in README.md and docs/ resolves (anchors included), every command's --help has an example."""

import re
import shlex

import click
import pytest
import typer
from typer.testing import CliRunner

from conftest import ROOT
from kernelgan_cli.app import COMMANDS, app

runner = CliRunner()
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def command_lines(text: str) -> list[str]:
    """``kernelgan ...`` lines of the fenced code blocks (comments and continuation dropped)."""
    lines = []
    for block in re.findall(r"```(?:bash|sh)?\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.split(" #")[0].strip()
            if line.startswith("kernelgan "):
                lines.append(line)
    return lines


def click_command(name: str) -> click.Command:
    group = typer.main.get_command(app)
    command = group.get_command(click.Context(group), name)
    assert command is not None, f"no command {name!r}"
    return command


def test_readme_has_command_lines_to_check():
    assert len(command_lines((ROOT / "README.md").read_text())) >= 10


@pytest.mark.parametrize("line", command_lines((ROOT / "README.md").read_text()))
def test_every_readme_command_line_parses(line):
    words = shlex.split(line)[1:]
    if words[0].startswith("-"):
        assert words[0] in ("--help", "--version")
        return
    command = click_command(words[0])
    known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    for word in words[1:]:
        if word.startswith("-") and word != "-":
            assert word.split("=")[0] in known, f"{line}: {words[0]} has no option {word}"


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


@pytest.mark.parametrize("page", DOCS, ids=lambda p: p.name)
def test_every_relative_link_resolves(page):
    text = page.read_text()
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"^[a-z]+://", target) or target.startswith("mailto:"):
            continue
        path_part, _, anchor = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        assert resolved.exists(), f"{page.name}: broken link {target}"
        if anchor and resolved.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", resolved.read_text(), flags=re.M)
            assert anchor in {slug(h) for h in headings}, f"{page.name}: no heading for #{anchor} in {path_part}"


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_help_gives_an_example(name):
    result = runner.invoke(app, [name, "--help"])
    assert result.exit_code == 0 and "Example:" in result.output and f"kernelgan {name}" in result.output


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and re.match(r"kernelgan \d+\.\d+", result.output)
