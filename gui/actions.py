"""The window's actions: text, icon, shortcuts, tooltip and accessible name in one place."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget

from gui.icons import icon


def make_action(
    parent: QWidget,
    text: str,
    tip: str,
    icon_name: str | None = None,
    shortcuts: tuple[QKeySequence | QKeySequence.StandardKey | str, ...] = (),
) -> QAction:
    action = QAction(text, parent)
    action.setToolTip(f"{tip} ({QKeySequence(shortcuts[0]).toString()})" if shortcuts else tip)
    action.setStatusTip(tip)
    if icon_name:
        action.setIcon(icon(icon_name))
    if shortcuts:
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
    parent.addAction(action)  # shortcuts work even when the action is only in a menu
    return action


@dataclass
class Actions:
    open_folder: QAction
    import_sources: QAction
    add_urls: QAction
    preferences: QAction
    quit: QAction
    select_all: QAction
    copy_url: QAction
    copy_path: QAction
    paste_urls: QAction
    delete: QAction
    refresh: QAction
    force_refresh: QAction
    check_updates: QAction
    retry_failed: QAction
    cancel: QAction
    preview: QAction
    show_in_folder: QAction
    view_table: QAction
    view_grid: QAction
    larger_thumbnails: QAction
    smaller_thumbnails: QAction
    show_details: QAction
    show_log: QAction
    about: QAction

    @classmethod
    def create(cls, parent: QWidget) -> Actions:
        std = QKeySequence.StandardKey
        actions = cls(
            open_folder=make_action(
                parent,
                "&Open Folder…",
                "Open a cache folder, or any folder of images in place",
                "open-folder",
                (std.Open,),
            ),
            import_sources=make_action(
                parent,
                "&Import Source URLs…",
                "Give an adopted folder's images their source URLs, from a CSV or JSON export",
                "open-folder",
            ),
            add_urls=make_action(
                parent,
                "&Add URLs…",
                "Add image URLs to the cache and download them",
                "add-urls",
                ("Ctrl+Shift+A",),
            ),
            preferences=make_action(
                parent,
                "&Preferences…",
                "Concurrency, timeouts, size limit, cache folder",
                "preferences",
                ("Ctrl+,",),
            ),
            # Not also QKeySequence.Quit: on X11 that is Ctrl+Q too, and the two would be an
            # ambiguous shortcut that does nothing.
            quit=make_action(parent, "&Quit", "Quit Image Refresh", "quit", ("Ctrl+Q",)),
            select_all=make_action(
                parent, "Select &All", "Select every image in the list", None, (std.SelectAll,)
            ),
            copy_url=make_action(
                parent,
                "Copy &URL",
                "Copy the source URLs of the selected images",
                "copy",
                ("Ctrl+Shift+C",),
            ),
            copy_path=make_action(
                parent,
                "Copy &Path",
                "Copy the file paths of the selected images",
                "copy",
                ("Ctrl+Alt+C",),
            ),
            paste_urls=make_action(
                parent, "&Paste URLs", "Add the URLs on the clipboard", "add-urls", (std.Paste,)
            ),
            delete=make_action(
                parent,
                "&Delete from Cache",
                "Delete the selected images from the cache",
                "delete",
                (std.Delete,),
            ),
            refresh=make_action(
                parent,
                "&Refresh",
                "Download the selected images that are missing",
                "refresh",
                ("F5",),
            ),
            force_refresh=make_action(
                parent,
                "&Force Refresh",
                "Delete the selected images and download them again",
                "force-refresh",
                ("Ctrl+Shift+R", "Ctrl+F5"),
            ),
            check_updates=make_action(
                parent,
                "&Check for Updates",
                "Ask the server whether the selected images changed",
                "check-updates",
                ("Ctrl+U",),
            ),
            retry_failed=make_action(
                parent,
                "Retry &Failed",
                "Refresh again every image whose last refresh failed",
                "refresh",
                ("Ctrl+Shift+F5",),
            ),
            cancel=make_action(
                parent,
                "Ca&ncel",
                "Cancel the running refreshes; files stay as they were",
                "cancel",
                ("Esc",),
            ),
            preview=make_action(
                parent,
                "Pre&view",
                "Show the selected image large (or double-click it, or press Enter)",
            ),
            show_in_folder=make_action(
                parent,
                "Open in File &Manager",
                "Show the selected image's folder",
                "show-in-folder",
                ("Ctrl+Shift+O",),
            ),
            view_table=make_action(
                parent, "&Table", "Show the images as a table", "view-table", ("Ctrl+1",)
            ),
            view_grid=make_action(
                parent, "&Grid", "Show the images as a thumbnail grid", "view-grid", ("Ctrl+2",)
            ),
            larger_thumbnails=make_action(
                parent,
                "&Larger Thumbnails",
                "Show larger pictures in the grid",
                None,
                ("Ctrl++", "Ctrl+="),
            ),
            smaller_thumbnails=make_action(
                parent,
                "&Smaller Thumbnails",
                "Show smaller pictures in the grid",
                None,
                ("Ctrl+-",),
            ),
            show_details=make_action(
                parent, "&Details Pane", "Show or hide the details pane", None, ("F9",)
            ),
            show_log=make_action(
                parent, "&Log", "Show or hide the log pane", None, ("Ctrl+Shift+L",)
            ),
            about=make_action(parent, "&About Image Refresh", "Version and purpose", "about"),
        )
        for field_name in cls.__dataclass_fields__:
            action: QAction = getattr(actions, field_name)
            action.setObjectName(f"action_{field_name}")
        for checkable in (
            actions.view_table,
            actions.view_grid,
            actions.show_details,
            actions.show_log,
        ):
            checkable.setCheckable(True)
        actions.show_details.setChecked(True)
        actions.show_log.setChecked(True)
        actions.cancel.setEnabled(False)
        actions.retry_failed.setEnabled(False)
        return actions
