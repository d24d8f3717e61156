"""One image's source URL set by hand (what the window's Set Source URL… does): checked as an
import's row is, a refusal changes nothing, and a file without a source becomes refreshable."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.cache import ImageCache
from core.models import Action, RefreshMode
from core.sources import SourceRefusedError, SourceRow, import_sources, set_source
from core.variants import VariantRule
from tests.server import LoopbackServer, image
from tests.uploads import SECRET, THUMBS, Uploads, build_uploads, listing, picture


@pytest.fixture
def uploads(server: LoopbackServer, tmp_path: Path) -> Uploads:
    built = build_uploads(tmp_path, server, count=8)
    with ImageCache(built.root, adopt=True) as cache:
        cache.adopt([])
    return built


def rel(uploads: Uploads, path: Path) -> str:
    return str(path.relative_to(uploads.root))


def test_a_file_without_a_source_gets_one_and_is_then_refreshed_in_place(
    uploads: Uploads, server: LoopbackServer
) -> None:
    lonely = uploads.unsourced[0]
    new_body = picture((10, 200, 90), (640, 480))
    url = server.route("/by-hand.jpg", image(new_body)) + f"?key={SECRET}"

    with ImageCache(uploads.root) as cache:
        entry = set_source(cache, rel(uploads, lonely), f"  {url}\n")
        result = cache.refresh(entry, RefreshMode.FORCE)

    assert entry.url == url and entry.rel_path == rel(uploads, lonely)
    assert result.action is Action.REFRESHED and result.path == lonely
    assert lonely.read_bytes() == new_body


def test_an_absolute_path_inside_the_folder_is_the_same_file(
    uploads: Uploads, server: LoopbackServer
) -> None:
    original = next(iter(uploads.originals))
    url = server.url("/corrected.jpg")

    with ImageCache(uploads.root) as cache:
        entry = set_source(cache, str(original), url)
        found = cache.find(str(original))

    assert found == entry and entry.url == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://files.example/a.jpg", "not an http or https URL"),
        ("not a url", "not an http or https URL"),
        ("", "not an http or https URL"),
        ("https://maps.example/photo?ref=1&key=***", "where a secret was hidden"),
        ("https://bob:***@maps.example/photo.jpg", "where a secret was hidden"),
    ],
)
def test_a_bad_url_is_refused_and_changes_nothing(uploads: Uploads, url: str, reason: str) -> None:
    original, known = next(iter(uploads.originals.items()))
    with ImageCache(uploads.root) as cache:
        set_source(cache, rel(uploads, original), known)
        before = cache.entries()
        with pytest.raises(SourceRefusedError, match=reason.replace("*", r"\*")):
            set_source(cache, rel(uploads, original), url)
        assert cache.entries() == before


def test_another_files_url_an_unknown_path_and_a_path_outside_are_refused(
    uploads: Uploads,
) -> None:
    (first, first_url), (second, _) = list(uploads.originals.items())[:2]
    tree = listing(uploads.root)
    with ImageCache(uploads.root) as cache:
        set_source(cache, rel(uploads, first), first_url)
        before = cache.entries()
        refusals = []
        for path, url in (
            (rel(uploads, second), first_url),
            ("venues/nowhere/original_gone.txt", first_url + "?v=2"),
            ("../outside/original_x.jpg", first_url + "?v=3"),
        ):
            with pytest.raises(SourceRefusedError) as refused:
                set_source(cache, path, url)
            refusals.append(str(refused.value))
        assert cache.entries() == before
    assert refusals[0] == f"this URL is already the source of {rel(uploads, first)}"
    assert refusals[1].startswith("unknown path") and "outside the folder" in refusals[2]
    assert listing(uploads.root) == tree


def test_an_import_refuses_a_row_whose_url_shows_the_mask(uploads: Uploads) -> None:
    original = next(iter(uploads.originals))
    masked = "https://maps.example/photo?ref=1&key=***"

    with ImageCache(uploads.root) as cache:
        (record,) = import_sources(cache, [SourceRow(2, rel(uploads, original), masked)])
        entry = cache.find(str(original))

    assert record["ok"] is False and "where a secret was hidden" in str(record["error"])
    assert entry is not None and entry.url is None


def test_the_rules_of_an_adopted_folder_name_an_originals_variants(
    uploads: Uploads, tmp_path: Path
) -> None:
    original = next(iter(uploads.originals))
    with ImageCache(uploads.root) as cache:
        assert cache.variant_rules == []
        (entry,) = [e for e in cache.entries() if e.rel_path == rel(uploads, original)]
        assert cache.variants_of(entry) == []
    with ImageCache(uploads.root, adopt=True) as cache:
        cache.adopt([VariantRule.parse(THUMBS)])
    with ImageCache(uploads.root) as cache:
        (rule,) = cache.variant_rules
        assert cache.variants_of(entry) == [
            (rule, original.with_name(original.name.replace("original_", "thumb_")))
        ]
    with ImageCache(tmp_path / "own-cache") as own:
        assert own.variant_rules == []


def test_the_kept_version_follows_its_image_to_a_url_set_by_hand(
    uploads: Uploads, server: LoopbackServer
) -> None:
    original, known = next(iter(uploads.originals.items()))
    first = original.read_bytes()
    moved = server.route("/moved.jpg", image(picture((200, 30, 30), (640, 480))))

    with ImageCache(uploads.root) as cache:
        entry = set_source(cache, rel(uploads, original), known)
        refreshed = cache.refresh(entry, RefreshMode.FORCE)  # keeps the first version
        assert refreshed.action is Action.REFRESHED and original.read_bytes() != first
        renamed = set_source(cache, rel(uploads, original), moved)
        reverted = cache.refresh(renamed, RefreshMode.REVERT)

    assert reverted.action is Action.REVERTED, reverted.error
    assert original.read_bytes() == first
