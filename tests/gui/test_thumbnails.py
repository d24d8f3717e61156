"""After a force refresh the row shows the new picture, never the cached old thumbnail, and the
table's thumbnail of the new file is the one its refresh made while validating: no second decode.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPixmap
from pytestqt.qtbot import QtBot

import gui.thumbnails
from core.models import Thumbnail
from gui.image_model import Column
from gui.thumbnails import GRID_EDGE, TABLE_EDGE, ThumbnailKey, ThumbnailLoader, thumbnail_image
from tests.gui.helpers import OpenedWindow, WindowFactory
from tests.server import image, jpeg_bytes, sequence

RED, BLUE = (220, 20, 20), (20, 20, 220)


def loaded_thumbnail(qtbot: QtBot, opened: OpenedWindow, url: str) -> QPixmap:
    """The row's DecorationRole pixmap once the loader has the row's current file's thumbnail
    (from a refresh, or decoded now)."""
    window = opened.window
    row = opened.row(url)
    assert row.thumbnail_key is not None
    key = (*row.thumbnail_key, TABLE_EDGE)
    index = window.model.index_for_key(url, Column.THUMBNAIL)
    if window.thumbnails.cached(key) is None:
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


def test_a_refreshed_row_shows_the_refresh_thumbnail_without_decoding_the_file(
    qtbot: QtBot, open_window: WindowFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = open_window(
        {"/performers/singer.jpg": sequence(image(jpeg_bytes(RED)), image(jpeg_bytes(BLUE)))}
    )
    window = opened.window
    (url,) = opened.urls
    assert is_close(centre(loaded_thumbnail(qtbot, opened, url)), RED)
    decoded: list[tuple[Path, int]] = []
    real_decode = gui.thumbnails.decode_thumbnail

    def counting_decode(path: Path, edge: int, version: tuple[float, int] | None = None) -> QImage:
        decoded.append((path, edge))
        return real_decode(path, edge, version)

    monkeypatch.setattr(gui.thumbnails, "decode_thumbnail", counting_decode)
    inserted: list[ThumbnailKey] = []
    window.thumbnails.ready.connect(inserted.append)

    with qtbot.waitSignal(window.controller.batch_finished, timeout=10_000):
        window.refresh_entries([opened.row(url).entry], force_refresh=True)

    row = opened.row(url)
    assert row.result is not None and row.result.thumbnail is not None
    assert row.thumbnail_key is not None
    key = (*row.thumbnail_key, TABLE_EDGE)
    assert inserted == [key]  # cached with the result, under the key the row now has
    cached = window.thumbnails.cached(key)
    pixmap = window.model.index_for_key(url, Column.THUMBNAIL).data(Qt.ItemDataRole.DecorationRole)
    assert isinstance(pixmap, QPixmap) and cached is not None
    assert pixmap.cacheKey() == cached.cacheKey()  # the refresh's thumbnail, not a placeholder
    assert (pixmap.width(), pixmap.height()) == (48, 36)
    assert is_close(centre(pixmap), BLUE), centre(pixmap).getRgb()
    assert not window.thumbnails.is_busy()
    assert decoded == []  # the new file was not decoded for the table

    # Only the table's size comes with the result: the grid's still decodes, from the new file.
    with qtbot.waitSignal(window.thumbnails.ready, timeout=5_000):
        window.thumbnails.pixmap((*row.thumbnail_key, GRID_EDGE))
    assert decoded == [(row.path, GRID_EDGE)]


def solid(width: int, height: int, rgb: tuple[int, int, int]) -> QImage:
    return thumbnail_image(Thumbnail(width, height, bytes((*rgb, 255)) * (width * height)))


def test_thumbnail_image_owns_its_pixels() -> None:
    picture = solid(6, 4, BLUE)
    assert (picture.width(), picture.height()) == (6, 4)
    assert picture.format() == QImage.Format.Format_RGBA8888
    assert is_close(picture.pixelColor(5, 3), BLUE)


def test_insert_caches_evicts_by_capacity_and_clears_failure(qtbot: QtBot) -> None:
    loader = ThumbnailLoader(capacity=2, threads=1)
    keys: list[ThumbnailKey] = [(f"/x/{n}.jpg", 1.5, 100 + n, TABLE_EDGE) for n in range(3)]
    try:
        with qtbot.waitSignal(loader.ready):
            loader.request(keys[2])  # no such file: its decode fails, and is remembered
        broken = loader.placeholder(TABLE_EDGE, broken=True)
        assert loader.pixmap(keys[2]).cacheKey() == broken.cacheKey() and not loader.is_busy()
        for key in keys:
            with qtbot.waitSignal(loader.ready, check_params_cb=lambda ready, k=key: ready == k):
                loader.insert(key, solid(4, 3, RED))

        assert loader.cached(keys[0]) is None  # the oldest is evicted
        assert loader.cached(keys[1]) is not None
        shown = loader.pixmap(keys[2])  # not the broken placeholder, no decode queued
        assert is_close(centre(shown), RED) and not loader.is_busy()
        with qtbot.assertNotEmitted(loader.ready):
            loader.insert(keys[0], QImage())  # a null image is not cached
        assert loader.cached(keys[0]) is None
    finally:
        loader.shutdown()


def test_a_file_replaced_since_is_not_cached_as_its_old_version(
    qtbot: QtBot, tmp_path: Path
) -> None:
    """A decode queued before a refresh replaced the file must not label the new picture
    with the old version's key (the details pane shows that one as "before")."""
    path = tmp_path / "poster.jpg"
    path.write_bytes(jpeg_bytes(RED))
    stat = path.stat()
    old = (str(path), stat.st_mtime - 60.0, stat.st_size, TABLE_EDGE)  # replaced a minute ago
    current = (str(path), stat.st_mtime, stat.st_size, TABLE_EDGE)
    loader = ThumbnailLoader(threads=1)
    try:
        with qtbot.waitSignal(loader.ready, check_params_cb=lambda key: key == old):
            loader.request(old)
        assert loader.cached(old) is None
        with qtbot.waitSignal(loader.ready, check_params_cb=lambda key: key == current):
            loader.request(current)
        cached = loader.cached(current)
        assert cached is not None and is_close(centre(cached), RED)
    finally:
        loader.shutdown()


def test_a_selected_rows_thumbnail_is_not_tinted(qtbot: QtBot, open_window: WindowFactory) -> None:
    """The thumbnail is the proof of a refresh: the selection colour is not laid over it."""
    opened = open_window({"/performers/singer.jpg": image(jpeg_bytes(RED))})
    window = opened.window
    (url,) = opened.urls
    with qtbot.waitExposed(window):
        window.show()
    loaded_thumbnail(qtbot, opened, url)
    window.select_all()
    index = window.proxy.mapFromSource(window.model.index_for_key(url, Column.THUMBNAIL))
    cell = window.table.viewport().grab(window.table.visualRect(index)).toImage()
    middle = cell.pixelColor(cell.width() // 2, cell.height() // 2)
    assert is_close(middle, RED), middle.getRgb()
