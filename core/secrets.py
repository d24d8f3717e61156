"""Secrets in URLs (API keys, signatures) are shown as `***`; only the server sees them."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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
HIDDEN = "***"


def redact(url: str | None) -> str | None:
    """The URL as a person may see it: secret query values (and a password) are `***`."""
    if url is None or ("?" not in url and "@" not in url):
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(name.lower() in SECRET_PARAMETERS for name, _ in pairs):
            shown = [(n, HIDDEN if n.lower() in SECRET_PARAMETERS else v) for n, v in pairs]
            query = urlencode(shown, safe="*/:,@")
    netloc = parts.netloc
    if parts.password:
        netloc = netloc.replace(f":{parts.password}@", f":{HIDDEN}@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redacted(url: str | None) -> str:
    """`redact` for messages: a missing URL reads as such."""
    return redact(url) or "(no URL)"


_SECRET_IN_TEXT = re.compile(
    r"(?i)\b(" + "|".join(re.escape(name) for name in sorted(SECRET_PARAMETERS)) + r")=[^&\s'\")]+"
)


def redact_text(text: str) -> str:
    """Any `name=value` of a secret parameter in free text (a library's message) as `***`."""
    return _SECRET_IN_TEXT.sub(lambda match: f"{match.group(1)}={HIDDEN}", text)
