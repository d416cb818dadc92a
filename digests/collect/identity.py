"""How an article is recognised when it comes back: entry id, canonical URL, or its text."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from digests.text import fold_spaces, sha256

_TRACKING_KEYS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid",
        "_ga", "_gl", "ref_src", "ref_url", "cmpid", "ocid", "spm", "smid", "sr_share", "mkt_tok",
    }
)  # fmt: skip
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "at_", "__twitter", "hsa_")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_url(url: str | None) -> str | None:
    """Return ``url`` without tracking parameters, fragment, default port or case noise."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return urlunsplit((scheme, parts.netloc, parts.path, parts.query, ""))
    host = (parts.hostname or "").lower()
    netloc = host if port is None or _DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key.lower() not in _TRACKING_KEYS and not key.lower().startswith(_TRACKING_PREFIXES)
    ]
    path = parts.path or "/"
    return urlunsplit((scheme, netloc, path, urlencode(sorted(query)), ""))


def article_key(*, entry_id: str | None, feed: str | None, url: str | None, text: str) -> str:
    """Return the identity of an article: its feed entry id, else its canonical URL, else its text."""
    if entry_id and feed:
        return sha256(f"entry:{feed}\n{entry_id.strip()}")
    canonical = canonical_url(url)
    if canonical:
        return sha256(f"url:{canonical}")
    return sha256(f"text:{fold_spaces(text)}")


def url_key(url: str | None) -> str | None:
    """Return the hash of a web article's canonical URL, or None when it has none that names one article (no URL,
    not http(s), or a site's front page)."""
    canonical = canonical_url(url)
    if not canonical or not canonical.startswith(("http://", "https://")):
        return None
    parts = urlsplit(canonical)
    if parts.path in ("", "/") and not parts.query:
        return None
    return sha256(f"url:{canonical}")
