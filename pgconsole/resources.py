"""Files that ship with pgconsole: the Textual stylesheets.

``styles/`` sits at the top of the repository (DESIGN.md §3) and is copied into the wheel as
``pgconsole/styles`` (pyproject.toml, force-include). An installed wheel therefore finds it next
to this module; a checkout or an editable install finds it one level up.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def styles_path() -> Path:
    """The directory holding the ``*.tcss`` files, installed or in a checkout."""
    installed = _HERE / "styles"
    if installed.is_dir():
        return installed
    checkout = _HERE.parent / "styles"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"pgconsole styles not found in {installed} or {checkout}")


def stylesheet(name: str) -> Path:
    """One stylesheet by file name, e.g. ``stylesheet("app.tcss")``."""
    path = styles_path() / name
    if not path.is_file():
        raise FileNotFoundError(f"pgconsole stylesheet {name} not found in {path.parent}")
    return path
