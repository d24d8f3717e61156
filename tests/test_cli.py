"""The `image-refresh` command line against its contract (shared/docs/cli-contract.md), minus `gui`.

Most cases call `core.cli.main` in-process; exit codes, stdout purity and "no traceback" are also
checked through the installed console script in a subprocess, with the test's environment.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from core import __version__
from core.models import Action
from core.settings import refreshes_in_flight
from tests.cli_run import RESULT_KEYS, run_main
from tests.server import (
    LoopbackServer,
    conditional_image,
    image,
    jpeg_bytes,
    send,
    sequence,
    serve,
)

IMAGE_REFRESH = str(Path(sys.executable).parent / "image-refresh")
LIST_KEYS = {
    "url",
    "path",
    "category",
    "exists",
    "mtime",
    "bytes",
    "sha256",
    "width",
    "height",
    "content_type",
    "last_outcome",
    "last_error",
}
RED, BLUE = jpeg_bytes((255, 0, 0)), jpeg_bytes((0, 0, 255))


def run_command(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The installed console script, with this test's environment (XDG dirs, cache dir)."""
    return subprocess.run(
        [IMAGE_REFRESH, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),
        check=False,
    )


def results_of(stdout: str) -> list[dict[str, Any]]:
    """Parse --json output, checking that it holds nothing but well-formed result lines."""
    assert stdout.endswith("\n")
    results = []
    for line in stdout.splitlines():
        result = json.loads(line)
        assert isinstance(result, dict)
        # v2 keeps the v1 keys and adds its own: the safety net's `change`.
        assert set(result) == RESULT_KEYS | {"change"}
        assert result["action"] in {a.value for a in Action}
        assert isinstance(result["ok"], bool)
        assert result["ok"] == (result["action"] not in ("failed", "cancelled", "refused"))
        for key in ("before_mtime", "after_mtime"):
            assert result[key] is None or isinstance(result[key], float), (key, result)
        if result["path"] is not None:
            assert Path(result["path"]).is_absolute()
        else:
            assert not result["ok"]  # only a target that never had a file lacks a path
        if result["ok"]:
            assert result["error"] is None
        else:
            assert isinstance(result["error"], str) and result["error"]
        results.append(result)
    return results


def by_url(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["url"]: r for r in results}


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def lower_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def add_json(
    capsys: pytest.CaptureFixture[str], cache_dir: Path, *urls: str, category: str = "events"
) -> dict[str, dict[str, Any]]:
    code, out, _ = run_main(
        capsys, "add", *urls, "--category", category, "--cache-dir", str(cache_dir), "--json"
    )
    assert code == 0
    return by_url(results_of(out))


def backdate(path: Path, seconds: float = 30.0) -> float:
    """Move a file's mtime into the past, so a new mtime is unmistakable on any file system."""
    old = path.stat().st_mtime - seconds
    os.utime(path, (old, old))
    return path.stat().st_mtime


# --- version, add -------------------------------------------------------------------------------


def test_version_prints_the_program_version() -> None:
    completed = run_command("--version")
    assert completed.returncode == 0
    assert completed.stdout.strip() == f"image-refresh {__version__}"


def test_add_downloads_then_a_second_add_is_cached_without_a_request(
    server: LoopbackServer, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hero = server.route("/hero.jpg", image(RED))
    poster = server.route("/poster.jpg", image(BLUE))

    first = add_json(capsys, cache_dir, hero, poster)

    assert {r["action"] for r in first.values()} == {"downloaded"}
    for url, result in first.items():
        path = Path(result["path"])
        assert path.parent == cache_dir.resolve() / "events"
        assert result["category"] == "events"
        assert result["before_mtime"] is None
        assert result["after_mtime"] == path.stat().st_mtime
        assert result["bytes"] == path.stat().st_size
        assert result["sha256"] == sha256_of(path)
        assert path.read_bytes() == (RED if url == hero else BLUE)
    assert len(server.seen) == 2

    second = add_json(capsys, cache_dir, hero)

    assert second[hero]["action"] == "cached"
    assert second[hero]["path"] == first[hero]["path"]
    assert second[hero]["after_mtime"] == first[hero]["after_mtime"]
    assert len(server.seen) == 2  # no new request


def test_add_from_file_skips_comments_and_blank_lines(
    server: LoopbackServer, cache_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one = server.route("/one.jpg", image(RED))
    two = server.route("/two.jpg", image(BLUE))
    commented = server.route("/commented.jpg", image(RED))
    listing = tmp_path / "urls.txt"
    listing.write_text(
        f"# hero images\n\n{one}\n   \n  # {commented}\n#{commented}\n  {two}  \n{one}\n", "utf-8"
    )

    code, out, _ = run_main(
        capsys, "add", "--from-file", str(listing), "--cache-dir", str(cache_dir), "--json"
    )

    assert code == 0
    results = by_url(results_of(out))
    assert set(results) == {one, two}
    assert {r["action"] for r in results.values()} == {"downloaded"}
    assert server.requests_for("/commented.jpg") == []
    assert len(server.requests_for("/one.jpg")) == 1  # listed twice, fetched once


def test_add_from_stdin(server: LoopbackServer, cache_dir: Path) -> None:
    url = server.route("/stdin.jpg", image(RED))

    completed = run_command(
        "add",
        "--from-file",
        "-",
        "--category",
        "performers",
        "--cache-dir",
        str(cache_dir),
        "--json",
        stdin=f"# from a pipe\n\n{url}\n",
    )

    assert completed.returncode == 0, completed.stderr
    (result,) = results_of(completed.stdout)
    assert result["url"] == url and result["action"] == "downloaded"
    assert Path(result["path"]).parent == cache_dir.resolve() / "performers"
    assert Path(result["path"]).read_bytes() == RED


def test_add_with_a_bad_url_is_a_usage_error_that_adds_nothing(
    server: LoopbackServer, cache_dir: Path
) -> None:
    good = server.route("/good.jpg", image(RED))

    completed = run_command(
        "add", "ftp://example.com/a.jpg", "not-a-url", good, "--cache-dir", str(cache_dir)
    )

    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr and completed.stdout == ""
    assert "ftp://example.com/a.jpg" in completed.stderr and "http" in completed.stderr
    assert "not-a-url" in completed.stderr and "nothing was added" in completed.stderr
    assert server.seen == []
    assert not cache_dir.exists()  # not even an empty cache


@pytest.mark.parametrize("command", [["list"], ["refresh", "--all"], ["list", "--json"]])
def test_a_folder_that_is_no_cache_is_a_usage_error_and_stays_untouched(
    tmp_path: Path, command: list[str]
) -> None:
    typo = tmp_path / "typo" / "dir"
    existing = tmp_path / "photos"
    existing.mkdir()
    (existing / "mine.jpg").write_bytes(RED)

    for folder in (typo, existing):
        completed = run_command(*command, "--cache-dir", str(folder))

        assert completed.returncode == 2, completed.stderr
        assert "is not an image cache" in completed.stderr and "Traceback" not in completed.stderr
        assert completed.stdout == ""
    assert not typo.parent.exists()
    assert [p.name for p in existing.iterdir()] == ["mine.jpg"]


# --- refresh ------------------------------------------------------------------------------------


def test_refresh_without_a_flag_downloads_only_what_is_missing(
    server: LoopbackServer, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = server.route("/kept.jpg", image(RED))
    lost = server.route("/lost.jpg", image(BLUE))
    added = add_json(capsys, cache_dir, kept, lost)
    Path(added[lost]["path"]).unlink()
    kept_mtime = Path(added[kept]["path"]).stat().st_mtime
    server.seen.clear()

    code, out, _ = run_main(capsys, "refresh", "--all", "--cache-dir", str(cache_dir), "--json")

    assert code == 0
    results = by_url(results_of(out))
    assert results[kept]["action"] == "cached"
    assert results[kept]["before_mtime"] == results[kept]["after_mtime"] == kept_mtime
    assert results[lost]["action"] == "downloaded"
    assert results[lost]["before_mtime"] is None
    assert Path(results[lost]["path"]).read_bytes() == BLUE
    assert [r.path for r in server.seen] == ["/lost.jpg"]
    assert Path(added[kept]["path"]).stat().st_mtime == kept_mtime


@pytest.mark.parametrize("target_kind", ["url", "absolute path", "cache-relative path"])
def test_refresh_force_replaces_the_file_with_an_unconditional_request(
    target_kind: str,
    server: LoopbackServer,
    cache_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = server.route("/hero.jpg", sequence(image(RED, etag='"v1"'), image(BLUE, etag='"v2"')))
    path = Path(add_json(capsys, cache_dir, url)[url]["path"])
    before_mtime = backdate(path)
    target = {
        "url": url,
        "absolute path": str(path),
        "cache-relative path": path.relative_to(cache_dir.resolve()).as_posix(),
    }[target_kind]

    code, out, _ = run_main(
        capsys, "refresh", "--force", target, "--cache-dir", str(cache_dir), "--json"
    )

    assert code == 0
    (result,) = results_of(out)
    assert result["action"] == "refreshed"
    assert result["url"] == url and result["path"] == str(path)
    assert result["before_mtime"] == before_mtime
    assert result["after_mtime"] > before_mtime
    assert result["after_mtime"] == path.stat().st_mtime
    assert path.read_bytes() == BLUE
    assert result["sha256"] == sha256_of(path) and result["bytes"] == len(BLUE)
    requests = server.requests_for("/hero.jpg")
    assert len(requests) == 2
    headers = lower_headers(requests[-1].headers)
    assert headers["cache-control"] == "no-cache"
    assert "if-none-match" not in headers and "if-modified-since" not in headers


def test_refresh_check_is_unchanged_on_304_and_updated_on_200(
    server: LoopbackServer, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = server.route("/venue.jpg", conditional_image(RED, '"v1"'))
    path = Path(add_json(capsys, cache_dir, url)[url]["path"])
    mtime = backdate(path)

    code, out, _ = run_main(
        capsys, "refresh", "--check", url, "--cache-dir", str(cache_dir), "--json"
    )

    assert code == 0
    (result,) = results_of(out)
    assert result["action"] == "unchanged"
    assert result["before_mtime"] == result["after_mtime"] == mtime
    assert path.stat().st_mtime == mtime and path.read_bytes() == RED
    assert lower_headers(server.seen[-1].headers)["if-none-match"] == '"v1"'

    server.route("/venue.jpg", conditional_image(BLUE, '"v2"'))
    code, out, _ = run_main(
        capsys, "refresh", "--check", url, "--cache-dir", str(cache_dir), "--json"
    )

    assert code == 0
    (result,) = results_of(out)
    assert result["action"] == "updated"
    assert result["after_mtime"] > mtime
    assert path.read_bytes() == BLUE


def test_all_and_category_narrow_the_targets(
    server: LoopbackServer, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    event_a = server.route("/a.jpg", image(RED))
    event_b = server.route("/b.jpg", image(RED))
    venue = server.route("/v.jpg", image(BLUE))
    add_json(capsys, cache_dir, event_a, event_b)
    add_json(capsys, cache_dir, venue, category="venues")
    server.seen.clear()

    code, out, _ = run_main(
        capsys,
        "refresh",
        "--category",
        "Venues",
        "--force",
        "--cache-dir",
        str(cache_dir),
        "--json",
    )
    assert code == 0
    assert [(r["url"], r["action"]) for r in results_of(out)] == [(venue, "refreshed")]
    assert [r.path for r in server.seen] == ["/v.jpg"]

    code, out, _ = run_main(
        capsys,
        "refresh",
        event_a,
        venue,
        "--category",
        "events",
        "--force",
        "--cache-dir",
        str(cache_dir),
        "--json",
    )
    assert code == 0
    assert [(r["url"], r["action"]) for r in results_of(out)] == [(event_a, "refreshed")]
    assert [r.path for r in server.seen] == ["/v.jpg", "/a.jpg"]

    code, out, _ = run_main(capsys, "refresh", "--all", "--cache-dir", str(cache_dir), "--json")
    assert code == 0
    results = by_url(results_of(out))
    assert set(results) == {event_a, event_b, venue}
    assert {r["action"] for r in results.values()} == {"cached"}
    assert len(server.seen) == 2

    code, out, _ = run_main(
        capsys, "list", "--category", "venues", "--cache-dir", str(cache_dir), "--json"
    )
    assert code == 0
    assert [json.loads(line)["url"] for line in out.splitlines()] == [venue]


# --- output and exit status ---------------------------------------------------------------------


def test_json_stdout_holds_only_result_lines_and_one_failure_exits_1(
    server: LoopbackServer, cache_dir: Path
) -> None:
    good = server.route("/good.jpg", image(RED))
    missing = server.url("/missing.jpg")  # the server answers 404

    completed = run_command("add", good, missing, "--cache-dir", str(cache_dir), "--json")

    assert completed.returncode == 1
    results = by_url(results_of(completed.stdout))
    assert set(results) == {good, missing}
    assert results[good]["action"] == "downloaded" and results[good]["ok"] is True
    assert results[good]["category"] == "images"
    assert results[missing]["action"] == "failed" and results[missing]["ok"] is False
    assert "404" in results[missing]["error"]
    assert results[missing]["bytes"] is None and results[missing]["after_mtime"] is None
    assert "1 downloaded" in completed.stderr and "1 failed" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_all_ok_exits_0_with_a_readable_table(
    server: LoopbackServer, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = server.route("/table.jpg", image(RED))

    code, out, err = run_main(capsys, "add", url, "--cache-dir", str(cache_dir))

    assert code == 0
    (path,) = (cache_dir.resolve() / "images").iterdir()
    (line,) = out.splitlines()
    assert line.split()[0] == "downloaded"
    assert line.endswith(str(path))
    assert f"{len(RED):,}" in line
    assert not out.lstrip().startswith("{")
    assert "1 downloaded" in err


USAGE_ERRORS: dict[str, list[str]] = {
    "unknown flag": ["refresh", "{known}", "--frobnicate"],
    "unknown subcommand": ["frobnicate", "{known}"],
    "force with check": ["refresh", "{known}", "--force", "--check"],
    "jobs not a number": ["refresh", "{known}", "--force", "--jobs", "x"],
    "jobs zero": ["add", "{new}", "--jobs", "0"],
    "negative timeout": ["refresh", "{known}", "--force", "--timeout", "-1"],
    "fractional max-bytes": ["add", "{new}", "--max-bytes", "1.5"],
    "negative retries": ["add", "{new}", "--retries", "-2"],
    "unknown target": ["refresh", "{known}", "{new}", "--force"],
    "unknown file target": ["refresh", "{known}", "events/nope.jpg", "--force"],
    "no targets": ["refresh", "--force"],
    "add without URLs": ["add"],
    "invalid category": ["add", "{new}", "--category", "../etc"],
    "invalid refresh category": ["refresh", "--force", "--category", "has space"],
}


@pytest.mark.parametrize("case", list(USAGE_ERRORS))
def test_usage_errors_exit_2_with_a_message_and_no_request(
    case: str, server: LoopbackServer, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    known = server.route("/known.jpg", image(RED))
    new = server.route("/new.jpg", image(BLUE))
    add_json(capsys, cache_dir, known)
    server.seen.clear()
    args = [a.format(known=known, new=new) for a in USAGE_ERRORS[case]]

    completed = run_command(*args, "--cache-dir", str(cache_dir))

    assert completed.returncode == 2, (completed.stdout, completed.stderr)
    assert "error:" in completed.stderr and "usage: image-refresh" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert completed.stdout == ""
    assert server.seen == []


def test_verbose_shows_log_records_with_the_force_refresh_value(
    server: LoopbackServer, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = server.route("/logged.jpg", image(RED))
    add_json(capsys, cache_dir, url)

    code, _, quiet = run_main(capsys, "refresh", url, "--force", "--cache-dir", str(cache_dir))
    assert code == 0
    assert "force_refresh" not in quiet  # records are shown only on request

    code, out, err = run_main(
        capsys, "refresh", url, "--force", "-v", "--cache-dir", str(cache_dir), "--json"
    )

    assert code == 0
    assert "force_refresh=True" in err
    assert "DEBUG core.refresh: deleting previous file" in err  # each step, with -v
    assert f"download url={url} status=200 bytes={len(RED)}" in err
    assert re.search(
        rf"INFO core.refresh: refreshed {re.escape(url)} force_refresh=True mode=force: "
        rf"status=200 bytes={len(RED)} -> .*, previous file deleted \(\d+ bytes\); "
        r"before_mtime=\d+\.\d{6} after_mtime=\d+\.\d{6}$",
        err,
        re.MULTILINE,
    ), err
    assert [r["action"] for r in results_of(out)] == ["refreshed"]  # logs stay off stdout


# --- list ---------------------------------------------------------------------------------------


@pytest.mark.warnings_expected  # failed refreshes log a WARNING
def test_list_shows_files_and_missing_ones(
    server: LoopbackServer, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    present = server.route("/present.jpg", image(RED))
    deleted = server.route("/deleted.jpg", image(BLUE))
    broken = server.url("/broken.jpg")  # 404: recorded, never downloaded
    added = add_json(capsys, cache_dir, present, deleted)
    Path(added[deleted]["path"]).unlink()
    code, _, _ = run_main(capsys, "add", broken, "--cache-dir", str(cache_dir), "--json")
    assert code == 1

    code, out, err = run_main(capsys, "list", "--cache-dir", str(cache_dir), "--json")

    assert code == 0 and err == ""
    rows = [json.loads(line) for line in out.splitlines()]
    assert all(set(row) == LIST_KEYS for row in rows)
    listed = {row["url"]: row for row in rows}
    assert set(listed) == {present, deleted, broken}
    path = Path(added[present]["path"])
    assert listed[present] == {
        "url": present,
        "path": str(path),
        "category": "events",
        "exists": True,
        "mtime": path.stat().st_mtime,
        "bytes": len(RED),
        "sha256": sha256_of(path),
        "width": 64,
        "height": 48,
        "content_type": "image/jpeg",
        "last_outcome": "downloaded",
        "last_error": None,
    }
    assert listed[deleted]["exists"] is False
    assert listed[deleted]["path"] == added[deleted]["path"]
    assert listed[deleted]["mtime"] is None and listed[deleted]["bytes"] is None
    assert listed[broken]["exists"] is False and listed[broken]["path"] is None
    assert listed[broken]["last_outcome"] == "failed"
    assert "404" in listed[broken]["last_error"]

    code, out, err = run_main(capsys, "list", "--cache-dir", str(cache_dir))

    assert code == 0
    lines = {line.split()[-1]: line for line in out.splitlines()}
    assert set(lines) == {present, deleted, broken}
    assert "(missing)" in lines[deleted] and "(missing)" in lines[broken]
    assert "(missing)" not in lines[present] and "64×48" in lines[present]
    assert f"3 image(s) in {cache_dir.resolve()}" in err


# --- cache folder -------------------------------------------------------------------------------


def test_cache_dir_env_var_is_honoured_and_cache_dir_option_overrides_it(
    server: LoopbackServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from_env, from_option = tmp_path / "from-env", tmp_path / "from-option"
    monkeypatch.setenv("IMAGE_REFRESH_CACHE_DIR", str(from_env))
    env_url = server.route("/env.jpg", image(RED))
    option_url = server.route("/option.jpg", image(BLUE))

    code, out, _ = run_main(capsys, "add", env_url, "--json")
    assert code == 0
    (result,) = results_of(out)
    assert Path(result["path"]).parent == from_env.resolve() / "images"

    code, out, _ = run_main(capsys, "add", option_url, "--cache-dir", str(from_option), "--json")
    assert code == 0
    (result,) = results_of(out)
    assert Path(result["path"]).parent == from_option.resolve() / "images"

    def listed(*args: str) -> list[str]:
        code, out, _ = run_main(capsys, *args, "--json")
        assert code == 0
        return [json.loads(line)["url"] for line in out.splitlines()]

    assert listed("list") == [env_url]
    assert listed("list", "--cache-dir", str(from_option)) == [option_url]
    # the option is honoured before the subcommand as well as after it
    assert listed("--cache-dir", str(from_option), "list") == [option_url]
    assert sorted(p.name for p in from_option.iterdir()) == [".image-refresh", "images"]


def test_a_cache_dir_that_is_a_regular_file_is_a_one_line_error(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "cache-file"
    not_a_folder.write_text("keep me", "utf-8")

    completed = run_command("add", "http://127.0.0.1:9/a.jpg", "--cache-dir", str(not_a_folder))

    assert completed.returncode == 1
    (line,) = completed.stderr.splitlines()
    assert line.startswith("image-refresh: error: ") and "not a folder" in line
    assert not_a_folder.read_text("utf-8") == "keep me"


# --- failures and timestamps --------------------------------------------------------------------


def test_force_refresh_with_the_server_down_keeps_the_old_file(
    cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with contextlib.contextmanager(serve)(LoopbackServer("127.0.0.1", 0)) as doomed:
        url = doomed.route("/doomed.jpg", image(RED))
        path = Path(add_json(capsys, cache_dir, url)[url]["path"])
    # the server is shut down: its port now refuses connections
    mtime = backdate(path)

    completed = run_command(
        "refresh", "--force", url, "--retries", "0", "--timeout", "5", "--cache-dir", str(cache_dir)
    )

    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0].startswith("failed") and lines[0].endswith(str(path))
    assert any(line.strip() == "error: the server refused the connection" for line in lines)
    assert path.read_bytes() == RED
    assert path.stat().st_mtime == mtime


def test_the_file_mtime_is_when_we_wrote_it_not_the_servers_last_modified(
    server: LoopbackServer, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = server.route(
        "/old.jpg",
        send(200, RED, "image/jpeg", {"Last-Modified": "Mon, 15 Jan 2001 12:00:00 GMT"}),
    )
    year_2002 = 1_009_843_200.0

    result = add_json(capsys, cache_dir, url)[url]
    path = Path(result["path"])

    assert abs(time.time() - path.stat().st_mtime) < 60
    assert result["after_mtime"] == path.stat().st_mtime

    before = backdate(path)
    code, out, _ = run_main(
        capsys, "refresh", "--force", url, "--cache-dir", str(cache_dir), "--json"
    )

    assert code == 0
    (result,) = results_of(out)
    assert result["before_mtime"] == before
    assert abs(time.time() - path.stat().st_mtime) < 60
    assert result["after_mtime"] == path.stat().st_mtime > year_2002


def test_a_default_cache_dir_whose_parents_do_not_exist_yet_is_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh = tmp_path / "new-user" / "cache" / "image-refresh" / "images"
    monkeypatch.setenv("IMAGE_REFRESH_CACHE_DIR", str(fresh))

    code, out, err = run_main(capsys, "list")

    assert code == 0, err
    assert out == ""
    assert (fresh / ".image-refresh").is_dir()
    assert "0 image(s)" in err


def test_a_batch_larger_than_the_refreshes_in_flight_is_refreshed_whole(
    server: LoopbackServer, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # refresh_many hands them out in several rounds; fewer than take worker processes
    force_refresh_batch(server, cache_dir, capsys, 3 * refreshes_in_flight(4))


def force_refresh_batch(
    server: LoopbackServer, cache_dir: Path, capsys: pytest.CaptureFixture[str], count: int
) -> None:
    """`count` images added, then force-refreshed with --jobs 4 through the command line: each
    one refreshed, with a later mtime and the server's new bytes."""
    urls = [
        server.route(f"/batch/{n}.jpg", sequence(image(RED), image(BLUE))) for n in range(count)
    ]
    code, out, _ = run_main(capsys, "add", *urls, "--cache-dir", str(cache_dir), "--json")
    assert code == 0
    added = by_url(results_of(out))
    before = {url: backdate(Path(added[url]["path"])) for url in urls}

    code, out, _ = run_main(
        capsys,
        "refresh",
        "--force",
        "--all",
        "--jobs",
        "4",
        "--cache-dir",
        str(cache_dir),
        "--json",
    )

    assert code == 0
    refreshed = by_url(results_of(out))
    assert set(refreshed) == set(urls)
    for url, result in refreshed.items():
        assert result["action"] == "refreshed"
        assert result["before_mtime"] == before[url] < result["after_mtime"]
        assert Path(result["path"]).read_bytes() == BLUE


def test_verbose_records_show_a_keyed_url_only_redacted(
    server: LoopbackServer, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = server.route("/keyed.jpg", image(RED)) + "?key=SECRET-VALUE&w=2"
    add_json(capsys, cache_dir, url)

    code, out, err = run_main(
        capsys, "refresh", url, "--force", "-v", "--cache-dir", str(cache_dir), "--json"
    )

    assert code == 0
    assert "DEBUG core.refresh: refresh " in err  # every step was written, at DEBUG
    assert "DEBUG core.http_client: download url=" in err
    assert "key=***&w=2" in err
    assert "SECRET-VALUE" not in err + out
