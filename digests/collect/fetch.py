"""Polite, defensive HTTP: timeouts, size caps, bounded redirects, conditional GET."""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import socket
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from digests.errors import FetchError
from digests.settings import FetchSettings

log = logging.getLogger(__name__)

_REDIRECTS = {301, 302, 303, 307, 308}
_CHUNK = 64 * 1024


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class _PublicOnlyResolver(AbstractResolver):
    """Resolve names as usual, but refuse to connect to private, loopback or link-local addresses.

    Checking at connection time (not only before the request) also covers redirects and DNS
    answers that change between a check and the connection.
    """

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Return the public addresses of ``host``, or fail when it has none."""
        results = await self._inner.resolve(host, port, family)
        public = [result for result in results if _is_public(result["host"])]
        if not public:
            raise OSError(errno.EACCES, f"refused: {host} resolves to a private or local address")
        return public

    async def close(self) -> None:
        """Release the wrapped resolver."""
        await self._inner.close()


@dataclass(slots=True)
class FetchResult:
    """What one GET brought back."""

    url: str
    status: int
    body: bytes = b""
    content_type: str | None = None
    charset: str | None = None
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        """Tell whether the server answered 304 to a conditional GET."""
        return self.status == 304


def check_url(url: str, *, allow_private: bool) -> str:
    """Return ``url`` if Sitrep may fetch it, else raise a FetchError saying why."""
    try:
        parts = urlsplit(url)
    except ValueError as error:
        raise FetchError(url, f"not a valid URL ({error})") from error
    if parts.scheme not in ("http", "https"):
        raise FetchError(url, "refused: only http and https URLs can be fetched")
    host = parts.hostname
    if not host:
        raise FetchError(url, "not a valid URL (it names no host)")
    if not allow_private:
        if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
            raise FetchError(url, f"refused: {host} is a local address")
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None and not _is_public(str(literal)):
            raise FetchError(url, f"refused: {host} is a private or local address")
    return url


class Fetcher:
    """An HTTP client for feeds and pages; use it as an async context manager."""

    def __init__(self, settings: FetchSettings) -> None:
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None
        # Slots are taken before a request's clock starts: waiting for one is not the server's slowness.
        self._slots = asyncio.Semaphore(settings.max_concurrent)
        self._host_slots: dict[str, asyncio.Semaphore] = {}

    async def __aenter__(self) -> Fetcher:
        resolver = None if self.settings.allow_private_addresses else _PublicOnlyResolver()
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, resolver=resolver)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.settings.connect_timeout),
            headers={"User-Agent": self.settings.user_agent, "Accept-Encoding": "gzip, deflate"},
            auto_decompress=True,
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
        """GET ``url``, following at most ``max_redirects`` redirects; raise FetchError on failure."""
        if self._session is None:
            raise RuntimeError("use Fetcher as 'async with Fetcher(settings) as fetcher'")
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        original = url
        seen: set[str] = set()
        host = (urlsplit(url).hostname or "").lower()
        host_slot = self._host_slots.setdefault(host, asyncio.Semaphore(self.settings.max_per_host))
        async with self._slots, host_slot:
            return await self._get(original, headers, seen)

    async def _get(self, original: str, headers: dict[str, str], seen: set[str]) -> FetchResult:
        assert self._session is not None
        url = original
        try:
            async with asyncio.timeout(self.settings.total_timeout):
                for _hop in range(self.settings.max_redirects + 1):
                    check_url(url, allow_private=self.settings.allow_private_addresses)
                    seen.add(url)
                    async with self._session.get(url, headers=headers, allow_redirects=False) as response:
                        if response.status in _REDIRECTS and "Location" in response.headers:
                            target = urljoin(url, response.headers["Location"])
                            if target in seen:
                                raise FetchError(original, f"redirect loop ({url} -> {target})")
                            url = target
                            continue
                        return await self._finish(original, url, response)
                raise FetchError(original, f"too many redirects (more than {self.settings.max_redirects})")
        except FetchError:
            raise
        except TimeoutError as error:
            raise FetchError(original, f"timed out after {self.settings.total_timeout:g} s", transient=True) from error
        except aiohttp.ClientConnectorError as error:
            reason = error.os_error.strerror or str(error.os_error)
            raise FetchError(original, f"cannot connect: {reason}", transient=True) from error
        except aiohttp.ClientPayloadError as error:
            raise FetchError(original, f"the answer was cut off or corrupt ({error})", transient=True) from error
        except aiohttp.ClientError as error:
            reason = f"request failed ({type(error).__name__}: {error})"
            raise FetchError(original, reason, transient=True) from error

    async def _finish(self, original: str, url: str, response: aiohttp.ClientResponse) -> FetchResult:
        headers = response.headers
        result: dict[str, Any] = {
            "url": url,
            "status": response.status,
            "content_type": response.content_type,
            "charset": response.charset,
            "etag": headers.get("ETag"),
            "last_modified": headers.get("Last-Modified"),
        }
        if response.status == 304:
            return FetchResult(**result)
        if response.status >= 400:
            raise FetchError(
                original,
                f"answered HTTP {response.status} {response.reason or ''}".rstrip(),
                status=response.status,
                transient=response.status in (408, 425, 429) or response.status >= 500,
            )
        cap = self.settings.max_body_bytes
        declared = response.content_length
        if declared is not None and declared > cap and not headers.get("Content-Encoding"):
            raise FetchError(original, f"too large: {declared:,} bytes announced, the limit is {cap:,}")
        body = bytearray()
        async for chunk in response.content.iter_chunked(_CHUNK):
            body += chunk
            if len(body) > cap:
                raise FetchError(original, f"too large: more than {cap:,} bytes, the limit")
        return FetchResult(body=bytes(body), **result)
