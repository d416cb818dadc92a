"""Read feeds, web pages and article files into ``ParsedArticle`` objects.

Everything here is synchronous, CPU-bound work; callers run it in an executor.
"""

from __future__ import annotations

import calendar
import codecs
import logging
import re
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import charset_normalizer
import feedparser
import lxml.etree
import lxml.html

from digests.collect.identity import article_key, canonical_url
from digests.collect.sectionize import RawSection, Sectionizer
from digests.errors import SourceError
from digests.text import cut, sha256, split_sentences

log = logging.getLogger(__name__)

TEXT_SUFFIXES = frozenset({".txt", ".text", ".md", ".markdown"})
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
FEED_SUFFIXES = frozenset({".xml", ".rss", ".atom", ".rdf"})
_FEED_ROOT = re.compile(rb"<(rss|feed|rdf:RDF|RDF|channel)[\s>/]", re.IGNORECASE)
_SKIP_TAGS = frozenset(
    {"script", "style", "noscript", "nav", "footer", "aside", "form", "iframe", "svg", "button", "template", "head"}
)
_WHITESPACE = re.compile(r"\s+")
TITLE_CHARS = 120
"""A title derived from an article's first sentence is cut to this length; a longer first line is no headline."""
HEADLINE_WORDS = 18
_HEADING_TAGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4}
_BLOCK_TAGS = frozenset(
    {"p", "div", "section", "article", "main", "blockquote", "pre", "ul", "ol", "li", "table", "tr", "dl", "dt",
     "dd", "figure", "figcaption", "h5", "h6", "header", "hr", "address", "details", "summary"}
)  # fmt: skip


@dataclass(slots=True)
class ParsedArticle:
    """An article as read from its source, sectioned, before it is stored."""

    title: str
    sections: list[RawSection]
    source_name: str
    url: str | None = None
    entry_id: str | None = None
    feed: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    teaser: bool = False

    @property
    def text(self) -> str:
        """Return the article's body as Markdown-like text, headings included."""
        return "\n\n".join(f"## {s.heading}\n\n{s.text}" if s.heading else s.text for s in self.sections)

    @property
    def key(self) -> str:
        """Return the article's identity (see ``identity.article_key``)."""
        return article_key(entry_id=self.entry_id, feed=self.feed, url=self.url, text=f"{self.title}\n{self.text}")

    @property
    def content_hash(self) -> str:
        """Return a hash of what a reader sees: title and sections."""
        return sha256(f"{self.title}\n{self.text}")


@dataclass(slots=True)
class FeedDocument:
    """A parsed feed: its title, its entries as articles, and what had to be salvaged."""

    title: str | None
    articles: list[ParsedArticle] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def decode(data: bytes, declared: str | None = None) -> str:
    """Decode bytes whatever their encoding: BOM, declared charset, UTF-8, then detection."""
    for bom, name in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(name, errors="replace").lstrip("\ufeff")
    candidates = [declared] if declared else []
    wide = _wide_encoding(data) if b"\x00" in data[:8192] else None
    candidates.extend([wide, "utf-8"] if wide else ["utf-8"])
    for name in candidates:
        try:
            return data.decode(name)
        except (LookupError, UnicodeDecodeError):
            continue
    if _mostly_utf8(data):
        return data.decode("utf-8", errors="replace")
    matches = charset_normalizer.from_bytes(data)
    best = matches.best()
    if best is not None:
        # On short Western text several code pages tie; Windows-1252 is by far the likeliest of them.
        for match in matches:
            tied = match.chaos <= best.chaos + 0.01 and match.coherence >= best.coherence - 0.01
            if tied and match.encoding == "cp1252":
                return str(match)
        return str(best)
    return data.decode("utf-8", errors="replace")


def _wide_encoding(data: bytes) -> str | None:
    """Name the UTF-16 or UTF-32 form that ``data`` (with NUL bytes) is written in, if any."""
    head = data[:4096]
    for name in ("utf-32", "utf-16", "utf-32-le", "utf-32-be", "utf-16-le", "utf-16-be"):
        unit = 4 if "32" in name else 2
        try:
            text = head[: len(head) - len(head) % unit].decode(name)
        except UnicodeDecodeError:
            continue
        if text and sum(ch.isprintable() or ch.isspace() for ch in text) >= 0.95 * len(text):
            return name
    return None


def _mostly_utf8(data: bytes) -> bool:
    """Tell whether ``data`` is UTF-8 text with a few broken bytes (rather than text in another encoding)."""
    text = data.decode("utf-8", errors="replace")
    broken = text.count("\ufffd")
    wide = sum(1 for ch in text if ord(ch) > 127 and ch != "\ufffd")
    return wide > 0 and broken <= max(3, wide // 10)


def _stray_nuls(data: bytes) -> bool:
    """Tell whether the NUL bytes in ``data`` are a few strays in text, not the mark of a binary file."""
    head = data[:8192]
    nuls = head.count(b"\x00")
    rest = head.replace(b"\x00", b"")
    printable = sum(1 for byte in rest if byte >= 32 or byte in b"\t\r\n")
    return nuls <= max(4, len(head) // 1000) and printable >= 0.95 * len(rest)


def is_binary(data: bytes) -> bool:
    """Tell whether ``data`` looks like a binary file rather than text in some encoding."""
    return b"\x00" in data[:8192] and _wide_encoding(data) is None and not _stray_nuls(data)


def strip_stray_nuls(data: bytes) -> bytes:
    """Drop the few stray NUL bytes of a text file (UTF-16 and UTF-32 text is left as it is)."""
    if b"\x00" in data[:8192] and _wide_encoding(data) is None:
        return data.replace(b"\x00", b"")
    return data


def looks_like_feed(data: bytes) -> bool:
    """Tell whether ``data`` starts like an RSS, RDF or Atom document."""
    head = data[:4096]
    if b"\x00" in head:
        wide = _wide_encoding(head)
        if wide is None:
            return False
        head = head.decode(wide, errors="ignore").encode("utf-8")
    head = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"<"):
        return False
    return bool(_FEED_ROOT.search(head)) and not head[:200].lower().startswith((b"<!doctype html", b"<html"))


def _clean_title(title: str | None) -> str:
    return " ".join((title or "").split())


def _inline(text: str) -> str:
    # White space inside HTML text is not meaningful; the structure supplies the line breaks.
    return _WHITESPACE.sub(" ", text)


def html_to_text(markup: str) -> tuple[str | None, str]:
    """Turn HTML into (title, Markdown-like text): ``#`` headings for h1-h4, blank lines between blocks."""
    if not markup.strip():
        return None, ""
    try:
        root = lxml.html.fromstring(markup)
    except (lxml.etree.ParserError, ValueError):
        return None, ""
    title_element = root.find(".//title")
    title = _clean_title(title_element.text_content()) if title_element is not None else None
    parts: list[str] = []

    def walk(element: Any) -> None:
        tag = element.tag if isinstance(element.tag, str) else ""
        tag = tag.lower()
        if tag in _SKIP_TAGS or not isinstance(element.tag, str):
            if element.tail:
                parts.append(_inline(element.tail))
            return
        if tag in _HEADING_TAGS:
            text = " ".join(element.text_content().split())
            if text:
                parts.append(f"\n\n{'#' * _HEADING_TAGS[tag]} {text}\n\n")
        else:
            block = tag in _BLOCK_TAGS
            if block:
                parts.append("\n\n")
            if tag == "br":
                parts.append("\n")
            if tag == "li":
                parts.append("- ")
            if element.text:
                parts.append(_inline(element.text))
            for child in element:
                walk(child)
            if block:
                parts.append("\n\n")
        if element.tail:
            parts.append(_inline(element.tail))

    body = root.find(".//body")
    walk(body if body is not None else root)
    return title, "".join(parts)


def _entry_time(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), UTC)
            except (OverflowError, ValueError, TypeError):
                continue
    return None


def _entry_html(entry: Any) -> str:
    contents = [c.get("value", "") for c in entry.get("content", []) if c.get("value")]
    summary = entry.get("summary", "") or ""
    return str(max([*contents, summary], key=len))


_XML_ENCODING = re.compile(rb"""^(\s*<\?xml[^>]*?\bencoding\s*=\s*["'])([A-Za-z0-9._-]+)(["'])""")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._-]+)", re.IGNORECASE)


def _in_its_real_encoding(data: bytes, content_type: str | None) -> tuple[bytes, str | None, str | None]:
    """Return a feed as UTF-8 when the encoding it declares cannot be right (Shift-JIS or Windows-1251 bytes
    declared as UTF-8), with a note of the mismatch; otherwise return it as it is, for feedparser to decode.

    A feed is taken at its word unless its bytes are not valid in the declared encoding: then the encoding is
    detected from the bytes (``decode``), which a fallback to Windows-1252 would turn into mojibake.
    """
    if b"\x00" in data[:8192] or data.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data, content_type, None
    from_header = _CHARSET.search(content_type or "")
    in_document = _XML_ENCODING.match(data[:512])
    declared = from_header.group(1) if from_header else in_document.group(2).decode() if in_document else "utf-8"
    try:
        data.decode(declared)
        return data, content_type, None
    except (LookupError, UnicodeDecodeError):
        pass  # not in the encoding it names
    text = decode(data)
    if text.count("\ufffd") > 3:
        return data, content_type, None  # undecidable: let feedparser do its best
    fixed = text.encode("utf-8")
    fixed = _XML_ENCODING.sub(rb"\g<1>utf-8\g<3>", fixed, count=1)
    header = _CHARSET.sub("charset=utf-8", content_type) if content_type else content_type
    return fixed, header, f"declared {declared} but is not; read in the encoding its bytes are in"


def parse_feed(
    data: bytes,
    *,
    location: str,
    sectionizer: Sectionizer,
    teaser_chars: int,
    content_type: str | None = None,
    source_name: str | None = None,
    base: str | None = None,
) -> FeedDocument:
    """Parse an RSS or Atom document, salvaging what it can from a malformed one.

    ``base`` is the address relative links are resolved against (the feed's own URL or file URI).
    """
    data, content_type, mismatch = _in_its_real_encoding(data, content_type)
    headers = {"content-type": content_type} if content_type else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = feedparser.parse(data, response_headers=headers, sanitize_html=True)
    document = FeedDocument(title=_clean_title(parsed.feed.get("title")) or None)
    if mismatch:
        document.warnings.append(f"{location}: {mismatch}")
    if parsed.bozo:
        reason = parsed.get("bozo_exception")
        if not parsed.entries and not parsed.get("version") and not document.title:
            raise SourceError(f"{location}: not a readable feed ({reason})")
        document.warnings.append(f"{location}: malformed feed, salvaged {len(parsed.entries)} entries ({reason})")
    name = source_name or document.title or location
    for number, entry in enumerate(parsed.entries, start=1):
        title = _clean_title(entry.get("title"))
        _, body = html_to_text(_entry_html(entry))
        link = entry.get("link") or None
        if link and base:
            link = urljoin(base, link)
        sections = sectionizer.split(body, title=title)
        if not sections and not title:
            document.warnings.append(f"{location}: entry {number} has neither title nor text; skipped")
            continue
        visible = sum(len(s.text) for s in sections)
        if not sections:
            sections = [RawSection(None, title)]
        document.articles.append(
            ParsedArticle(
                title=title or _first_words(sections[0].text),
                sections=sections,
                source_name=name,
                url=canonical_url(link),
                entry_id=entry.get("id") or None,
                feed=location,
                author=_clean_title(entry.get("author")) or None,
                published_at=_entry_time(entry),
                teaser=visible < teaser_chars,
            )
        )
    return document


def _first_words(text: str, limit: int = 12) -> str:
    words = text.split()
    return " ".join(words[:limit]) + ("…" if len(words) > limit else "")


def _header_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value) if "-" in value[:8] else parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_page(markup: str, *, url: str | None, sectionizer: Sectionizer, source_name: str) -> ParsedArticle:
    """Extract the main text and metadata of an HTML page with trafilatura, falling back to plain HTML."""
    import trafilatura  # imported lazily: it is slow to import and only pages need it

    document = None
    try:
        extracted = trafilatura.bare_extraction(
            markup, url=url, with_metadata=True, include_formatting=True, favor_recall=True
        )
        document = extracted if isinstance(extracted, trafilatura.settings.Document) else None
    except Exception as error:  # trafilatura raises many kinds on odd markup
        log.debug("trafilatura failed on %s: %s", url, error)
    fallback_title, fallback_text = html_to_text(markup)
    text = (document.text if document is not None else None) or ""
    if len(text) < 0.5 * len(fallback_text.strip()) or not text:
        text = fallback_text
    title = _clean_title(document.title if document is not None else None) or fallback_title or ""
    sections = sectionizer.split(text, title=title)
    if not sections:
        raise SourceError(f"{url or source_name}: the page has no readable text")
    return ParsedArticle(
        title=title or _first_words(sections[0].text),
        sections=sections,
        source_name=(document.sitename if document is not None and document.sitename else None) or source_name,
        url=canonical_url(url),
        author=_clean_title(document.author if document is not None else None) or None,
        published_at=_header_time(document.date if document is not None else None),
    )


def reads_like_headline(line: str, sectionizer: Sectionizer) -> bool:
    """Tell whether a first line is an article's title: short, not a sentence, not a known section heading."""
    words = line.split()
    if not words or len(words) > HEADLINE_WORDS or len(line) > TITLE_CHARS or sectionizer.is_known_heading(line):
        return False
    # A headline rarely ends like a sentence; a line that does and runs on is the text's first sentence.
    return not (line.rstrip("*_ ").endswith((".", "!", ";", ":")) and len(words) > 6)


def parse_text(text: str, *, path: Path, sectionizer: Sectionizer, source_name: str) -> ParsedArticle:
    """Read a plain-text or Markdown article: its first line is the title when it reads like a headline.

    Otherwise (a known section heading such as "What's Happening?", or prose) the whole file is the text,
    and the title is its first sentence cut short, or the file's name.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        raise SourceError(f"{path}: the file is empty")
    first_line = _clean_title(lines[0].lstrip("#").strip("*_ "))
    body = "\n".join(lines[1:])
    if body.strip() and reads_like_headline(first_line, sectionizer):
        title = first_line
    else:
        body = "\n".join(lines)
        title = _derived_title(body, sectionizer) or path.stem
    sections = sectionizer.split(body, title=title)
    if not sections:
        raise SourceError(f"{path}: the file has no text")
    return ParsedArticle(title=title, sections=sections, source_name=source_name, url=path.resolve().as_uri())


def _derived_title(body: str, sectionizer: Sectionizer) -> str:
    """Return a title for text that has none: the first sentence of its first paragraph, cut short."""
    for line in body.split("\n"):
        line = _clean_title(line.lstrip("#").strip("*_ "))
        if line and not sectionizer.is_known_heading(line):
            first = split_sentences(line)
            return cut(first[0], TITLE_CHARS) if first else ""
    return ""


def parse_file(
    data: bytes, *, path: Path, sectionizer: Sectionizer, teaser_chars: int, source_name: str | None = None
) -> list[ParsedArticle] | FeedDocument:
    """Read one file of any supported kind: a feed, an HTML page, or a text/Markdown article.

    ``source_name`` names where it came from: a folder source's name, or by default the file's own name.
    """
    suffix = path.suffix.lower()
    source_name = source_name or path.name
    if not data.strip():
        raise SourceError(f"{path}: the file is empty")
    if is_binary(data):
        raise SourceError(f"{path}: not a text file")
    data = strip_stray_nuls(data)
    if suffix in FEED_SUFFIXES or looks_like_feed(data):
        return parse_feed(
            data,
            location=str(path.resolve()),
            sectionizer=sectionizer,
            teaser_chars=teaser_chars,
            base=path.resolve().as_uri(),
        )
    text = decode(data)
    if suffix in HTML_SUFFIXES or text.lstrip()[:200].lower().startswith(("<!doctype html", "<html")):
        article = parse_page(text, url=None, sectionizer=sectionizer, source_name=source_name)
        article.url = path.resolve().as_uri()
        return [article]
    return [parse_text(text, path=path, sectionizer=sectionizer, source_name=source_name)]
