"""Make article text safe to show on Discord: no pings, no accidental formatting, within limits."""

from __future__ import annotations

import re

from digests.text import ZERO_WIDTH

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
