"""How a row's state and last refresh read in the window: a mark, a headline and its detail.

The table shows the headline and the detail on two lines ("✔ refreshed" over
"10:01:02.345 → 10:05:06.789"; "✖ failed, old file kept" over the reason), the grid the mark
and the time, the details pane and accessibility one line of both.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from core.models import Action, RefreshResult
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


@dataclass(frozen=True, slots=True)
class ResultLines:
    mark: Mark
    headline: str  # "refreshed", "failed, old file kept", "downloading 12 KB"
    detail: str  # "10:01:02.345 → 10:05:06.789", or why it failed
    detail_is_reason: bool = False

    def one_line(self) -> str:
        """E.g. "✔ refreshed 10:01:02.345 → 10:05:06.789" or "✖ failed, old file kept: why"."""
        head = f"{self.mark.value} {self.headline}".strip()
        if not self.detail:
            return head
        return f"{head}: {self.detail}" if self.detail_is_reason else f"{head} {self.detail}"


def clock(mtime: float | None) -> str:
    """Local time with seconds (and milliseconds, so two refreshes in one second differ)."""
    if mtime is None:
        return "—"
    return datetime.fromtimestamp(mtime).strftime("%H:%M:%S.%f")[:-3]


def full_time(mtime: float | None) -> str:
    if mtime is None:
        return "missing"
    return datetime.fromtimestamp(mtime).strftime("%Y-%m-%d %H:%M:%S")


def action_label(result: RefreshResult) -> str:
    """The action as the command line's table prints it: "refreshed (same bytes)" for a file
    replaced by identical bytes (the JSON's action stays "refreshed")."""
    return f"{result.action.value} (same bytes)" if result.same_bytes else result.action.value


def mark_of(row: ImageRow) -> Mark:
    if row.state is RowState.QUEUED:
        return Mark.QUEUED
    if row.state is RowState.RUNNING:
        return Mark.RUNNING
    result = row.result
    if result is None:
        return Mark.FAILED if failed_earlier(row) else Mark.NONE
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


def failed_earlier(row: ImageRow) -> bool:
    """The manifest says the last refresh, before this window opened, failed."""
    return row.result is None and row.entry.last_outcome == Action.FAILED.value


def is_failed(row: ImageRow) -> bool:
    """The last refresh failed (a row being retried counts until its new result is in)."""
    result = row.result
    return failed_earlier(row) or (result is not None and result.action is Action.FAILED)


def is_changed(row: ImageRow) -> bool:
    """Refreshed since the window opened, and the picture is new (not the same bytes)."""
    result = row.result
    return (
        result is not None
        and result.action in (Action.REFRESHED, Action.UPDATED, Action.DOWNLOADED)
        and not result.same_bytes
    )


def result_lines(row: ImageRow) -> ResultLines:
    mark = mark_of(row)
    was = f"was {clock(row.file.mtime)}" if row.file else "not downloaded yet"
    if row.state is RowState.QUEUED:
        return ResultLines(mark, "queued", was)
    if row.state is RowState.RUNNING:
        received = f" {row.bytes_received / 1024:.0f} KB" if row.bytes_received else ""
        return ResultLines(mark, f"downloading{received}", was)
    result = row.result
    if result is None:
        if failed_earlier(row):
            reason = row.entry.last_error or "no reason was recorded"
            return ResultLines(mark, "failed earlier", reason, detail_is_reason=True)
        return ResultLines(mark, "", "")
    before, after = clock(result.before_mtime), clock(result.after_mtime)
    kept = "old file kept" if result.before_mtime is not None else "nothing downloaded yet"
    match result.action:
        case Action.FAILED:
            reason = result.error or "no reason was given"
            return ResultLines(mark, f"failed, {kept}", reason, detail_is_reason=True)
        case Action.CANCELLED:
            return ResultLines(mark, f"cancelled, {kept}", "")
        case Action.REFUSED:
            reason = result.error or "a placeholder"
            return ResultLines(mark, f"refused, {kept}", reason, detail_is_reason=True)
        case Action.UNCHANGED:
            return ResultLines(mark, "unchanged on the server", before)
        case Action.CACHED:
            return ResultLines(mark, "already cached", before)
    label = action_label(result) + ("" if result.same_bytes else change_badge(result))
    if result.before_mtime is None:
        return ResultLines(mark, label, after)
    return ResultLines(mark, label, f"{before} → {after}")


def result_text(row: ImageRow) -> str:
    """One line of the row's state, e.g. "✔ refreshed 10:01:02.345 → 10:05:06.789"."""
    return result_lines(row).one_line()


def result_tooltip(row: ImageRow) -> str:
    result = row.result
    if result is None:
        return row.entry.last_error or ""
    lines = [
        f"{action_label(result)} (force_refresh={result.force_refresh})",
        f"before: {full_time(result.before_mtime)} ({result.before_size or 0:,} bytes)",
        f"after:  {full_time(result.after_mtime)} ({result.after_size or 0:,} bytes)",
        *change_lines(result),
    ]
    if result.note:
        lines.append(f"note: {result.note}")
    if result.variants:
        lines.append(f"remade: {', '.join(variant.path.name for variant in result.variants)}")
    if result.error:
        lines.append(f"reason: {result.error}")
        lines.append("The previous file was kept unchanged.")
    return "\n".join(lines)
