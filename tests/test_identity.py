from digests.collect.identity import article_key, canonical_url


def test_canonical_url_strips_tracking_and_fragment() -> None:
    url = "HTTPS://Example.COM:443/news/story?utm_source=x&id=7&fbclid=abc&UTM_Campaign=y#comments"
    assert canonical_url(url) == "https://example.com/news/story?id=7"


def test_canonical_url_keeps_meaningful_parameters_in_stable_order() -> None:
    assert canonical_url("http://a.org/p?b=2&a=1") == canonical_url("http://a.org/p?a=1&b=2")
    assert canonical_url("http://a.org:8080") == "http://a.org:8080/"


def test_identity_prefers_entry_id_then_url_then_text() -> None:
    by_entry = article_key(entry_id="guid-1", feed="f", url="http://a.org/x", text="t")
    assert by_entry == article_key(entry_id="guid-1", feed="f", url="http://a.org/other", text="other")
    assert by_entry != article_key(entry_id="guid-1", feed="another feed", url="http://a.org/x", text="t")
    by_url = article_key(entry_id=None, feed="f", url="http://a.org/x?utm_medium=rss", text="t")
    assert by_url == article_key(entry_id=None, feed=None, url="http://a.org/x#top", text="different")
    by_text = article_key(entry_id=None, feed=None, url=None, text="Same  Text\n")
    assert by_text == article_key(entry_id=None, feed=None, url=None, text="same text")
    assert len({by_entry, by_url, by_text}) == 3
