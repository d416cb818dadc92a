from pathlib import Path

import pytest

from digests.collect.parse import html_to_text, parse_file, parse_text
from digests.collect.sectionize import Sectionizer, heading_key, split_sentences
from digests.errors import SourceError
from digests.settings import SectionSettings
from tests.conftest import SAMPLES, SHARED_DATA

BRIEFING_HEADINGS = ["What's Happening?", "Why It's Important?", "What's Next?", "Beyond the Headlines"]


@pytest.fixture
def sectionizer() -> Sectionizer:
    return Sectionizer(SectionSettings(headings=BRIEFING_HEADINGS, boilerplate=[r"^advertisement$", r"^read more\b.*"]))


def test_briefing_headings_without_blank_lines(sectionizer: Sectionizer) -> None:
    text = (
        "What's Happening?\nTokyo and London signed a pact. It covers cyber defence and\n"
        "critical minerals.\nWhy It's Important?\nIt matters for the region.\n"
        "What's Next?\nA work plan follows.\nBeyond the Headlines\nAlliances are shifting.\n\n\n\n"
    )
    sections = sectionizer.split(text)
    assert [s.heading for s in sections] == BRIEFING_HEADINGS
    # A hard-wrapped line is joined back into its sentence.
    assert sections[0].text == "Tokyo and London signed a pact. It covers cyber defence and critical minerals."
    assert sections[-1].text == "Alliances are shifting."


def test_curly_apostrophes_and_case_still_match_known_headings(sectionizer: Sectionizer) -> None:
    sections = sectionizer.split("WHAT’S HAPPENING?\nSomething happened.\nbeyond the headlines\nMore context here.")
    assert [s.heading for s in sections] == ["WHAT’S HAPPENING?", "beyond the headlines"]
    assert heading_key("What’s  Next ?") == heading_key("what's next?")


def test_shared_example_briefing_keeps_its_four_sections(sectionizer: Sectionizer) -> None:
    example = SHARED_DATA.parent / "examples" / "briefing-japan-britain.txt"
    if not example.exists():
        pytest.skip("../shared/examples is absent")
    sections = sectionizer.split(example.read_text())
    assert [s.heading for s in sections] == BRIEFING_HEADINGS
    assert all(s.text and not s.text.endswith("\n") for s in sections)
    assert "Sanae Takaichi" in sections[0].text  # the line broken mid-name is joined


def test_markdown_headings_lead_and_empty_heading(sectionizer: Sectionizer) -> None:
    text = "# The Title\n\nLead paragraph.\n\n## Part one\nOne.\n\n### Empty\n## Part two\n\nTwo.\n"
    sections = sectionizer.split(text, title="The Title")
    assert [(s.heading, s.text) for s in sections] == [
        (None, "Lead paragraph."),
        ("Part one", "One."),
        ("Part two", "Two."),
    ]


def test_setext_and_bold_headings(sectionizer: Sectionizer) -> None:
    sections = sectionizer.split("Overview\n========\nFirst part.\n\n**Details:**\nSecond part.")
    assert [(s.heading, s.text) for s in sections] == [("Overview", "First part."), ("Details", "Second part.")]


def test_question_inside_prose_is_not_a_heading(sectionizer: Sectionizer) -> None:
    text = "Officials were asked whether the deal would hold and\nwhether it is enough?\nNobody answered."
    sections = sectionizer.split(text)
    assert [s.heading for s in sections] == [None]


def test_short_standalone_question_is_a_heading(sectionizer: Sectionizer) -> None:
    sections = sectionizer.split("The talks ended.\n\nWho Gains Most?\nExporters do.")
    assert [s.heading for s in sections] == [None, "Who Gains Most?"]


def test_html_headings(sectionizer: Sectionizer) -> None:
    title, body = html_to_text(
        "<html><head><title>Page</title><script>var x=1;</script></head><body><nav>Home | About</nav>"
        "<h1>Page</h1><p>Intro <b>text</b>.</p><h2>Why It Matters</h2><p>Because.</p>"
        "<h4>Small heading</h4><ul><li>one</li><li>two</li></ul><footer>Copyright</footer></body></html>"
    )
    assert title == "Page"
    sections = sectionizer.split(body, title=title)
    assert [(s.heading, s.text) for s in sections] == [
        (None, "Intro text."),
        ("Why It Matters", "Because."),
        ("Small heading", "- one\n\n- two"),
    ]


def test_paragraphs_without_headings_are_grouped_to_size() -> None:
    sectionizer = Sectionizer(SectionSettings(target_chars=300, max_chars=1000))
    paragraphs = [f"Paragraph {i} " + "word " * 30 for i in range(10)]
    sections = sectionizer.split("\n\n".join(paragraphs))
    assert len(sections) > 1
    assert all(s.heading is None for s in sections)
    assert all(len(s.text) <= 1000 for s in sections)
    # Nothing lost and order kept.
    joined = "\n\n".join(s.text for s in sections)
    assert joined == "\n\n".join(p.strip() for p in paragraphs)


def test_oversized_paragraph_splits_at_sentences_then_words() -> None:
    sectionizer = Sectionizer(SectionSettings(target_chars=200, max_chars=400))
    sentence = "This sentence is about trade. "
    huge_word_run = "x" * 50 + " " + "word " * 200
    sections = sectionizer.split(sentence * 40 + "\n\n" + huge_word_run)
    assert all(len(s.text) <= 400 for s in sections)
    assert sum(s.text.count("trade") for s in sections) == 40


def test_whitespace_boilerplate_and_trailing_blank_lines(sectionizer: Sectionizer) -> None:
    text = "  First\u00a0\u00a0line   here.\r\n\r\n\r\nAdvertisement\r\nRead more: other story\n\u200bSecond.\n\n\n\n\n"
    sections = sectionizer.split(text)
    assert [s.text for s in sections] == ["First line here.\n\nSecond."]


def test_empty_text_has_no_sections(sectionizer: Sectionizer) -> None:
    assert sectionizer.split("\n\n  \n") == []


def test_every_sample_article_has_sections(sectionizer: Sectionizer) -> None:
    for path in sorted((SAMPLES / "articles").glob("*.txt")):
        article = parse_text(path.read_text(), path=path, sectionizer=sectionizer, source_name="samples")
        assert article.sections, path
        assert article.title not in ("", path.stem)


def test_split_sentences_keeps_initials_and_abbreviations() -> None:
    text = "The U.S. Navy sailed. Mr. Smith met Gen. Lee in Jan. 2024. J. R. Doe agreed."
    assert split_sentences(text) == [
        "The U.S. Navy sailed.",
        "Mr. Smith met Gen. Lee in Jan. 2024.",
        "J. R. Doe agreed.",
    ]


def test_split_sentences() -> None:
    assert split_sentences('He said "yes." Then left. 3 ships sank! Why? Done') == [
        'He said "yes."',
        "Then left.",
        "3 ships sank!",
        "Why?",
        "Done",
    ]


def test_text_file_title_is_first_line(sectionizer: Sectionizer, tmp_path: Path) -> None:
    article = parse_text("\n\n# A Title\nWhat's Next?\nMore.\n", path=tmp_path / "a.md", sectionizer=sectionizer,
                         source_name="x")  # fmt: skip
    assert article.title == "A Title"
    assert [(s.heading, s.text) for s in article.sections] == [("What's Next?", "More.")]


def test_odd_text_files_are_read_not_refused(sectionizer: Sectionizer, tmp_path: Path) -> None:
    one_line = tmp_path / "wire.txt"
    one_line.write_text(
        "Kenya's parliament approved a geothermal expansion on Tuesday. The plan adds 300 megawatts by 2028."
    )
    (article,) = parse_file(one_line.read_bytes(), path=one_line, sectionizer=sectionizer, teaser_chars=600)
    assert article.title == "Kenya's parliament approved a geothermal expansion on Tuesday."
    assert "300 megawatts" in article.text

    nuls = tmp_path / "nuls.txt"
    nuls.write_bytes(b"Port strike ends\n\nDock workers went back to work on Monday\x00 after a deal.\x00\n")
    (article,) = parse_file(nuls.read_bytes(), path=nuls, sectionizer=sectionizer, teaser_chars=600)
    assert article.text == "Dock workers went back to work on Monday after a deal."

    broken = tmp_path / "broken.txt"
    broken.write_bytes("Café talks in Zürich\n\nMinisters met in Zürich; the café was closed ".encode() + b"\xff.\n")
    (article,) = parse_file(broken.read_bytes(), path=broken, sectionizer=sectionizer, teaser_chars=600)
    assert article.title == "Café talks in Zürich"  # not "CafÃ©": the rest is UTF-8
    assert "Zürich" in article.text

    binary = tmp_path / "image.txt"
    binary.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(SourceError, match="not a text file"):
        parse_file(binary.read_bytes(), path=binary, sectionizer=sectionizer, teaser_chars=600)


def test_a_file_without_a_title_line_keeps_its_first_heading(sectionizer: Sectionizer, tmp_path: Path) -> None:
    briefing = tmp_path / "briefing.txt"
    briefing.write_text(
        "What's Happening?\nJapan and Britain agreed to work together on cyber defence. Talks went well.\n"
        "Why It's Important?\nIt answers China's reach in the region.\n"
    )
    (article,) = parse_file(briefing.read_bytes(), path=briefing, sectionizer=sectionizer, teaser_chars=600)
    assert article.title == "Japan and Britain agreed to work together on cyber defence."
    assert [s.heading for s in article.sections] == ["What's Happening?", "Why It's Important?"]
    assert article.source_name == "briefing.txt"  # a file's own name, never "."

    prose = tmp_path / "note.md"
    prose.write_text(
        "Officials in Nairobi said on Monday that the geothermal plant would open next year after delays.\n\n"
        "The plant adds 300 megawatts to the grid.\n"
    )
    (article,) = parse_file(prose.read_bytes(), path=prose, sectionizer=sectionizer, teaser_chars=600)
    assert article.title.startswith("Officials in Nairobi said on Monday")
    assert "Officials in Nairobi" in article.text  # the first line is text, not lost as a title


@pytest.mark.skipif(not (SHARED_DATA.parent / "examples").exists(), reason="../shared is not here")
def test_the_shared_briefing_gets_a_title_and_all_four_sections(sectionizer: Sectionizer) -> None:
    path = SHARED_DATA.parent / "examples" / "briefing-japan-britain.txt"
    (article,) = parse_file(path.read_bytes(), path=path, sectionizer=sectionizer, teaser_chars=600)
    assert article.title.startswith("Japan and Britain have agreed to strengthen their cooperation")
    assert article.sections[0].heading == "What's Happening?"
    assert article.source_name == "briefing-japan-britain.txt"


def test_split_sentences_before_a_quoted_bracket() -> None:
    # An editor's insertion at the start of a quote: '"[The minister] will ...' starts a sentence.
    assert split_sentences('We need a plan. "[The minister] will advise us. He agreed.') == [
        "We need a plan.",
        '"[The minister] will advise us.',
        "He agreed.",
    ]
