"""A transformers sentence encoder (mean pooling, unit length), loaded once and lazily."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from digests.inference.batching import by_length
from digests.inference.loading import (
    bundled_encoder_path,
    load_error,
    offline_mode,
    pick_device,
    quantize,
    quiet_transformers,
)
from digests.settings import SummarizeSettings

log = logging.getLogger(__name__)


class SentenceEncoder:
    """Encodes texts into unit vectors; thread-safe lazy loading, batched by length, no gradients."""

    def __init__(
        self,
        name: str = "",
        *,
        device: str = "auto",
        batch_size: int = 32,
        offline: bool = False,
        int8: bool = False,
        cache_size: int = 0,
    ) -> None:
        self.name = name or str(bundled_encoder_path())
        self.model_id = (name or "sentence-transformers/all-MiniLM-L6-v2") + ("+int8" if int8 else "")
        self.device_setting = device
        self.batch_size = batch_size
        self.offline = offline_mode(offline)
        self.max_tokens = 256
        self.int8 = int8
        self._lock = threading.Lock()
        self._model: Any = None
        self._tokenizer: Any = None
        self.device = "cpu"
        # Recent texts' vectors: a sentence the summarizer encoded is not encoded again by the tagger.
        self.cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.encoded = 0  # texts run through the model, for benchmarks

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._model is not None:
                return self._tokenizer, self._model
            from transformers import AutoModel, AutoTokenizer

            quiet_transformers()
            try:
                tokenizer = AutoTokenizer.from_pretrained(self.name, local_files_only=self.offline)
                model = AutoModel.from_pretrained(self.name, local_files_only=self.offline)
            except (OSError, ValueError) as error:
                raise load_error(self.name, error, offline=self.offline) from error
            self.device = pick_device(self.device_setting)
            model.eval().to(self.device)
            if self.int8 and self.device == "cpu":
                model = quantize(model)
            log.info("Loaded sentence encoder %s on %s", self.model_id, self.device)
            self._tokenizer, self._model = tokenizer, model
            return tokenizer, model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return one unit-length float32 row per text, in the order given."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        if self.cache_size:
            return self._encode_cached(texts)
        return self._encode(texts)

    def _encode_cached(self, texts: Sequence[str]) -> np.ndarray:
        missing = [text for text in dict.fromkeys(texts) if text not in self._cache]
        if missing:
            for text, row in zip(missing, self._encode(missing), strict=True):
                self._cache[text] = row
        rows = []
        for text in texts:
            self._cache.move_to_end(text)
            rows.append(self._cache[text])
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return np.stack(rows)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        tokenizer, model = self._load()
        self.encoded += len(texts)

        def run(batch: list[str]) -> np.ndarray:
            encoded = tokenizer(
                batch, padding=True, truncation=True, max_length=self.max_tokens, return_tensors="pt"
            ).to(self.device)
            hidden = model(**encoded).last_hidden_state
            mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1).float().cpu().numpy()

        with torch.inference_mode():
            return np.stack(by_length(texts, self.batch_size, run))


def build_encoder(settings: SummarizeSettings) -> SentenceEncoder:
    """Return the sentence encoder named in the settings (not loaded until first used)."""
    return SentenceEncoder(
        settings.encoder,
        device=settings.device,
        batch_size=max(settings.batch_size, 32),
        offline=settings.offline,
        int8=settings.encoder_int8,
        cache_size=settings.embedding_cache,
    )
