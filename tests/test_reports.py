"""`--report FILE` on scan and refresh: CSV, and one self-contained HTML page that a real
browser (headless Chromium) draws with its table and its embedded pictures."""

from __future__ import annotations

import base64
import csv
import io
import re
from pathlib import Path

import pytest
from PIL import Image

from core.reports import ReportRow, picture_of, write_report
from core.secrets import redact, shows_a_mask
from tests.browser import dom_after_load, screenshot
from tests.cli_run import run_main
from tests.health_fixtures import HealthCache, make_health_cache
from tests.server import LoopbackServer, image, jpeg_bytes, png_bytes, sequence

GREEN = (30, 200, 30)  # png_bytes' colour: the fixture's PNG thumbnails


def scan_to(
    capsys: pytest.CaptureFixture[str], cache: HealthCache, report: Path, *flags: str
) -> tuple[int, str, str]:
    """`scan --all` of the fixture cache with `--report report`."""
    return run_main(
        capsys, "scan", "--all", *flags, "--report", str(report), "--cache-dir", str(cache.root)
    )


@pytest.fixture
def health_cache(cache_dir: Path, server: LoopbackServer) -> HealthCache:
    return make_health_cache(cache_dir, server)


# --- secrets --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://cdn.example/a.jpg", "https://cdn.example/a.jpg"),
        ("https://cdn.example/a.jpg?w=400&h=300", "https://cdn.example/a.jpg?w=400&h=300"),
        ("https://x/a.jpg?key=K1&w=2", "https://x/a.jpg?key=***&w=2"),
        (
            "https://x/a.jpg?api_key=K&token=T&access_token=A",
            "https://x/a.jpg?api_key=***&token=***&access_token=***",
        ),
        ("https://x/a.jpg?sig=S;signature=S2#top", "https://x/a.jpg?sig=***;signature=***#top"),
        (
            "https://s3/a.jpg?X-Amz-Credential=AK%2F2024&X-Amz-Signature=abc&X-Amz-Date=1",
            "https://s3/a.jpg?X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Date=1",
        ),
        (
            "https://gcs/a.jpg?x-goog-signature=abc&X-Goog-Credential=me",
            "https://gcs/a.jpg?x-goog-signature=***&X-Goog-Credential=***",
        ),
        ("https://x/a.jpg?api%5Fkey=K", "https://x/a.jpg?api%5Fkey=***"),
        ("https://x/a.jpg?token=", "https://x/a.jpg?token="),
        ("https://x/a.jpg?monkey=banana", "https://x/a.jpg?monkey=banana"),
        ("https://bob:hunter2@x/a.jpg", "https://bob:***@x/a.jpg"),
        ("https://bob@x/a.jpg", "https://bob@x/a.jpg"),
    ],
)
def test_redact_hides_the_values_of_secret_parameters(url: str, shown: str) -> None:
    assert redact(url) == shown
    assert redact(shown) == shown


def test_redact_keeps_none() -> None:
    assert redact(None) is None


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("https://x/a.jpg?key=***&w=2", True),
        ("https://x/a.jpg?X-Amz-Signature=%2A%2A%2A", True),
        ("https://bob:***@x/a.jpg", True),
        ("https://x/a.jpg?key=K1&w=2", False),
        ("https://x/a.jpg?monkey=***", False),  # not a secret's place: a real value
        ("https://x/a.jpg#key=***", False),  # a fragment is never sent
        ("https://x/a.jpg", False),
    ],
)
def test_a_url_showing_the_mask_in_a_secrets_place_is_told(url: str, masked: bool) -> None:
    assert shows_a_mask(url) is masked


# --- CSV ------------------------------------------------------------------------------------


def test_scan_report_csv_has_the_records_keys_as_columns(
    capsys: pytest.CaptureFixture[str], health_cache: HealthCache, tmp_path: Path
) -> None:
    report = tmp_path / "health.csv"
    code, out, _ = scan_to(capsys, health_cache, report, "--json")
    assert code == 1
    rows = list(csv.DictReader(io.StringIO(report.read_text("utf-8"))))
    assert len(rows) == len(out.splitlines()) == 14
    assert list(rows[0])[:12] == [
        "url", "path", "category", "action", "before_mtime", "after_mtime",
        "bytes", "sha256", "ok", "error", "health", "detail",
    ]  # fmt: skip
    by_path = {row["path"]: row for row in rows}
    assert {path: row["health"] for path, row in by_path.items()} == {
        path: health.value for path, health in health_cache.expected().items()
    }
    assert all(Path(row["path"]).is_absolute() for row in rows)
    assert by_path[str(health_cache.orphan)]["url"] == ""
    assert report.stat().st_mode & 0o777 == 0o644  # as any file the user makes (umask 022)


def test_refresh_report_csv_hides_secrets(
    capsys: pytest.CaptureFixture[str], server: LoopbackServer, cache_dir: Path, tmp_path: Path
) -> None:
    url = server.route("/signed.jpg", image(jpeg_bytes())) + "?w=1&X-Amz-Signature=s3cr3t&token=t0k"
    assert run_main(capsys, "add", url, "--cache-dir", str(cache_dir))[0] == 0
    report = tmp_path / "run.csv"
    code, _, err = run_main(
        capsys,
        "refresh",
        "--force",
        "--all",
        "--report",
        str(report),
        "--cache-dir",
        str(cache_dir),
    )
    assert code == 0, err
    text = report.read_text("utf-8")
    assert "s3cr3t" not in text and "t0k" not in text
    (row,) = csv.DictReader(io.StringIO(text))
    assert row["url"].endswith("?w=1&X-Amz-Signature=***&token=***")
    assert row["action"] == "refreshed" and row["ok"] == "true"


def test_refresh_report_html_shows_the_old_and_the_new_picture(
    capsys: pytest.CaptureFixture[str], server: LoopbackServer, cache_dir: Path, tmp_path: Path
) -> None:
    old, new = png_bytes((30, 200, 30), (60, 40)), png_bytes((200, 30, 30), (60, 40))
    url = server.route("/logo.png", sequence(image(old, "image/png"), image(new, "image/png")))
    assert run_main(capsys, "add", url, "--cache-dir", str(cache_dir))[0] == 0
    report = tmp_path / "run.html"
    code, _, _ = run_main(
        capsys, "refresh", "--force", url, "--report", str(report), "--cache-dir", str(cache_dir)
    )
    assert code == 0
    text = report.read_text("utf-8")
    pictures = re.findall(r'src="data:image/(?:png|jpeg);base64,([^"]+)"', text)
    assert len(pictures) == 2  # before and after
    colours = []
    for encoded in pictures:
        with Image.open(io.BytesIO(base64.b64decode(encoded))) as shown:
            colours.append(shown.convert("RGB").getpixel((1, 1)))
    assert _near(colours[0], (30, 200, 30)) and _near(colours[1], (200, 30, 30))
    assert "Image Refresh: force refresh" in text


def test_a_report_that_cannot_be_written_says_so(
    capsys: pytest.CaptureFixture[str], health_cache: HealthCache, tmp_path: Path
) -> None:
    report = tmp_path / "no-such-folder" / "r.csv"
    code, _, err = scan_to(capsys, health_cache, report)
    assert code == 1
    assert f"cannot write the report {report}" in err


# --- HTML -----------------------------------------------------------------------------------


def test_picture_of_a_broken_file_is_none(tmp_path: Path) -> None:
    (tmp_path / "cut.jpg").write_bytes(jpeg_bytes()[:100])
    assert picture_of(tmp_path / "cut.jpg") is None
    assert picture_of(tmp_path / "gone.jpg") is None
    (tmp_path / "ok.png").write_bytes(png_bytes(size=(400, 200)))
    small = picture_of(tmp_path / "ok.png")
    assert small is not None
    with Image.open(io.BytesIO(small)) as shown:
        assert max(shown.size) <= 120


def test_html_report_is_self_contained_and_hides_secrets(tmp_path: Path) -> None:
    record: dict[str, object] = {
        "url": "https://cdn.example/a.jpg?token=abc123&w=3",
        "path": str(tmp_path / "a.jpg"),
        "category": "events",
        "action": "refreshed",
        "before_mtime": 1_700_000_000.0,
        "after_mtime": 1_700_000_100.0,
        "bytes": 1234,
        "sha256": "00",
        "ok": True,
        "error": None,
    }
    report = tmp_path / "r.html"
    write_report(
        report,
        [ReportRow(record, jpeg_bytes(), png_bytes()), ReportRow({**record, "ok": False})],
        "A <test> report",
        cache_root=tmp_path,
    )
    text = report.read_text("utf-8")
    assert "abc123" not in text and "token=***" in text
    assert "A &lt;test&gt; report" in text
    assert "default-src 'none'" in text  # the page may load nothing from anywhere
    assert not re.search(r"""\b(src|href)\s*=\s*(?!["']?data:)""", text)
    assert text.count("data:image/jpeg;base64,") == 1 and text.count("data:image/png;base64,") == 1


def test_html_report_of_a_repair_renders_in_a_real_browser(
    capsys: pytest.CaptureFixture[str], health_cache: HealthCache, tmp_path: Path
) -> None:
    report = tmp_path / "repair.html"
    code, _, err = scan_to(capsys, health_cache, report, "--repair")
    assert code == 1 and f"report written to {report}" in err  # the orphan stays broken

    dom = dom_after_load(report)
    rows = re.findall(r'<tr class="(ok|bad)">', dom)
    assert len(rows) == 14 and rows.count("bad") == 1
    shown, embedded = map(int, re.search(r'data-pictures="(\d+)/(\d+)"', dom).groups())  # type: ignore[union-attr]
    assert embedded >= 14 and shown == embedded  # the browser decoded every picture
    assert dom.count("→ 20") >= 14  # a before → after time on every row
    assert dom.count("<figcaption>after</figcaption>") == 10  # the repaired ones

    # Sorted by size (the page's own script, as a click on the column title does).
    sorted_dom = dom_after_load(report, "#sort=Size")
    sizes = [int(s) for s in re.findall(r'class="num" data-sort="(\d+)\.0"', sorted_dom)]
    assert sizes == sorted(sizes) and len(sizes) >= 13

    shot = screenshot(report, tmp_path / "repair.png")
    with Image.open(shot) as picture:
        pixels = picture.convert("RGB")
        assert pixels.size == (1400, 1800)
        colours = pixels.getcolors(maxcolors=1 << 24)
    assert colours is not None
    counts = {colour: n for n, colour in colours}
    green = sum(n for colour, n in counts.items() if _near(colour, GREEN))
    assert green > 1_000  # the PNG thumbnails, before and after, are drawn
    noisy = len(counts)
    assert noisy > 5_000  # and the noisy JPEG thumbnails: thousands of colours (text: hundreds)
    assert counts.get((244, 246, 250), 0) > 5_000  # the table's header row


def _near(colour: tuple[int, int, int], target: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 12 for a, b in zip(colour, target, strict=True))
