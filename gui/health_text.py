"""How a file's health reads in the window: the Health column, its tooltip, its filter."""

from __future__ import annotations

import enum

from PySide6.QtGui import QColor

from core.health import Health, Verdict

HEALTHY = QColor(30, 130, 60)
BROKEN = QColor(190, 40, 40)
_ORDER = {health: position for position, health in enumerate(Health)}


def health_text(verdict: Verdict | None) -> str:
    """`ok`, or the health and its reason (`truncated: the JPEG image is truncated`)."""
    if verdict is None:
        return ""
    if verdict.health.ok:
        return f"✔ {verdict.health.value}"
    return f"✘ {verdict.health.value}: {verdict.detail}"


def health_tooltip(verdict: Verdict | None) -> str:
    if verdict is None:
        return "Not scanned yet: Health ▸ Scan checks every file"
    return f"{verdict.health.value}: {verdict.health.meaning}.\n{verdict.detail}"


def health_sort_key(verdict: Verdict | None) -> tuple[int, str]:
    """Broken first in an ascending sort (in the order of Health), unscanned last."""
    if verdict is None:
        return (len(_ORDER) + 1, "")
    position = len(_ORDER) if verdict.health.ok else _ORDER[verdict.health]
    return (position, verdict.detail)


class HealthFilter(enum.Enum):
    """The health filter's choices: which rows it shows."""

    BROKEN = "broken"
    OK = "ok"
    UNSCANNED = "unscanned"
    EMPTY = Health.EMPTY.value
    TRUNCATED = Health.TRUNCATED.value
    NOT_AN_IMAGE = Health.NOT_AN_IMAGE.value
    WRONG_EXTENSION = Health.WRONG_EXTENSION.value
    TOO_LARGE = Health.TOO_LARGE.value
    MISSING = Health.MISSING.value

    @property
    def label(self) -> str:
        return {
            HealthFilter.BROKEN: "Broken (not ok)",
            HealthFilter.OK: "OK",
            HealthFilter.UNSCANNED: "Not scanned",
        }.get(self, f"Only {self.value}")

    def accepts(self, health: str | None) -> bool:
        """Whether a row whose Role.HEALTH is `health` (None: unscanned) is shown."""
        if self is HealthFilter.UNSCANNED:
            return health is None
        if health is None:
            return False
        if self is HealthFilter.BROKEN:
            return health != Health.OK.value
        return health == str(self.value)
