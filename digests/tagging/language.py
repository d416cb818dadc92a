"""Which language an article is written in: ISO 639-1 codes, detected offline with py3langid."""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

import pycountry

from digests.errors import NotFoundError
from digests.text import cut

DETECT_CHARS = 1500
# Below this confidence (a normalized probability) the language is left unknown rather than guessed.
MIN_CONFIDENCE = 0.6
_LOCK = threading.Lock()


@cache
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def preload() -> None:
    """Start loading the identifier on a thread of its own, so that it is ready when tagging begins."""
    threading.Thread(target=_loaded, name="sitrep-langid", daemon=True).start()


def _loaded() -> None:
    with _LOCK:
        _identifier()


def detect_language(title: str, text: str) -> str | None:
    """Return the ISO 639-1 code of the language of an article, or None when too little text says it."""
    sample = f"{title}\n{text[:DETECT_CHARS]}".strip()
    if len(sample) < 20:
        return None
    with _LOCK:  # the identifier is shared; loading it once costs about a second
        code, confidence = _identifier().classify(sample)
    return code if confidence >= MIN_CONFIDENCE else None


def language_name(code: str) -> str:
    """Return the English name of a language code ("pt" -> "Portuguese"), or the code itself."""
    language = pycountry.languages.get(alpha_2=code.lower())
    return language.name if language is not None else code


def resolve_language(name: str) -> str:
    """Return the ISO 639-1 code for a code or English name ("pt", "Portuguese"); unknown names raise."""
    key = name.strip()
    language = pycountry.languages.get(alpha_2=key.lower()) if len(key) == 2 else None
    if language is None:
        try:
            language = pycountry.languages.lookup(key)
        except LookupError:
            language = None
    code = getattr(language, "alpha_2", None)
    if not code:
        raise NotFoundError(f"Unknown language {cut(name, 40)!r}: give a two-letter code such as en, pt or de.")
    return str(code)
