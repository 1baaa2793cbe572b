"""The README and docs/ stay true to the code: links resolve, every command-line option and exit code is
documented, every page is reachable from the README."""

import argparse
import re
from pathlib import Path

import pytest

from ac_eval.cli import build_parser
from ac_eval.evaluation.conditions import CONDITIONS
from ac_eval.run.folder import EXIT_CODES

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
PAGES = [REPO / "README.md", *sorted(DOCS.glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _subparsers(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield name, sub
                yield from ((f"{name} {n}", s) for n, s in _subparsers(sub))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page):
    broken = [target for target in LINK.findall(page.read_text())
              if not re.match(r"[a-z]+://", target) and not (page.parent / target).exists()]
    assert not broken, f"{page.name}: links to missing files: {broken}"


def test_every_option_of_every_command_is_in_the_cli_page():
    text = (DOCS / "cli.md").read_text()
    missing = [f"{name}: {flag}" for name, sub in _subparsers(build_parser()) for action in sub._actions
               for flag in action.option_strings if flag not in ("-h", "--help") and f"`{flag}" not in text]
    commands = [name for name, _ in _subparsers(build_parser()) if f"ac-eval {name}" not in text]
    assert not missing and not commands, f"docs/cli.md lacks options {missing} and commands {commands}"


def test_every_condition_and_exit_code_is_documented():
    cli = (DOCS / "cli.md").read_text()
    assert [c for c in CONDITIONS if f"`{c}`" not in cli] == []
    outputs = (DOCS / "outputs.md").read_text()
    assert [code for code in EXIT_CODES if not re.search(rf"^\| {code} \|", outputs, re.MULTILINE)] == []


def test_the_readme_is_a_front_door():
    """Short, and every reference page reachable from it."""
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    unlinked = [p.name for p in DOCS.glob("*.md") if f"(docs/{p.name})" not in readme]
    assert not unlinked, f"README.md does not link {unlinked}"
