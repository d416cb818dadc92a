"""Markdown and plain-text digests, for the terminal, the CLI and webhooks without embeds."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from digests.compose import Digest, DigestItem
from digests.render.discord import empty_line, footer_text, heading_title, more_line, window_line
from digests.render.safe import escape_markdown, no_pings


def _when(item: DigestItem, zone: ZoneInfo) -> str:
    when = item.published_at or item.ready_at
    return f"{when.astimezone(zone):%d %b %H:%M}" if when else ""


def markdown(digest: Digest) -> str:
    """Render the digest as Markdown; article text is escaped and cannot ping."""
    zone = ZoneInfo(digest.timezone)
    lines = [f"# {escape_markdown(heading_title(digest))}", "", f"_{digest.shown} of {digest.matched} new article(s), "
             f"{window_line(digest)}_", ""]  # fmt: skip
    for group in digest.groups:
        lines += [f"## {escape_markdown(group.topic)}", ""]
        for item in group.items:
            title = no_pings(escape_markdown(item.title))
            lines.append(f"### [{title}](<{item.url}>)" if item.url else f"### {title}")
            lines += [f"*{no_pings(escape_markdown(footer_text(item)))} · {_when(item, zone)}*", ""]
            for section in item.sections:
                heading = f"**{no_pings(escape_markdown(section.heading))}** " if section.heading else ""
                lines += [f"{heading}{no_pings(escape_markdown(section.summary))}", ""]
    more = more_line(digest)
    if more:
        lines.append(f"_{more}_")
    empty = empty_line(digest)
    if empty:
        lines.append(f"_{empty}_")
    return "\n".join(lines).rstrip() + "\n"


def plain_text(digest: Digest) -> str:
    """Render the digest as plain text."""
    zone = ZoneInfo(digest.timezone)
    lines = [heading_title(digest), f"{digest.shown} of {digest.matched} new article(s), {window_line(digest)}", ""]
    for group in digest.groups:
        lines += [group.topic.upper(), ""]
        for item in group.items:
            lines.append(item.title)
            lines.append(f"  {footer_text(item)} · {_when(item, zone)}")
            if item.url:
                lines.append(f"  {item.url}")
            for section in item.sections:
                lines.append(f"  {section.heading}: {section.summary}" if section.heading else f"  {section.summary}")
            lines.append("")
    more = more_line(digest)
    if more:
        lines.append(more)
    empty = empty_line(digest)
    if empty:
        lines.append(empty)
    return "\n".join(lines).rstrip() + "\n"
