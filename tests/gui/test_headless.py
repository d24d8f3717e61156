"""Without a display: the demo (`make run`) still does its job offscreen, in throwaway settings
and a throwaway cache; anything else says there is no display and touches nothing."""

from __future__ import annotations

from pathlib import Path

from core.cache import ImageCache
from core.models import RefreshMode
from core.settings import RefreshSettings
from tests.gui.screenshots import assert_demo_succeeded, describe, run_screenshot_demo
from tests.server import LoopbackServer, image, jpeg_bytes


def user_files(tmp_path: Path) -> list[str]:
    """Files in the test's user folders (XDG config, cache, state, data), but fontconfig's."""
    user = tmp_path / "user"
    return sorted(
        str(path.relative_to(user))
        for path in user.rglob("*")
        if path.is_file() and "fontconfig" not in path.parts
    )


def snapshot(folder: Path) -> dict[str, tuple[float, int]]:
    return {
        str(path.relative_to(folder)): (path.stat().st_mtime, path.stat().st_size)
        for path in folder.rglob("*")
        if path.is_file()
    }


def test_gui_without_a_display_runs_the_demo_offscreen_and_saves_screenshots(
    tmp_path: Path,
) -> None:
    completed, screenshots = run_screenshot_demo(tmp_path, {})

    assert "No display found" in completed.stdout, describe(completed)
    assert_demo_succeeded(completed, screenshots)
    assert all(path.parent == tmp_path / "shots" for path in screenshots)


def test_make_run_without_a_display_leaves_the_users_settings_and_folders_alone(
    tmp_path: Path,
) -> None:
    """Issue 11, point 7: `make run` with no display wrote its window geometry into the real
    ~/.config/ImageRefresh, so the next real start opened at the demo's size."""
    completed, screenshots = run_screenshot_demo(tmp_path, {}, arguments=["gui", "--demo"])

    assert_demo_succeeded(completed, screenshots, stem="image-refresh-demo")
    assert user_files(tmp_path) == [], "the demo wrote into the user's folders"
    assert not (tmp_path / "default-cache").exists()
    assert not list(tmp_path.glob("image-refresh-demo-*/")), "the throwaway folder was left"


def test_the_bare_command_without_a_display_says_so_and_runs_nothing(tmp_path: Path) -> None:
    completed, screenshots = run_screenshot_demo(tmp_path, {}, arguments=[])

    assert completed.returncode == 1, describe(completed)
    assert "No display found" in completed.stderr, describe(completed)
    assert "image-refresh --help" in completed.stderr
    assert screenshots == [] and completed.stdout == ""
    assert not list(tmp_path.glob("image-refresh-demo*")), "the demo ran"
    assert user_files(tmp_path) == []


def test_a_named_cache_without_a_display_is_left_alone(
    tmp_path: Path, server: LoopbackServer, fast_settings: RefreshSettings
) -> None:
    """`image-refresh gui --cache-dir MYCACHE` with no display ran the demo inside MYCACHE:
    24 demo URLs on a throwaway port, and a force refresh of the user's own image."""
    mine = tmp_path / "my-cache"
    with ImageCache(mine, fast_settings) as cache:
        (entry,) = cache.add_urls([server.route("/events/mine.jpg", image(jpeg_bytes()))], "events")
        assert cache.refresh(entry, RefreshMode.MISSING).ok
    before = snapshot(mine)
    requests = len(server.seen)

    completed, screenshots = run_screenshot_demo(
        tmp_path, {}, arguments=["gui", "--cache-dir", str(mine)]
    )

    assert completed.returncode == 1, describe(completed)
    assert "No display found" in completed.stderr
    assert screenshots == []
    assert snapshot(mine) == before
    assert len(server.seen) == requests
    with ImageCache(mine, fast_settings) as cache:
        assert [e.url for e in cache.entries()] == [entry.url]


def test_the_demo_never_writes_into_a_cache_the_user_named(tmp_path: Path) -> None:
    named = tmp_path / "named"
    for arguments in (["gui", "--demo"], ["gui", "--screenshot", str(tmp_path / "x.png")]):
        completed, _shots = run_screenshot_demo(
            tmp_path, {}, arguments=[*arguments, "--cache-dir", str(named)]
        )
        assert completed.returncode == 2, describe(completed)
        assert "throwaway cache" in completed.stderr
        assert not named.exists()
        assert user_files(tmp_path) == []
