"""How a row's state and last refresh read in the window: short text, a mark and a colour."""

from __future__ import annotations

import enum
from datetime import datetime

from core.models import Action
from gui.rows import ImageRow, RowState
from gui.safety_text import change_badge, change_lines


class Mark(enum.Enum):
    NONE = ""
    QUEUED = "…"
    RUNNING = "↻"
    REFRESHED = "✔"
    SAME_BYTES = "="
    UNCHANGED = "·"
    FAILED = "✖"
    CANCELLED = "⊘"
    REFUSED = "⊗"  # a placeholder kept out (safety net)
    REVERTED = "↶"


def clock(mtime: float | None) -> str:
    """Local time with seconds (and milliseconds, so two refreshes in one second differ)."""
    if mtime is None:
        return "—"
    return datetime.fromtimestamp(mtime).strftime("%H:%M:%S.%f")[:-3]


def full_time(mtime: float | None) -> str:
    if mtime is None:
        return "missing"
    return datetime.fromtimestamp(mtime).strftime("%Y-%m-%d %H:%M:%S")


def mark_of(row: ImageRow) -> Mark:
    if row.state is RowState.QUEUED:
        return Mark.QUEUED
    if row.state is RowState.RUNNING:
        return Mark.RUNNING
    result = row.result
    if result is None:
        return Mark.FAILED if row.entry.last_outcome == Action.FAILED.value else Mark.NONE
    if result.action is Action.FAILED:
        return Mark.FAILED
    if result.action is Action.CANCELLED:
        return Mark.CANCELLED
    if result.action in (Action.REFUSED, Action.REVERTED):
        return Mark.REFUSED if result.action is Action.REFUSED else Mark.REVERTED
    if result.same_bytes:
        return Mark.SAME_BYTES
    if result.action in (Action.UNCHANGED, Action.CACHED):
        return Mark.UNCHANGED
    return Mark.REFRESHED


def result_text(row: ImageRow) -> str:
    """E.g. "✔ refreshed 10:01:02.345 → 10:05:06.789"."""
    mark = mark_of(row)
    if row.state is RowState.QUEUED:
        return f"{mark.value} queued"
    if row.state is RowState.RUNNING:
        received = f" {row.bytes_received / 1024:.0f} KB" if row.bytes_received else ""
        return f"{mark.value} downloading{received}"
    result = row.result
    if result is None:
        if row.entry.last_outcome == Action.FAILED.value:
            return f"{mark.value} failed earlier: {row.entry.last_error or 'unknown reason'}"
        return row.entry.last_outcome or ""
    before, after = clock(result.before_mtime), clock(result.after_mtime)
    match result.action:
        case Action.FAILED:
            return f"{mark.value} failed, kept {before}: {result.error}"
        case Action.CANCELLED:
            return f"{mark.value} cancelled, kept {before}"
        case Action.REFUSED:
            return f"{mark.value} kept {before}, {result.error}"
        case Action.UNCHANGED:
            return f"{mark.value} unchanged on the server, {before}"
        case Action.CACHED:
            return f"{mark.value} already cached, {before}"
    label = "same bytes" if result.same_bytes else result.action.value + change_badge(result)
    if result.before_mtime is None:
        return f"{mark.value} {label} {after}"
    return f"{mark.value} {label} {before} → {after}"


def result_tooltip(row: ImageRow) -> str:
    result = row.result
    if result is None:
        return row.entry.last_error or ""
    lines = [
        f"{result.action.value} (force_refresh={result.force_refresh})",
        f"before: {full_time(result.before_mtime)} ({result.before_size or 0:,} bytes)",
        f"after:  {full_time(result.after_mtime)} ({result.after_size or 0:,} bytes)",
        *change_lines(result),
    ]
    if result.error:
        lines.append(f"reason: {result.error}")
        lines.append("The previous file was kept unchanged.")
    return "\n".join(lines)
