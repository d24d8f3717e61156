"""Where an image lives in the cache: `<category>/<readable-name>-<short-hash><ext>`.

Only characters from a small safe alphabet reach the file system, so no URL can name a path
outside the cache dir, a hidden file, or a reserved device name; the hash of the whole URL keeps
names unique per URL.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import unquote, urlsplit

MAX_READABLE_LENGTH = 48
HASH_LENGTH = 16
_UNSAFE = re.compile(r"[^a-z0-9]+")
_CATEGORY = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul"} | {
    f"{p}{i}" for p in ("com", "lpt") for i in range(10)
}


class InvalidCategoryError(ValueError):
    pass


def normalize_category(category: str) -> str:
    """Lower-case the category and check it is one safe folder name."""
    name = category.strip().lower()
    if not _CATEGORY.fullmatch(name) or name in _WINDOWS_RESERVED:
        raise InvalidCategoryError(
            f"invalid category {category!r}: use letters, digits, '-' or '_' (at most 64),"
            " starting with a letter or digit"
        )
    return name


def url_hash(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_LENGTH]


def readable_name(url: str) -> str:
    """A short ASCII slug from the last path segment of the URL, without its extension."""
    path = unquote(urlsplit(url).path)
    last = re.split(r"[/\\]", path)[-1]
    stem = last.rsplit(".", 1)[0] if "." in last.lstrip(".") else last
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
    slug = _UNSAFE.sub("-", ascii_stem.lower()).strip("-")
    return slug[:MAX_READABLE_LENGTH].rstrip("-") or "image"


def relative_path(url: str, category: str, extension: str) -> str:
    """The cache-relative path (always with '/') for this URL's image of the given extension."""
    folder = normalize_category(category)
    if not re.fullmatch(r"\.[a-z0-9]{1,5}", extension):
        raise ValueError(f"unexpected extension {extension!r}")
    return f"{folder}/{readable_name(url)}-{url_hash(url)}{extension}"
