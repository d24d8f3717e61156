"""How an image is named in the window: as people know it, by its name and its source.

The cache stores `<readable-name>-<16 hex digits><ext>` so that two URLs never share a file; that
suffix means nothing to an editor and, cut by a narrow column, hides the part that does. The
window shows the name the source gave the file, and next to it where it came from (host and
folder), which is what tells two `performer-gold.jpg` apart.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from core.secrets import redact

# The suffix core.naming adds before the extension: "-" and 16 lower-case hex digits.
_OUR_SUFFIX = re.compile(r"-[0-9a-f]{16}(?=\.[A-Za-z0-9]{1,5}$|$)")


def shown_name(url: str | None, path: Path | None) -> str:
    """The file's readable name: the URL's last path segment, else the file name without our
    suffix (a file found on disk has no URL)."""
    if url:
        parts = urlsplit(url)
        segment = unquote(parts.path.rstrip("/").rsplit("/", 1)[-1])
        if segment:
            return segment
        return parts.netloc or url
    if path is not None:
        return _OUR_SUFFIX.sub("", path.name, count=1)
    return "?"


def source_of(url: str | None) -> str:
    """Where the image comes from, at a glance: host and folder (and the query, which may be
    all that tells two URLs apart), e.g. `cdn.example.org/performers`."""
    if not url:
        return "found on disk, no source URL"
    parts = urlsplit(redact(url) or url)  # a signature or a key in the query shows as ***
    folder = unquote(parts.path).rsplit("/", 1)[0]
    source = f"{parts.netloc}{folder}"
    if parts.query:
        source += f"/?{parts.query}"
    return source
