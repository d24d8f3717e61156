"""How modification times are shown to a person: local time, to the millisecond."""

from __future__ import annotations

from datetime import datetime


def format_mtime(mtime: float | None) -> str:
    if mtime is None:
        return "—"
    return datetime.fromtimestamp(mtime).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
