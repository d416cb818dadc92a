"""Text helpers every layer shares: cutting at word boundaries, sentences, case folding, hashing."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache

ZERO_WIDTH = "\u200b"

_SENTENCE_BOUNDARY = re.compile(r"[.!?…][\"'”’)\]]*(?=\s+[\"'“‘(\[]{0,2}[A-Z0-9])")
_LAST_WORD = re.compile(r"(\S+)$")
_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof st gen sen rep gov lt col sgt capt cmdr adm maj jr sr inc corp co ltd no vs etc approx
    jan feb mar apr jun jul aug sep sept oct nov dec fig dept est""".split()
)  # fmt: skip
_SPACE = re.compile(r"\s+")
# C0 controls but tab and newline, DEL, and C1 controls: what a terminal may take for an escape sequence.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LIST_MARKER = re.compile(r"^(?:[-*•·#]{1,6}|\d{1,3}[.)])\s+")


def printable(text: str) -> str:
    """Return ``text`` without control characters (tab and newline kept): no terminal escape sequence, no bell."""
    return _CONTROL.sub("", text)


def cut(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters at a word boundary, ending with an ellipsis."""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return "…"[:limit]
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space > limit // 2:
        head = head[:space]
    # Never leave a dangling escape backslash or half a zero-width guard at the cut.
    head = head.rstrip(" ,;:\\" + ZERO_WIDTH)
    return head + "…"


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences at terminal punctuation followed by a capital or digit.

    Initials ("U.S.", "J. Smith") and common abbreviations ("Mr.", "Gen.") do not end a sentence.
    """
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_BOUNDARY.finditer(text):
        if text[match.start()] == ".":
            word = _LAST_WORD.search(text, start, match.start())
            token = word.group(1).lstrip("\"'“‘(") if word else ""
            if token.casefold() in _ABBREVIATIONS or (len(token.replace(".", "")) <= 2 and token[:1].isupper()):
                continue
        sentences.append(text[start : match.end()].strip())
        start = match.end()
    sentences.append(text[start:].strip())
    return [sentence for sentence in sentences if sentence]


def sentences_of(text: str) -> list[str]:
    """Split text into sentences, paragraph by paragraph, without list markers or Markdown heading marks."""
    result: list[str] = []
    for paragraph in text.split("\n\n"):
        paragraph = _LIST_MARKER.sub("", paragraph.strip())
        if paragraph:
            result.extend(split_sentences(paragraph))
    return result


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Fold case, accents and typographic apostrophes, so "Côte d’Ivoire" matches "cote d'ivoire"."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return text.casefold().replace("’", "'").replace("‘", "'")


def fold_spaces(text: str) -> str:
    """Fold case and collapse white space, so trivially different copies compare (and hash) alike."""
    return _SPACE.sub(" ", text).strip().casefold()


def sha256(text: str) -> str:
    """Return the hex SHA-256 of ``text`` as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
