"""Split article text into sections: briefing headings, Markdown headings, or paragraph groups."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from digests.settings import SectionSettings
from digests.text import fold, split_sentences

_MD_HEADING = re.compile(r"^#{1,6}\s+(?P<text>.+?)\s*#*$")
_BOLD_LINE = re.compile(r"^(\*\*|__)(?P<text>[^*_].*?)\1:?$")
_SETEXT_RULE = re.compile(r"^(=+|-+)$")
_LIST_ITEM = re.compile(r"^([-*•·]|\d{1,3}[.)])\s+")
_SENTENCE_END = re.compile(r"[.!?…:;][\"'”’)\]]*$")
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_SPACES = re.compile(r"[ \t\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")


@dataclass(slots=True, frozen=True)
class RawSection:
    """A section before it is stored: an optional heading and its text (paragraphs split by blank lines)."""

    heading: str | None
    text: str


def heading_key(line: str) -> str:
    """Fold a heading for comparison: case, quotes, punctuation and spacing do not matter."""
    folded = fold(unicodedata.normalize("NFKC", line))
    return " ".join(re.sub(r"[^\w' ]+", " ", folded).split())


def clean_lines(text: str, boilerplate: list[re.Pattern[str]]) -> list[str]:
    """Normalize text into stripped lines: one blank line between blocks, no boilerplate."""
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines: list[str] = []
    for raw in text.split("\n"):
        line = _SPACES.sub(" ", raw).strip()
        if line and any(pattern.search(line) for pattern in boilerplate):
            continue
        if not line and (not lines or not lines[-1]):
            continue
        lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return lines


class Sectionizer:
    """Turns cleaned article text into ordered sections, keeping headings and order."""

    def __init__(self, settings: SectionSettings) -> None:
        self.settings = settings
        self._known = {heading_key(h) for h in settings.headings}
        self._boilerplate = [re.compile(p, re.IGNORECASE) for p in settings.boilerplate]

    def is_known_heading(self, line: str) -> bool:
        """Tell whether ``line`` is one of the briefing headings ("What's Happening?" and the like)."""
        return heading_key(line) in self._known

    def split(self, text: str, *, title: str | None = None) -> list[RawSection]:
        """Split ``text`` into sections; an article with any text gets at least one."""
        lines = clean_lines(text, self._boilerplate)
        title_key = heading_key(title) if title else None
        blocks: list[tuple[str | None, list[str]]] = [(None, [])]
        paragraph: list[str] = []

        def end_paragraph() -> None:
            if paragraph:
                blocks[-1][1].append(" ".join(paragraph))
                paragraph.clear()

        index = 0
        while index < len(lines):
            line = lines[index]
            following = lines[index + 1] if index + 1 < len(lines) else ""
            heading, consumed = self._heading(line, following, lines[index - 1] if index else "")
            if heading is not None:
                end_paragraph()
                index += consumed
                if title_key and heading_key(heading) == title_key and not any(b[1] for b in blocks):
                    continue  # the article's own title repeated at the top of its body
                if not blocks[-1][1] and blocks[-1][0] is not None:
                    blocks[-1] = (heading, [])  # a heading with nothing under it yields to the next
                else:
                    blocks.append((heading, []))
                continue
            if not line:
                end_paragraph()
            elif _LIST_ITEM.match(line) or (paragraph and _SENTENCE_END.search(paragraph[-1]) and line[0].isupper()):
                end_paragraph()
                paragraph.append(line)
            else:
                paragraph.append(line)
            index += 1
        end_paragraph()

        blocks = [(heading, paragraphs) for heading, paragraphs in blocks if paragraphs]
        if not blocks:
            return []
        if all(heading is None for heading, _ in blocks):
            paragraphs = [p for _, ps in blocks for p in ps]
            return [RawSection(None, chunk) for chunk in self._group(paragraphs, self.settings.target_chars)]
        sections: list[RawSection] = []
        for heading, paragraphs in blocks:
            sections.extend(RawSection(heading, chunk) for chunk in self._group(paragraphs, self.settings.max_chars))
        return sections

    def _heading(self, line: str, following: str, previous: str) -> tuple[str | None, int]:
        """Return (heading text, lines consumed) when ``line`` is a heading, else (None, 1)."""
        if not line:
            return None, 1
        match = _MD_HEADING.match(line) or _BOLD_LINE.match(line)
        if match:
            return match.group("text").strip("*_ ").rstrip(":"), 1
        short = len(line.split()) <= self.settings.max_heading_words and len(line) <= 120
        if short and following and _SETEXT_RULE.match(following) and not previous:
            return line, 2
        if heading_key(line) in self._known:
            return line.rstrip(":"), 1
        standalone = not previous or bool(_SENTENCE_END.search(previous))
        if short and standalone and following and line.endswith("?") and line[0].isupper():
            return line, 1
        return None, 1

    def _group(self, paragraphs: list[str], limit: int) -> list[str]:
        """Join paragraphs into chunks of about ``limit`` characters, never above ``max_chars``."""
        pieces: list[str] = []
        for paragraph in paragraphs:
            pieces.extend(self._fit(paragraph))
        chunks: list[list[str]] = [[]]
        size = 0
        for piece in pieces:
            if chunks[-1] and size + len(piece) > limit:
                chunks.append([])
                size = 0
            chunks[-1].append(piece)
            size += len(piece) + 2
        return ["\n\n".join(chunk) for chunk in chunks if chunk]

    def _fit(self, paragraph: str) -> list[str]:
        """Split a paragraph longer than ``max_chars`` at sentence, then word, boundaries."""
        limit = self.settings.max_chars
        if len(paragraph) <= limit:
            return [paragraph]
        parts: list[str] = []
        current = ""
        for sentence in split_sentences(paragraph):
            while len(sentence) > limit:
                cut = sentence.rfind(" ", 0, limit)
                cut = cut if cut > 0 else limit
                if current:
                    parts.append(current)
                    current = ""
                parts.append(sentence[:cut].strip())
                sentence = sentence[cut:].strip()
            if current and len(current) + 1 + len(sentence) > limit:
                parts.append(current)
                current = sentence
            else:
                current = f"{current} {sentence}".strip()
        if current:
            parts.append(current)
        return parts
