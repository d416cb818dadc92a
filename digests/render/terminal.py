"""Show Discord message payloads in the terminal with rich, close to how Discord shows them."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from digests.text import ZERO_WIDTH, printable

_ESCAPED = re.compile(r"\\([\\*_~`|\[\]>#-]|\d)")


def _plain(text: str) -> str:
    """Undo the Discord escaping for the terminal, where it would show as backslashes; no control characters."""
    return printable(_ESCAPED.sub(r"\1", text).replace(ZERO_WIDTH, ""))


def _bold_markdown(text: str) -> Text:
    parts = re.split(r"(\*\*[^*]+\*\*)", _plain(text))
    rendered = Text()
    for part in parts:
        if part.startswith("**") and part.endswith("**"):
            rendered.append(part[2:-2], style="bold")
        else:
            rendered.append(part)
    return rendered


def embed_panel(embed: dict[str, Any]) -> Panel:
    """Return one embed as a rich panel: title (and link), description, fields, footer and time."""
    body: list[Any] = []
    if embed.get("author", {}).get("name"):
        body.append(Text(_plain(embed["author"]["name"]), style="magenta"))
    if embed.get("url"):
        body.append(Text(printable(embed["url"]), style="underline blue"))
    if embed.get("description"):
        body.append(_bold_markdown(embed["description"]))
    for field in embed.get("fields", []):
        body.append(Text(_plain(field["name"]), style="bold cyan"))
        body.append(Text(_plain(field["value"])))
    footer = _plain(embed.get("footer", {}).get("text", ""))
    if embed.get("timestamp"):
        when = datetime.fromisoformat(embed["timestamp"])
        footer = f"{footer} · {when:%d %b %Y %H:%M %Z}".strip(" ·")
    if footer:
        body.append(Text(footer, style="dim"))
    return Panel(
        Group(*body),
        title=f"[bold]{escape(_plain(embed.get('title', '')))}[/]",
        title_align="left",
        border_style="blue",
    )


def print_messages(console: Console, messages: list[dict[str, Any]]) -> None:
    """Print every embed of every message, in order."""
    for message in messages:
        if message.get("content"):
            console.print(_plain(message["content"]), markup=False)
        for embed in message.get("embeds", []):
            console.print(embed_panel(embed))
