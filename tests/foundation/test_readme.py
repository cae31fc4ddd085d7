"""The README's two commands are the ones CI runs and the parser accepts (issue 2, "Done when")."""

from __future__ import annotations

import re
import shlex
import tomllib

import pytest

from pgconsole.cli import build_parser
from tests.foundation.helpers import REPO

README = (REPO / "README.md").read_text()
BLOCKS = re.findall(r"```(?:sh|bash|console)?\n(.*?)```", README, re.S)


def commands() -> list[str]:
    return [line.split("#", 1)[0].strip() for block in BLOCKS for line in block.splitlines() if line.strip()]


def test_the_two_setup_commands_are_there_and_ci_runs_the_test_one() -> None:
    setup = [c for c in commands() if c.startswith("python3 -m venv .venv")]
    assert len(setup) == 2, setup
    demo, tests = setup
    assert demo.endswith(".venv/bin/pgconsole demo") and "'.[demo]'" in demo
    assert "pytest" in tests and "'.[dev]'" in tests
    ci = (REPO / ".ci" / "run").read_text()
    assert tests in ci, "the README's test command must be the one .ci/run runs, verbatim"
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert {"demo", "dev"} <= set(extras)


@pytest.mark.parametrize("command", [c for c in commands() if c.startswith("pgconsole ")])
def test_documented_pgconsole_commands_parse(command: str) -> None:
    build_parser().parse_args(shlex.split(command)[1:])


def test_linked_foundation_docs_exist() -> None:
    for doc in ("docs/configuration.md", "docs/roles.md", "docs/migrations.md", "docs/embedded.md"):
        if doc in README or doc == "docs/embedded.md":
            assert (REPO / doc).is_file(), doc
