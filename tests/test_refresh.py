"""The refresh engine against a real loopback server: the seed's check and the flag's journey."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import pytest
from PIL import Image

from core.cache import ImageCache
from core.convenience import download_event_hero_image, download_performer_image
from core.http_client import _proxies_for_origin
from core.models import Action, RefreshMode
from tests.server import (
    LoopbackServer,
    conditional_image,
    image,
    jpeg_bytes,
    png_bytes,
    sequence,
    serve,
    trickle,
)
from tests.test_failures import noisy_jpeg


def test_seed_verification_force_refresh_replaces_file_and_logs_it(
    server: LoopbackServer, cache_dir: Path, core_log: pytest.LogCaptureFixture
) -> None:
    url = server.route(
        "/hero.jpg", sequence(image(jpeg_bytes((255, 0, 0))), image(jpeg_bytes((0, 0, 255))))
    )
    path = download_event_hero_image(url, cache_dir=cache_dir)
    first_mtime = path.stat().st_mtime
    first_bytes = path.read_bytes()
    core_log.clear()

    again = download_event_hero_image(url, force_refresh=True, cache_dir=cache_dir)

    assert again == path
    messages = [r.getMessage() for r in core_log.records]
    # one line tells it all: the flag, the download, the file replaced and the deletion
    (line,) = [m for m in messages if m.startswith(f"refreshed {url} ")]
    assert f"force_refresh=True mode=force: status=200 bytes={len(path.read_bytes())}" in line
    assert f" -> {path}, previous file deleted ({len(first_bytes)} bytes);" in line
    assert path.stat().st_mtime > first_mtime
    assert path.read_bytes() != first_bytes
    with Image.open(path) as decoded:
        decoded.load()
        assert decoded.getpixel((10, 10))[2] > 200  # the new, blue picture
    assert path.parent.name == "events"


def test_performer_images_go_to_their_category(server: LoopbackServer, cache_dir: Path) -> None:
    url = server.route("/faces/Jane%20Doe.PNG", image(png_bytes(), "image/png"))
    path = download_performer_image(url, cache_dir=cache_dir)
    assert path.parent == cache_dir.resolve() / "performers"
    assert path.name.startswith("jane-doe-") and path.suffix == ".png"


def test_force_refresh_makes_an_unconditional_request_even_if_file_exists(
    server: LoopbackServer, cache: ImageCache
) -> None:
    url = server.route("/a.jpg", image(jpeg_bytes(), etag='"v1"'))
    (entry,) = cache.add_urls([url], "events")
    assert cache.refresh(entry, RefreshMode.MISSING).action is Action.DOWNLOADED
    assert len(server.requests_for("/a.jpg")) == 1

    result = cache.refresh(entry, RefreshMode.FORCE)

    assert result.action is Action.REFRESHED and result.force_refresh is True
    forced = server.requests_for("/a.jpg")
    assert len(forced) == 2
    headers = {k.lower(): v for k, v in forced[1].headers.items()}
    assert headers["cache-control"] == "no-cache"
    assert "if-none-match" not in headers and "if-modified-since" not in headers


def test_without_force_a_cached_file_causes_no_request(
    server: LoopbackServer, cache: ImageCache
) -> None:
    url = server.route("/b.jpg", image(jpeg_bytes()))
    (entry,) = cache.add_urls([url], "events")
    cache.refresh(entry, RefreshMode.MISSING)
    path = cache.path_of(cache.manifest.by_url(url))  # type: ignore[arg-type]
    assert path is not None
    mtime = path.stat().st_mtime

    result = cache.refresh(entry, RefreshMode.MISSING)

    assert result.action is Action.CACHED
    assert len(server.requests_for("/b.jpg")) == 1
    assert path.stat().st_mtime == mtime


def test_missing_file_is_downloaded_again_without_force(
    server: LoopbackServer, cache: ImageCache
) -> None:
    url = server.route("/c.jpg", image(jpeg_bytes()))
    (entry,) = cache.add_urls([url], "events")
    first = cache.refresh(entry, RefreshMode.MISSING)
    assert first.path is not None
    first.path.unlink()

    again = cache.refresh(entry, RefreshMode.MISSING)

    assert again.action is Action.DOWNLOADED and again.path is not None and again.path.exists()


def test_check_sends_validators_and_304_touches_nothing(
    server: LoopbackServer, cache: ImageCache
) -> None:
    url = server.route("/d.jpg", conditional_image(jpeg_bytes(), etag='"abc"'))
    (entry,) = cache.add_urls([url], "venues")
    first = cache.refresh(entry, RefreshMode.MISSING)
    assert first.path is not None
    mtime, content = first.path.stat().st_mtime, first.path.read_bytes()

    result = cache.refresh(entry, RefreshMode.CHECK)

    assert result.action is Action.UNCHANGED
    sent = {k.lower(): v for k, v in server.requests_for("/d.jpg")[1].headers.items()}
    assert sent["if-none-match"] == '"abc"'
    assert sent["if-modified-since"] == "Tue, 24 Nov 2026 10:00:00 GMT"
    assert first.path.stat().st_mtime == mtime and first.path.read_bytes() == content


def test_check_replaces_a_changed_image(server: LoopbackServer, cache: ImageCache) -> None:
    url = server.route(
        "/e.jpg",
        sequence(
            image(jpeg_bytes((1, 2, 3)), etag='"1"'), image(jpeg_bytes((250, 250, 0)), etag='"2"')
        ),
    )
    (entry,) = cache.add_urls([url], "venues")
    first = cache.refresh(entry, RefreshMode.MISSING)

    result = cache.refresh(entry, RefreshMode.CHECK)

    assert result.action is Action.UPDATED
    assert result.after_mtime is not None and first.after_mtime is not None
    assert result.after_mtime > first.after_mtime
    assert cache.manifest.by_url(url).etag == '"2"'  # type: ignore[union-attr]


def test_extension_follows_the_real_content_type(server: LoopbackServer, cache: ImageCache) -> None:
    url = server.route(
        "/photo.jpg", sequence(image(jpeg_bytes()), image(png_bytes(), "image/jpeg"))
    )
    (entry,) = cache.add_urls([url], "events")
    first = cache.refresh(entry, RefreshMode.MISSING)
    assert first.path is not None and first.path.suffix == ".jpg"

    second = cache.refresh(entry, RefreshMode.FORCE)

    assert second.path is not None and second.path.suffix == ".png"
    assert second.path.exists() and not first.path.exists()


def test_history_records_each_refresh(server: LoopbackServer, cache: ImageCache) -> None:
    url = server.route("/f.jpg", image(jpeg_bytes()))
    (entry,) = cache.add_urls([url], "events")
    cache.refresh(entry, RefreshMode.MISSING)
    cache.refresh(entry, RefreshMode.FORCE)

    history = cache.history(entry)

    assert [h.outcome for h in history] == ["refreshed", "downloaded"]
    assert history[0].force_refresh is True and history[0].mode == "force"
    assert history[0].before_mtime == history[1].after_mtime
    assert history[0].after_mtime is not None and history[0].before_mtime is not None
    assert history[0].after_mtime > history[0].before_mtime
    assert history[0].before_sha256 == history[0].after_sha256  # same bytes served twice


def test_same_bytes_result_is_flagged(server: LoopbackServer, cache: ImageCache) -> None:
    url = server.route("/g.jpg", image(jpeg_bytes()))
    (entry,) = cache.add_urls([url], "events")
    cache.refresh(entry, RefreshMode.MISSING)
    result = cache.refresh(entry, RefreshMode.FORCE)
    assert result.same_bytes


def test_refresh_logs_flag_even_when_nothing_is_downloaded(
    server: LoopbackServer, cache: ImageCache, core_log: pytest.LogCaptureFixture
) -> None:
    url = server.route("/h.jpg", image(jpeg_bytes()))
    (entry,) = cache.add_urls([url], "events")
    cache.refresh(entry, RefreshMode.MISSING)
    core_log.clear()
    cache.refresh(entry, RefreshMode.MISSING)
    assert any("force_refresh=False" in r.getMessage() for r in core_log.records)
    assert all(r.levelno == logging.INFO for r in core_log.records)


def test_proxies_from_the_environment_are_used_unless_no_proxy_says_otherwise(
    server: LoopbackServer, cache: ImageCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = server.route("/proxied.jpg", image(jpeg_bytes()))
    with contextlib.closing(serve(LoopbackServer("127.0.0.1", 0))) as proxies:
        proxy = next(proxies)
        proxy.route(url, image(jpeg_bytes((0, 0, 250))))  # a proxy is asked for the whole URL
        monkeypatch.setenv("http_proxy", proxy.url(""))
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        _proxies_for_origin.cache_clear()
        (entry,) = cache.add_urls([url], "events")

        through_proxy = cache.refresh(entry, RefreshMode.FORCE)

        assert through_proxy.ok
        assert [r.path for r in proxy.seen] == [url]
        assert server.requests_for("/proxied.jpg") == []

        monkeypatch.setenv("no_proxy", "127.0.0.1")
        _proxies_for_origin.cache_clear()
        direct = cache.refresh(entry, RefreshMode.FORCE)

        assert direct.ok
        assert len(server.requests_for("/proxied.jpg")) == 1
        assert len(proxy.seen) == 1
    _proxies_for_origin.cache_clear()


def test_progress_is_reported_for_a_slow_download_only(
    server: LoopbackServer, cache: ImageCache
) -> None:
    body = noisy_jpeg(size=(400, 300))  # about 300 KB: several chunks of 64 KiB
    slow, quick = cache.add_urls(
        [
            server.route("/slow.jpg", trickle(body, pieces=10, pause=0.08)),
            server.route("/quick.jpg", image(body)),
        ],
        "events",
    )
    reports: dict[str, list[tuple[int, int | None]]] = {"slow": [], "quick": []}

    for name, entry in (("slow", slow), ("quick", quick)):
        result = cache.refresh(
            entry,
            RefreshMode.FORCE,
            progress=lambda received, total, name=name: reports[name].append((received, total)),
        )
        assert result.action is Action.REFRESHED and result.path is not None
        assert result.path.read_bytes() == body

    assert reports["quick"] == []  # over in milliseconds: its result is all there is to show
    # 10 pieces over 0.8 s: a first report after 0.25 s, then at most one per 0.1 s
    received = [r for r, _ in reports["slow"]]
    assert 2 <= len(received) <= 6, received
    assert received == sorted(set(received)) and received[-1] <= len(body)
    assert {total for _, total in reports["slow"]} == {len(body)}
