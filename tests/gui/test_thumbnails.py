"""After a force refresh the row shows the new picture, never the cached old thumbnail."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPixmap
from pytestqt.qtbot import QtBot

from gui.image_model import Column
from gui.thumbnails import TABLE_EDGE
from tests.gui.helpers import OpenedWindow, WindowFactory
from tests.server import image, jpeg_bytes, sequence

RED, BLUE = (220, 20, 20), (20, 20, 220)


def loaded_thumbnail(qtbot: QtBot, opened: OpenedWindow, url: str) -> QPixmap:
    """The row's DecorationRole pixmap once the loader has decoded the row's current file."""
    window = opened.window
    row = opened.row(url)
    assert row.thumbnail_key is not None
    key = (*row.thumbnail_key, TABLE_EDGE)
    index = window.model.index_for_key(url, Column.THUMBNAIL)
    with qtbot.waitSignal(
        window.thumbnails.ready, timeout=5_000, check_params_cb=lambda ready: ready == key
    ):
        index.data(Qt.ItemDataRole.DecorationRole)  # a placeholder; queues the decode
    pixmap = index.data(Qt.ItemDataRole.DecorationRole)
    assert isinstance(pixmap, QPixmap)
    cached = window.thumbnails.cached(key)
    assert cached is not None and cached.cacheKey() == pixmap.cacheKey()  # not a placeholder
    return pixmap


def centre(pixmap: QPixmap) -> QColor:
    picture = pixmap.toImage()
    return picture.pixelColor(picture.width() // 2, picture.height() // 2)


def is_close(colour: QColor, rgb: tuple[int, int, int]) -> bool:
    channels = (colour.red(), colour.green(), colour.blue())
    return all(abs(a - b) <= 30 for a, b in zip(channels, rgb, strict=True))


def test_thumbnail_of_a_refreshed_image_is_the_new_picture(
    qtbot: QtBot, open_window: WindowFactory
) -> None:
    opened = open_window(
        {"/performers/singer.jpg": sequence(image(jpeg_bytes(RED)), image(jpeg_bytes(BLUE)))}
    )
    window = opened.window
    (url,) = opened.urls
    old_key = opened.row(url).thumbnail_key
    first = centre(loaded_thumbnail(qtbot, opened, url))
    assert is_close(first, RED), first.getRgb()

    with qtbot.waitSignal(window.controller.batch_finished, timeout=10_000):
        window.refresh_entries([opened.row(url).entry], force_refresh=True)

    assert opened.row(url).thumbnail_key != old_key
    second = centre(loaded_thumbnail(qtbot, opened, url))
    assert is_close(second, BLUE), second.getRgb()
