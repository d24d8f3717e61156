"""Hostile URLs never name a path outside the cache, and friendly ones stay readable."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath, PureWindowsPath
from urllib.parse import urlsplit

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from core.cache import ImageCache
from core.http_client import check_url
from core.models import Action, RefreshMode
from core.naming import (
    InvalidCategoryError,
    normalize_category,
    readable_name,
    relative_path,
    url_hash,
)
from core.storage import STATE_DIR_NAME, CacheStorage
from tests.server import LoopbackServer, image, jpeg_bytes

NAME = re.compile(r"[a-z0-9-]+-[0-9a-f]{16}\.[a-z0-9]+")
MAX_NAME_LENGTH = 80

HOSTILE_PIECES = [
    "..",
    ".",
    "%2e%2e",
    "%2E%2E",
    ".%2e",
    "%2f",
    "%2F",
    "..%2f..%2f",
    "%5c",
    "\\",
    "..\\..\\",
    "%00",
    "\x00",
    "%0a",
    "/",
    "//",
    "C:",
    "C:\\Windows\\",
    "\\\\server\\share\\",
    "/etc/passwd",
    "~",
    ".image-refresh",
    ".image-refresh/manifest.sqlite3",
    "CON",
    "CON.jpg",
    "nul",
    "NUL.txt",
    "com1",
    "LPT9.png",
    "é",
    "日本語",
    "😀",
    "\u202e",  # right-to-left override
    "שלום",
    "مرحبا",
    "ﬁ",  # a ligature NFKD expands
    "\u0301",  # a lone combining accent
    " ",
    "%20",
    "?",
    "#",
    ";",
    "&",
    "=",
    "%",
    "%zz",
    "%ff%fe",
    ".jpg",
    ".tar.gz",
    "a" * 300,
]

hostile_text = st.lists(
    st.one_of(st.sampled_from(HOSTILE_PIECES), st.text(max_size=20)), max_size=8
).map("".join)


@st.composite
def hostile_urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTP"]))
    host = draw(st.sampled_from(["x", "example.com", "127.0.0.1:8080", "[::1]", "user@h"]))
    path = "/" + "/".join(draw(st.lists(hostile_text, max_size=6)))
    query = draw(st.one_of(st.just(""), hostile_text.map(lambda q: "?" + q)))
    fragment = draw(st.one_of(st.just(""), hostile_text.map(lambda f: "#" + f)))
    return f"{scheme}://{host}{path}{query}{fragment}"


any_url = st.one_of(hostile_urls(), st.text().map(lambda text: "http://x/" + text))
categories = st.sampled_from(["images", "events", "performers", "venues", "a", "x_y-9"])
extensions = st.from_regex(r"\.[a-z0-9]{1,5}", fullmatch=True)


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("naming-root").resolve()


def assert_safe(rel: str, category: str, root: Path) -> None:
    posix = PurePosixPath(rel)
    assert len(posix.parts) == 2, rel
    assert posix.parts[0] == normalize_category(category)
    name = posix.parts[1]
    assert NAME.fullmatch(name), name
    assert len(name) <= MAX_NAME_LENGTH, name
    windows = PureWindowsPath(rel)
    assert not windows.drive and not windows.root and len(windows.parts) == 2
    resolved = (root / rel).resolve()
    assert resolved.is_relative_to(root)
    assert not resolved.is_relative_to(root / STATE_DIR_NAME)
    assert resolved.parent == root / posix.parts[0]
    assert CacheStorage(root).absolute(rel) == resolved


@settings(max_examples=300, deadline=None)
@given(url=any_url, category=categories, extension=extensions)
def test_any_url_names_one_safe_file_in_its_category(
    url: str, category: str, extension: str, cache_root: Path
) -> None:
    rel = relative_path(url, category, extension)
    assert_safe(rel, category, cache_root)
    assert rel.endswith(f"-{url_hash(url)}{extension}")


@settings(max_examples=300, deadline=None)
@given(pair=st.lists(any_url, min_size=2, max_size=2, unique=True), extension=extensions)
def test_distinct_urls_never_share_a_path(pair: list[str], extension: str) -> None:
    first, second = (relative_path(url, "images", extension) for url in pair)
    assert first != second
    assert first.lower() != second.lower()  # also distinct on case-insensitive disks


def test_near_identical_urls_get_distinct_paths() -> None:
    urls = [
        "http://x/a.jpg",
        "http://x/A.jpg",
        "http://x/a.JPG",
        "http://x/%61.jpg",
        "http://x/a.jpg?",
        "http://x/a.jpg#",
        "http://x/a.jpg?v=1",
        "http://x/a.jpg?v=2",
        "https://x/a.jpg",
        "http://x//a.jpg",
        "http://x/b/../a.jpg",
        "http://x/a%2ejpg",
        "http://x/a%20b.jpg",
        "http://x/a-b.jpg",
        "http://x/a_b.jpg",
    ]
    paths = {relative_path(url, "images", ".jpg").lower() for url in urls}
    assert len(paths) == len(urls)


@pytest.mark.parametrize(
    "url",
    [
        "http://x/../../../../etc/passwd",
        "http://x/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "http://x/..%2f..%2f..%2fetc%2fpasswd",
        "http://x/..%5c..%5c..%5cwindows%5cwin.ini",
        "http://x/..\\..\\..\\windows\\win.ini",
        "http://x/evil%00.jpg",
        "http://x/evil\x00.jpg",
        "http://x/" + "a" * 5000 + ".jpg",
        "http://x/" + "%e6%97%a5" * 2000 + ".jpg",
        "http://x/" + "é" * 5000,
        "http://x/日本語の写真.jpg",
        "http://x/😀😀😀.png",
        "http://x/\u202egpj.exe",
        "http://x/שלום.jpg",
        "http://x/CON.jpg",
        "http://x/con",
        "http://x/nul",
        "http://x/NUL.txt",
        "http://x/LPT1",
        "http://x//etc/passwd",
        "http://x/C:/Windows/System32/evil.jpg",
        "http://x/C:%5CWindows%5Cevil.jpg",
        "http://x/%2fetc%2fpasswd",
        "http://x/.image-refresh/manifest.sqlite3",
        "http://x/.hidden",
        "http://x/...",
        "http://x/",
        "http://x",
        "http://x/pic.jpg?file=../../../etc/passwd#../../x",
        "http://x/?%2e%2e%2f",
        "http://x/#/../../etc",
        "http://x/a.jpg/../../..",
    ],
)
def test_hostile_url_examples_stay_inside_the_cache(url: str, cache_root: Path) -> None:
    for category in ("images", "Events"):
        assert_safe(relative_path(url, category, ".jpg"), category, cache_root)


@pytest.mark.parametrize(
    ("url", "slug"),
    [
        ("https://x/Events/Summer%20Gala.JPG", "summer-gala"),
        ("https://x/faces/Jane%20Doe.PNG", "jane-doe"),
        ("https://x/Café%20Déjà%20Vu.webp", "cafe-deja-vu"),
        ("https://x/img/hero_image-2026.final.jpg?size=large#top", "hero-image-2026-final"),
        ("https://x/a/b/c/d.e.f", "d-e"),
        ("https://x/.hidden.jpg", "hidden"),
        ("https://x/CON.jpg", "con"),
        ("https://x/..%2F..%2Fetc%2Fpasswd", "passwd"),
        ("https://x/dir\\sub\\Photo.jpg", "photo"),
        ("https://x/日本語.jpg", "image"),
        ("https://x/", "image"),
        ("https://x/---.jpg", "image"),
    ],
)
def test_readable_names_stay_readable(url: str, slug: str) -> None:
    assert readable_name(url) == slug
    assert relative_path(url, "Events", ".jpg") == f"events/{slug}-{url_hash(url)}.jpg"


def test_summer_gala_example() -> None:
    url = "https://x/Events/Summer%20Gala.JPG"
    rel = relative_path(url, "events", ".jpg")
    assert re.fullmatch(r"events/summer-gala-[0-9a-f]{16}\.jpg", rel)


def test_very_long_readable_name_is_cut_short_without_a_trailing_dash() -> None:
    url = "https://x/" + "ab-" * 2000 + ".jpg"
    name = PurePosixPath(relative_path(url, "images", ".jpg")).name
    assert len(name) <= MAX_NAME_LENGTH
    assert "--" not in name and NAME.fullmatch(name)


@pytest.mark.parametrize(
    "extension", ["", ".", "jpg", ".JPG", ".jp/g", "./..", ".toolong", ".j\x00"]
)
def test_unexpected_extensions_are_refused(extension: str) -> None:
    with pytest.raises(ValueError, match="extension"):
        relative_path("http://x/a.jpg", "images", extension)


@pytest.mark.parametrize(
    "category",
    [
        "..",
        ".",
        ".image-refresh",
        STATE_DIR_NAME,
        "con",
        "CON",
        "nul",
        "com1",
        "LPT9",
        "a/b",
        "a\\b",
        "/abs",
        "C:",
        "",
        "   ",
        "-dash-first",
        "_under",
        "x" * 65,
        "café",
        "日本",
        "a b",
        "a\x00b",
        "a.b",
    ],
)
def test_normalize_category_rejects_unsafe_names(category: str) -> None:
    with pytest.raises(InvalidCategoryError):
        normalize_category(category)
    with pytest.raises(InvalidCategoryError):
        relative_path("http://x/a.jpg", category, ".jpg")


@pytest.mark.parametrize(
    ("category", "normalized"),
    [
        ("events", "events"),
        ("Performers", "performers"),
        ("  venues ", "venues"),
        ("x" * 64, "x" * 64),
        ("2026_shows-b", "2026_shows-b"),
        ("console", "console"),
    ],
)
def test_normalize_category_accepts_safe_names(category: str, normalized: str) -> None:
    assert normalize_category(category) == normalized


@given(st.text(max_size=80))
def test_any_accepted_category_is_one_safe_folder(category: str) -> None:
    try:
        name = normalize_category(category)
    except InvalidCategoryError:
        return
    assert re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", name)
    assert name not in {"con", "prn", "aux", "nul"}
    assert PurePosixPath(name).parts == (name,) and PureWindowsPath(name).parts == (name,)


HOSTILE_SERVED_URLS = [
    "/..%2f..%2f..%2fescaped.jpg",
    "/%2e%2e/%2e%2e/%2e%2e/escaped.jpg",
    "/a/../../../escaped.jpg",
    "/a\\..\\..\\escaped.jpg",
    "/evil%00.jpg",
    "/" + "long" * 1250 + ".jpg",
    "/日本語/é%20😀\u202egpj.jpg",
    "/CON.jpg",
    "/nul",
    "//etc/passwd",
    "/C:%5CWindows%5Cescaped.jpg",
    "/.image-refresh/manifest.sqlite3",
    "/pic.jpg?file=../../../escaped.jpg#../../x",
]


@pytest.mark.parametrize("hostile", HOSTILE_SERVED_URLS)
def test_hostile_url_downloaded_from_a_server_lands_inside_the_cache(
    hostile: str, server: LoopbackServer, cache: ImageCache, tmp_path: Path
) -> None:
    url = server.url(hostile)
    check_url(url)
    # The server routes on the path it receives: after the client's normalization, and with
    # leading slashes collapsed by http.server.
    sent_path = urlsplit(requests.Request("GET", url).prepare().url).path
    for path in {sent_path, "/" + sent_path.lstrip("/")}:
        server.route(path, image(jpeg_bytes()))
    before = set(tmp_path.rglob("*"))

    (entry,) = cache.add_urls([url], "Events")
    result = cache.refresh(entry, RefreshMode.MISSING)

    assert result.action is Action.DOWNLOADED, result.error
    assert len(server.seen) == 1
    assert result.path is not None
    path = result.path.resolve()
    root = cache.root
    assert path.parent == root / "events"
    assert NAME.fullmatch(path.name) and len(path.name) <= MAX_NAME_LENGTH
    with Image.open(path) as decoded:
        decoded.load()
    created = {p.resolve() for p in set(tmp_path.rglob("*")) - before if p.is_file()}
    outside = [p for p in created if not p.is_relative_to(root)]
    assert outside == []
    images = [p for p in created if not p.is_relative_to(root / STATE_DIR_NAME)]
    assert images == [path]
