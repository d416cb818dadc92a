"""The one family of errors that services raise, each with a message fit for a user."""


class SitrepError(Exception):
    """Base of every error a service raises on purpose; ``str(error)`` is shown to users."""


class ConfigError(SitrepError):
    """Settings, sources or topics that cannot be used as written."""


class FetchError(SitrepError):
    """A URL could not be fetched: refused, timed out, too big, or answered with an error.

    ``transient`` says whether asking again later may succeed (a timeout, a dropped connection,
    HTTP 429 or 5xx) or not (refused, too large, HTTP 404).
    """

    def __init__(self, url: str, reason: str, *, status: int | None = None, transient: bool = False) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.status = status
        self.transient = transient


class SourceError(SitrepError):
    """A source's content could not be read as articles."""


class NotFoundError(SitrepError):
    """Something a user named does not exist."""
