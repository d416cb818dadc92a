"""Make article text safe to show on Discord: no pings, no accidental formatting, within limits."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from digests.text import ZERO_WIDTH

MAX_URL = 2048
_UNSAFE_IN_URL = re.compile(r"[\s<>\x00-\x1f\x7f]")

_MENTION = re.compile(r"@(everyone|here)\b", re.IGNORECASE)
_TAG = re.compile(r"<(@[!&]?|#|/)(\w)")
_MARKDOWN = re.compile(r"([\\*_~`|\[\]])")
_LINE_START = re.compile(r"(?m)^(\s*)([>#-]|\d+\.)(?=\s)")


def no_pings(text: str) -> str:
    """Neutralise @everyone, @here, and user, role, channel and command mentions."""
    text = _MENTION.sub(lambda m: f"@{ZERO_WIDTH}{m.group(1)}", text)
    return _TAG.sub(lambda m: f"<{ZERO_WIDTH}{m.group(1)}{m.group(2)}", text)


def escape_markdown(text: str) -> str:
    """Escape Markdown that would change how article text reads (emphasis, code, quotes, headings, links)."""
    text = _MARKDOWN.sub(r"\\\1", text)
    return _LINE_START.sub(lambda m: f"{m.group(1)}\\{m.group(2)}", text)


def safe(text: str) -> str:
    """Return article text that can neither ping anyone nor break a message's formatting."""
    return no_pings(escape_markdown(text))


def web_url(url: str | None) -> str | None:
    """Return ``url`` when it is a web address Discord can link to (http or https, a host, no spaces, control
    characters or angle brackets, at most 2,048 characters), else None."""
    if not url or len(url) > MAX_URL or _UNSAFE_IN_URL.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme in ("http", "https") and parts.hostname else None


def linked(text: str, url: str | None) -> str:
    """Return already-safe ``text`` as a Markdown link to ``url``, or as it is when ``url`` is not a web address."""
    address = web_url(url)
    return f"[{text}](<{address}>)" if address else text
