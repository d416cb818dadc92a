"""Countries and topics on the sample briefings and on tricky cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from digests.collect.parse import parse_file
from digests.collect.sectionize import Sectionizer
from digests.errors import ConfigError
from digests.inference import SentenceEncoder
from digests.settings import SectionSettings
from digests.tagging.countries import CountryTagger, country_name
from digests.tagging.topics import Topic, TopicTagger, load_topics, taxonomy_version
from tests.conftest import REPO, SAMPLES, SHARED_DATA


def _sample(name: str) -> tuple[str, str]:
    path = SAMPLES / "articles" / name
    (article,) = parse_file(path.read_bytes(), path=path, sectionizer=Sectionizer(SectionSettings()), teaser_chars=0)
    return article.title, article.text


def codes(text: str, title: str = "") -> list[str]:
    return [c.code for c in CountryTagger().tag(title, text)]


def test_sample_briefing_countries_in_salience_order() -> None:
    title, text = _sample("japan-britain-cyber-minerals.txt")
    found = codes(text, title)
    assert sorted(found) == ["CN", "GB", "JP", "TW", "US"]
    assert set(found[:2]) == {"JP", "GB"}


def test_shared_example_countries() -> None:
    example = SHARED_DATA.parent / "examples" / "briefing-japan-britain.txt"
    if not example.exists():
        pytest.skip("../shared/examples is absent")
    found = codes(example.read_text())
    assert sorted(found) == ["CN", "GB", "JP", "TW", "US"]
    assert set(found[:2]) == {"JP", "GB"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Officials in Britain and the UK Treasury met U.S. and American envoys.", {"GB", "US"}),
        ("South Korea's exports rose; Seoul welcomed the news.", {"KR"}),
        ("North Korea fired a missile from near Pyongyang.", {"KP"}),
        ("The Japanese and British navies trained near Tokyo.", {"JP", "GB"}),
        ("Voters in New Mexico went to the polls.", {"US"}),
        ("Mexico City and Guadalajara saw protests.", {"MX"}),
        ("Michael Jordan scored 40 points.", set()),
        ("King Abdullah of Jordan met the delegation in Amman.", {"JO"}),
        ("Atlanta, Georgia, and Texas had storms.", {"US"}),
        ("Georgia's government in Tbilisi protested to Russia.", {"GE", "RU"}),
        ("She served roast turkey on fine china.", set()),
        ("Turkey and China signed a trade deal.", {"TR", "CN"}),
        ("Latin American markets rallied.", set()),
        ("The Indian Ocean route is busy; India's navy patrols it.", {"IN"}),
        ("Chad Smith and Chad's president spoke.", {"TD"}),
        ("TURKEY AND US AGREE ON TARIFFS", {"TR", "US"}),
        ("Exports from Côte d'Ivoire and Ivory Coast cocoa.", {"CI"}),
    ],
)
def test_tricky_country_mentions(text: str, expected: set[str]) -> None:
    assert {c.code for c in CountryTagger().score("", text)} == expected


def test_salience_keeps_what_an_article_is_about() -> None:
    text = (
        "Brazil's central bank raised rates on Tuesday. Brasilia said inflation in Brazil was too high. "
        "Brazilian bonds fell. Analysts in the region compared it with Peru."
    )
    ranked = CountryTagger().score("Brazil raises rates", text)
    assert ranked[0].code == "BR"
    assert ranked[0].mentions == 5
    assert CountryTagger(keep_ratio=0.3).tag("Brazil raises rates", text)[0].code == "BR"
    assert "PE" not in [c.code for c in CountryTagger(keep_ratio=0.3).tag("Brazil raises rates", text)]


def test_country_names() -> None:
    assert country_name("gb") == "United Kingdom"
    assert country_name("TW") == "Taiwan"
    assert country_name("XX") == "XX"
    # The short names people use, not pycountry's formal ones ("Russian Federation").
    assert [country_name(c) for c in ("RU", "KR", "IR", "CD")] == ["Russia", "South Korea", "Iran", "DR Congo"]


@pytest.fixture(scope="module")
def topic_tagger() -> TopicTagger:
    topics = load_topics(REPO / "config" / "topics.toml")
    return TopicTagger(topics, SentenceEncoder(int8=True), threshold=0.35, first_threshold=0.22)


def test_default_taxonomy_covers_the_news() -> None:
    topics = load_topics(REPO / "config" / "topics.toml")
    names = {t.name for t in topics}
    assert len(names) == 20
    assert {"cybersecurity", "critical minerals and supply chains", "diplomacy and alliances", "migration"} <= names
    assert {"sport", "culture and entertainment", "science"} <= names
    assert all(t.examples for t in topics)


def test_sample_briefing_topics(topic_tagger: TopicTagger) -> None:
    (topics,) = topic_tagger.tag([_sample("japan-britain-cyber-minerals.txt")])
    assert {t.name for t in topics} == {
        "cybersecurity",
        "critical minerals and supply chains",
        "diplomacy and alliances",
    }
    assert all(t.score > 0 for t in topics)
    assert [t.score for t in topics] == sorted((t.score for t in topics), reverse=True)


@pytest.mark.parametrize(
    ("name", "topic"),
    [
        ("eu-steel-tariffs.txt", "trade and tariffs"),
        ("kenya-geothermal.txt", "energy"),
        ("chile-lithium.html", "critical minerals and supply chains"),
    ],
)
def test_other_samples_lead_with_their_topic(topic_tagger: TopicTagger, name: str, topic: str) -> None:
    (topics,) = topic_tagger.tag([_sample(name)])
    assert topics[0].name == topic
    assert len(topics) <= 3


def test_short_items_get_their_topic_and_text_outside_the_taxonomy_gets_none(topic_tagger: TopicTagger) -> None:
    short = [
        ("Cup final", "The striker scored twice as the home side won the cup final 3-1."),
        ("New album", "The band's fourth record tops the charts in its first week."),
        ("Rates held", "The central bank kept interest rates unchanged, citing slowing inflation."),
    ]
    assert [topics[0].name for topics in topic_tagger.tag(short)] == [
        "sport",
        "culture and entertainment",
        "economy and markets",
    ]
    (topics,) = topic_tagger.tag([("Lorem ipsum", "Lorem ipsum dolor sit amet, consectetur adipiscing elit.")])
    assert topics == []


def test_a_keyword_alone_never_decides(topic_tagger: TopicTagger) -> None:
    (topics,) = topic_tagger.tag([_sample("kenya-geothermal.txt")])  # mentions "clinics" once
    assert "health" not in {t.name for t in topics}
    names = [t.name for t in topic_tagger.topics]
    evidence = topic_tagger.evidence(*_sample("kenya-geothermal.txt"))
    assert evidence[names.index("health")] > 0  # the keyword is there; the meaning does not back it


def test_keyword_spans_are_claimed_once(topic_tagger: TopicTagger) -> None:
    names = [t.name for t in topic_tagger.topics]
    evidence = topic_tagger.evidence("", "They agreed on cyber defence.")
    assert evidence[names.index("cybersecurity")] > 0
    assert evidence[names.index("defense and military")] == 0  # "defence" is part of "cyber defence"


def test_taxonomy_version_changes_with_the_file(tmp_path: Path) -> None:
    topics = [Topic(name="a", description="first", keywords=["x"])]
    changed = [Topic(name="a", description="first", keywords=["x", "y"])]
    assert taxonomy_version(topics) != taxonomy_version(changed)
    bad = tmp_path / "topics.toml"
    bad.write_text('[[topic]]\nname = "a"\n')
    with pytest.raises(ConfigError, match="topic 1 is invalid: description"):
        load_topics(bad)
    bad.write_text("[[topic]\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_topics(bad)


def test_learned_layer_finds_implicit_countries_and_drops_passing_mentions() -> None:
    results = "Acme Corp said first quarter net profit rose to 12.5 mln dlrs, or 45 cts a share, from 9.1 mln dlrs."
    assert codes(results, "ACME CORP 1ST QTR NET") == ["US"]
    assert "GB" in codes("Pre-tax profit rose to 412 mln stg from 380 mln, the company said.", "Hanson plc profit up")
    bond = (
        "The Kingdom of Sweden's export credit agency is raising 200 mln dlrs through a five-year eurobond with a "
        "coupon of 7-3/8 pct, joint lead managers said. Denominations are 5,000 dlrs and the notes will be listed "
        "in Luxembourg."
    )
    found = codes(bond, "SWEDISH AGENCY SETS EUROBOND")
    assert found[0] == "SE"
    assert "LU" not in found  # the listing is a passing mention
    assert "LU" in [c.code for c in CountryTagger(model=None).tag("SWEDISH AGENCY SETS EUROBOND", bond)]


def test_country_training_writes_a_model_the_tagger_reads(tmp_path: Path) -> None:
    from bench.train_countries import train
    from digests.tagging.country_model import CountryModel, load_model

    rows = []
    for i in range(60):
        rows.append(
            {"id": f"u{i}", "title": f"Firm {i} results", "text": f"Net {i} mln dlrs. Shares rose.", "places": ["usa"]}
        )
        rows.append(
            {"id": f"j{i}", "title": f"Maker {i} results", "text": f"Profit {i} billion yen.", "places": ["japan"]}
        )
        rows.append(
            {"id": f"f{i}", "title": "France talks", "text": f"Paris said {i} talks went on.", "places": ["france"]}
        )
        rows.append({"id": f"p{i}", "title": "Firm sales", "text": f"Sales in Japan rose {i}.", "places": ["usa"]})
    model = train(rows)
    path = tmp_path / "model.json"
    path.write_text(json.dumps(model))
    loaded = load_model(path)
    assert isinstance(loaded, CountryModel)
    tagger = CountryTagger(model=loaded)
    assert [c.code for c in tagger.tag("Maker results", "Profit 7 billion yen.")] == ["JP"]
    assert [c.code for c in tagger.tag("Firm results", "Net 3 mln dlrs.")] == ["US"]
