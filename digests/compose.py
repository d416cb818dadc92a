"""Compose a digest: a plain data object built from stored, summarized and tagged articles."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

import numpy as np
from rapidfuzz import fuzz

from digests.store.records import ArticleRecord, CoverageRecord, SectionRecord, StoryRecord
from digests.text import split_sentences

OTHER = "Other news"


@dataclass(slots=True, frozen=True)
class DigestFilters:
    """What a digest covers: a window of readiness times, optional topics, countries and languages, and a cap."""

    since: datetime
    until: datetime
    topics: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    max_items: int = 10
    guild_id: int | None = None
    # No source supplies more than this share of the shown items (at least one item each).
    max_source_share: float = 1.0


@dataclass(slots=True, frozen=True)
class SectionLine:
    """One section's summary under its heading (None for an untitled section)."""

    heading: str | None
    summary: str


@dataclass(slots=True, frozen=True)
class Coverage:
    """One outlet's article on an item's story."""

    source: str
    title: str
    url: str | None
    published_at: datetime | None


@dataclass(slots=True)
class DigestItem:
    """One story in a digest, told through its best article, with who else reported it."""

    article_id: int
    title: str
    url: str | None
    source: str
    published_at: datetime | None
    ready_at: datetime | None
    countries: list[str]
    topics: list[str]
    summary: str
    sections: list[SectionLine]
    score: float = 0.0
    story_id: int | None = None
    # Every outlet's article on the story, oldest first (the item's own article alone when it has no story yet).
    articles: list[Coverage] = field(default_factory=list)
    first_seen: datetime | None = None
    last_updated: datetime | None = None
    # Sentences later articles add that the earlier ones did not say.
    new_lines: list[str] = field(default_factory=list)
    # The story was in an earlier digest of the same subscription: this item is an update.
    update: bool = False
    # The article's language (ISO 639-1) when known; the title and summary are English translations when
    # ``translated`` is set.
    language: str | None = None
    translated: bool = False

    @property
    def outlets(self) -> list[str]:
        """Return the outlets that reported the story, this item's first."""
        return list(dict.fromkeys([self.source, *(c.source for c in self.articles)]))

    @property
    def also_reported_by(self) -> list[str]:
        """Return the other outlets that reported the story."""
        return self.outlets[1:]


@dataclass(slots=True)
class DigestGroup:
    """The items of one topic."""

    topic: str
    items: list[DigestItem]


@dataclass(slots=True)
class Digest:
    """A digest ready to render: groups of items, and how many more matched than are shown."""

    title: str
    window_start: datetime
    window_end: datetime
    timezone: str
    groups: list[DigestGroup]
    matched: int
    counts_by_topic: dict[str, int]
    filters: DigestFilters
    # Articles collected in the window that are not summarized and tagged yet, so not in the digest.
    waiting: int = 0

    @property
    def items(self) -> list[DigestItem]:
        """Return every item, group by group."""
        return [item for group in self.groups for item in group.items]

    @property
    def carried(self) -> dict[int, int]:
        """Return how many articles of each shown story the digest carries, by story id."""
        return {item.story_id: len(item.articles) for item in self.items if item.story_id is not None}

    @property
    def shown(self) -> int:
        """Count the items shown."""
        return sum(len(group.items) for group in self.groups)

    @property
    def more(self) -> int:
        """Count the matching articles left out by the cap."""
        return max(self.matched - self.shown, 0)


def _item(article: ArticleRecord) -> DigestItem:
    translated = bool(article.title_translated)
    return DigestItem(
        article_id=article.id,
        title=article.title_translated or article.title,
        url=article.url,
        source=article.source,
        published_at=article.published_at,
        ready_at=article.ready_at,
        countries=list(article.countries),
        topics=list(article.topics),
        summary=article.summary_translated or article.summary,
        sections=[],  # filled for the shown items only, by attach_sections
        articles=[_coverage(article)],
        language=article.language,
        translated=translated,
    )


def _coverage(article: ArticleRecord) -> Coverage:
    return Coverage(article.source, article.title, article.url, article.published_at)


def attach_sections(digest: Digest, sections: Mapping[int, Sequence[SectionRecord]]) -> Digest:
    """Give each shown item its summarized sections (loaded for the shown items only).

    A translated item keeps its English summary alone: its sections are in the original language.
    """
    for item in digest.items:
        if item.translated:
            continue
        item.sections = [SectionLine(s.heading, s.summary) for s in sections.get(item.article_id, ()) if s.summary]
    return digest


def _salience(article: ArticleRecord, until: datetime) -> float:
    """Score relevance and freshness: the best topic score plus a day-long half-life on age."""
    topic = article.topic_score if article.topic_score is not None else 0.3
    when = article.when or until
    age_hours = max((until - when).total_seconds() / 3600, 0.0)
    return topic + math.pow(0.5, age_hours / 24)


_TITLE_NOISE = re.compile(r"[^\w]+")


def _story_keys(article: ArticleRecord) -> list[str]:
    keys = [f"title:{_TITLE_NOISE.sub(' ', article.title).strip().casefold()}"]
    if article.url and article.url.startswith(("http://", "https://")):
        keys.append(f"url:{article.url}")
    return keys


# Each further outlet reporting a story in the window adds this much to its rank, on a log scale: an event
# seven outlets report (+2.8) outranks any single-outlet article (salience at most 2: topic plus freshness).
COVERAGE_WEIGHT = 1.0


def coverage_bonus(outlets: int) -> float:
    """Return what ``outlets`` distinct outlets reporting a story in the window add to its rank."""
    return COVERAGE_WEIGHT * math.log2(max(outlets, 1))


@dataclass(slots=True)
class _Story:
    """One story among the candidates: its most salient article, the syndicated copies folded into it, and the
    outlets that reported it in the window."""

    article: ArticleRecord
    story_id: int | None
    score: float
    copies: list[ArticleRecord] = field(default_factory=list)
    outlets: set[str] = field(default_factory=set)
    # Every candidate article of the story, the lead included: the item may be told through any of them.
    members: list[ArticleRecord] = field(default_factory=list)

    @property
    def source(self) -> str:
        return self.article.source

    def item(self) -> DigestItem:
        item = _item(self.article)
        item.story_id, item.score = self.story_id, round(self.score, 4)
        item.articles.extend(_coverage(copy) for copy in self.copies)
        return item


def _fold(articles: list[ArticleRecord], until: datetime, story_of: Mapping[int, int] | None) -> list[_Story]:
    """Fold the window's articles into one story each, told through its most salient article, and rank each
    story by that article's salience plus how many outlets reported it in the window.

    Articles not placed in a story yet fold by identical title or URL, as copies of one syndicated article.
    """
    story_of = story_of or {}
    scored = sorted(((-_salience(a, until), a.id, a) for a in articles), key=lambda t: (t[0], t[1]))
    stories: list[_Story] = []
    seen: dict[str, _Story] = {}
    for negative, _, article in scored:
        story = story_of.get(article.id)
        keys = [f"story:{story}"] if story is not None else _story_keys(article)
        existing = next((seen[k] for k in keys if k in seen), None)
        if existing is not None:  # coverage of a story is attached later; a syndicated copy is coverage now
            if story is None:
                existing.copies.append(article)
            existing.outlets.add(article.source)
            existing.members.append(article)
            continue
        found = _Story(article, story, -negative, outlets={article.source}, members=[article])
        stories.append(found)
        seen.update(dict.fromkeys(keys, found))
    for found in stories:
        found.score += coverage_bonus(len(found.outlets))
    return stories


_Ranked = TypeVar("_Ranked", DigestItem, _Story)


def _capped(items: list[_Ranked], limit: int, share: float) -> list[_Ranked]:
    """Take the best ``limit`` items, no source supplying more than ``share`` of them (at least one each).

    The cap makes room for other sources; it never leaves a slot empty when only capped sources have more.
    """
    per_source = max(1, math.floor(share * limit))
    taken: Counter[str] = Counter()
    shown: list[_Ranked] = []
    held: list[_Ranked] = []
    for item in sorted(items, key=lambda i: -i.score):
        if len(shown) == limit:
            break
        if taken[item.source] < per_source:
            shown.append(item)
            taken[item.source] += 1
        else:
            held.append(item)
    shown += held[: limit - len(shown)]
    return sorted(shown, key=lambda i: -i.score)


_SAME_SENTENCE = 70  # rapidfuzz token-set ratio at which two sentences say the same thing


def new_lines(earlier: Sequence[str], later: Sequence[str], limit: int = 2) -> list[str]:
    """Return up to ``limit`` sentences of the ``later`` summaries that none of the ``earlier`` ones says."""
    known = [sentence for text in earlier for sentence in split_sentences(text)]
    found: list[str] = []
    for text in later:
        for sentence in split_sentences(text):
            if len(sentence) < 25:
                continue
            if any(fuzz.token_set_ratio(sentence, other) >= _SAME_SENTENCE for other in known):
                continue
            found.append(sentence)
            known.append(sentence)
            if len(found) == limit:
                return found
    return found


def pooled(values: Sequence[Sequence[str]]) -> list[str]:
    """Return the values of several articles, the most shared first (ties: the first seen first)."""
    counts = Counter(v for group in values for v in dict.fromkeys(group))
    first = {v: i for i, v in reversed(list(enumerate(v for group in values for v in group)))}
    return sorted(counts, key=lambda v: (-counts[v], first[v]))


def attach_stories(digest: Digest, stories: Mapping[int, StoryRecord], sent: Mapping[int, int] | None = None) -> Digest:
    """Give each shown item its story's coverage, times, pooled tags and what later articles add.

    ``sent`` says how many of a story's articles the subscription was already sent: such an item is an update,
    and its new lines come from the articles after those.
    """
    sent = sent or {}
    for item in digest.items:
        story = stories.get(item.story_id) if item.story_id is not None else None
        if story is None:
            continue
        coverage: list[CoverageRecord] = list(story.coverage)
        item.articles = [Coverage(c.source, c.title, c.url, c.published_at) for c in coverage]
        item.first_seen, item.last_updated = story.first_seen, story.last_updated
        item.countries = pooled([item.countries, *(c.countries for c in coverage)])[:8]
        item.topics = pooled([item.topics, *(c.topics for c in coverage)])[:3]
        done = sent.get(story.id, 0)
        if done:  # an update: what the articles after those already sent add
            item.update = True
            split = min(done, len(coverage))
            earlier = [c.summary for c in coverage[:split]]
        else:  # what the articles after this item's own add to it
            split = 1 + next((i for i, c in enumerate(coverage) if c.article_id == item.article_id), -1)
            earlier = [item.summary, *(c.summary for c in coverage[:split])]
        item.new_lines = new_lines(earlier, [c.summary for c in coverage[split:]])
    return digest


def group_items(items: list[DigestItem], topics: tuple[str, ...]) -> list[DigestGroup]:
    """Group items under their first (wanted) topic; groups ordered by their best item."""
    groups: dict[str, list[DigestItem]] = {}
    for item in sorted(items, key=lambda i: -i.score):
        wanted = [t for t in item.topics if not topics or t in topics]
        groups.setdefault(wanted[0] if wanted else OTHER, []).append(item)
    ordered = sorted(groups.items(), key=lambda kv: (kv[0] == OTHER, -kv[1][0].score))
    return [DigestGroup(topic, members) for topic, members in ordered]


@dataclass(slots=True)
class Selection:
    """The items a digest shows, chosen from every candidate, and what the candidates came to."""

    shown: list[DigestItem]
    matched: int
    counts_by_topic: dict[str, int]
    # The candidate articles of each shown story, by story id: what its item may be told through.
    members: dict[int, list[ArticleRecord]] = field(default_factory=dict)


def central(vectors: Mapping[int, np.ndarray], among: Sequence[int]) -> int | None:
    """Return the article of ``among`` closest to the centroid of every vector given (a story's members): the
    one that tells what the coverage has in common, not an outlier. None when none of them has a vector."""
    usable = [i for i in among if i in vectors and vectors[i].size]
    if not usable:
        return None
    size = vectors[usable[0]].size
    matrix = np.stack([v for v in vectors.values() if v.size == size])
    centroid = matrix.mean(axis=0)
    scores = np.stack([vectors[i] for i in usable if vectors[i].size == size]) @ centroid
    return [i for i in usable if vectors[i].size == size][int(np.argmax(scores))]


def lead_with_central(selection: Selection, vectors: Mapping[int, Mapping[int, np.ndarray]]) -> None:
    """Tell each shown story through its most central candidate article (``vectors``: each story's member
    vectors by article id), keeping the item's rank and coverage."""
    for position, item in enumerate(selection.shown):
        if item.story_id is None or not (members := selection.members.get(item.story_id)):
            continue
        if not (story := vectors.get(item.story_id)):
            continue
        chosen = central(story, [m.id for m in members])
        if chosen is None or chosen == item.article_id:
            continue
        record = next(m for m in members if m.id == chosen)
        replaced = _item(record)
        replaced.story_id, replaced.score, replaced.articles = item.story_id, item.score, item.articles
        selection.shown[position] = replaced


def select_items(
    articles: list[ArticleRecord], filters: DigestFilters, story_of: Mapping[int, int] | None = None
) -> Selection:
    """Rank the candidates (their best topic and times suffice), one item per story, and keep the shown ones.

    Only the shown stories become items: a window of thousands of candidates costs one pass over plain rows.
    """
    stories = _fold(articles, filters.until, story_of)
    counts = Counter((story.article.topics[0] if story.article.topics else OTHER) for story in stories)
    shown = _capped(stories, filters.max_items, filters.max_source_share)
    members = {story.story_id: story.members for story in shown if story.story_id is not None}
    return Selection([story.item() for story in shown], len(stories), dict(counts.most_common()), members)


def detail_items(items: Sequence[DigestItem], records: Mapping[int, ArticleRecord]) -> None:
    """Fill in what the digest shows of each item from its article's full record (tags, summary, translation)."""
    for item in items:
        record = records.get(item.article_id)
        if record is None:
            continue
        full = _item(record)
        item.title, item.summary, item.countries, item.topics = full.title, full.summary, full.countries, full.topics
        item.language, item.translated = full.language, full.translated


def assemble(
    selection: Selection,
    filters: DigestFilters,
    *,
    title: str,
    timezone: str,
    details: Mapping[int, ArticleRecord] | None = None,
) -> Digest:
    """Build the digest from the selected items, detailed from ``details`` when given."""
    if details is not None:
        detail_items(selection.shown, details)
    return Digest(
        title=title,
        window_start=filters.since,
        window_end=filters.until,
        timezone=timezone,
        groups=group_items(selection.shown, filters.topics),
        matched=selection.matched,
        counts_by_topic=selection.counts_by_topic,
        filters=filters,
    )
