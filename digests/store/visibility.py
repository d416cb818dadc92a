"""The one rule for who sees what: a server sees the global articles and its own; anyone else, the global ones."""

from __future__ import annotations

from sqlalchemy import ColumnElement

from digests.store.models import GLOBAL_SCOPE, Article, Source
from digests.store.records import SubscriptionRecord


def scopes(guild_id: int | None) -> list[int]:
    """Return the scopes visible from a server, or from outside any server (a DM, the settings' digests)."""
    return [GLOBAL_SCOPE] if guild_id is None or guild_id == GLOBAL_SCOPE else [GLOBAL_SCOPE, guild_id]


def visible_articles(guild_id: int | None) -> ColumnElement[bool]:
    """Return the condition on articles that a reader in ``guild_id`` (None: no server) may see."""
    return Article.guild_id.in_(scopes(guild_id))


def visible_sources(guild_id: int | None) -> ColumnElement[bool]:
    """Return the condition on sources that a reader in ``guild_id`` (None: no server) may see."""
    return Source.guild_id.in_(scopes(guild_id))


def scope_of(subscription: SubscriptionRecord) -> int | None:
    """Return the server a subscription's digests are read from (None for the settings' own digests)."""
    return subscription.guild_id if subscription.guild_id != GLOBAL_SCOPE else None
