"""How the safety net reads in the window: the change badge beside before → after, and which
rows count as changed (View ▸ Only Changed Pictures)."""

from __future__ import annotations

from core.models import PictureChange, RefreshResult
from gui.rows import ImageRow

BADGES = {
    PictureChange.SAME_PICTURE: "same picture",
    PictureChange.CHANGED: "changed",
}
EXPLANATIONS = {
    PictureChange.SAME_BYTES: "the new file has the same bytes as the old one",
    PictureChange.SAME_PICTURE: "different bytes, the same picture (re-encoded or resized)",
    PictureChange.CHANGED: "a different picture",
}


def change_badge(result: RefreshResult) -> str:
    """The badge after "refreshed", before the times: " · changed"; "" for the same bytes."""
    badge = BADGES.get(result.change) if result.change is not None else None
    return f" · {badge}" if badge else ""


def change_lines(result: RefreshResult) -> list[str]:
    """The tooltip's line about the change."""
    if result.change is None:
        return []
    return [f"picture: {result.change.value}, {EXPLANATIONS[result.change]}"]


def picture_changed(row: ImageRow | None) -> bool:
    return (
        row is not None
        and row.result is not None
        and row.result.ok
        and row.result.change is PictureChange.CHANGED
    )
