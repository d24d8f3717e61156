"""Our own SVG artwork in resources/icons, loaded as QIcons."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from PySide6.QtGui import QIcon


def icon_path(name: str) -> str:
    return str(files("resources.icons").joinpath(f"{name}.svg"))


@cache
def icon(name: str) -> QIcon:
    return QIcon(icon_path(name))
