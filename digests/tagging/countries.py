"""Find the countries an article is about: ISO 3166-1 alpha-2 codes ranked by salience."""

from __future__ import annotations

import re
import tomllib
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pycountry

from digests.tagging.country_model import CountryModel, Evidence, load_model
from digests.text import cut, fold

_PLACES_FILE = Path(__file__).with_name("places.toml")
_FOREIGN_FILE = Path(__file__).with_name("foreign-names.toml")
# Feed languages whose country names (pycountry's translations) and demonyms (foreign-names.toml) the
# gazetteer reads for articles detected in that language.
LANGUAGES = ("de", "es", "fr", "it", "nl", "pt")

# Phrases that contain a country's name but do not mean the country.
_NOT_A_COUNTRY = (
    "Latin America", "Latin American", "Latin Americans", "South America", "South American", "North America",
    "North American", "Central America", "Central American", "American Indian", "American Indians", "Indian Ocean",
    "Cleveland Indians", "bone china", "fine china", "China Clay", "China Clays", "West Indies", "West Indian",
    "East Indies", "New Guinea", "Persian Gulf", "Arabian Sea", "Gulf of Mexico", "Jersey City", "New Mexico",
    "French fries", "Dutch auction", "Turkish delight", "Georgia Tech",
)  # fmt: skip
# Names that are also first names or surnames: next to another capitalised word they are a person.
_PERSON_LIKE = frozenset({"Jordan", "Chad", "Georgia", "Sofia", "Santiago", "Paris", "Israel", "Lima", "Perth"})
_TITLES = frozenset(
    "The In At Of And For From To President Prime Minister King Queen Prince Foreign Premier Ambassador Embassy "
    "Government Central Bank Republic Kingdom State North South East West Northern Southern Eastern Western "
    "Democratic People's Federal Islamic Arab United New".split()
)
_WORD = re.compile(r"[^\W\d_]+(?:[.'’][^\W\d_]+)*\.?|&")
_POSSESSIVE = re.compile(r"['’]s?$")
_KIND_WEIGHT = {"name": 1.0, "demonym": 0.8, "place": 0.8}
_MAX_WORDS = 6


@dataclass(slots=True, frozen=True)
class _Entry:
    code: str | None
    kind: str
    exact: bool  # all-caps abbreviations ("US", "UK") must match in capitals
    any_case: bool = False  # demonyms of languages that write them in lower case ("brasileño")


@dataclass(slots=True, frozen=True)
class CountryScore:
    """One country an article mentions, with its salience and number of mentions."""

    code: str
    score: float
    mentions: int


def _key(words: list[str]) -> str:
    return fold(" ".join(words))


def _split(term: str) -> list[str]:
    return list(_WORD.findall(term.replace("-", " ")))


@cache
def _gazetteer(language: str | None = None) -> dict[str, _Entry]:
    """Return every name the tagger knows, keyed by folded words; a language adds its own names."""
    if language in LANGUAGES:
        return _gazetteer() | _foreign_names(language)
    if language is not None:
        return _gazetteer()  # English, or a language without names of its own: the same dictionary
    entries: dict[str, _Entry] = {}

    def add(term: str, code: str | None, kind: str) -> None:
        words = _split(term)
        if not words:
            return
        exact = term.isupper() and len(term.replace(".", "")) <= 4
        entries.setdefault(_key(words), _Entry(code, kind, exact))

    data = tomllib.loads(_PLACES_FILE.read_text(encoding="utf-8"))
    for code, lists in data.items():
        for kind, key in (("name", "names"), ("demonym", "demonyms"), ("place", "places")):
            for term in lists.get(key, []):
                add(term, code, kind)
    for country in pycountry.countries:
        for attribute in ("common_name", "name", "official_name"):
            name = getattr(country, attribute, None)
            if name and "," not in name:
                add(re.sub(r"\s*\(.*\)", "", name), country.alpha_2, "name")
    subdivisions: Any = pycountry.subdivisions  # pycountry's lookups are untyped
    for division in subdivisions.get(country_code="US") or []:
        if division.name != "Georgia":
            add(division.name, "US", "place")
    add("Georgia", "GE", "name")  # resolved against the article's other places in ``_resolve``
    for phrase in _NOT_A_COUNTRY:
        entries[_key(_split(phrase))] = _Entry(None, "none", False)
    entries[_key(["New", "Mexico"])] = _Entry("US", "place", False)
    return entries


def _foreign_names(language: str) -> dict[str, _Entry]:
    import gettext

    entries: dict[str, _Entry] = {}
    translations = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language], fallback=True)
    for country in pycountry.countries:
        for attribute in ("common_name", "name"):
            name = getattr(country, attribute, None)
            translated = translations.gettext(name) if name else None
            if translated and translated != name and "," not in translated and (words := _split(translated)):
                entries.setdefault(_key(words), _Entry(country.alpha_2, "name", False))
    data = tomllib.loads(_FOREIGN_FILE.read_text(encoding="utf-8")).get(language, {})
    for code, terms in data.items():
        for term in terms:
            if words := _split(term):
                exact = term.isupper() and len(term.replace(".", "")) <= 4
                entries.setdefault(_key(words), _Entry(code, "demonym", exact, any_case=term[0].islower()))
    return entries


def _mostly_capitals(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    return len(letters) >= 8 and sum(ch.isupper() for ch in letters) >= 0.8 * len(letters)


@cache
def _lower_case_starts(language: str | None) -> frozenset[str]:
    return frozenset(key.split()[0] for key, entry in _gazetteer(language).items() if entry.any_case)


def find_mentions(text: str, language: str | None = None) -> list[tuple[str, str, int]]:
    """Return (code, kind, character offset) for every country mention in ``text``, longest names first.

    ``language`` (an ISO 639-1 code) adds that language's country names and demonyms.
    """
    gazetteer = _gazetteer(language)
    lower_starts = _lower_case_starts(language)
    capitals = _mostly_capitals(text)
    tokens = [(m.group(0), m.start()) for m in _WORD.finditer(text)]
    found: list[tuple[str, str, int]] = []
    index = 0
    while index < len(tokens):
        matched = 0
        if not capitals and not tokens[index][0][0].isupper() and fold(tokens[index][0]) not in lower_starts:
            index += 1  # names start with a capital, so a lower-case word starts none but a demonym
            continue
        for size in range(min(_MAX_WORDS, len(tokens) - index), 0, -1):
            words = [w for w, _ in tokens[index : index + size]]
            if size > 1 and not _adjacent(text, tokens, index, size):
                continue
            last = _POSSESSIVE.sub("", words[-1]) or words[-1]
            surface = [*words[:-1], last]
            entry = gazetteer.get(_key(surface))
            if entry is None and last.endswith("."):
                surface[-1] = last.rstrip(".")
                entry = gazetteer.get(_key(surface))
            if entry is None:
                continue
            if not _case_ok(surface, entry, capitals):
                continue
            matched = size
            if entry.code is not None and not (
                " ".join(surface) in _PERSON_LIKE and not capitals and _beside_a_name(tokens, index, size)
            ):
                found.append((entry.code, entry.kind, tokens[index][1]))
            break
        index += matched or 1
    return found


def _adjacent(text: str, tokens: list[tuple[str, int]], index: int, size: int) -> bool:
    """Tell whether tokens index..index+size are separated only by spaces or hyphens."""
    for (word, start), (_, following) in zip(
        tokens[index : index + size - 1], tokens[index + 1 : index + size], strict=True
    ):
        gap = text[start + len(word) : following]
        if gap.strip(" -\u00a0") or "\n\n" in gap:
            return False
    return True


def _case_ok(words: list[str], entry: _Entry, capitals: bool) -> bool:
    if entry.exact:
        return all(w.isupper() for w in words)
    if entry.any_case:
        return True
    if capitals:
        return True
    # Lower-case "china", "turkey" or "chile" are not countries; every name word must be capitalised.
    return all(w[0].isupper() for w in words if w.casefold() not in ("of", "the", "and", "de", "es", "d'ivoire"))


def _beside_a_name(tokens: list[tuple[str, int]], index: int, size: int) -> bool:
    """Tell whether a person-like name has another capitalised word next to it ("Michael Jordan")."""
    gazetteer = _gazetteer()
    neighbours = []
    if index > 0:
        neighbours.append(tokens[index - 1][0])
    if index + size < len(tokens):
        neighbours.append(tokens[index + size][0])
    return any(
        word[0].isupper() and word not in _TITLES and _key([_POSSESSIVE.sub("", word)]) not in gazetteer
        for word in neighbours
    )


@dataclass(slots=True)
class CountryTagger:
    """Scores countries by where and how often they are mentioned, and keeps the ones the article is about.

    With the trained model (the default) a learned layer decides over the gazetteer's evidence and adds
    countries an article implies without naming; with ``model=None``, and for articles in languages other
    than English, a salience floor decides.
    """

    title_weight: float = 3.0
    lead_weight: float = 2.0
    lead_chars: int = 400
    keep_ratio: float = 0.1
    min_score: float = 0.8
    max_countries: int = 8
    model: CountryModel | None = field(default_factory=load_model)

    def evidence(self, title: str, text: str, language: str | None = None) -> list[Evidence]:
        """Return every mentioned country with its salience and where it was found, most salient first."""
        scores: dict[str, float] = defaultdict(float)
        counts: dict[str, int] = defaultdict(int)
        titled: set[str] = set()
        first: dict[str, int] = {}
        mentions = [(code, kind, self.title_weight, -1) for code, kind, _ in find_mentions(title, language)]
        for code, kind, offset in find_mentions(text, language):
            mentions.append((code, kind, self.lead_weight if offset < self.lead_chars else 1.0, offset))
        codes = {code for code, _, _, _ in mentions}
        for code, kind, weight, offset in mentions:
            code = _resolve(code, codes)
            scores[code] += _KIND_WEIGHT[kind] * weight
            counts[code] += 1
            if offset < 0:
                titled.add(code)
            else:
                first.setdefault(code, offset)
        ranked = sorted(scores, key=lambda c: (-scores[c], c))
        size = max(len(text), 1)
        return [
            Evidence(
                c,
                round(scores[c], 3),
                counts[c],
                in_title=c in titled,
                in_lead=first.get(c, size) < self.lead_chars,
                first_at=round(first.get(c, size) / size, 3),
            )
            for c in ranked
        ]

    def score(self, title: str, text: str) -> list[CountryScore]:
        """Return every mentioned country, most salient first."""
        return [CountryScore(e.code, e.score, e.mentions) for e in self.evidence(title, text)]

    def tag(self, title: str, text: str, language: str | None = None) -> list[CountryScore]:
        """Return the countries the article is about, most salient first (``language``: ISO 639-1, if known)."""
        evidence = self.evidence(title, text, language)
        if self.model is None or language not in (None, "en"):  # the learned layer reads English words
            if not evidence:
                return []
            top = evidence[0].score
            floor = max(self.min_score, self.keep_ratio * top)
            # Scores as a share of the top one, so that they read on the learned layer's 0-1 scale.
            kept = [CountryScore(e.code, round(e.score / top, 3), e.mentions) for e in evidence if e.score >= floor]
            return kept[: self.max_countries]
        mentions = {e.code: e.mentions for e in evidence}
        return [
            CountryScore(code, round(p, 3), mentions.get(code, 0))
            for code, p in self.model.rank(evidence, title, text)
            if p >= self.model.threshold
        ][: self.max_countries]


def _resolve(code: str, codes: set[str]) -> str:
    """Settle ambiguous names from the article's other places: Georgia next to U.S. places is the state."""
    if code == "GE" and "US" in codes:
        return "US"
    return code


@cache
def _display_names() -> dict[str, str]:
    data = tomllib.loads(_PLACES_FILE.read_text(encoding="utf-8"))
    return {code: entry["display"] for code, entry in data.items() if "display" in entry}


def country_name(code: str) -> str:
    """Return the short English name people use for an ISO alpha-2 code ("Russia", "South Korea", "Iran")."""
    code = code.upper()
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    return _display_names().get(code) or getattr(country, "common_name", None) or country.name


def _choices() -> dict[str, str]:
    """Map every name a user may type (codes, names, aliases, demonyms) to its country code."""
    choices: dict[str, str] = {}
    for key, entry in _gazetteer().items():
        if entry.code is not None and entry.kind in ("name", "demonym"):
            choices.setdefault(key, entry.code)
    for country in pycountry.countries:
        choices.setdefault(country.alpha_2.casefold(), country.alpha_2)
        choices.setdefault(country.alpha_3.casefold(), country.alpha_2)
    choices["uk"] = "GB"
    return choices


def resolve_country(name: str) -> str:
    """Return the ISO alpha-2 code for a name, code, alias or demonym ("UK", "Britain", "British", "GB").

    An unknown name raises NotFoundError naming the closest matches.
    """
    from rapidfuzz import fuzz, process

    from digests.errors import NotFoundError

    choices = _choices()
    key = _key(_split(name.strip())) if name.strip() else ""
    if key in choices:
        return choices[key]
    if key.rstrip(".") in choices:
        return choices[key.rstrip(".")]
    close = process.extract(key, list(choices), scorer=fuzz.WRatio, limit=6, score_cutoff=60)
    suggestions = list(dict.fromkeys(f"{country_name(choices[m])} ({choices[m]})" for m, _, _ in close))[:3]
    hint = f" Did you mean {', '.join(suggestions)}?" if suggestions else ""
    raise NotFoundError(f"Unknown country {cut(name, 60)!r}.{hint}")


def suggest_countries(prefix: str, limit: int = 25) -> list[tuple[str, str]]:
    """Return (label, code) pairs for autocompletion, best matches first."""
    from rapidfuzz import fuzz, process

    choices = _choices()
    if not prefix.strip():
        codes = sorted({c.alpha_2 for c in pycountry.countries}, key=country_name)
        return [(f"{country_name(c)} ({c})", c) for c in codes[:limit]]
    matches = process.extract(prefix.casefold(), list(choices), scorer=fuzz.WRatio, limit=limit * 3)
    seen: dict[str, str] = {}
    for match, _, _ in matches:
        code = choices[match]
        seen.setdefault(code, f"{country_name(code)} ({code})")
    return [(label, code) for code, label in list(seen.items())[:limit]]
