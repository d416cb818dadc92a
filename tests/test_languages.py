"""Languages: detected offline and stored, countries found in other languages, filters, labels, translation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from digests.compose import DigestFilters
from digests.errors import NotFoundError
from digests.inference import SentenceEncoder
from digests.render.text import markdown
from digests.services import queries
from digests.services.collection import ingest
from digests.services.digests import digest_now
from digests.services.enrichment import Enricher, EnrichReport, enrich_pending
from digests.settings import Settings
from digests.store.db import Database
from digests.store.models import Article, Section
from digests.tagging.countries import CountryTagger
from digests.tagging.language import detect_language, language_name, resolve_language
from tests.conftest import make_settings
from tests.models import build_marian

PORTUGUESE = (
    "Governo brasileiro reage a tarifas dos EUA",
    "O governo brasileiro anunciou nesta terça-feira que vai recorrer à Organização Mundial do Comércio contra as "
    "novas tarifas dos EUA sobre o aço. O ministro disse em Brasília que as exportações do país podem cair.\n\n"
    "Segundo o ministério, as siderúrgicas brasileiras exportaram mais de cinco milhões de toneladas no ano passado.",
)
GERMAN = (
    "Bundesregierung erhöht Ausgaben für Verteidigung",
    "Die Bundesregierung will wegen der russischen Bedrohung deutlich mehr Geld für die Bundeswehr ausgeben, "
    "sagte der Kanzler am Dienstag in Berlin. Die Opposition kritisierte die Pläne als unzureichend.",
)
ENGLISH = (
    "Japan and Britain sign a cyber defence pact",
    "Japan and Britain signed an agreement on Tuesday to share threat intelligence and protect undersea cables, "
    "officials in Tokyo said. The pact also covers supplies of critical minerals.",
)
THREE = {"pt": PORTUGUESE, "de": GERMAN, "en": ENGLISH}


def test_languages_are_detected_offline_and_named() -> None:
    assert detect_language(*PORTUGUESE) == "pt"
    assert detect_language(*GERMAN) == "de"
    assert detect_language(*ENGLISH) == "en"
    assert detect_language("Hi", "") is None  # too little text to tell
    assert language_name("pt") == "Portuguese"
    assert resolve_language("German") == "de"
    assert resolve_language(" PT ") == "pt"
    with pytest.raises(NotFoundError, match="Unknown language"):
        resolve_language("Klingonese")


def test_countries_in_other_languages() -> None:
    tagger = CountryTagger()
    assert {c.code for c in tagger.tag(*PORTUGUESE, "pt")} == {"BR", "US"}
    assert next(c.code for c in tagger.tag(*GERMAN, "de")) == "DE"
    assert "RU" in {c.code for c in tagger.tag(*GERMAN, "de")}
    spanish = ("España y Marruecos firman un acuerdo", "El gobierno español y el marroquí firmaron el martes en Rabat.")
    assert {c.code for c in tagger.tag(*spanish, "es")} >= {"ES", "MA"}
    # Lower-case demonyms of other languages are read only in their language.
    english = ("Coffee shop opens", "The new cafe sells a brasileiro blend and an espanhol pastry.")
    assert "BR" not in {c.code for c in tagger.tag(*english, "en")}
    assert "BR" in {c.code for c in tagger.tag(*english, "pt")}


def _write(folder: Path, articles: dict[str, tuple[str, str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, (title, text) in articles.items():
        (folder / f"{name}.txt").write_text(f"{title}\n\n{text}\n", encoding="utf-8")
    return folder


async def _enrich(
    database: Database, encoder: SentenceEncoder, settings: Settings, folder: Path, articles: dict[str, tuple[str, str]]
) -> EnrichReport:
    """Ingest the articles from a folder, then summarize and tag them."""
    await ingest([str(_write(folder, articles))], database=database, settings=settings)
    enricher = Enricher(settings, encoder=encoder)
    try:
        return await enrich_pending(database=database, enricher=enricher)
    finally:
        enricher.close()


async def test_language_is_stored_filtered_and_labelled(
    database: Database, encoder: SentenceEncoder, tmp_path: Path
) -> None:
    settings = make_settings(database.url)
    await _enrich(database, encoder, settings, tmp_path / "feed", THREE)
    async with database.sessions() as session:
        stored = {a.title: a.language for a in await session.scalars(select(Article))}
    assert stored == {PORTUGUESE[0]: "pt", GERMAN[0]: "de", ENGLISH[0]: "en"}

    now = datetime.now(UTC)
    window = DigestFilters(since=now - timedelta(days=1), until=now + timedelta(minutes=1))
    everything = await digest_now(database, window)
    assert everything.matched == 3
    only = await digest_now(database, DigestFilters(since=window.since, until=window.until, languages=("pt", "de")))
    assert {item.language for item in only.items} == {"pt", "de"}
    text = markdown(only)
    assert "in Portuguese" in text
    assert "in German" in text
    assert "in English" not in markdown(everything)

    latest = await queries.latest(database, guild_id=None, country="BR", language="pt")
    assert [a.title for a in latest] == [PORTUGUESE[0]]
    assert await queries.latest(database, guild_id=None, country="BR", language="de") == []


async def test_translation_through_a_local_model(
    sqlite_database: Database, encoder: SentenceEncoder, tmp_path: Path
) -> None:
    model = build_marian(tmp_path / "marian", always="Atlantis")
    settings = make_settings(
        sqlite_database.url, translate={"enabled": True, "model": str(model), "languages": ["pt"], "offline": True}
    )
    await _enrich(
        sqlite_database, encoder, settings, tmp_path / "feed", {"pt": PORTUGUESE, "de": GERMAN, "en": ENGLISH}
    )
    async with sqlite_database.sessions() as session:
        rows = {a.language: a for a in await session.scalars(select(Article))}
    portuguese = rows["pt"]
    assert portuguese.title == PORTUGUESE[0]  # the original stays
    assert portuguese.title_translated
    assert set(portuguese.title_translated.split()) == {"Atlantis"}
    assert portuguese.summary_translated
    assert "Atlantis" in portuguese.summary_translated
    assert rows["de"].title_translated is None  # German is not in the languages to translate
    assert rows["en"].title_translated is None

    now = datetime.now(UTC)
    digest = await digest_now(
        sqlite_database, DigestFilters(since=now - timedelta(days=1), until=now, languages=("pt",))
    )
    (item,) = digest.items
    assert item.translated
    assert item.title == portuguese.title_translated
    assert "translated from Portuguese" in markdown(digest)


async def test_a_translation_model_that_cannot_load_leaves_articles_tagged(
    sqlite_database: Database, encoder: SentenceEncoder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / "no-such-model"
    settings = make_settings(sqlite_database.url, translate={"enabled": True, "model": str(missing), "offline": True})
    report = await _enrich(sqlite_database, encoder, settings, tmp_path / "feed", {"pt": PORTUGUESE})
    assert report.articles_tagged == 1
    async with sqlite_database.sessions() as session:
        (article,) = await session.scalars(select(Article))
    assert article.language == "pt"
    assert article.title_translated is None
    assert article.ready_at is not None
    assert "Translation is on but failed" in caplog.text
    assert str(missing) in caplog.text


async def test_a_summarizer_model_that_cannot_load_falls_back_once_to_extractive(
    sqlite_database: Database, encoder: SentenceEncoder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / "no-such-summarizer"
    settings = make_settings(
        sqlite_database.url, summarize={"backend": "abstractive", "model": str(missing), "offline": True}
    )
    articles = {"pt": PORTUGUESE, "en": ("Kenya opens a geothermal plant", "Nairobi said the plant adds power.")}
    report = await _enrich(sqlite_database, encoder, settings, tmp_path / "feed", articles)
    assert report.articles_tagged == 2
    async with sqlite_database.sessions() as session:
        backends = set(await session.scalars(select(Section.summary_backend)))
    assert backends == {"extractive"}
    warnings = [r for r in caplog.records if "cannot be used" in r.getMessage()]
    assert len(warnings) == 1
    assert str(missing) in warnings[0].getMessage()


def test_a_translation_model_that_failed_is_not_asked_for_again(tmp_path: Path) -> None:
    from digests.inference import ModelLoadError
    from digests.settings import TranslateSettings
    from digests.summarize.translate import Translator

    translator = Translator(TranslateSettings(enabled=True, model=str(tmp_path / "none"), offline=True))
    assert translator.wanted("pt")
    with pytest.raises(ModelLoadError):
        translator.translate(["Olá"])
    assert not translator.wanted("pt")  # translation off until restart, with no second load attempt
