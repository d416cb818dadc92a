"""Where digests go: the terminal, a Discord webhook, or a channel through the bot."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
from rich.console import Console

from digests.errors import SitrepError
from digests.kinds import TargetKind
from digests.render.discord import sendable
from digests.render.terminal import print_messages

log = logging.getLogger(__name__)

DISCORD_HOSTS = frozenset({"discord.com", "discordapp.com", "canary.discord.com", "ptb.discord.com"})


class TargetGone(SitrepError):
    """The target refuses us for good (Discord 401, 403 or 404): its subscription is disabled."""


class SendFailed(SitrepError):
    """A message was not confirmed; ``retry`` says whether trying again may help.

    ``maybe_sent`` is true when the request may have reached Discord (a timeout or a dropped
    connection): a sender without nonces must then not send it again.
    """

    def __init__(self, message: str, *, retry: bool = True, maybe_sent: bool = False) -> None:
        super().__init__(message)
        self.retry = retry
        self.maybe_sent = maybe_sent


class Sender(Protocol):
    """Sends one Discord message payload and returns its message id."""

    # True when resending with the same nonce cannot post twice (Discord's enforce_nonce).
    idempotent: bool

    async def send(self, payload: dict[str, Any], *, nonce: str) -> str:
        """Send ``payload``; raise TargetGone or SendFailed."""
        ...


class TerminalSender:
    """Prints digests in the terminal."""

    idempotent = True

    def __init__(self, console: Console) -> None:
        self.console = console

    async def send(self, payload: dict[str, Any], *, nonce: str) -> str:
        """Print the message's embeds."""
        print_messages(self.console, [payload])
        return f"terminal-{nonce}"


def redact_webhook(url: str) -> str:
    """Return a webhook URL fit to show: its scheme, host and id, never its token."""
    parts = urlsplit(url.strip())
    head, _, rest = parts.path.partition("/webhooks/")
    webhook_id = rest.split("/", 1)[0]
    shown = f"{head}/webhooks/{webhook_id}/…" if rest else ("/…" if parts.path.strip("/") else "")
    return f"{parts.scheme}://{parts.hostname or ''}{shown}" if parts.scheme else "…"


def check_webhook_url(url: str, *, allow_any_host: bool = False) -> str:
    """Return ``url`` if it is a Discord webhook URL, else raise a SitrepError (that never shows the token)."""
    parts = urlsplit(url.strip())
    example = "https://discord.com/api/webhooks/<id>/<token>"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise SitrepError(f"not a webhook URL: {redact_webhook(url)}; it looks like {example}")
    if not allow_any_host and (parts.scheme != "https" or parts.hostname not in DISCORD_HOSTS):
        raise SitrepError(
            f"webhook URLs must be Discord's ({example}), not {redact_webhook(url)}; to post to another host "
            "(a local receiver, a proxy), set SITREP_DIGEST__ALLOW_ANY_WEBHOOK_HOST=true"
        )
    if "/webhooks/" not in parts.path:
        raise SitrepError(f"not a webhook URL: {redact_webhook(url)}; it looks like {example}")
    return url.strip()


class WebhookSender:
    """Posts to a Discord webhook, honouring rate limits; needs no bot."""

    idempotent = False  # webhooks take no nonce: an unconfirmed message is never resent

    def __init__(self, url: str, session: aiohttp.ClientSession, *, max_wait: float = 60.0) -> None:
        self.url = url
        self.session = session
        self.max_wait = max_wait

    async def send(self, payload: dict[str, Any], *, nonce: str) -> str:
        """Execute the webhook with ?wait=true and return the created message's id."""
        for _ in range(5):
            try:
                async with self.session.post(self.url, params={"wait": "true"}, json=sendable(payload)) as response:
                    text = await response.text()
                    if response.status in (200, 201):
                        return str(json.loads(text).get("id", ""))
                    if response.status == 204:
                        return ""
                    if response.status == 429:
                        await asyncio.sleep(min(_retry_after(response, text), self.max_wait))
                        continue
                    if response.status in (401, 403, 404):
                        raise TargetGone(f"the webhook answered HTTP {response.status}: it was deleted or is not ours")
                    if response.status >= 500:
                        raise SendFailed(f"the webhook answered HTTP {response.status}")
                    raise SendFailed(
                        f"the webhook refused the message (HTTP {response.status}: {text[:300]})", retry=False
                    )
            except (aiohttp.ClientError, TimeoutError) as error:
                connected = not isinstance(error, aiohttp.ClientConnectorError)
                reason = f"no answer from the webhook ({type(error).__name__}: {error})"
                raise SendFailed(reason, maybe_sent=connected) from error
        raise SendFailed("the webhook kept answering 429 (rate limited)")


def _retry_after(response: aiohttp.ClientResponse, text: str) -> float:
    try:
        return float(json.loads(text).get("retry_after", 1.0))
    except (ValueError, AttributeError):
        return float(response.headers.get("Retry-After", 1.0))


TargetSender = Callable[[str], Sender]

_MISSING = {
    TargetKind.CHANNEL: "digests to a Discord channel need the bot: set SITREP_DISCORD_TOKEN",
    TargetKind.WEBHOOK: "digests to a webhook need an HTTP session; none is open",
    TargetKind.TERMINAL: "digests to the terminal need a console; none is open",
}


class SenderRegistry:
    """One sender factory per target kind; front doors register theirs (the bot registers channels)."""

    def __init__(self) -> None:
        self._factories: dict[TargetKind, TargetSender] = {}

    def register(self, kind: TargetKind, factory: TargetSender) -> None:
        """Send digests for targets of ``kind`` through ``factory(target)``."""
        self._factories[kind] = factory

    def sender(self, kind: TargetKind, target: str) -> Sender:
        """Return the sender for one target; a SitrepError says what is missing when no factory is registered."""
        factory = self._factories.get(kind)
        if factory is None:
            raise SitrepError(_MISSING.get(kind, f"no sender for {kind} targets"))
        return factory(target)
