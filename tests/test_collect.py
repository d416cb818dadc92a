"""Ingesting and collecting end to end: real files, a real local HTTP server, a real database."""

from __future__ import annotations

import asyncio
import io
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select

from digests.errors import NotFoundError
from digests.services.collection import collect_due_sources, ingest
from digests.services.sources import enable_global_source, sync_sources
from digests.settings import Settings
from digests.store import sources as source_repo
from digests.store.db import Database
from digests.store.models import Article, Section
from tests.conftest import SAMPLES, SHARED_DATA, make_settings
from tests.factories import count_articles, get_article
from tests.httpserver import LocalServer


def rss(*items: tuple[str, str, str]) -> str:
    body = "".join(
        f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid><description>{text}</description></item>"
        for title, link, text in items
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Local news</title>{body}</channel></rss>'


LONG = "Officials met in Geneva to discuss the ceasefire terms in detail. " * 12


async def test_ingest_samples_once(database: Database) -> None:
    settings = make_settings(database.url)
    first = await ingest([str(SAMPLES / "articles")], database=database, settings=settings)
    assert (first.new, first.updated, first.unchanged, first.errors) == (5, 0, 0, [])
    second = await ingest([str(SAMPLES / "articles"), str(SAMPLES / "feed.xml")], database=database, settings=settings)
    # The feed lists the same files as teasers: nothing new, nothing overwritten.
    assert (second.new, second.updated, second.unchanged) == (0, 0, 10)
    assert await count_articles(database) == 5
    async with database.sessions() as session:
        headings = (await session.scalars(select(Section.heading).where(Section.position == 0))).all()
        assert "What's Happening?" in headings


async def test_feed_with_full_text_resolves_local_links(sqlite_database: Database) -> None:
    settings = make_settings(sqlite_database.url, collect={"fetch_full_text": True})
    report = await ingest([str(SAMPLES / "feed.xml")], database=sqlite_database, settings=settings)
    assert (report.new, report.errors) == (5, [])
    async with sqlite_database.sessions() as session:
        texts = (await session.scalars(select(Article.text))).all()
    assert all(len(text) > 500 for text in texts)  # the files' full text, not the feed's one-line teasers
    again = await ingest([str(SAMPLES / "articles")], database=sqlite_database, settings=settings)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 5)


async def test_feed_over_http_new_unchanged_updated(database: Database, http_server: LocalServer) -> None:
    settings = make_settings(database.url)
    items = [("One", "http://news.example/1", LONG), ("Two", "http://news.example/2", LONG)]
    http_server.serve("/rss", rss(*items), content_type="application/rss+xml")
    url = http_server.url("/rss")
    assert (await ingest([url], database=database, settings=settings)).new == 2
    assert (await ingest([url], database=database, settings=settings)).unchanged == 2
    http_server.serve("/rss", rss(items[0], ("Two", "http://news.example/2", LONG + " A correction.")))
    report = await ingest([url], database=database, settings=settings)
    assert (report.new, report.updated, report.unchanged) == (0, 1, 1)


async def test_teaser_gets_full_text_from_its_link(sqlite_database: Database, http_server: LocalServer) -> None:
    settings = make_settings(sqlite_database.url, collect={"fetch_full_text": True})
    page = f"<html><head><title>Full</title></head><body><article><h1>Full</h1><p>{LONG}</p></article></body></html>"
    http_server.serve("/story", page)
    http_server.serve(
        "/rss", rss(("Story", http_server.url("/story"), "A teaser…")), content_type="application/rss+xml"
    )
    report = await ingest([http_server.url("/rss")], database=sqlite_database, settings=settings)
    assert (report.new, report.errors) == (1, [])
    async with sqlite_database.sessions() as session:
        stored = await session.scalar(select(Article))
    assert stored is not None
    assert "ceasefire terms" in stored.text
    assert stored.title == "Story"
    # Seen again, a known teaser costs no fetch of its page.
    await ingest([http_server.url("/rss")], database=sqlite_database, settings=settings)
    assert http_server.hits("/story") == 1


async def test_web_page(sqlite_database: Database, http_server: LocalServer) -> None:
    settings = make_settings(sqlite_database.url)
    http_server.serve(
        "/page",
        "<html><head><title>Port strike | Example</title></head><body><nav>Menu</nav><article><h1>Port strike</h1>"
        f"<p>{LONG}</p><h2>What's Next?</h2><p>Talks resume on Monday with a mediator present.</p>"
        "</article></body></html>",
    )
    report = await ingest([http_server.url("/page?utm_source=x")], database=sqlite_database, settings=settings)
    assert (report.new, report.errors) == (1, [])
    async with sqlite_database.sessions() as session:
        first = (await session.scalar(select(Article.id))) or 0
    stored = await get_article(sqlite_database, first)
    assert stored is not None
    assert stored.title == "Port strike"
    assert stored.url == http_server.url("/page")
    assert [s.heading for s in stored.sections] == [None, "What's Next?"]


async def test_bad_inputs_give_clear_errors_and_keep_the_store(sqlite_database: Database, tmp_path: Path,
                                                               http_server: LocalServer) -> None:  # fmt: skip
    settings = make_settings(sqlite_database.url, collect={"max_file_bytes": 10_000})
    await ingest([str(SAMPLES / "articles")], database=sqlite_database, settings=settings)
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "big.txt").write_text("Title\n" + "word " * 5000)
    binaries = tmp_path / "binaries"
    binaries.mkdir()
    (binaries / "a.bin").write_bytes(bytes(range(256)) * 10)
    (binaries / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (binaries / "c.txt").write_bytes(b"\x00\x01\x02 binary pretending to be text")
    broken = '<rss version="2.0"><channel><title>B</title><item><title>Kept</title><description>Salvaged body.'
    (tmp_path / "broken.xml").write_text(broken + "</description></item><item><title>Cut")
    (tmp_path / "latin1.txt").write_bytes("Café crème\nLe ministre a parlé à Genève.".encode("latin-1"))
    http_server.status("/500", 500)
    http_server.endless("/huge", 50 * 1024 * 1024)
    http_server.redirect("/loop", "/loop2")
    http_server.redirect("/loop2", "/loop")
    targets = [str(tmp_path / n) for n in ("empty.txt", "big.txt", "binaries", "broken.xml", "latin1.txt", "nope")]
    targets += [http_server.url(p) for p in ("/500", "/huge", "/loop")]
    report = await ingest(targets, database=sqlite_database, settings=settings)
    by_source = {Path(s.source).name or s.source: s for s in report.sources}
    assert "empty" in by_source["empty.txt"].errors[0]
    assert "too large" in by_source["big.txt"].errors[0]
    assert "not a text file" in by_source["binaries"].errors[0]
    assert "skipped 2 file(s)" in by_source["binaries"].warnings[0]
    assert by_source["broken.xml"].new == 1
    assert "malformed feed" in by_source["broken.xml"].warnings[0]
    assert by_source["latin1.txt"].new == 1
    assert "no such file" in by_source["nope"].errors[0]
    assert "HTTP 500" in report.sources[6].errors[0]
    assert "too large" in report.sources[7].errors[0]
    assert "redirect loop" in report.sources[8].errors[0]
    assert await count_articles(sqlite_database) == 7
    async with sqlite_database.sessions() as session:
        titles = set((await session.scalars(select(Article.title))).all())
    assert {"Kept", "Café crème"} <= titles


async def test_every_shared_feed_ingests_without_an_exception(sqlite_database: Database) -> None:
    feeds = SHARED_DATA / "feeds"
    if not feeds.exists():
        pytest.skip("../shared/data/feeds is absent")
    settings = make_settings(sqlite_database.url)
    files = sorted(str(p) for p in feeds.rglob("*") if p.is_file())
    report = await ingest(files, database=sqlite_database, settings=settings)
    assert len(report.sources) == len(files)
    unexpected = [e for e in report.errors if "unexpected error" in e]
    assert unexpected == []
    again = await ingest(files, database=sqlite_database, settings=settings)
    assert again.new == 0


def _sources_file(tmp_path: Path, body: str) -> Settings:
    path = tmp_path / "sources.toml"
    path.write_text(body)
    return make_settings(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", collect={"sources_file": str(path)})


async def test_collect_due_sources_conditional_get_and_backoff(tmp_path: Path, http_server: LocalServer) -> None:
    http_server.serve("/rss", rss(("One", "http://n.example/1", LONG)), content_type="application/rss+xml", ETag='"e1"')
    http_server.status("/down", 503)
    folder = tmp_path / "local"
    shutil.copytree(SAMPLES / "articles", folder)
    settings = _sources_file(
        tmp_path,
        f"""
[[source]]
name = "Good feed"
location = "{http_server.url("/rss")}"
interval_minutes = 10
[[source]]
name = "Down feed"
location = "{http_server.url("/down")}"
interval_minutes = 10
[[source]]
name = "Local folder"
location = "local"
""",
    )
    database = Database(settings.database_url)
    await database.migrate()
    try:
        await sync_sources(database=database, settings=settings)
        report = await collect_due_sources(database=database, settings=settings)
        by_name = {s.source: s for s in report.sources}
        assert by_name["Good feed"].new == 1
        assert by_name["Local folder"].new == 5
        assert "HTTP 503" in by_name["Down feed"].errors[0]

        async with database.sessions() as session:
            sources = {s.name: s for s in await source_repo.list_sources(session=session)}
        down, good = sources["Down feed"], sources["Good feed"]
        assert (down.failures, down.enabled) == (1, True)
        assert down.next_fetch_at - down.last_fetched_at == timedelta(minutes=20)
        assert good.etag == '"e1"'
        assert timedelta(minutes=10) <= good.next_fetch_at - good.last_fetched_at <= timedelta(minutes=11)

        # Nothing is due yet; an hour later everything is, and the feed answers 304.
        assert (await collect_due_sources(database=database, settings=settings)).sources == []
        later = good.next_fetch_at + timedelta(hours=1)
        report = await collect_due_sources(database=database, settings=settings, now=later)
        by_name = {s.source: s for s in report.sources}
        assert by_name["Good feed"].not_modified
        feed_requests = [headers for path, headers in http_server.requests if path == "/rss"]
        assert feed_requests[-1].get("If-None-Match") == '"e1"'
        async with database.sessions() as session:
            sources = {s.name: s for s in await source_repo.list_sources(session=session)}
            assert sources["Down feed"].failures == 2
            assert await count_articles(database) == 6
    finally:
        await database.dispose()


async def test_source_disabled_after_repeated_failures(tmp_path: Path, http_server: LocalServer) -> None:
    http_server.status("/down", 500)
    settings = _sources_file(tmp_path, f'[[source]]\nname = "Down"\nlocation = "{http_server.url("/down")}"\n')
    settings = settings.model_copy(update={"collect": settings.collect.model_copy(update={"max_failures": 3})})
    database = Database(settings.database_url)
    await database.migrate()
    try:
        await sync_sources(database=database, settings=settings)
        now = None
        for _ in range(3):
            await collect_due_sources(database=database, settings=settings, now=now)
            async with database.sessions() as session:
                (source,) = await source_repo.list_sources(session=session)
            now = source.next_fetch_at
        assert not source.enabled
        assert "3 failures" in (source.disabled_reason or "")
        assert "HTTP 500" in (source.disabled_reason or "")
        assert (
            await collect_due_sources(database=database, settings=settings, now=now + timedelta(days=9))
        ).sources == []
        # The sources file still lists it as enabled; syncing it again does not bring it back.
        await sync_sources(database=database, settings=settings)
        async with database.sessions() as session:
            (source,) = await source_repo.list_sources(session=session)
        assert (source.enabled, source.failures) == (False, 3)
        assert "3 failures" in (source.disabled_reason or "")
        # Only an admin does.
        with pytest.raises(NotFoundError):
            await enable_global_source("Nope", database=database)
        assert (await enable_global_source("down", database=database)).enabled
        await sync_sources(database=database, settings=settings)
        async with database.sessions() as session:
            (source,) = await source_repo.list_sources(session=session)
        assert (source.enabled, source.failures, source.disabled_reason) == (True, 0, None)
    finally:
        await database.dispose()


async def test_the_operator_is_told_when_a_source_is_disabled(tmp_path: Path, http_server: LocalServer) -> None:
    from rich.console import Console

    from digests.app import App

    http_server.status("/down", 500)
    settings = _sources_file(tmp_path, f'[[source]]\nname = "Down"\nlocation = "{http_server.url("/down")}"\n')
    settings = settings.model_copy(update={"collect": settings.collect.model_copy(update={"max_failures": 1})})
    app = await App.open(settings, console=Console(file=io.StringIO()))
    notices: list[str] = []

    async def notice(message: str) -> None:
        notices.append(message)

    app.notifiers.append(notice)
    try:
        await app.collect()
    finally:
        await app.close()
    (message,) = notices
    assert "'Down' is disabled" in message
    assert "sitrep sources enable Down" in message


async def test_local_sources_never_read_outside_their_folder(sqlite_database: Database, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("Secret title\n\nThe launch codes are 0000, and nobody outside may read them. " * 5)
    watched = tmp_path / "watched"
    (watched / "deeper").mkdir(parents=True)
    inside = watched / "deeper" / "inside.txt"
    inside.write_text("Inside story\n\nA long story that lives inside the watched folder, told at length. " * 5)
    depth = "../" * len(watched.parts)
    items = [
        ("Climbs out", f"{depth}{str(secret).lstrip('/')}"),
        ("Absolute", secret.as_uri()),
        ("Stays in", "deeper/inside.txt"),
    ]
    entries = "".join(
        f"<item><title>{title}</title><link>{link}</link><guid>{title}</guid><description>Teaser.</description></item>"
        for title, link in items
    )
    (watched / "feed.xml").write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Local</title>{entries}</channel></rss>'
    )
    (watched / "linked.txt").symlink_to(secret)
    settings = make_settings(sqlite_database.url, collect={"fetch_full_text": True})

    report = await ingest([str(watched)], database=sqlite_database, settings=settings)

    async with sqlite_database.sessions() as session:
        texts = " ".join((await session.scalars(select(Article.text))).all())
    assert "launch codes" not in texts
    assert "lives inside the watched folder" in texts  # a link inside the folder is still followed
    warnings = " ".join(report.sources[0].warnings)
    assert "linked.txt: a link to outside the folder; not read" in warnings
    assert warnings.count("links outside its source's folder") == 2


@pytest.mark.parametrize("full_text", [False, True])
async def test_first_collection_counts_copies_from_other_sources_apart(tmp_path: Path, full_text: bool) -> None:
    samples = f'location = "{SAMPLES / "articles"}"\nkind = "path"\n'
    feed = f'location = "{SAMPLES / "feed.xml"}"\nkind = "path"\n'
    settings = _sources_file(tmp_path, f'[[source]]\nname = "Folder"\n{samples}\n[[source]]\nname = "Feed"\n{feed}')
    settings = settings.model_copy(
        update={"collect": settings.collect.model_copy(update={"fetch_full_text": full_text})}
    )
    database = Database(settings.database_url)
    await database.migrate()
    try:
        await sync_sources(database=database, settings=settings)
        report = await collect_due_sources(database=database, settings=settings)
    finally:
        await database.dispose()
    # Together they hold five articles, once each; nothing was seen before, so nothing is "unchanged".
    assert (report.new, report.unchanged) == (5, 0)
    if full_text:
        assert (report.updated, report.duplicates) == (0, 5)
    else:
        # Without full text, the feed's teasers are replaced by the folder's text when the feed is read first.
        assert report.updated + report.duplicates == 5


def _page(title: str) -> str:
    return (
        f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1><p>{LONG}</p></article></body></html>"
    )


async def test_a_teasers_page_is_asked_for_again_after_a_transient_failure(
    tmp_path: Path, http_server: LocalServer
) -> None:
    settings = _sources_file(tmp_path, f'[[source]]\nname = "Wire"\nlocation = "{http_server.url("/rss")}"\n')
    collect = {"fetch_full_text": True, "full_text_retry_minutes": 10, "full_text_attempts": 3}
    settings = settings.model_copy(update={"collect": settings.collect.model_copy(update=collect)})
    http_server.serve(
        "/rss", rss(("Story", http_server.url("/story"), "A teaser…")), content_type="application/rss+xml"
    )
    http_server.status("/story", 503)
    database = Database(settings.database_url)
    await database.migrate()
    try:
        await sync_sources(database=database, settings=settings)
        first = await collect_due_sources(database=database, settings=settings)
        assert first.new == 1
        assert "asking again later" in first.sources[0].warnings[0]
        # The page is back; the next collection before the retry is due does not ask, the one after does.
        http_server.serve("/story", _page("Story"))
        soon = datetime.now(UTC) + timedelta(minutes=5)
        assert (await collect_due_sources(database=database, settings=settings, now=soon)).teasers_completed == 0
        later = datetime.now(UTC) + timedelta(minutes=11)
        assert (await collect_due_sources(database=database, settings=settings, now=later)).teasers_completed == 1
        assert http_server.hits("/story") == 2
        async with database.sessions() as session:
            stored = await session.scalar(select(Article))
        assert stored is not None
        assert "ceasefire terms" in stored.text
        assert (stored.full_text_due, stored.needs_tagging) == (None, True)  # to be summarized again, in full
        # A page that keeps failing is given up after collect.full_text_attempts tries.
        http_server.serve(
            "/rss", rss(("Other", http_server.url("/other"), "Another teaser…")), content_type="application/rss+xml"
        )
        http_server.status("/other", 500)
        when = later + timedelta(days=1)
        for _ in range(5):
            when += timedelta(days=1)
            await collect_due_sources(database=database, settings=settings, now=when)
        assert http_server.hits("/other") == 3
    finally:
        await database.dispose()


async def test_waiting_for_a_slot_is_not_counted_against_a_request(
    sqlite_database: Database, http_server: LocalServer
) -> None:
    settings = make_settings(
        sqlite_database.url,
        collect={"fetch_full_text": True},
        fetch={"max_per_host": 1, "total_timeout": 1.0},
    )
    items = [(f"Story {n}", http_server.url(f"/story{n}"), "A teaser…") for n in range(6)]
    http_server.serve("/rss", rss(*items), content_type="application/rss+xml")
    for n in range(6):

        async def slow_page(request: Any, n: int = n) -> Any:
            await asyncio.sleep(0.4)
            return web.Response(text=_page(f"Story {n}"), content_type="text/html")

        http_server.routes[f"/story{n}"] = slow_page
    report = await ingest([http_server.url("/rss")], database=sqlite_database, settings=settings)
    # One at a time, 0.4 s each: 2.4 s in all, but no single request took more than its 1 s.
    assert report.sources[0].warnings == []
    async with sqlite_database.sessions() as session:
        texts = (await session.scalars(select(Article.text))).all()
    assert len(texts) == 6
    assert all("ceasefire terms" in text for text in texts)


async def test_page_fetches_are_capped_per_feed_and_the_rest_follow(tmp_path: Path, http_server: LocalServer) -> None:
    settings = _sources_file(tmp_path, f'[[source]]\nname = "Big"\nlocation = "{http_server.url("/rss")}"\n')
    collect = {"fetch_full_text": True, "max_page_fetches_per_source": 4, "max_page_fetches_per_cycle": 6}
    settings = settings.model_copy(update={"collect": settings.collect.model_copy(update=collect)})
    items = [(f"Story {n}", http_server.url(f"/s{n}"), "A teaser…") for n in range(10)]
    http_server.serve("/rss", rss(*items), content_type="application/rss+xml")
    for n in range(10):
        http_server.serve(f"/s{n}", _page(f"Story {n}"))
    database = Database(settings.database_url)
    await database.migrate()
    try:
        await sync_sources(database=database, settings=settings)
        first = await collect_due_sources(database=database, settings=settings)
        assert first.new == 10
        assert "fetched the linked pages of 4 of 10 teasers" in first.sources[0].warnings[0]
        # What the feed's cap left over, the same collection's remaining budget starts on.
        fetched = sum(http_server.hits(f"/s{n}") for n in range(10))
        assert fetched == 6
        assert first.teasers_completed == 2
        second = await collect_due_sources(database=database, settings=settings, now=datetime.now(UTC))
        assert second.teasers_completed == 4
        async with database.sessions() as session:
            texts = (await session.scalars(select(Article.text))).all()
        assert all("ceasefire terms" in text for text in texts)
    finally:
        await database.dispose()


async def test_one_canonical_url_is_one_article_across_guids_and_sources(
    sqlite_database: Database, tmp_path: Path
) -> None:
    # One report under 50 guids, each link with its own tracking parameters, and again in a second feed.
    link = "https://n.example/world/peru-vote"
    items = "".join(
        f"<item><title>Peru votes</title><guid>urn:copy:{n}</guid><link>{link}?utm_source=feed{n}&amp;fbclid={n}</link>"
        "<description>Peruvians voted on Sunday in a tight race. The count begins on Monday.</description></item>"
        for n in range(50)
    )
    home = "<item><title>Front page</title><guid>h1</guid><link>https://n.example/</link><description>A.</description></item>"
    other = "<item><title>Front page too</title><guid>h2</guid><link>https://n.example/</link><description>B.</description></item>"
    first, second = tmp_path / "one.xml", tmp_path / "two.xml"
    first.write_text(f'<rss version="2.0"><channel><title>One</title>{items}{home}</channel></rss>')
    second.write_text(
        f'<rss version="2.0"><channel><title>Two</title>{items[: len(items) // 50]}{other}</channel></rss>'
    )
    settings = make_settings(sqlite_database.url)
    report = await ingest([str(first)], database=sqlite_database, settings=settings)
    assert report.new == 2  # the report once, and the front page
    again = await ingest([str(second)], database=sqlite_database, settings=settings)
    # The report is known by its URL; a front-page link names no one article, so it is not merged.
    assert (again.new, again.unchanged + again.duplicates) == (1, 1)
    async with sqlite_database.sessions() as session:
        urls = list(await session.scalars(select(Article.url).order_by(Article.id)))
    assert len([url for url in urls if url and url.startswith(link)]) == 1
    assert len(urls) == 3


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("cp1251", "Москва заявила о новых санкциях против Британии. Переговоры продолжатся в понедельник."),
        (
            "shift_jis",
            "東京で首脳会談が開かれた。両国は経済安全保障で協力することで合意した。次の会合は来月に予定されている。",
        ),
    ],
)
def test_a_feed_declared_utf8_in_another_encoding_is_read_in_its_own(encoding: str, text: str) -> None:
    from digests.collect.parse import parse_feed
    from digests.collect.sectionize import Sectionizer

    title = text.split("。")[0].split(".")[0]
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Wire</title>'
        f"<item><title>{title}</title><link>https://n.example/a</link><description>{text}</description></item>"
        "</channel></rss>"
    )
    for content_type in (None, "application/rss+xml; charset=utf-8"):
        document = parse_feed(
            xml.encode(encoding),
            location="https://n.example/feed",
            sectionizer=Sectionizer(make_settings().sections),
            teaser_chars=600,
            content_type=content_type,
        )
        (article,) = document.articles
        assert article.title == title
        assert text[:20] in article.text
        assert any("declared utf-8 but is not" in warning.lower() for warning in document.warnings)
    # A feed that is what it says is left alone.
    plain = parse_feed(
        xml.encode("utf-8"),
        location="https://n.example/feed",
        sectionizer=Sectionizer(make_settings().sections),
        teaser_chars=600,
    )
    assert plain.articles[0].title == title
    assert not plain.warnings
