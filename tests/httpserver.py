"""A local HTTP server whose answers each test chooses, and which records what it was asked."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class LocalServer:
    """Routes registered by path; ``requests`` lists (path, headers) in arrival order."""

    routes: dict[str, Handler] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    base: str = ""

    def url(self, path: str) -> str:
        """Return the absolute URL of ``path`` on this server."""
        return f"{self.base}{path}"

    def hits(self, path: str) -> int:
        """Count requests for ``path``."""
        return sum(1 for p, _ in self.requests if p == path)

    def serve(self, path: str, body: bytes | str, *, content_type: str = "text/html", **headers: str) -> None:
        """Answer ``path`` with a fixed body, honouring If-None-Match against an ``ETag`` header."""
        data = body.encode() if isinstance(body, str) else body

        async def handler(request: web.Request) -> web.StreamResponse:
            etag = headers.get("ETag")
            if etag and request.headers.get("If-None-Match") == etag:
                return web.Response(status=304, headers={"ETag": etag})
            return web.Response(body=data, headers={"Content-Type": content_type, **headers})

        self.routes[path] = handler

    def serve_gzip(self, path: str, body: str, *, content_type: str = "application/rss+xml") -> None:
        """Answer ``path`` with a gzip-encoded body."""

        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(
                body=gzip.compress(body.encode()),
                headers={"Content-Type": content_type, "Content-Encoding": "gzip"},
            )

        self.routes[path] = handler

    def status(self, path: str, code: int) -> None:
        """Answer ``path`` with an error status."""

        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(status=code, text="error")

        self.routes[path] = handler

    def redirect(self, path: str, target: str, code: int = 302) -> None:
        """Redirect ``path`` to ``target``."""

        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(status=code, headers={"Location": target})

        self.routes[path] = handler

    def slow(self, path: str, seconds: float) -> None:
        """Answer ``path`` only after ``seconds``."""

        async def handler(request: web.Request) -> web.StreamResponse:
            await asyncio.sleep(seconds)
            return web.Response(text="late")

        self.routes[path] = handler

    def endless(self, path: str, total_bytes: int, *, chunk: int = 1 << 20) -> None:
        """Stream ``total_bytes`` without announcing a length."""

        async def handler(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
            await response.prepare(request)
            sent = 0
            block = b"x" * chunk
            try:
                while sent < total_bytes:
                    await response.write(block)
                    sent += chunk
            except (ConnectionError, RuntimeError):
                pass
            return response

        self.routes[path] = handler


async def start_server() -> AsyncIterator[LocalServer]:
    """Run a LocalServer on 127.0.0.1 at a free port until the generator is closed."""
    server = LocalServer()

    async def dispatch(request: web.Request) -> web.StreamResponse:
        server.requests.append((request.path, dict(request.headers)))
        handler = server.routes.get(request.path)
        if handler is None:
            return web.Response(status=404, text="not found")
        return await handler(request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", dispatch)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.base = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()
