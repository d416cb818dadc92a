"""Read a list of typed entries (``[[source]]``, ``[[topic]]``) from a TOML file, with errors that say where."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from digests.errors import ConfigError, explain_invalid

M = TypeVar("M", bound=BaseModel)


def read_entries(path: Path, key: str, model: type[M], *, defaults: Mapping[str, Any] | None = None) -> list[M]:
    """Return the ``[[key]]`` tables of ``path`` as ``model``s; a broken file is a ConfigError naming the entry."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ConfigError(f"{path}: the file does not exist") from error
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from error
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read ({error.strerror or error})") from error
    entries = data.get(key, [])
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: '{key}' must be a list of tables ([[{key}]])")
    result = []
    for number, entry in enumerate(entries, start=1):
        try:
            result.append(model.model_validate({**(defaults or {}), **entry}))
        except ValidationError as error:
            raise ConfigError(explain_invalid(error, model, where=f"{path}: {key} {number} is invalid: ")) from error
        except TypeError as error:
            raise ConfigError(f"{path}: {key} {number} is invalid: {error}") from error
    return result
