"""Rendering: every Discord limit holds for any input; nothing pings; Markdown cannot break out."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digests.compose import Coverage, Digest, DigestFilters, DigestGroup, DigestItem, SectionLine
from digests.render import discord_messages, markdown, plain_text
from digests.render.discord import (
    AUTHOR,
    DESCRIPTION,
    EMBEDS_PER_MESSAGE,
    FIELD_NAME,
    FIELD_VALUE,
    FIELDS,
    FOOTER,
    MESSAGE_TOTAL,
    TITLE,
    embed_size,
)
from digests.render.safe import escape_markdown, no_pings
from digests.text import cut

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=3000)
hostile = st.sampled_from(["@everyone", "@here", "<@123456789>", "<@&42>", "<#77>", "**bold**", "`code`", "> quote",
                           "# heading", "[link](https://evil.example)", "||spoiler||", "~~x~~", "\\", "_"])  # fmt: skip
words = st.lists(st.one_of(text, hostile), max_size=6).map(" ".join)


@st.composite
def items(draw: st.DrawFn) -> DigestItem:
    sections = draw(st.lists(st.tuples(st.one_of(st.none(), words), words), max_size=40))
    return DigestItem(
        article_id=draw(st.integers(1, 10**6)),
        title=draw(words),
        url=draw(st.one_of(st.none(), st.just("https://news.example/a"), st.just("file:///tmp/x.txt"))),
        source=draw(words),
        published_at=draw(st.one_of(st.none(), st.just(NOW))),
        ready_at=NOW,
        countries=draw(st.lists(st.sampled_from(["JP", "GB", "US", "XX"]), max_size=5)),
        topics=draw(st.lists(words, max_size=3)),
        summary=draw(words),
        sections=[SectionLine(h, s) for h, s in sections],
        articles=[Coverage(source, "", None, None) for source in draw(st.lists(words, max_size=3))],
    )


@st.composite
def digests(draw: st.DrawFn) -> Digest:
    groups = draw(st.lists(st.tuples(words, st.lists(items(), min_size=1, max_size=8)), max_size=5))
    digest_groups = [DigestGroup(topic, members) for topic, members in groups]
    shown = sum(len(g.items) for g in digest_groups)
    filters = DigestFilters(since=NOW - timedelta(days=1), until=NOW)
    return Digest(
        title=draw(words),
        window_start=filters.since,
        window_end=filters.until,
        timezone=draw(st.sampled_from(["UTC", "Asia/Tokyo", "America/New_York"])),
        groups=digest_groups,
        matched=shown + draw(st.integers(0, 500)),
        counts_by_topic={g.topic: len(g.items) for g in digest_groups},
        filters=filters,
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(digests())
def test_every_discord_limit_holds(digest: Digest) -> None:
    messages = discord_messages(digest)
    assert messages
    embeds = [embed for message in messages for embed in message["embeds"]]
    assert len(embeds) == 1 + digest.shown  # nothing dropped, header first
    for message in messages:
        assert message["allowed_mentions"] == {"parse": []}
        assert 1 <= len(message["embeds"]) <= EMBEDS_PER_MESSAGE
        assert sum(embed_size(e) for e in message["embeds"]) <= MESSAGE_TOTAL
        for embed in message["embeds"]:
            assert 0 < len(embed["title"]) <= TITLE
            assert len(embed.get("description", "")) <= DESCRIPTION
            assert len(embed.get("fields", [])) <= FIELDS
            assert len(embed.get("footer", {}).get("text", "")) <= FOOTER
            assert len(embed.get("author", {}).get("name", "")) <= AUTHOR
            for field in embed.get("fields", []):
                assert 0 < len(field["name"]) <= FIELD_NAME
                assert 0 < len(field["value"]) <= FIELD_VALUE
            if "url" in embed:
                assert embed["url"].startswith("https://")
            rendered = " ".join(
                [embed["title"], embed.get("description", ""), embed.get("footer", {}).get("text", "")]
                + [f["name"] + f["value"] for f in embed.get("fields", [])]
            )
            assert re.search(r"@(everyone|here)", rendered, re.IGNORECASE) is None
            assert re.search(r"<(@[!&]?|#|/)\w", rendered) is None  # user, role, channel, command mentions
    # Order is kept: the article embeds follow the digest's items.
    titles = [e["title"] for e in embeds[1:]]
    assert len(titles) == digest.shown


def test_long_digest_becomes_several_messages_in_order() -> None:
    sections = [SectionLine(f"Part {n}", "word " * 200) for n in range(6)]
    group = DigestGroup("energy", [
        DigestItem(i, f"Story {i}", None, "Wire", NOW, NOW, [], ["energy"], "", sections) for i in range(30)
    ])  # fmt: skip
    filters = DigestFilters(since=NOW - timedelta(days=1), until=NOW)
    digest = Digest("Briefing", filters.since, filters.until, "UTC", [group], 30, {"energy": 30}, filters)
    messages = discord_messages(digest)
    assert len(messages) > 3
    titles = [e["title"] for m in messages for e in m["embeds"]][1:]
    assert titles == [f"Story {i}" for i in range(30)]


def test_safety_helpers() -> None:
    assert no_pings("hi @everyone and <@123> in <#9>") == "hi @\u200beveryone and <\u200b@123> in <\u200b#9>"
    assert escape_markdown("**x** _y_ `z` [a](b)") == r"\*\*x\*\* \_y\_ \`z\` \[a\](b)"
    assert escape_markdown("> quoted\n# head") == "\\> quoted\n\\# head"
    assert cut("alpha beta gamma", 12) == "alpha beta…"
    assert cut("short", 10) == "short"


def test_markdown_and_text_renderers() -> None:
    item = DigestItem(1, "Cyber *pact* @everyone", "https://n.example/1", "Wire", NOW, NOW, ["JP"], ["cybersecurity"],
                      "", [SectionLine("What's Next?", "Talks follow.")])  # fmt: skip
    filters = DigestFilters(since=NOW - timedelta(days=1), until=NOW)
    digest = Digest("Briefing", filters.since, filters.until, "Asia/Tokyo", [DigestGroup("cybersecurity", [item])], 3,
                    {"cybersecurity": 1}, filters)  # fmt: skip
    md = markdown(digest)
    assert "# Briefing — Friday 27 November 2026" in md
    assert "### [Cyber \\*pact\\* @\u200beveryone](<https://n.example/1>)" in md
    assert "**What's Next?** Talks follow." in md
    assert "2 more matching stories" in md
    text_out = plain_text(digest)
    assert "CYBERSECURITY" in text_out
    assert "What's Next?: Talks follow." in text_out
    assert "Japan" in text_out


def test_footers_are_plain_text_without_escapes() -> None:
    item = DigestItem(1, "Title", None, "Reuters_World *Wire*", NOW, NOW, ["JP"], ["trade and tariffs"], "", [])
    filters = DigestFilters(since=NOW - timedelta(days=1), until=NOW)
    digest = Digest("Briefing", filters.since, filters.until, "UTC", [DigestGroup("trade", [item])], 1, {}, filters)
    (message,) = discord_messages(digest)
    footer = message["embeds"][1]["footer"]["text"]
    assert footer.startswith("Reuters_World *Wire* | Japan")  # Discord does not render Markdown in footers
    assert "\\" not in footer


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://n.example/a(b)", "[T](<https://n.example/a(b)>)"),
        ("http://n.example/x", "[T](<http://n.example/x>)"),
        ("javascript:alert(1)", "T"),
        ("file:///etc/passwd", "T"),
        ("https://n.example/a> [x](https://evil.example", "T"),
        ("https://n.example/a\nb", "T"),
        ("https:///no-host", "T"),
        ("https://n.example/" + "a" * 2100, "T"),
        (None, "T"),
    ],
)
def test_links_only_to_web_addresses_that_cannot_break_the_markdown(url: str | None, expected: str) -> None:
    from digests.render.safe import linked

    assert linked("T", url) == expected


def test_an_updates_new_lines_are_not_repeated_under_its_sections() -> None:
    new = "Congress named José María Balcázar as the country's leader on Wednesday."
    item = DigestItem(1, "Peru's Congress ousts Jeri", None, "AP", NOW, NOW, ["PE"], ["politics"], "",
                      [SectionLine(None, f"Peru's Congress removed José Jerí on Tuesday. {new}"),
                       SectionLine("What's Next?", new)])  # fmt: skip
    item.new_lines, item.update = [new], True
    filters = DigestFilters(since=NOW - timedelta(days=1), until=NOW)
    digest = Digest("Briefing", filters.since, filters.until, "UTC", [DigestGroup("politics", [item])], 1, {}, filters)
    (message,) = discord_messages(digest)
    fields = message["embeds"][1]["fields"]
    assert [f["name"] for f in fields] == ["New", "In brief"]  # the section that only repeated it is gone
    assert fields[1]["value"] == "Peru's Congress removed José Jerí on Tuesday."
    for rendered in (markdown(digest), plain_text(digest)):
        assert rendered.count("Balcázar") == 1
