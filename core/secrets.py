"""Hiding the secrets some image URLs carry (signed CDN links, API keys) before a URL is shown.

The full URL is only ever sent to its server; wherever a person or a file sees it (a table, a
report, a log) the values of the query parameters below read `***`.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

MASK = "***"
# Compared without regard to case: `X-Amz-Signature` is also sent as `x-amz-signature`.
SECRET_PARAMETERS = frozenset(
    name.lower()
    for name in (
        "key",
        "api_key",
        "apikey",
        "token",
        "access_token",
        "sig",
        "signature",
        "X-Amz-Signature",
        "X-Amz-Credential",
        "X-Amz-Security-Token",
        "X-Goog-Signature",
        "X-Goog-Credential",
    )
)
# The password of `scheme://user:password@host/`, which is as secret as a token.
_PASSWORD = re.compile(
    r"^(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/?#@:]*:)(?P<password>[^/?#@]*)(?=@)"
)
# One `name=value` pair of a query: up to the next `&`, `;` or the fragment.
_PAIR = re.compile(r"(?P<name>[^&;=#]*)(?P<equals>=?)(?P<value>[^&;#]*)")


def redact(url: str | None) -> str | None:
    """`url` with the value of every secret query parameter replaced by `***`.

    A password before the host (`user:password@`) is hidden as well. The rest is kept byte for
    byte; a parameter name is compared after percent-decoding, so `api%5Fkey=...` is hidden
    too. None stays None.
    """
    if url is None:
        return None
    url = _PASSWORD.sub(rf"\g<head>{MASK}", url, count=1)
    start, end = _query_span(url)
    return f"{url[:start]}{_PAIR.sub(_mask_pair, url[start:end])}{url[end:]}"


def _query_span(url: str) -> tuple[int, int]:
    """Where the query is in `url`: after the `?`, before the fragment (empty if none)."""
    query_at = url.find("?")
    if query_at < 0:
        return len(url), len(url)
    fragment_at = url.find("#", query_at)
    return query_at + 1, len(url) if fragment_at < 0 else fragment_at


def _mask_pair(match: re.Match[str]) -> str:
    name, equals, value = match["name"], match["equals"], match["value"]
    if not equals or not value or _decoded(name).lower() not in SECRET_PARAMETERS:
        return match[0]
    return f"{name}={MASK}"


def _decoded(name: str) -> str:
    return unquote_plus(name) if "%" in name or "+" in name else name


def shows_a_mask(url: str) -> bool:
    """Whether `url` holds `***` where `redact` hides a secret (a URL copied from what the
    program shows): sent to its server, it would ask for the mask, not the image."""
    password = _PASSWORD.match(url)
    if password is not None and unquote_plus(password["password"]) == MASK:
        return True
    start, end = _query_span(url)
    return any(
        match["equals"]
        and _decoded(match["name"]).lower() in SECRET_PARAMETERS
        and unquote_plus(match["value"]) == MASK
        for match in _PAIR.finditer(url[start:end])
    )


def redacted(url: str | None) -> str:
    """`redact` for messages: a missing URL reads as such."""
    return redact(url) or "(no URL)"


_SECRET_IN_TEXT = re.compile(
    r"(?i)\b(" + "|".join(re.escape(name) for name in sorted(SECRET_PARAMETERS)) + r")=[^&\s'\")]+"
)


class LazyRedacted:
    """A URL as a log record's argument: redacted when the record is written, so a DEBUG record
    that is not written costs no redaction."""

    __slots__ = ("url",)

    def __init__(self, url: str | None) -> None:
        self.url = url

    def __str__(self) -> str:
        return redacted(self.url)


def redact_text(text: str) -> str:
    """Any `name=value` of a secret parameter in free text (a library's message) as `***`."""
    return _SECRET_IN_TEXT.sub(lambda match: f"{match.group(1)}={MASK}", text)
