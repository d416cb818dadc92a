"""The sources file (``config/sources.toml``) and reading any source into articles."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from pydantic import Field, field_validator

from digests.collect.fetch import Fetcher, FetchResult
from digests.collect.parse import (
    FEED_SUFFIXES,
    HTML_SUFFIXES,
    TEXT_SUFFIXES,
    FeedDocument,
    ParsedArticle,
    decode,
    is_binary,
    looks_like_feed,
    parse_feed,
    parse_file,
    parse_page,
)
from digests.collect.sectionize import Sectionizer
from digests.errors import ConfigError, SitrepError, SourceError
from digests.kinds import SourceKind
from digests.settings import Group, Settings
from digests.text import cut
from digests.tomlfile import read_entries

log = logging.getLogger(__name__)

_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/xml", "text/xml")


def is_url(location: str) -> bool:
    """Tell whether a location is an http(s) URL rather than a path."""
    return location.lower().startswith(("http://", "https://"))


_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def infer_kind(location: str) -> SourceKind:
    """Guess a source's kind from its location: URLs are feeds, anything else a path."""
    return SourceKind.FEED if is_url(location) else SourceKind.PATH


class SourceSpec(Group):
    """One ``[[source]]`` entry of the sources file."""

    name: str = Field(min_length=1, max_length=200)
    location: str = Field(min_length=1, max_length=4096)
    kind: SourceKind | None = None
    interval_minutes: float = Field(default=30.0, gt=0, le=7 * 24 * 60)
    enabled: bool = True

    @field_validator("location")
    @classmethod
    def _web_or_local(cls, value: str) -> str:
        location = value.strip()
        scheme = _SCHEME.match(location)
        if scheme and scheme.group(1).lower() not in ("http", "https"):
            raise ValueError(
                f"{scheme.group(1)}:// is not supported: give an http(s) URL, or a local file or folder as a path"
            )
        return location


def load_source_specs(path: Path, *, default_interval: float) -> list[SourceSpec]:
    """Read the sources file; relative paths are taken from the file's folder."""
    if not path.exists():
        return []
    specs = read_entries(path, "source", SourceSpec, defaults={"interval_minutes": default_interval})
    for spec in specs:
        if not is_url(spec.location):
            spec.location = str((path.parent / Path(spec.location).expanduser()).resolve())
        spec.kind = spec.kind or infer_kind(spec.location)
    names = [spec.name for spec in specs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ConfigError(f"{path}: source names must be unique; repeated: {', '.join(duplicates)}")
    return specs


@dataclass(slots=True)
class ReadResult:
    """What reading one source produced."""

    name: str
    articles: list[ParsedArticle] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None
    # For a local source, the folder it may read from (the folder itself, or a file's folder).
    root: Path | None = None


class Reader:
    """Reads feeds, pages, files and folders into articles; parsing runs in an executor."""

    def __init__(self, settings: Settings, fetcher: Fetcher) -> None:
        self.settings = settings
        self.fetcher = fetcher
        self.sectionizer = Sectionizer(settings.sections)

    async def read(
        self,
        location: str,
        *,
        kind: SourceKind | None = None,
        name: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> ReadResult:
        """Read ``location`` (a URL, file or folder); raise SitrepError when it cannot be read at all."""
        if is_url(location):
            return await self._read_url(location, kind=kind, name=name, etag=etag, last_modified=last_modified)
        return await self._read_path(Path(location), name=name)

    async def _read_url(
        self, url: str, *, kind: SourceKind | None, name: str | None, etag: str | None, last_modified: str | None
    ) -> ReadResult:
        fetched = await self.fetcher.get(url, etag=etag, last_modified=last_modified)
        result = ReadResult(name=name or url, etag=fetched.etag, last_modified=fetched.last_modified)
        if fetched.not_modified:
            result.not_modified = True
            return result
        if not fetched.body.strip():
            raise SourceError(f"{url}: the answer was empty")
        if kind is SourceKind.FEED or (kind is not SourceKind.PAGE and self._is_feed(fetched)):
            document = await asyncio.to_thread(
                parse_feed,
                fetched.body,
                location=url,
                sectionizer=self.sectionizer,
                teaser_chars=self.settings.collect.teaser_chars,
                content_type=fetched.content_type,
                source_name=name,
                base=fetched.url,
            )
            self._take_feed(result, document)
        else:
            markup = decode(fetched.body, fetched.charset)
            article = await asyncio.to_thread(
                parse_page, markup, url=fetched.url, sectionizer=self.sectionizer, source_name=name or _host(url)
            )
            result.articles.append(article)
        return result

    @staticmethod
    def _is_feed(fetched: FetchResult) -> bool:
        return (fetched.content_type or "").lower() in _FEED_TYPES or looks_like_feed(fetched.body)

    @staticmethod
    def _take_feed(result: ReadResult, document: FeedDocument) -> None:
        result.articles.extend(document.articles)
        result.warnings.extend(document.warnings)
        if result.name.startswith(("http://", "https://", "/")) and document.title:
            result.name = document.title

    async def full_text(self, article: ParsedArticle, *, root: Path | None = None) -> ParsedArticle:
        """Replace a teaser's text with the full text of the page or file it links to, when that is longer.

        A file link is followed only for a feed read from this machine, and only to a file inside
        ``root``, the source's own folder, wherever the link or a symlink on the way points.
        """
        if not article.url:
            return article
        if article.url.startswith("file:") and article.feed and not is_url(article.feed):
            linked_path = Path(url2pathname(urlsplit(article.url).path))
            if root is None or not _inside(linked_path, root):
                raise SourceError(f"{article.url}: links outside its source's folder; not read")
            linked = await self._read_path(linked_path, name=article.source_name)
            if not linked.articles:
                raise SourceError(f"{article.url}: {'; '.join(linked.errors) or 'no article in the linked file'}")
            page = linked.articles[0]
            article.title = page.title
        elif is_url(article.url):
            fetched = await self.fetcher.get(article.url)
            markup = decode(fetched.body, fetched.charset)
            page = await asyncio.to_thread(
                parse_page, markup, url=fetched.url, sectionizer=self.sectionizer, source_name=article.source_name
            )
        else:
            return article
        if sum(len(s.text) for s in page.sections) <= sum(len(s.text) for s in article.sections):
            return article
        article.sections = page.sections
        article.author = article.author or page.author
        article.published_at = article.published_at or page.published_at
        article.teaser = False
        return article

    async def _read_path(self, path: Path, *, name: str | None) -> ReadResult:
        try:
            return await asyncio.to_thread(self._read_path_sync, path, name)
        except OSError as error:  # a name too long for the file system, a folder we may not list, ...
            raise SourceError(f"{cut(str(path), 200)}: cannot be read ({error.strerror or error})") from error

    def _read_path_sync(self, path: Path, name: str | None) -> ReadResult:
        """Read a file or walk a folder; runs in a worker thread, since it touches the disk."""
        if not path.exists():
            raise SourceError(f"{path}: no such file or folder")
        if not path.is_dir():
            result = ReadResult(name=name or path.name, root=path.resolve().parent)
            self._read_file(path, result, in_folder=False, source_name=name or path.name)
            return result
        root = path.resolve()
        result = ReadResult(name=name or path.name or str(path), root=root)
        files = []
        skipped = 0
        for candidate in sorted(path.rglob("*")):
            if not candidate.is_file() or _hidden(candidate, path):
                continue
            if not _inside(candidate, root):
                result.warnings.append(f"{candidate}: a link to outside the folder; not read")
                continue
            files.append(candidate)
        for file in files:
            try:
                skipped += not self._read_file(file, result, in_folder=True, source_name=result.name)
            except SitrepError as error:
                result.errors.append(str(error))
        if skipped:
            result.warnings.append(f"{path}: skipped {skipped} file(s) that are not articles or feeds")
        if not files:
            result.warnings.append(f"{path}: the folder is empty")
        return result

    def _read_file(self, path: Path, result: ReadResult, *, in_folder: bool, source_name: str) -> bool:
        """Read one file into ``result``; return False when a folder's file is not an article."""
        limit = self.settings.collect.max_file_bytes
        try:
            size = path.stat().st_size
            if size > limit:
                raise SourceError(f"{path}: too large ({size:,} bytes; the limit is {limit:,})")
            data = path.read_bytes()
        except OSError as error:
            raise SourceError(f"{path}: cannot be read ({error.strerror or error})") from error
        known = path.suffix.lower() in TEXT_SUFFIXES | HTML_SUFFIXES | FEED_SUFFIXES
        if in_folder and not known and (is_binary(data) or not (looks_like_feed(data) or _looks_like_html(data))):
            return False
        parsed = parse_file(
            data,
            path=path,
            sectionizer=self.sectionizer,
            teaser_chars=self.settings.collect.teaser_chars,
            source_name=source_name,
        )
        if isinstance(parsed, FeedDocument):
            result.articles.extend(parsed.articles)
            result.warnings.extend(parsed.warnings)
        else:
            result.articles.extend(parsed)
        return True


def _looks_like_html(data: bytes) -> bool:
    return data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower().startswith((b"<!doctype html", b"<html"))


def _inside(path: Path, root: Path) -> bool:
    """Tell whether ``path``, with every symlink and '..' resolved, lies inside the folder ``root``."""
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a symlink loop, or a path the system refuses
        return False


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _host(url: str) -> str:
    return urlsplit(url).hostname or url
