"""A protocol-faithful fake Discord: a gateway (websocket) and REST API that the real discord.py client uses.

It speaks API v10 JSON over a plain websocket (text frames) and HTTP on 127.0.0.1, keeps every message
and interaction response it receives, and refuses what Discord refuses (over-limit embeds get Discord's
400 error shape), so a rendering bug fails a test.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

APP_ID = 900000000000000001
BOT_ID = 900000000000000002
ADMIN_ID = 800000000000000001
MEMBER_ID = 800000000000000002
ALL_PERMISSIONS = str((1 << 46) - 1)
MEMBER_PERMISSIONS = str(0x400 | 0x800 | 0x80000000)  # view channel, send messages, use application commands
_ids = itertools.count(1_000_000_000_000_000_000)


def snowflake() -> str:
    """Return a new unique id."""
    return str(next(_ids))


def _now() -> str:
    return datetime.now(UTC).isoformat()


DM = 0
"""Pass as the guild id to send an interaction from a direct message."""


def user(user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    """Return a user object."""
    return {
        "id": str(user_id),
        "username": name,
        "discriminator": "0",
        "global_name": name,
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
        "flags": 0,
    }


def embed_errors(embeds: list[dict[str, Any]]) -> dict[str, Any]:
    """Return Discord-style field errors for embeds over any limit (empty when all is well)."""
    errors: dict[str, Any] = {}
    total = 0
    if len(embeds) > 10:
        errors["embeds"] = {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 10 or fewer in length."}]}
    limits = {"title": 256, "description": 4096}
    for index, embed in enumerate(embeds):
        problems: dict[str, Any] = {}
        for key, limit in limits.items():
            value = embed.get(key) or ""
            total += len(value)
            if len(value) > limit:
                problems[key] = {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": f"Must be {limit} or fewer."}]}
        fields = embed.get("fields") or []
        if len(fields) > 25:
            problems["fields"] = {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 25 or fewer."}]}
        for position, item in enumerate(fields):
            total += len(item.get("name", "")) + len(item.get("value", ""))
            if not item.get("name") or len(item["name"]) > 256 or not item.get("value") or len(item["value"]) > 1024:
                problems.setdefault("fields", {})[str(position)] = {
                    "_errors": [{"code": "BASE_TYPE_BAD_LENGTH", "message": "Bad field length."}]
                }
        footer = (embed.get("footer") or {}).get("text", "")
        author = (embed.get("author") or {}).get("name", "")
        total += len(footer) + len(author)
        if len(footer) > 2048:
            problems["footer"] = {"text": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Too long."}]}}
        if problems:
            errors.setdefault("embeds", {})[str(index)] = problems
    if total > 6000:
        errors.setdefault("embeds", {})["_errors"] = [
            {"code": "MAX_EMBED_SIZE_EXCEEDED", "message": "Embed size exceeds maximum size of 6000"}
        ]
    return errors


@dataclass
class Interaction:
    """One interaction sent to the bot, and everything the bot answered to it."""

    id: str
    token: str
    callback: asyncio.Future[dict[str, Any]]
    followups: list[dict[str, Any]] = field(default_factory=list)
    edits: list[dict[str, Any]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def answered(self, within: float = 10.0) -> dict[str, Any]:
        """Wait for the interaction callback and return its body."""
        return await asyncio.wait_for(asyncio.shield(self.callback), within)

    async def followup(self, count: int = 1, within: float = 20.0) -> list[dict[str, Any]]:
        """Wait until at least ``count`` follow-up messages arrived and return them."""
        async with asyncio.timeout(within):
            while len(self.followups) < count:
                self.changed.clear()
                await self.changed.wait()
        return self.followups


class FakeDiscord:
    """The fake server. Start it, point discord.py at ``rest_base`` and ``gateway_url``, then drive it."""

    def __init__(self) -> None:
        self.guilds: dict[int, dict[str, Any]] = {}
        self.messages: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.threads: dict[str, dict[str, Any]] = {}
        # False: the bot lacks Create Public Threads, and Discord answers 403 Missing Permissions.
        self.can_create_threads = True
        self.dm_channels: dict[str, dict[str, Any]] = {}
        self.nonces: dict[str, dict[str, Any]] = {}
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.interactions: dict[str, Interaction] = {}
        self.requests: list[tuple[str, str]] = []
        self.rate_limit_next: dict[str, int] = defaultdict(int)
        self.bad_requests: list[dict[str, Any]] = []
        self.sockets: list[web.WebSocketResponse] = []
        self.identifies = 0
        self.login_status = 200  # 401 refuses the token; 5xx stands for an outage
        self.resumes = 0
        self.sequence = 0
        self.session_id = "fake-session"
        self.ready = asyncio.Event()
        self.resumed = asyncio.Event()
        self.base = ""
        self._runner: web.AppRunner | None = None

    # --- set-up -----------------------------------------------------------------------------------
    def add_guild(self, guild_id: int, channel_ids: list[int], name: str = "Team") -> None:
        """Add a server with text channels; the bot is a member."""
        channels = [
            {
                "id": str(c),
                "type": 0,
                "name": f"briefings-{i}",
                "position": i,
                "permission_overwrites": [],
                "guild_id": str(guild_id),
                "nsfw": False,
                "parent_id": None,
            }
            for i, c in enumerate(channel_ids)
        ]
        self.guilds[guild_id] = {
            "id": str(guild_id),
            "name": name,
            "icon": None,
            "owner_id": str(ADMIN_ID),
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [
                {
                    "id": str(guild_id),
                    "name": "@everyone",
                    "permissions": MEMBER_PERMISSIONS,
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                }
            ],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "large": False,
            "unavailable": False,
            "member_count": 2,
            "joined_at": _now(),
            "channels": channels,
            "threads": [],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "members": [
                {
                    "user": user(BOT_ID, "Sitrep", bot=True),
                    "roles": [],
                    "joined_at": _now(),
                    "deaf": False,
                    "mute": False,
                    "flags": 0,
                }
            ],
        }

    async def start(self) -> None:
        """Serve on a free port of 127.0.0.1."""
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        """Close every socket and stop serving."""
        for socket in list(self.sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def rest_base(self) -> str:
        """What discord.http.Route.BASE must be."""
        return f"{self.base}/api/v10"

    @property
    def gateway_url(self) -> str:
        """What DiscordWebSocket.DEFAULT_GATEWAY must be."""
        return f"{self.base.replace('http', 'ws')}/gateway"

    # --- gateway ----------------------------------------------------------------------------------
    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self.sockets.append(socket)
        await socket.send_json({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None})
        try:
            async for message in socket:
                if message.type != WSMsgType.TEXT:
                    continue
                payload = json.loads(message.data)
                op = payload["op"]
                if op == 1:
                    await socket.send_json({"op": 11, "d": None, "s": None, "t": None})
                elif op == 2:
                    self.identifies += 1
                    await self._ready(socket)
                elif op == 6:
                    self.resumes += 1
                    await self._send(socket, "RESUMED", {})
                    self.resumed.set()
        finally:
            if socket in self.sockets:
                self.sockets.remove(socket)
        return socket

    async def _send(self, socket: web.WebSocketResponse, event: str, data: dict[str, Any]) -> None:
        self.sequence += 1
        await socket.send_json({"op": 0, "s": self.sequence, "t": event, "d": data})

    async def _ready(self, socket: web.WebSocketResponse) -> None:
        await self._send(
            socket,
            "READY",
            {
                "v": 10,
                "user": user(BOT_ID, "Sitrep", bot=True),
                "session_id": self.session_id,
                "resume_gateway_url": self.gateway_url,
                "guilds": [{"id": str(g), "unavailable": True} for g in self.guilds],
                "application": {"id": str(APP_ID), "flags": 0},
                "private_channels": [],
                "relationships": [],
                "user_settings": {},
                "shard": [0, 1],
            },
        )
        for guild in self.guilds.values():
            await self._send(socket, "GUILD_CREATE", guild)
        self.ready.set()

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a dispatch event to the connected bot."""
        await self._send(self.sockets[-1], event, data)

    async def reconnect(self) -> None:
        """Ask the bot to reconnect (op 7); it should come back and RESUME."""
        self.resumed.clear()
        await self.sockets[-1].send_json({"op": 7, "d": None, "s": None, "t": None})

    # --- interactions -------------------------------------------------------------------------------
    async def interact(
        self,
        guild_id: int,
        channel_id: int,
        name: str,
        options: list[dict[str, Any]] | None = None,
        *,
        user_id: int = ADMIN_ID,
        permissions: str = ALL_PERMISSIONS,
        resolved: dict[str, Any] | None = None,
        kind: int = 2,
        component: dict[str, Any] | None = None,
    ) -> Interaction:
        """Send INTERACTION_CREATE for a slash command (or, with ``component``, a button press).

        With ``guild_id=DM`` the command comes from a direct message with the bot.
        """
        interaction_id, token = snowflake(), f"token-{snowflake()}"
        command = next((c for cs in self.commands.values() for c in cs if c["name"] == name), None)
        data: dict[str, Any] = (
            component
            if component is not None
            else {
                "id": command["id"] if command else snowflake(),
                "name": name,
                "type": 1,
                "options": options or [],
                "guild_id": str(guild_id),
                **({"resolved": resolved} if resolved else {}),
            }
        )
        payload: dict[str, Any] = {
            "id": interaction_id,
            "application_id": str(APP_ID),
            "type": kind,
            "data": data,
            "guild_id": str(guild_id),
            "guild": {"id": str(guild_id), "locale": "en-US", "features": []},
            "channel_id": str(channel_id),
            "channel": {
                "id": str(channel_id),
                "type": 0,
                "guild_id": str(guild_id),
                "name": "briefings",
                "permissions": permissions,
                "position": 0,
                "nsfw": False,
                "parent_id": None,
            },
            "member": {
                "user": user(user_id, f"user{user_id % 100}"),
                "roles": [],
                "permissions": permissions,
                "joined_at": _now(),
                "deaf": False,
                "mute": False,
                "flags": 0,
                "nick": None,
                "avatar": None,
            },
            "token": token,
            "version": 1,
            "app_permissions": ALL_PERMISSIONS,
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild_id)},
            "context": 0,
            "attachment_size_limit": 8 * 1024 * 1024,
        }
        if guild_id == DM:
            # A direct message: no server, no member, the user on its own, a DM channel.
            for key in ("guild_id", "guild", "member"):
                payload.pop(key)
            data.pop("guild_id", None)
            payload["user"] = user(user_id, f"user{user_id % 100}")
            payload["channel"] = {"id": str(channel_id), "type": 1, "recipients": [payload["user"]]}
            payload["authorizing_integration_owners"] = {"1": str(user_id)}
            payload["context"] = 1
        if component is not None and "message" in component:
            payload["message"] = component.pop("message")
        record = Interaction(interaction_id, token, asyncio.get_running_loop().create_future())
        self.interactions[token] = record
        await self.dispatch("INTERACTION_CREATE", payload)
        return record

    async def press(
        self, guild_id: int, channel_id: int, message: dict[str, Any], custom_id: str, *, user_id: int = ADMIN_ID
    ) -> Interaction:
        """Press a button of a message the bot sent."""
        component = {"custom_id": custom_id, "component_type": 2, "message": message}
        return await self.interact(guild_id, channel_id, "", user_id=user_id, kind=3, component=component)

    # --- REST ---------------------------------------------------------------------------------------
    def _message(self, channel_id: str, body: dict[str, Any], *, flags: int = 0) -> dict[str, Any]:
        return {
            "id": snowflake(),
            "channel_id": channel_id,
            "author": user(BOT_ID, "Sitrep", bot=True),
            "content": body.get("content") or "",
            "timestamp": _now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "type": 0,
            "flags": flags | (body.get("flags") or 0),
            "application_id": str(APP_ID),
        }

    @staticmethod
    def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        # Content-Type exactly application/json (no charset), or discord.py reads a string.
        return web.Response(
            body=json.dumps(data).encode(),
            status=status,
            headers={"Content-Type": "application/json", **(headers or {})},
        )

    def _invalid(self, body: dict[str, Any]) -> web.Response | None:
        errors = embed_errors(body.get("embeds") or [])
        if len(body.get("content") or "") > 2000:
            errors["content"] = {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer."}]}
        if not errors:
            return None
        body = {"code": 50035, "errors": errors, "message": "Invalid Form Body"}
        self.bad_requests.append(body)
        return self._json(body, status=400)

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        method = request.method
        self.requests.append((method, path))
        body: dict[str, Any] = {}
        if request.can_read_body:
            raw = await request.read()
            if request.content_type == "multipart/form-data":
                reader_body = raw.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n--", 1)[0]
                body = json.loads(reader_body)
            elif raw:
                body = json.loads(raw)
        parts = path.strip("/").split("/")
        if path == "/users/@me":
            if self.login_status != 200:
                return self._json({"message": f"{self.login_status}: refused", "code": 0}, status=self.login_status)
            return self._json(user(BOT_ID, "Sitrep", bot=True))
        if path == "/oauth2/applications/@me":
            return self._json(
                {
                    "id": str(APP_ID),
                    "name": "Sitrep",
                    "description": "",
                    "icon": None,
                    "bot_public": True,
                    "bot_require_code_grant": False,
                    "verify_key": "0" * 64,
                    "owner": user(ADMIN_ID, "owner"),
                    "team": None,
                    "flags": 0,
                    "summary": "",
                    "interactions_endpoint_url": None,
                }
            )
        if parts[0] == "applications" and parts[-1] == "commands" and method == "PUT":
            scope = parts[3] if len(parts) == 5 else "global"
            stored = [
                {
                    **c,
                    "id": snowflake(),
                    "application_id": str(APP_ID),
                    "version": snowflake(),
                    "default_member_permissions": None
                    if c.get("default_member_permissions") is None
                    else str(c["default_member_permissions"]),
                    "type": c.get("type", 1),
                    "dm_permission": c.get("dm_permission", True),
                    "nsfw": False,
                }
                for c in body
            ]
            self.commands[scope] = stored
            return self._json(stored)
        if parts[0] == "interactions" and parts[-1] == "callback":
            record = next(r for r in self.interactions.values() if r.id == parts[1])
            kind = body["type"]
            data = body.get("data") or {}
            if (invalid := self._invalid(data)) is not None:
                if not record.callback.done():
                    record.callback.set_result(body)
                return invalid
            message = self._message("0", data, flags=data.get("flags", 0))
            if not record.callback.done():
                record.callback.set_result(body)
            record.changed.set()
            return self._json(
                {
                    "interaction": {
                        "id": record.id,
                        "type": 2,
                        "response_message_id": message["id"],
                        "response_message_loading": kind == 5,
                        "response_message_ephemeral": bool(data.get("flags", 0) & 64),
                    },
                    "resource": {"type": kind, "message": message},
                }
            )
        if parts[0] == "webhooks" and len(parts) == 3 and method == "POST":
            record = self.interactions[parts[2]]
            if (invalid := self._invalid(body)) is not None:
                return invalid
            message = self._message("0", body)
            record.followups.append(message)
            record.changed.set()
            return self._json(message)
        if parts[0] == "webhooks" and "messages" in parts and method in ("PATCH", "GET"):
            record = self.interactions[parts[2]]
            if method == "PATCH":
                if (invalid := self._invalid(body)) is not None:
                    return invalid
                record.edits.append(body)
                record.changed.set()
            return self._json(self._message("0", body))
        if parts[0] == "channels" and len(parts) == 2 and method == "GET":
            if parts[1] in self.threads:
                return self._json(self.threads[parts[1]])
            found = next(
                ((g, c) for g, guild in self.guilds.items() for c in guild["channels"] if c["id"] == parts[1]), None
            )
            if found is None:
                return self._json({"message": "Unknown Channel", "code": 10003}, status=404)
            guild_id, channel = found
            return self._json({**channel, "guild_id": str(guild_id)})
        if parts[0] == "channels" and len(parts) == 3 and parts[2] == "threads" and method == "POST":
            # A thread without a starter message (Start Thread without Message).
            if not self.can_create_threads:
                return self._json({"message": "Missing Permissions", "code": 50013}, status=403)
            parent = next(c for guild in self.guilds.values() for c in guild["channels"] if c["id"] == parts[1])
            if not 1 <= len(body.get("name") or "") <= 100:
                return self._json({"code": 50035, "message": "Invalid Form Body", "errors": {"name": {}}}, 400)
            thread = {
                "id": snowflake(),
                "type": body.get("type", 11),
                "guild_id": parent["guild_id"],
                "parent_id": parent["id"],
                "owner_id": str(BOT_ID),
                "name": body["name"],
                "last_message_id": None,
                "rate_limit_per_user": 0,
                "message_count": 0,
                "member_count": 1,
                "flags": 0,
                "thread_metadata": {
                    "archived": False,
                    "auto_archive_duration": body.get("auto_archive_duration", 1440),
                    "archive_timestamp": _now(),
                    "locked": False,
                },
            }
            self.threads[thread["id"]] = thread
            return self._json(thread, status=201)
        if path == "/users/@me/channels" and method == "POST":
            recipient = str(body["recipient_id"])
            channel = self.dm_channels.setdefault(
                recipient,
                {"id": snowflake(), "type": 1, "last_message_id": None, "recipients": [user(int(recipient), "member")]},
            )
            return self._json(channel)
        if parts[0] == "users" and len(parts) == 2 and parts[1].isdigit() and method == "GET":
            return self._json(user(int(parts[1]), f"user{int(parts[1]) % 100}"))
        if parts[0] == "channels" and parts[-1] == "messages" and method == "POST":
            channel_id = parts[1]
            if self.rate_limit_next[channel_id] > 0:
                self.rate_limit_next[channel_id] -= 1
                return self._json(
                    {"message": "You are being rate limited.", "retry_after": 0.2, "global": False},
                    status=429,
                    headers={
                        "Via": "1.1 google",
                        "X-RateLimit-Limit": "5",
                        "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset-After": "0.2",
                        "X-RateLimit-Bucket": "fake",
                        "X-RateLimit-Scope": "user",
                    },
                )
            if (invalid := self._invalid(body)) is not None:
                return invalid
            nonce = body.get("nonce")
            if body.get("enforce_nonce") and nonce in self.nonces:
                return self._json(self.nonces[nonce])
            message = self._message(channel_id, body)
            self.messages[channel_id].append(message)
            if nonce:
                self.nonces[nonce] = message
            return self._json(message)
        return self._json({"message": "404: Not Found", "code": 0}, status=404)
