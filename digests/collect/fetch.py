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


# Never fetched, whatever the settings: link-local networks (where clouds answer instance metadata) and the
# metadata services' own names and addresses.
_NEVER_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in ("169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128", "100.100.100.200/32")
)
_NEVER_HOSTS = ("metadata.google.internal", "metadata.goog", "metadata", "instance-data", "instance-data.ec2.internal")
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    ip = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _is_public(address: str) -> bool:
    ip = _address(address)
    return ip.is_global and not ip.is_multicast


@dataclass(slots=True, frozen=True)
class AddressPolicy:
    """Which hosts Sitrep may fetch from: public addresses; private ones when allowed, all of them
    (``allow_private``) or by network or name (``allowed``); link-local and cloud metadata addresses never."""

    allow_private: bool = False
    networks: tuple[Network, ...] = ()
    names: tuple[str, ...] = ()

    @classmethod
    def of(cls, settings: FetchSettings) -> AddressPolicy:
        """Return the policy the fetch settings describe."""
        networks, names = [], []
        for entry in settings.allowed_private:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                names.append(entry.lower().strip("."))
        return cls(settings.allow_private_addresses, tuple(networks), tuple(names))

    def _named(self, host: str) -> bool:
        return any(host == name or host.endswith(f".{name}") for name in self.names)

    def host_refusal(self, host: str) -> str | None:
        """Say why ``host`` (a name or an address) may not be fetched from, or None when it may."""
        host = host.lower().rstrip(".")
        if host in _NEVER_HOSTS:
            return f"refused: {host} is a cloud metadata service"
        try:
            literal = _address(host)
        except ValueError:
            local = host == "localhost" or host.endswith(_LOCAL_SUFFIXES)
            if local and not (self.allow_private or self._named(host)):
                return f"refused: {host} is a local address"
            return None
        return self.address_refusal(host, str(literal))

    def address_refusal(self, host: str, address: str) -> str | None:
        """Say why connecting to ``address`` (which ``host`` resolved to) is refused, or None when it is not."""
        ip = _address(address)
        if any(ip in network for network in _NEVER_NETWORKS if network.version == ip.version):
            return f"refused: {address} is a private or local address, link-local (cloud metadata): never fetched"
        if ip.is_global and not ip.is_multicast:
            return None
        allowed = any(ip in network for network in self.networks if network.version == ip.version)
        if self.allow_private or allowed or self._named(host.lower().rstrip(".")):
            return None
        return f"refused: {host} is a private or local address"


class _PolicyResolver(AbstractResolver):
    """Resolve names as usual, but connect only to the addresses the policy allows.

    Checking at connection time (not only before the request) also covers redirects and DNS
    answers that change between a check and the connection.
    """

    def __init__(self, policy: AddressPolicy | None = None) -> None:
        self._inner = DefaultResolver()
        self._policy = policy or AddressPolicy()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Return the addresses of ``host`` the policy allows, or fail when there are none."""
        results = await self._inner.resolve(host, port, family)
        allowed = [result for result in results if self._policy.address_refusal(host, result["host"]) is None]
        if not allowed:
            reasons = {self._policy.address_refusal(host, result["host"]) for result in results}
            raise OSError(errno.EACCES, "; ".join(sorted(r for r in reasons if r)) or f"refused: {host}")
        return allowed

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


def check_url(url: str, *, allow_private: bool | AddressPolicy = False) -> str:
    """Return ``url`` if Sitrep may fetch it, else raise a FetchError saying why.

    ``allow_private`` is the policy, or True for any private address (link-local and metadata never).
    """
    policy = allow_private if isinstance(allow_private, AddressPolicy) else AddressPolicy(allow_private)
    try:
        parts = urlsplit(url)
    except ValueError as error:
        raise FetchError(url, f"not a valid URL ({error})") from error
    if parts.scheme not in ("http", "https"):
        raise FetchError(url, "refused: only http and https URLs can be fetched")
    host = parts.hostname
    if not host:
        raise FetchError(url, "not a valid URL (it names no host)")
    refusal = policy.host_refusal(host)
    if refusal:
        raise FetchError(url, refusal)
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
        self.policy = AddressPolicy.of(self.settings)
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, resolver=_PolicyResolver(self.policy))
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
                    check_url(url, allow_private=self.policy)
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
