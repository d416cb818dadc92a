"""The named states Sitrep stores and passes around, as string enums (their values are what is stored)."""

from __future__ import annotations

from enum import StrEnum


class SourceKind(StrEnum):
    """What a source's location holds, which decides how it is read."""

    FEED = "feed"  # an RSS/Atom/RDF feed, by URL
    PAGE = "page"  # one web page, by URL
    PATH = "path"  # a file or folder on this machine
    URL = "url"  # an http(s) address whose answer decides: feed or page (sources added from Discord)


class TargetKind(StrEnum):
    """Where a subscription's digests go; each kind has one sender in the registry."""

    TERMINAL = "terminal"
    WEBHOOK = "webhook"
    CHANNEL = "channel"


class DeliveryStatus(StrEnum):
    """Where one delivery stands: pending until every message is sent, or it is given up or had nothing."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SUPERSEDED = "superseded"
    SKIPPED = "skipped"


class FetchOutcome(StrEnum):
    """What collecting did to one article."""

    NEW = "new"
    UPDATED = "updated"
    UNCHANGED = "unchanged"  # seen again from the same source, as stored
    DUPLICATE = "duplicate"  # already stored from another source (a feed listing a folder's articles)


class Origin(StrEnum):
    """Who made a source or subscription, and so who may change it."""

    CONFIG = "config"  # config/sources.toml
    SETTINGS = "settings"  # [[digest.subscriptions]] in the settings
    RUNTIME = "runtime"  # a command (Discord or the command line)


class DisabledBy(StrEnum):
    """Who turned a source off, and so what may turn it on again."""

    CONFIG = "config"  # the sources file (enabled = false, or no longer listed): the file turns it on again
    FAILURES = "failures"  # too many failed fetches in a row: only an admin turns it on again


class Role(StrEnum):
    """What one `sitrep run` process does; several processes on one PostgreSQL database share the work."""

    COLLECT = "collect"  # poll sources, fetch teasers' pages
    ENRICH = "enrich"  # summarize, tag
    DELIVER = "deliver"  # digests to webhooks and the terminal
    BOT = "bot"  # slash commands, and digests to the channels of its shards


ALL_ROLES = frozenset(Role)
