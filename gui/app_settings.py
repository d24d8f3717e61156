"""The user's preferences and window state, stored with QSettings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from core.settings import RefreshSettings

MAX_RECENT = 8
MEGABYTE = 1024 * 1024
_DEFAULTS = RefreshSettings()


@dataclass
class Preferences:
    jobs: int = _DEFAULTS.jobs
    timeout: float = _DEFAULTS.timeout
    max_megabytes: int = _DEFAULTS.max_bytes // MEGABYTE
    retries: int = _DEFAULTS.retries
    # The safety net: the replaced versions kept to revert to, in all (0 keeps none).
    kept_versions_megabytes: int = _DEFAULTS.kept_versions_bytes // MEGABYTE
    cache_dir: Path | None = None
    recent_dirs: list[Path] = field(default_factory=list)

    def refresh_settings(self) -> RefreshSettings:
        return RefreshSettings(
            jobs=self.jobs,
            timeout=self.timeout,
            max_bytes=self.max_megabytes * MEGABYTE,
            retries=self.retries,
            kept_versions_bytes=self.kept_versions_megabytes * MEGABYTE,
        )

    def remember(self, folder: Path) -> None:
        self.cache_dir = folder
        self.recent_dirs = [folder, *(p for p in self.recent_dirs if p != folder)][:MAX_RECENT]


class AppSettings:
    """The user's settings; or, given a file, throwaway ones (the demo and headless runs never
    touch the user's: their window size, folders and view stay as they were)."""

    def __init__(self, file: Path | None = None) -> None:
        self._store = (
            QSettings(str(file), QSettings.Format.IniFormat)
            if file is not None
            else QSettings("ImageRefresh", "Image Refresh")
        )

    def file_name(self) -> str:
        return self._store.fileName()

    def load(self) -> Preferences:
        cache_dir = str(self._value("cache/dir", ""))
        recent = self._value("cache/recent", [])
        defaults = Preferences()
        return Preferences(
            jobs=int(self._value("refresh/jobs", defaults.jobs)),
            timeout=float(self._value("refresh/timeout", defaults.timeout)),
            max_megabytes=int(self._value("refresh/max_megabytes", defaults.max_megabytes)),
            retries=int(self._value("refresh/retries", defaults.retries)),
            kept_versions_megabytes=int(
                self._value("safety/kept_versions_megabytes", defaults.kept_versions_megabytes)
            ),
            cache_dir=Path(cache_dir) if cache_dir else None,
            recent_dirs=[Path(p) for p in (recent if isinstance(recent, list) else [recent]) if p],
        )

    def _value(self, key: str, default: Any) -> Any:
        return self._store.value(key, default)

    def save(self, preferences: Preferences) -> None:
        s = self._store
        s.setValue("refresh/jobs", preferences.jobs)
        s.setValue("refresh/timeout", preferences.timeout)
        s.setValue("refresh/max_megabytes", preferences.max_megabytes)
        s.setValue("refresh/retries", preferences.retries)
        s.setValue("safety/kept_versions_megabytes", preferences.kept_versions_megabytes)
        s.setValue("cache/dir", str(preferences.cache_dir) if preferences.cache_dir else "")
        s.setValue("cache/recent", [str(p) for p in preferences.recent_dirs])

    def window_state(self) -> tuple[QByteArray | None, QByteArray | None, QByteArray | None]:
        return (
            self._value("window/geometry", None),
            self._value("window/state", None),
            self._value("window/splitter", None),
        )

    def save_window_state(
        self, geometry: QByteArray, state: QByteArray, splitter: QByteArray
    ) -> None:
        self._store.setValue("window/geometry", geometry)
        self._store.setValue("window/state", state)
        self._store.setValue("window/splitter", splitter)
        self._store.sync()

    def view_mode(self) -> str:
        return str(self._store.value("window/view", "table"))

    def save_view_mode(self, mode: str) -> None:
        self._store.setValue("window/view", mode)

    def grid_edge(self, default: int) -> int:
        try:
            return int(str(self._store.value("window/grid_edge", default)))
        except ValueError:
            return default

    def save_grid_edge(self, edge: int) -> None:
        self._store.setValue("window/grid_edge", edge)

    def details_shown(self) -> bool:
        return str(self._store.value("window/details", "true")).lower() != "false"

    def save_details_shown(self, shown: bool) -> None:
        self._store.setValue("window/details", "true" if shown else "false")
