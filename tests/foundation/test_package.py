"""The wheel ships styles/ (as pgconsole/styles) and the migrations, and resources.styles_path()
finds them both from a checkout and from an installed wheel; the core never loads Textual."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pgconsole import __version__
from pgconsole.resources import styles_path
from tests.foundation.helpers import REPO, cli_env

CORE_MODULES = (
    "pgconsole.cli",
    "pgconsole.config",
    "pgconsole.db",
    "pgconsole.schema.migrator",
    "pgconsole.schema.setup",
    "pgconsole.embedded",
    "pgconsole.checks",
    "pgconsole.queue",
    "pgconsole.monitor",
    "pgconsole.console",
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # pip builds in an isolated environment from the local wheel mirror (hatchling), like a user would.
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    (built,) = out.glob("pgconsole-*.whl")
    return built


def test_wheel_contains_styles_and_migrations(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped_styles = {f"pgconsole/styles/{p.name}" for p in (REPO / "styles").glob("*.tcss")}
    shipped_sql = {
        f"pgconsole/schema/migrations/{p.name}" for p in (REPO / "pgconsole/schema/migrations").glob("*.sql")
    }
    assert shipped_styles and shipped_styles <= names
    assert shipped_sql and shipped_sql <= names
    assert not any(n.startswith("tests/") for n in names)


def test_installed_wheel_finds_its_styles_and_migrations(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    r = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    probe = (
        "import json, pgconsole, pgconsole.resources as r, pgconsole.schema.migrator as m;"
        "print(json.dumps({'file': pgconsole.__file__, 'styles': str(r.styles_path()),"
        " 'tcss': sorted(p.name for p in r.styles_path().glob('*.tcss')),"
        " 'migrations': [x.filename for x in m.load_migrations()]}))"
    )
    env = cli_env({"PYTHONPATH": str(target)})
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60
    )
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    assert found["file"].startswith(str(target))  # the wheel's copy, not the checkout's
    assert found["styles"] == str(target / "pgconsole" / "styles")
    assert found["tcss"] == sorted(p.name for p in (REPO / "styles").glob("*.tcss"))
    assert found["migrations"] == sorted(
        p.name for p in (REPO / "pgconsole/schema/migrations").glob("[0-9]*.sql")
    )


def test_checkout_finds_styles() -> None:
    assert styles_path() == REPO / "styles"
    assert (styles_path() / "app.tcss").is_file()


def test_core_modules_do_not_load_textual_or_plotext() -> None:
    """harlequin's rule (style.md): the database core is usable without the TUI."""
    probe = (
        "import importlib, importlib.util, json, sys\n"
        f"mods = [m for m in {CORE_MODULES!r} if importlib.util.find_spec(m) is not None]\n"
        "for m in mods: importlib.import_module(m)\n"
        "from pgconsole.cli import build_parser\n"
        "build_parser()  # imports every subcommand module\n"
        "print(json.dumps({'imported': mods, 'loaded': sorted(k for k in sys.modules if k.split('.')[0] in"
        " ('textual', 'plotext', 'textual_plotext', 'rich'))}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=cli_env(), cwd=REPO, timeout=60
    )
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    assert {"pgconsole.cli", "pgconsole.db", "pgconsole.config"} <= set(found["imported"])
    assert not [m for m in found["loaded"] if m.split(".")[0] in ("textual", "plotext", "textual_plotext")], (
        found
    )


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help_work_without_textual(flag: str) -> None:
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pgconsole", flag],
        capture_output=True,
        text=True,
        env=cli_env(),
        cwd=REPO,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    imported = {
        line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")
    }
    assert not {m for m in imported if m.split(".")[0] in ("textual", "plotext")}
    if flag == "--version":
        assert out.stdout.strip() == f"pgconsole {__version__}"
    else:
        for command in ("demo", "migrate", "setup", "doctor", "--check", "--dsn"):
            assert command in out.stdout
