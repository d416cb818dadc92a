"""The one family of errors that services raise, each with a message fit for a user."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any, get_args

from pydantic import BaseModel, ValidationError


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


def explain_invalid(error: ValidationError, model: type[BaseModel], *, where: str = "") -> str:
    """Return a pydantic validation error as one line a person can act on: each problem's key and what is
    wrong, and for an unknown key the nearest known name ("did you mean ...?")."""
    problems = []
    for problem in error.errors():
        location = [part for part in problem["loc"] if isinstance(part, str | int)]
        key = ".".join(str(part) for part in location) or "(top level)"
        message = problem["msg"]
        if problem["type"] == "extra_forbidden" and location:
            known = _fields_at(model, location[:-1])
            close = difflib.get_close_matches(str(location[-1]), known, n=1, cutoff=0.6)
            message = f"unknown setting{f'; did you mean {close[0]!r}?' if close else ''}"
        problems.append(f"{key}: {message}")
    return f"{where}{'; '.join(problems)}"


def _fields_at(model: type[BaseModel], location: Sequence[str | int]) -> list[str]:
    """Return the field names of the model found by following ``location`` from ``model`` (lists and optionals
    looked through), or none when the path leads elsewhere."""
    current: Any = model
    for part in location:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) if _is_model(current) else None
        if field is None:
            return []
        current = _model_in(field.annotation)
    return list(current.model_fields) if _is_model(current) else []


def _is_model(candidate: Any) -> bool:
    return isinstance(candidate, type) and issubclass(candidate, BaseModel)


def _model_in(annotation: Any) -> Any:
    if _is_model(annotation):
        return annotation
    for argument in get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None
