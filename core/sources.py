"""Source URLs of an adopted folder's files: from a web app's database export (CSV or JSON
lines), matched to files on disk, or one at a time by hand.

A file's URL cannot be derived from its name in an uploads folder: it lives in the app's
database. An export with a `path` and a `url` for each image gives them; every row gets an
answer (set, unknown path, outside the folder, not an http/https URL, duplicate path). A URL
that holds `***` where a secret was hidden (copied from what the program shows) is refused.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from core.cache import ImageCache
from core.http_client import check_url
from core.models import ImageEntry, RefreshError
from core.secrets import redact, shows_a_mask
from core.settings import DEFAULT_CATEGORY
from core.validation import IMAGE_EXTENSIONS

SOURCE_SET = "source-set"


class SourcesFileError(Exception):
    """The file cannot be read as sources at all (no path/url columns, not CSV or JSON)."""


class SourceRefusedError(ValueError):
    """A source URL not set, and why (the message); nothing was changed."""


@dataclass(frozen=True, slots=True)
class SourceRow:
    line: int
    path: str
    url: str


def read_sources(file: Path) -> list[SourceRow]:
    """CSV with a header row naming `path` and `url`, or JSON lines `{"path": …, "url": …}`."""
    try:
        text = file.read_text("utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise SourcesFileError(f"cannot read {file}: {error}") from error
    if text.lstrip().startswith("{"):
        return _json_lines(text, file)
    reader = csv.DictReader(io.StringIO(text))
    columns = {name.strip().lower(): name for name in reader.fieldnames or []}
    if "path" not in columns or "url" not in columns:
        raise SourcesFileError(
            f"{file}: no `path` and `url` columns in its header row (CSV), nor JSON lines"
        )
    return [
        SourceRow(
            reader.line_num,
            (row.get(columns["path"]) or "").strip(),
            (row.get(columns["url"]) or "").strip(),
        )
        for row in reader
    ]


def _json_lines(text: str, file: Path) -> list[SourceRow]:
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise SourcesFileError(f"{file}, line {number}: not JSON ({error.msg})") from error
        if not isinstance(record, dict):
            raise SourcesFileError(f"{file}, line {number}: not a JSON object")
        rows.append(SourceRow(number, str(record.get("path") or ""), str(record.get("url") or "")))
    return rows


def import_sources(cache: ImageCache, rows: list[SourceRow]) -> list[dict[str, object]]:
    """Set each row's URL on its file; one record per row, in the CLI contract's shape."""
    seen: set[str] = set()
    records = []
    for row in rows:
        rel_path, problem = _inside(cache, row.path)
        if problem is None and rel_path is not None:
            if rel_path in seen:
                problem = "duplicate path: an earlier row already set this file's URL"
            seen.add(rel_path)
        if problem is None:
            problem = url_problem(row.url)
        if problem is None and rel_path is not None:
            problem = cache.set_source(rel_path, row.url, _category(rel_path))
        records.append(_record(cache, row, rel_path, problem))
    return records


def set_source(cache: ImageCache, path: str, url: str) -> ImageEntry:
    """Give one image its source URL by hand (`path` relative to the folder or absolute inside
    it), checked as an import's row is; the entry as it is now. SourceRefusedError says why
    not, and nothing is changed."""
    url = url.strip()
    rel_path, problem = _inside(cache, path)
    if problem is None:
        problem = url_problem(url)
    if problem is None and rel_path is not None:
        problem = cache.set_source(rel_path, url, _category(rel_path))
    entry = cache.manifest.by_path(rel_path) if problem is None and rel_path else None
    if entry is None:
        raise SourceRefusedError(problem or "the image is no longer in the folder")
    return entry


def url_problem(url: str) -> str | None:
    """Why a source URL cannot be set (None: it can): not an http(s) URL, or one holding the
    mask of a secret. The check of an import's rows and of a URL typed by hand."""
    try:
        check_url(url)
    except RefreshError:
        return "not an http or https URL"
    if shows_a_mask(url):
        return "the URL holds *** where a secret was hidden: give the full URL"
    return None


def _inside(cache: ImageCache, text: str) -> tuple[str | None, str | None]:
    """The cache-relative path of an image file named in a row, or why there is none."""
    if not text:
        return None, "unknown path: the row names no file"
    given = Path(text)
    relative = cache.storage.relative(given if given.is_absolute() else cache.root / given)
    if relative is None:
        return None, "the path is outside the folder"
    known = cache.manifest.by_path(relative) is not None
    if not known and (
        PurePosixPath(relative).suffix.lower() not in IMAGE_EXTENSIONS
        or (cache.root / relative).is_dir()
        or any(part.startswith(".") for part in PurePosixPath(relative).parts)
    ):
        return relative, "unknown path: no image of the folder has it"
    return relative, None


def _category(rel_path: str) -> str:
    parts = PurePosixPath(rel_path).parts
    return parts[0] if len(parts) > 1 else DEFAULT_CATEGORY


def _record(
    cache: ImageCache, row: SourceRow, rel_path: str | None, problem: str | None
) -> dict[str, object]:
    path = cache.root / rel_path if rel_path else None
    try:
        stat = path.stat() if path is not None else None
    except OSError:
        stat = None
    record: dict[str, object] = {
        "url": redact(row.url) or None,
        "path": str(path) if path else row.path,
        "category": _category(rel_path) if rel_path else None,
        "action": SOURCE_SET if problem is None else "failed",
        "before_mtime": stat.st_mtime if stat else None,
        "after_mtime": stat.st_mtime if stat else None,
        "bytes": stat.st_size if stat else None,
        "sha256": None,
        "ok": problem is None,
        "error": problem if problem is None else f"row {row.line}: {problem}",
    }
    if problem is None and stat is None:
        record["note"] = "the file is missing: a refresh downloads it"
    return record
