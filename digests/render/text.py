"""Markdown and plain-text digests, for the terminal, the CLI and webhooks without embeds."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from digests.compose import Digest, DigestItem
from digests.render.discord import empty_line, footer_text, heading_title, more_line, shown_sections, window_line
from digests.render.safe import escape_markdown, linked, no_pings


def _when(item: DigestItem, zone: ZoneInfo) -> str:
    when = item.published_at or item.ready_at
    return f"{when.astimezone(zone):%d %b %H:%M}" if when else ""


def markdown(digest: Digest) -> str:
    """Render the digest as Markdown; article text is escaped and cannot ping."""
    zone = ZoneInfo(digest.timezone)
    lines = [f"# {escape_markdown(heading_title(digest))}", "", f"_{digest.shown} of {digest.matched} new stories, "
             f"{window_line(digest)}_", ""]  # fmt: skip
    for group in digest.groups:
        lines += [f"## {escape_markdown(group.topic)}", ""]
        for item in group.items:
            title = no_pings(escape_markdown(item.title))
            lines.append(f"### {linked(title, item.url)}")
            update = "**Update** · " if item.update else ""
            lines += [f"{update}*{no_pings(escape_markdown(footer_text(item)))} · {_when(item, zone)}*", ""]
            for line in item.new_lines:
                lines += [f"**New:** {no_pings(escape_markdown(line))}", ""]
            for section in shown_sections(item):
                heading = f"**{no_pings(escape_markdown(section.heading))}** " if section.heading else ""
                lines += [f"{heading}{no_pings(escape_markdown(section.summary))}", ""]
            if not item.sections and item.summary:
                lines += [no_pings(escape_markdown(item.summary)), ""]
            if len(item.articles) > 1:
                for article in item.articles:
                    name = no_pings(escape_markdown(f"{article.source}: {article.title}"))
                    lines.append(f"- {linked(name, article.url)}")
                lines.append("")
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
    lines = [heading_title(digest), f"{digest.shown} of {digest.matched} new stories, {window_line(digest)}", ""]
    for group in digest.groups:
        lines += [group.topic.upper(), ""]
        for item in group.items:
            lines.append(f"[update] {item.title}" if item.update else item.title)
            lines.append(f"  {footer_text(item)} · {_when(item, zone)}")
            if item.url:
                lines.append(f"  {item.url}")
            lines.extend(f"  New: {line}" for line in item.new_lines)
            for section in shown_sections(item):
                lines.append(f"  {section.heading}: {section.summary}" if section.heading else f"  {section.summary}")
            if not item.sections and item.summary:
                lines.append(f"  {item.summary}")
            lines.append("")
    more = more_line(digest)
    if more:
        lines.append(more)
    empty = empty_line(digest)
    if empty:
        lines.append(empty)
    return "\n".join(lines).rstrip() + "\n"


def stories_text(stories: list[dict[str, Any]], *, markdown: bool) -> str:
    """Render stories (as ``sitrep stories --format json`` gives them) as Markdown or plain text."""
    lines: list[str] = []
    for story in stories:
        outlets = list(dict.fromkeys(a["source"] for a in story["articles"]))
        times = f"first seen {story['first_seen']}, updated {story['last_updated']}"
        if markdown:
            lines += [f"## {escape_markdown(story['title'])}", ""]
            lines += [f"_Story {story['id']} · {len(outlets)} outlet(s) · {times}_", ""]
            if story["summary"]:
                lines += [no_pings(escape_markdown(story["summary"])), ""]
            for article in story["articles"]:
                name = no_pings(escape_markdown(f"{article['source']}: {article['title']}"))
                lines.append(f"- {linked(name, article['url'])}")
        else:
            lines += [f"[{story['id']}] {story['title']}", f"  {len(outlets)} outlet(s): {', '.join(outlets)}"]
            lines.append(f"  {times}")
            for article in story["articles"]:
                link = f" <{article['url']}>" if article["url"] else ""
                lines.append(f"  - {article['source']}: {article['title']}{link}")
        lines.append("")
    return "\n".join(lines)
