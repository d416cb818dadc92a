"""Digest services: build a digest now, manage subscriptions, and deliver each window exactly once."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

import numpy as np

from digests.compose import (
    Digest,
    DigestFilters,
    assemble,
    attach_sections,
    attach_stories,
    lead_with_central,
    select_items,
)
from digests.errors import ConfigError, SitrepError
from digests.kinds import Origin, TargetKind
from digests.schedule import check_timezone, parse_schedule
from digests.senders import WebhookSender, check_webhook_url, redact_webhook
from digests.settings import Settings, SubscriptionSpec
from digests.store import Database, Session, reader, workers
from digests.store import stories as story_store
from digests.store import subscriptions as store
from digests.store.records import GLOBAL_SCOPE, SubscriptionIn, SubscriptionRecord
from digests.tagging.countries import resolve_country
from digests.tagging.language import resolve_language
from digests.tagging.topics import current_topics, resolve_topic

log = logging.getLogger(__name__)

TITLE = "Sitrep briefing"


def digest_filters(
    settings: Settings,
    *,
    since: datetime,
    until: datetime,
    topics: Sequence[str] = (),
    countries: Sequence[str] = (),
    languages: Sequence[str] = (),
    max_items: int | None = None,
    guild_id: int | None = None,
) -> DigestFilters:
    """Return what a digest covers: every front door and every subscription builds its filters here, so the
    settings' defaults (how many items, no source's share over ``digest.max_source_share``) apply alike."""
    return DigestFilters(
        since=since,
        until=until,
        topics=tuple(topics),
        countries=tuple(countries),
        languages=tuple(languages),
        max_items=max_items or settings.digest.max_items,
        guild_id=guild_id,
        max_source_share=settings.digest.max_source_share,
    )


async def compose(
    filters: DigestFilters, timezone: str, *, session: Session, subscription_id: int | None = None
) -> Digest:
    """Compose the digest of ``filters`` from the store, in ``timezone``: one item per story.

    For a subscription, a story it was sent before comes back as an update. ``Digest.carried`` says what the
    digest carries of each story; the subscription has it once the digest is sent.
    """
    candidates, story_of = await reader.digest_candidates(
        since=filters.since,
        until=filters.until,
        topics=filters.topics,
        countries=filters.countries,
        languages=filters.languages,
        guild_id=filters.guild_id,
        session=session,
    )
    selection = select_items(candidates, filters, story_of)
    told = [item.story_id for item in selection.shown if item.story_id is not None]
    raws = await story_store.member_vectors(told, session=session)
    vectors = {
        story: {article: np.frombuffer(raw, dtype=np.float16).astype(np.float32) for article, raw in members.items()}
        for story, members in raws.items()
    }
    lead_with_central(selection, vectors)
    shown = [item.article_id for item in selection.shown]
    details = await reader.records_by_id(shown, session=session)
    digest = assemble(selection, filters, title=TITLE, timezone=timezone, details=details)
    story_ids = [item.story_id for item in digest.items if item.story_id is not None]
    stories = await story_store.stories_by_id(story_ids, guild_id=filters.guild_id, session=session)
    sent = (
        await story_store.members_sent(subscription_id, story_ids, session=session)
        if subscription_id is not None
        else {}
    )
    attach_stories(digest, stories, sent)
    return attach_sections(digest, await reader.section_records(shown, session=session))


async def digest_now(database: Database, filters: DigestFilters, *, timezone: str = "UTC") -> Digest:
    """Build a digest for ``filters`` without recording any delivery."""
    check_timezone(timezone)
    async with database.sessions() as session:
        digest = await compose(filters, timezone, session=session)
        if not digest.matched:
            digest.waiting = await reader.count_waiting(
                since=filters.since, until=filters.until, guild_id=filters.guild_id, session=session
            )
    return digest


def parse_target(target: str, settings: Settings) -> tuple[TargetKind, str]:
    """Turn "terminal", "webhook:<url>", "channel:<id>" or "auto" into (kind, target)."""
    value = target.strip()
    if value == "auto":
        url = settings.discord_webhook_url.get_secret_value() if settings.discord_webhook_url else ""
        if not url:
            return TargetKind.TERMINAL, "terminal"
        try:
            return TargetKind.WEBHOOK, check_webhook_url(url, allow_any_host=settings.digest.allow_any_webhook_host)
        except SitrepError as error:
            raise ConfigError(f"SITREP_DISCORD_WEBHOOK_URL: {error}") from error
    if value == "terminal":
        return TargetKind.TERMINAL, "terminal"
    if value.startswith("webhook:"):
        url = check_webhook_url(value.removeprefix("webhook:"), allow_any_host=settings.digest.allow_any_webhook_host)
        return TargetKind.WEBHOOK, url
    if value.startswith("channel:") and value.removeprefix("channel:").isdigit():
        return TargetKind.CHANNEL, value.removeprefix("channel:")
    raise ConfigError(f"unknown digest target {target!r}: use terminal, webhook:<url>, channel:<id> or auto")


def describe_subscription(subscription: SubscriptionRecord) -> str:
    """Say where and when a subscription's digests go, without showing a webhook's token."""
    if subscription.target_kind is TargetKind.WEBHOOK:
        where = f"the webhook {redact_webhook(subscription.target)}"
    elif subscription.target_kind is TargetKind.TERMINAL:
        where = "this terminal"
    else:
        where = f"{subscription.target_kind} {subscription.target}"
    return f"digest {subscription.name!r} goes to {where} on '{subscription.schedule}' ({subscription.timezone})"


def validate_subscription(schedule: str, timezone: str, max_items: int) -> None:
    """Raise a SitrepError with an example when a schedule, zone or cap is unusable."""
    parse_schedule(schedule, timezone)
    if not 1 <= max_items <= 50:
        raise SitrepError("max_items must be between 1 and 50")


async def sync_settings_subscriptions(*, database: Database, settings: Settings) -> list[SubscriptionRecord]:
    """Make the subscriptions declared in the settings match the database (keeping their history)."""
    specs: Sequence[SubscriptionSpec] = settings.digest.subscriptions
    taxonomy = (
        current_topics(settings.config_path(settings.tagging.topics_file)) if any(s.topics for s in specs) else []
    )
    declared = []
    for spec in specs:
        try:
            validate_subscription(spec.schedule, spec.timezone, spec.max_items)
            kind, target = parse_target(spec.target, settings)
            # Checked as the commands check them: a name that can never match is refused, not kept.
            topics = tuple(resolve_topic(t, taxonomy) for t in spec.topics)
            countries = tuple(resolve_country(c) for c in spec.countries)
            languages = tuple(resolve_language(code) for code in spec.languages)
        except ConfigError:
            raise
        except SitrepError as error:
            raise ConfigError(f"digest.subscriptions {spec.name!r}: {error}") from error
        declared.append(
            SubscriptionIn(
                guild_id=GLOBAL_SCOPE,
                name=spec.name,
                target_kind=kind,
                target=target,
                schedule=spec.schedule,
                timezone=spec.timezone,
                topics=topics,
                countries=countries,
                languages=languages,
                max_items=spec.max_items,
                threads=spec.threads,
                origin=Origin.SETTINGS,
            )
        )
    async with database.sessions.begin() as session:
        await workers.exclusive(workers.CONFIG_LOCK, session=session)  # processes starting together take turns
        return await store.declare_subscriptions(declared, session=session)


async def get_subscription(database: Database, subscription_id: int) -> SubscriptionRecord | None:
    """Return one subscription, or None."""
    async with database.sessions() as session:
        return await store.get_subscription(subscription_id, session=session)


async def enabled_subscriptions(database: Database) -> list[SubscriptionRecord]:
    """Return every enabled subscription."""
    async with database.sessions() as session:
        return await store.enabled_subscriptions(session=session)


async def post_test_message(settings: Settings, url: str | None = None) -> str:
    """Post a short test message to ``url`` or the configured webhook (SITREP_DISCORD_WEBHOOK_URL); return where it
    went (redacted). Refusals and failures are SitrepErrors saying why."""
    import aiohttp

    configured = settings.discord_webhook_url.get_secret_value() if settings.discord_webhook_url else ""
    target = (url or configured).strip()
    if not target:
        raise ConfigError("no webhook to test: set SITREP_DISCORD_WEBHOOK_URL, or give one with --url")
    checked = check_webhook_url(target, allow_any_host=settings.digest.allow_any_webhook_host)
    message = {
        "content": "Sitrep can post here: this webhook will receive the digests.",
        "allowed_mentions": {"parse": []},
    }
    timeout = aiohttp.ClientTimeout(total=settings.fetch.total_timeout)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await WebhookSender(checked, session, max_wait=10).send(message, nonce="sitrep-webhook-test")
    return redact_webhook(checked)
