"""Translation into English through a local sequence-to-sequence model (MarianMT, NLLB), off by default.

Only what digests show is translated: an article's title and its summary, never the stored text. The model
loads on first use; a model that cannot be loaded is a clear error naming it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from digests.inference.batching import by_length, generate_texts
from digests.inference.loading import (
    ModelLoadError,
    load_error,
    local_only,
    offline_mode,
    pick_device,
    quiet_transformers,
)
from digests.settings import TranslateSettings
from digests.text import cut

log = logging.getLogger(__name__)


class Translator:
    """Translates short texts into English with the configured model, deterministically, in batches."""

    def __init__(self, settings: TranslateSettings) -> None:
        self.settings = settings
        self.offline = offline_mode(settings.offline)
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any] | None = None
        # A model that failed to load is not asked for again: translation stays off until Sitrep restarts.
        self.failure: ModelLoadError | None = None

    def wanted(self, language: str | None) -> bool:
        """Tell whether articles in ``language`` are translated under these settings (and the model loads)."""
        if not self.settings.enabled or self.failure is not None or language in (None, "en"):
            return False
        return not self.settings.languages or language in self.settings.languages

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._loaded is not None:
                return self._loaded
            from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

            quiet_transformers()
            name = self.settings.model
            if self.failure is not None:
                raise self.failure
            local = local_only(name, self.offline)
            try:
                tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=local)
                model = AutoModelForSeq2SeqLM.from_pretrained(name, local_files_only=local)
            except (OSError, ValueError, ImportError) as error:
                self.failure = load_error(name, error, offline=self.offline)
                raise self.failure from error
            device = pick_device(self.settings.device)
            model.eval().to(device)
            log.info("Loaded translation model %s on %s", name, device)
            self._loaded = (tokenizer, model)
            return self._loaded

    def translate(self, texts: Sequence[str]) -> list[str]:
        """Return each text in English (blocking: run it in an executor). Empty texts stay empty."""
        import torch

        tokenizer, model = self._load()
        extra: dict[str, Any] = {}
        if self.settings.target_token:  # NLLB-style models are told the target language with a token
            extra["forced_bos_token_id"] = tokenizer.convert_tokens_to_ids(self.settings.target_token)

        def run(batch: list[str]) -> list[str]:
            return generate_texts(
                tokenizer,
                model,
                [cut(text, self.settings.max_chars) for text in batch],
                max_input_tokens=self.settings.max_input_tokens,
                max_new_tokens=self.settings.max_new_tokens,
                num_beams=1,
                **extra,
            )

        wanted = [i for i, text in enumerate(texts) if text.strip()]
        results = [""] * len(texts)
        with torch.inference_mode():
            for index, translated in zip(
                wanted, by_length([texts[i] for i in wanted], self.settings.batch_size, run), strict=True
            ):
                results[index] = translated
        return results
