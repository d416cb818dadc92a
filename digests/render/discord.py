"""Discord message payloads (plain JSON, no discord import): a header embed and one embed per article."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from digests.compose import Digest, DigestItem, SectionLine
from digests.render.safe import linked, no_pings, safe, web_url
from digests.tagging.countries import country_name
from digests.tagging.language import language_name
from digests.text import cut, split_sentences

TITLE = 256
DESCRIPTION = 4096
FIELDS = 25
FIELD_NAME = 256
FIELD_VALUE = 1024
FOOTER = 2048
AUTHOR = 256
MESSAGE_TOTAL = 6000
EMBEDS_PER_MESSAGE = 10
COLOR = 0x2F6DB5
NO_MENTIONS: dict[str, list[str]] = {"parse": []}


def embed_size(embed: dict[str, Any]) -> int:
    """Count the characters Discord counts toward its 6000-per-message limit."""
    size = len(embed.get("title", "")) + len(embed.get("description", ""))
    size += len(embed.get("footer", {}).get("text", "")) + len(embed.get("author", {}).get("name", ""))
    return size + sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", []))


def window_line(digest: Digest) -> str:
    """Describe the digest's window in its time zone."""
    zone = ZoneInfo(digest.timezone)
    start, end = digest.window_start.astimezone(zone), digest.window_end.astimezone(zone)
    return f"{start:%d %b %H:%M} – {end:%d %b %H:%M} ({digest.timezone})"


def heading_title(digest: Digest) -> str:
    """Return the digest's title with its date in the subscription's time zone."""
    end = digest.window_end.astimezone(ZoneInfo(digest.timezone))
    return f"{digest.title} — {end:%A %d %B %Y}"


def more_line(digest: Digest) -> str | None:
    """Say how many more articles matched than are shown, and how to see them."""
    if not digest.more:
        return None
    return f"{digest.more} more matching stories not shown: use /digest or /search to see them."


def empty_line(digest: Digest) -> str | None:
    """Say that nothing matched, and whether collected articles are still waiting to be summarized."""
    if digest.matched:
        return None
    if digest.waiting:
        return (
            f"Nothing new is ready in this window yet: {digest.waiting} collected article(s) are still being "
            "summarized and tagged."
        )
    return "Nothing new matched in this window."


def _header(digest: Digest) -> dict[str, Any]:
    lines = [f"**{digest.shown}** of **{digest.matched}** new stories, {window_line(digest)}"]
    if digest.counts_by_topic:
        lines.append("")
        lines.extend(f"• {safe(topic)}: {count}" for topic, count in digest.counts_by_topic.items())
    more = more_line(digest)
    if more:
        lines += ["", more]
    empty = empty_line(digest)
    if empty:
        lines += ["", empty]
    return {
        "title": cut(safe(heading_title(digest)), TITLE),
        "description": cut("\n".join(lines), DESCRIPTION),
        "color": COLOR,
    }


def outlets_line(item: DigestItem, limit: int = 4) -> str:
    """Return "Reported by N outlets: A, B, C +k" (or the one source) for an item's story."""
    outlets = item.outlets
    if len(outlets) == 1:
        return outlets[0]
    shown = ", ".join(outlets[:limit])
    more = f" +{len(outlets) - limit}" if len(outlets) > limit else ""
    return f"Reported by {len(outlets)} outlets: {shown}{more}"


def coverage_lines(item: DigestItem, limit: int = 5) -> list[str]:
    """Return one line per outlet's article (linked where it has a web address), at most ``limit`` and a count."""
    lines = []
    for article in item.articles[:limit]:
        lines.append(f"{linked(safe(article.source), article.url)}: {cut(safe(article.title), 80)}")
    if len(item.articles) > limit:
        lines.append(f"…and {len(item.articles) - limit} more")
    return lines


def language_label(item: DigestItem) -> str | None:
    """Name a non-English item's language ("Portuguese", "translated from Portuguese"); None for English."""
    if item.language in (None, "en"):
        return None
    name = language_name(item.language)
    return f"translated from {name}" if item.translated else f"in {name}"


def footer_text(item: DigestItem) -> str:
    """Return who reported the story, its language if not English, its countries and topics on one line."""
    parts = [outlets_line(item)]
    label = language_label(item)
    if label:
        parts.append(label)
    if item.first_seen and item.last_updated and (item.last_updated - item.first_seen).total_seconds() > 3600:
        parts.append(f"developing since {item.first_seen:%d %b %H:%M} UTC")
    if item.countries:
        parts.append(", ".join(country_name(c) for c in item.countries[:6]))
    if item.topics:
        parts.append(" · ".join(item.topics))
    return " | ".join(parts)


def _timestamp(item: DigestItem) -> str | None:
    when: datetime | None = item.last_updated or item.published_at or item.ready_at
    return when.isoformat() if when else None


def shown_sections(item: DigestItem) -> list[SectionLine]:
    """Return the item's sections as shown beside its "New" lines: a sentence already shown as new is not shown
    again under its section, and a section left empty is dropped."""
    new = {" ".join(line.split()) for line in item.new_lines}
    shown = []
    for section in item.sections:
        summary = section.summary
        if new:
            summary = " ".join(s for s in split_sentences(summary) if " ".join(s.split()) not in new)
        if summary.strip():
            shown.append(SectionLine(section.heading, summary))
    return shown


def _article(item: DigestItem, topic: str) -> dict[str, Any]:
    fields = []
    for section in shown_sections(item):
        fields.append(
            {
                "name": cut(safe(section.heading or "In brief"), FIELD_NAME),
                "value": cut(safe(section.summary), FIELD_VALUE),
                "inline": False,
            }
        )
    if item.new_lines:
        fields.insert(0, {"name": "New", "value": cut(safe(" ".join(item.new_lines)), FIELD_VALUE), "inline": False})
    if len(item.articles) > 1:
        fields.append(
            {
                "name": cut(f"Reported by {len(item.outlets)} outlet(s)", FIELD_NAME),
                "value": cut("\n".join(coverage_lines(item)), FIELD_VALUE),
                "inline": False,
            }
        )
    if len(fields) > FIELDS:
        hidden = len(fields) - (FIELDS - 1)
        fields = [*fields[: FIELDS - 1], {"name": "More", "value": f"…and {hidden} more section(s).", "inline": False}]
    embed: dict[str, Any] = {
        "title": cut(safe(item.title) or "Untitled", TITLE),
        "color": COLOR,
        "fields": fields,
        # Discord shows footers as plain text: escaping Markdown there would show the backslashes.
        "footer": {"text": cut(no_pings(footer_text(item)), FOOTER)},
        "author": {"name": cut(safe(f"Update · {topic}" if item.update else topic), AUTHOR)},
    }
    if not fields and item.summary:
        embed["description"] = cut(safe(item.summary), DESCRIPTION)
    url = web_url(item.url)
    if url:
        embed["url"] = url
    stamp = _timestamp(item)
    if stamp:
        embed["timestamp"] = stamp
    return _shrink(embed)


def _shrink(embed: dict[str, Any]) -> dict[str, Any]:
    """Trim the longest field values until one embed alone fits in a message."""
    while embed_size(embed) > MESSAGE_TOTAL:
        excess = embed_size(embed) - MESSAGE_TOTAL
        fields = embed.get("fields", [])
        if fields:
            longest = max(fields, key=lambda f: len(f["value"]))
            if len(longest["value"]) > 40:
                longest["value"] = cut(longest["value"], max(len(longest["value"]) - excess, 40))
                continue
            fields.pop()
            continue
        embed["description"] = cut(embed.get("description", ""), max(len(embed.get("description", "")) - excess, 0))
    return embed


FOLLOW = "_follow"
"""Payload key (never sent as such): [story, title] of each of a message's items, for the bot's Follow buttons."""
THREAD = "_thread"
"""Payload key (never sent as such): the story thread a message goes to instead of the channel."""


def sendable(payload: dict[str, Any]) -> dict[str, Any]:
    """Return a payload without Sitrep's own keys, as Discord takes it."""
    return {key: value for key, value in payload.items() if not key.startswith("_")}


def discord_messages(
    digest: Digest, *, threads: bool = False, subscription_id: int | None = None
) -> list[dict[str, Any]]:
    """Return the digest as Discord message payloads, in order, each within every Discord limit.

    With ``threads``, an update on a story the subscription had before goes to that story's thread (one
    message each, after the digest) instead of the digest itself.
    """
    embeds: list[tuple[dict[str, Any], list[Any] | None]] = [(_header(digest), None)]
    threaded: list[dict[str, Any]] = []
    for group in digest.groups:
        for item in group.items:
            if threads and item.update and item.story_id is not None:
                threaded.append(
                    {
                        "embeds": [_article(item, group.topic)],
                        "allowed_mentions": NO_MENTIONS,
                        THREAD: {"subscription": subscription_id, "story": item.story_id, "name": item.title},
                    }
                )
            else:
                story = [item.story_id, item.title] if item.story_id is not None else None
                embeds.append((_article(item, group.topic), story))
    if threaded and len(embeds) == 1:
        return threaded  # every item is an update in its story's thread: no header alone in the channel
    messages: list[dict[str, Any]] = []
    current: list[dict[str, Any]] = []
    stories: list[list[Any]] = []
    size = 0
    for embed, story in embeds:
        extra = embed_size(embed)
        if current and (len(current) == EMBEDS_PER_MESSAGE or size + extra > MESSAGE_TOTAL):
            messages.append({"embeds": current, "allowed_mentions": NO_MENTIONS, FOLLOW: stories})
            current, stories, size = [], [], 0
        current.append(embed)
        if story is not None:
            stories.append(story)
        size += extra
    if current:
        messages.append({"embeds": current, "allowed_mentions": NO_MENTIONS, FOLLOW: stories})
    return messages + threaded
