"""Fetching against a real local HTTP server: every way a source can misbehave."""

from __future__ import annotations

import pytest

from digests.collect.fetch import Fetcher, _PolicyResolver, check_url
from digests.errors import FetchError
from digests.settings import FetchSettings
from tests.httpserver import LocalServer

FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><title>One</title><link>http://news.example/one</link><description>Body one.</description></item>
</channel></rss>"""


def fetch_settings(**overrides: object) -> FetchSettings:
    values: dict[str, object] = {"allow_private_addresses": True, "total_timeout": 3.0, "connect_timeout": 2.0}
    return FetchSettings.model_validate(values | overrides)


async def test_200_with_user_agent_and_validators(http_server: LocalServer) -> None:
    http_server.serve("/feed", FEED, content_type="application/rss+xml", ETag='"v1"', **{"Last-Modified": "Mon"})
    async with Fetcher(fetch_settings()) as fetcher:
        result = await fetcher.get(http_server.url("/feed"))
    assert result.status == 200
    assert result.body == FEED.encode()
    assert result.etag == '"v1"'
    assert result.last_modified == "Mon"
    assert result.content_type == "application/rss+xml"
    _, headers = http_server.requests[-1]
    assert headers["User-Agent"].startswith("Sitrep/")
    assert "gzip" in headers["Accept-Encoding"]


async def test_conditional_get_answered_304(http_server: LocalServer) -> None:
    http_server.serve("/feed", FEED, ETag='"v1"')
    async with Fetcher(fetch_settings()) as fetcher:
        result = await fetcher.get(http_server.url("/feed"), etag='"v1"', last_modified="Mon, 01 Jan 2024 00:00:00 GMT")
    assert result.not_modified
    assert result.body == b""
    _, headers = http_server.requests[-1]
    assert headers["If-None-Match"] == '"v1"'
    assert headers["If-Modified-Since"] == "Mon, 01 Jan 2024 00:00:00 GMT"


async def test_gzip_body_is_decompressed(http_server: LocalServer) -> None:
    http_server.serve_gzip("/feed.gz", FEED)
    async with Fetcher(fetch_settings()) as fetcher:
        result = await fetcher.get(http_server.url("/feed.gz"))
    assert result.body == FEED.encode()


async def test_server_error_is_a_clear_fetch_error(http_server: LocalServer) -> None:
    http_server.status("/broken", 500)
    async with Fetcher(fetch_settings()) as fetcher:
        with pytest.raises(FetchError, match="HTTP 500") as caught:
            await fetcher.get(http_server.url("/broken"))
    assert caught.value.status == 500


async def test_timeout(http_server: LocalServer) -> None:
    http_server.slow("/slow", 1.5)
    async with Fetcher(fetch_settings(total_timeout=0.3)) as fetcher:
        with pytest.raises(FetchError, match=r"timed out after 0\.3 s"):
            await fetcher.get(http_server.url("/slow"))


async def test_redirects_followed_up_to_the_limit(http_server: LocalServer) -> None:
    http_server.serve("/final", "done")
    for hop in range(5):
        http_server.redirect(f"/r{hop}", f"/r{hop + 1}" if hop < 4 else "/final")
    async with Fetcher(fetch_settings()) as fetcher:
        result = await fetcher.get(http_server.url("/r0"))
        assert result.body == b"done"
        assert result.url == http_server.url("/final")
        http_server.redirect("/r-extra", "/r0")
        with pytest.raises(FetchError, match="too many redirects"):
            await fetcher.get(http_server.url("/r-extra"))


async def test_redirect_loop(http_server: LocalServer) -> None:
    http_server.redirect("/a", "/b")
    http_server.redirect("/b", "/a")
    async with Fetcher(fetch_settings()) as fetcher:
        with pytest.raises(FetchError, match="redirect loop"):
            await fetcher.get(http_server.url("/a"))


async def test_oversized_body_is_refused_while_streaming(http_server: LocalServer) -> None:
    http_server.endless("/huge", 50 * 1024 * 1024)
    async with Fetcher(fetch_settings(max_body_bytes=5_000_000)) as fetcher:
        with pytest.raises(FetchError, match="too large"):
            await fetcher.get(http_server.url("/huge"))
    assert http_server.hits("/huge") == 1


async def test_announced_oversized_body_is_refused_before_reading(http_server: LocalServer) -> None:
    http_server.serve("/big", b"x" * 20_000)
    async with Fetcher(fetch_settings(max_body_bytes=10_000)) as fetcher:
        with pytest.raises(FetchError, match="20,000 bytes announced"):
            await fetcher.get(http_server.url("/big"))


async def test_connection_refused() -> None:
    async with Fetcher(fetch_settings()) as fetcher:
        with pytest.raises(FetchError, match="cannot connect"):
            await fetcher.get("http://127.0.0.1:9/feed")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "only http and https"),
        ("javascript:alert(1)", "only http and https"),
        ("http://127.0.0.1/admin", "private or local"),
        ("http://169.254.169.254/latest/meta-data", "private or local"),
        ("http://[::1]:8080/", "private or local"),
        ("http://10.0.0.8/", "private or local"),
        ("http://localhost:5432/", "local address"),
        ("http:///nohost", "names no host"),
    ],
)
def test_hostile_urls_are_refused(url: str, reason: str) -> None:
    with pytest.raises(FetchError, match=reason):
        check_url(url, allow_private=False)


async def test_every_redirect_hop_is_checked(http_server: LocalServer) -> None:
    http_server.redirect("/away", "file:///etc/passwd")
    async with Fetcher(fetch_settings()) as fetcher:
        with pytest.raises(FetchError, match="only http and https"):
            await fetcher.get(http_server.url("/away"))


async def test_resolver_refuses_names_of_private_addresses() -> None:
    resolver = _PolicyResolver()
    try:
        with pytest.raises(OSError, match="private or local"):
            await resolver.resolve("localhost", 80)
    finally:
        await resolver.close()


async def test_loopback_is_refused_by_default(http_server: LocalServer) -> None:
    http_server.serve("/feed", FEED)
    async with Fetcher(fetch_settings(allow_private_addresses=False)) as fetcher:
        with pytest.raises(FetchError, match="private or local"):
            await fetcher.get(http_server.url("/feed"))
    assert http_server.hits("/feed") == 0


@pytest.mark.parametrize("allow_private", [False, True])
@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://[fe80::1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://100.100.100.200/latest/meta-data",
    ],
)
def test_link_local_and_metadata_addresses_are_never_fetched(url: str, allow_private: bool) -> None:
    with pytest.raises(FetchError, match="refused"):
        check_url(url, allow_private=allow_private)


def test_private_hosts_are_allowed_by_network_or_name_only() -> None:
    from digests.collect.fetch import AddressPolicy

    policy = AddressPolicy.of(
        fetch_settings(allow_private_addresses=False, allowed_private=["10.0.0.0/8", "feeds.internal"])
    )
    assert check_url("http://10.1.2.3/feed", allow_private=policy)
    assert check_url("http://feeds.internal/rss", allow_private=policy)
    assert check_url("http://eu.feeds.internal/rss", allow_private=policy)
    for refused in (
        "http://192.168.1.5/",
        "http://127.0.0.1:8799/",
        "http://other.internal/",
        "http://169.254.169.254/",
    ):
        with pytest.raises(FetchError, match="refused"):
            check_url(refused, allow_private=policy)
    with pytest.raises(ValueError, match="neither a network"):
        fetch_settings(allowed_private=["not a host!"])


async def test_an_allowed_network_is_fetched_and_a_private_one_is_not(http_server: LocalServer) -> None:
    http_server.serve("/feed", FEED)
    async with Fetcher(fetch_settings(allow_private_addresses=False, allowed_private=["127.0.0.0/8"])) as fetcher:
        assert (await fetcher.get(http_server.url("/feed"))).status == 200
    async with Fetcher(fetch_settings(allow_private_addresses=False, allowed_private=["10.0.0.0/8"])) as fetcher:
        with pytest.raises(FetchError, match="private or local"):
            await fetcher.get(http_server.url("/feed"))
    assert http_server.hits("/feed") == 1


async def test_a_name_resolving_to_a_metadata_address_is_refused_even_when_private_is_allowed() -> None:
    from digests.collect.fetch import AddressPolicy

    policy = AddressPolicy(allow_private=True)
    assert policy.address_refusal("feeds.example", "10.0.0.5") is None
    assert policy.address_refusal("feeds.example", "169.254.169.254") is not None
