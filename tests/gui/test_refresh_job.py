"""RefreshJob: a force refresh run on a thread pool replaces an existing file unconditionally."""

from __future__ import annotations

import os
import time

import pytest
from PySide6.QtCore import QThreadPool
from pytestqt.qtbot import QtBot

from core.cache import ImageCache
from core.cancellation import Cancellation
from core.models import Action, RefreshMode, RefreshResult
from gui.refresh_jobs import RefreshJob
from tests.server import LoopbackServer, image, jpeg_bytes, sequence


def test_force_refresh_job_downloads_unconditionally_over_an_existing_file(
    qtbot: QtBot, server: LoopbackServer, cache: ImageCache
) -> None:
    old_body, new_body = jpeg_bytes((200, 30, 30)), jpeg_bytes((30, 30, 200))
    url = server.route(
        "/events/poster.jpg",
        sequence(image(old_body, etag='"v1"'), image(new_body, etag='"v2"')),
    )
    (entry,) = cache.add_urls([url], "events")
    first = cache.refresh(entry, RefreshMode.MISSING)
    assert first.action is Action.DOWNLOADED and first.path is not None
    path = first.path
    an_hour_ago = time.time() - 3600
    os.utime(path, (an_hour_ago, an_hour_ago))
    entry = cache.find(url) or entry  # now with the ETag and Last-Modified a check would send
    assert entry.etag == '"v1"'

    job = RefreshJob(cache, entry, force_refresh=True, cancel=Cancellation())
    assert job.force_refresh is True
    assert path.exists()
    pool = QThreadPool()
    try:
        with qtbot.waitSignal(job.signals.finished, timeout=10_000) as finished:
            pool.start(job)
    finally:
        pool.waitForDone()

    key, result = finished.args
    assert key == url
    assert isinstance(result, RefreshResult)
    assert result.action is Action.REFRESHED
    assert result.force_refresh is True
    assert result.before_mtime == pytest.approx(an_hour_ago, abs=1e-3)
    assert result.after_mtime is not None and result.after_mtime > result.before_mtime
    assert path.stat().st_mtime == result.after_mtime
    assert path.read_bytes() == new_body
    request = server.requests_for("/events/poster.jpg")[-1]
    headers = {name.lower(): value for name, value in request.headers.items()}
    assert headers.get("cache-control") == "no-cache"
    assert "if-none-match" not in headers
    assert "if-modified-since" not in headers
