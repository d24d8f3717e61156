"""Fuzzing the whole refresh through a real server: whatever bytes arrive, a refresh returns a
result, never raises, and never puts a body that does not decode in place of the old file."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageSequence

from core.cache import ImageCache
from core.models import Action, ImageEntry, RefreshMode, RefreshResult
from core.settings import RefreshSettings
from tests.server import LoopbackServer, image, jpeg_bytes, serve


def _encoded(fmt: str, animated: bool = False, **options: object) -> bytes:
    # Gradients, not flat colours: the safety net refuses a one-colour picture as a placeholder.
    ramp = Image.linear_gradient("L").resize((48, 36))
    frames = [
        Image.merge("RGB", (ramp, Image.new("L", (48, 36), 40 * n), ramp.rotate(90 * n)))
        for n in range(3)
    ]
    out = io.BytesIO()
    if animated:
        options.update(save_all=True, append_images=frames[1:], duration=50)
    frames[0].save(out, fmt, **options)
    return out.getvalue()


SEEDS = {
    "jpeg": _encoded("JPEG", quality=80),
    "png": _encoded("PNG"),
    "gif": _encoded("GIF", animated=True),
    "webp": _encoded("WEBP", animated=True),
    "avif": _encoded("AVIF"),
}
OLD = jpeg_bytes((120, 120, 20))


@st.composite
def mutated_bodies(draw: st.DrawFn) -> bytes:
    body = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(1, 4))):
        if not body:
            break
        at = draw(st.integers(0, len(body) - 1))
        match draw(st.sampled_from(["flip", "cut", "splice", "drop"])):
            case "flip":
                body[at] ^= draw(st.integers(1, 255))
            case "cut":
                del body[max(at, 1) :]
            case "splice":
                body[at:at] = draw(st.binary(min_size=1, max_size=64))
            case "drop":
                del body[at : at + draw(st.integers(1, 64))]
    return bytes(body)


def decodes_whole(path: Path) -> bool:
    try:
        with Image.open(path) as opened:
            for frame in ImageSequence.Iterator(opened):
                frame.load()
    except Exception:
        return False
    return True


@pytest.fixture(scope="module")
def fuzz_target(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LoopbackServer, ImageCache, ImageEntry]]:
    for server in serve(LoopbackServer("127.0.0.1", 0)):
        url = server.route("/fuzz.jpg", image(OLD))
        settings_ = RefreshSettings(timeout=5.0, retries=0)
        with ImageCache(tmp_path_factory.mktemp("fuzz") / "cache", settings_) as cache:
            (entry,) = cache.add_urls([url], "events")
            assert cache.refresh(entry, RefreshMode.MISSING).action is Action.DOWNLOADED
            yield server, cache, entry


@pytest.mark.warnings_expected  # failed refreshes log a WARNING
@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=mutated_bodies())
def test_a_refresh_of_any_body_answers_and_keeps_or_replaces_whole(
    fuzz_target: tuple[LoopbackServer, ImageCache, ImageEntry], body: bytes
) -> None:
    server, cache, entry = fuzz_target
    current = cache.find(entry.url or "") or entry
    path = cache.path_of(current)
    assert path is not None
    before_bytes, before_mtime = path.read_bytes(), path.stat().st_mtime_ns
    server.route("/fuzz.jpg", image(body, content_type="application/octet-stream"))

    result = cache.refresh(current, RefreshMode.FORCE)

    assert isinstance(result, RefreshResult)
    assert result.action in (Action.REFRESHED, Action.FAILED, Action.REFUSED)
    if result.action is not Action.REFRESHED:  # failed, or refused as a placeholder
        assert result.error and "unexpected" not in result.error, result.error
        assert path.read_bytes() == before_bytes
        assert path.stat().st_mtime_ns == before_mtime
    else:
        assert result.path is not None and result.path.read_bytes() == body
        assert decodes_whole(result.path), "a body that does not decode replaced the old file"
