"""A sentence encoder (mean pooling, unit length), loaded once and lazily, on ONNX Runtime or PyTorch.

ONNX Runtime is the default on the CPU: the model is exported once (in a separate process, cached on disk), its
weights quantized to int8 per channel, and the serving process never imports PyTorch for it. PyTorch serves a
GPU, a model that cannot be exported, and ``runtime = "torch"``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from digests.inference.batching import by_length
from digests.inference.loading import (
    ModelLoadError,
    bundled_encoder_path,
    load_error,
    offline_mode,
    pick_device,
    quantize,
    quiet_transformers,
)
from digests.settings import SummarizeSettings, cache_home

log = logging.getLogger(__name__)

Runtime = Literal["onnx", "torch"]
Batch = Callable[[list[str]], np.ndarray]


def default_model_cache() -> Path:
    """Return where exported models are kept: ``$XDG_CACHE_HOME/sitrep/models`` (``~/.cache`` by default)."""
    return cache_home() / "models"


def _mean_pooled(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Average the token vectors a mask keeps and scale each row to unit length."""
    weights = mask[..., None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    unit: np.ndarray = (pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-9)).astype(np.float32)
    return unit


class SentenceEncoder:
    """Encodes texts into unit vectors; thread-safe lazy loading, batched by length, no gradients."""

    def __init__(
        self,
        name: str = "",
        *,
        device: str = "auto",
        batch_size: int = 16,
        offline: bool = False,
        int8: bool = False,
        cache_size: int = 0,
        runtime: Runtime = "onnx",
        model_cache: Path | None = None,
    ) -> None:
        self.name = name or str(bundled_encoder_path())
        # The stored vectors say which model made them; both runtimes' int8 share a name (see the benchmarks).
        self.model_id = (name or "sentence-transformers/all-MiniLM-L6-v2") + ("+int8" if int8 else "")
        self.device_setting = device
        self.batch_size = batch_size
        self.offline = offline_mode(offline)
        self.max_tokens = 256
        self.int8 = int8
        self.runtime: Runtime = "torch" if device.startswith("cuda") else runtime
        self.model_cache = model_cache or default_model_cache()
        self._lock = threading.Lock()
        self._batch: Batch | None = None
        self.device = "cpu"
        # Recent texts' vectors: a sentence the summarizer encoded is not encoded again by the tagger.
        self.cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.encoded = 0  # texts run through the model, for benchmarks

    @property
    def loaded(self) -> bool:
        """Tell whether the model is in memory."""
        return self._batch is not None

    def _load(self) -> Batch:
        with self._lock:
            if self._batch is None:
                if self.runtime == "onnx":
                    try:
                        self._batch = self._load_onnx()
                    except ModelLoadError as error:
                        log.warning("%s; the encoder runs on PyTorch instead", error)
                        self.runtime = "torch"
                if self._batch is None:
                    self._batch = self._load_torch()
            return self._batch

    # ONNX Runtime

    def export_folder(self) -> Path:
        """Return the folder that holds (or will hold) this encoder's ONNX export."""
        from digests.inference.export import FORMAT

        source = Path(self.name).expanduser()
        identity: dict[str, Any] = {"name": self.name, "int8": self.int8, "format": FORMAT}
        if source.is_dir():  # a local folder: its files' sizes and times, so a changed model is exported again
            identity["name"] = str(source.resolve())
            identity["files"] = sorted(
                (p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in source.iterdir() if p.is_file()
            )
        digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
        slug = "".join(c if c.isalnum() else "-" for c in source.name or self.name)[-40:]
        return self.model_cache / f"{slug}-{'int8' if self.int8 else 'fp32'}-{digest}"

    def _ensure_export(self) -> Path:
        folder = self.export_folder()
        if (folder / "export.json").exists():
            return folder
        log.info("Exporting the sentence encoder %s to ONNX (once) in %s", self.model_id, folder)
        command = [sys.executable, "-m", "digests.inference.export", self.name, str(folder)]
        command += ["--int8"] if self.int8 else []
        command += ["--offline"] if self.offline else []
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not (folder / "export.json").exists():
            why = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise ModelLoadError(f"cannot export the sentence encoder {self.name!r} to ONNX: {why}")
        return folder

    def _load_onnx(self) -> Batch:
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as error:
            raise ModelLoadError(f"ONNX Runtime is not installed ({error})") from error
        folder = self._ensure_export()
        info = json.loads((folder / "export.json").read_text(encoding="utf-8"))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = os.cpu_count() or 1  # its default counts physical cores only
        options.inter_op_num_threads = 1
        try:
            session = onnxruntime.InferenceSession(
                str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"]
            )
            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        except Exception as error:  # a damaged cache: say where it is, so it can be removed
            raise ModelLoadError(f"cannot load the ONNX export in {folder} ({error}); delete that folder") from error
        tokenizer.enable_truncation(max_length=min(self.max_tokens, int(info.get("max_tokens", 512))))
        tokenizer.enable_padding(pad_id=int(info.get("pad_id", 0)))
        log.info("Loaded sentence encoder %s on ONNX Runtime (%s)", self.model_id, folder.name)

        def run(batch: list[str]) -> np.ndarray:
            encoded = tokenizer.encode_batch(batch)
            ids = np.asarray([e.ids for e in encoded], dtype=np.int64)
            mask = np.asarray([e.attention_mask for e in encoded], dtype=np.int64)
            (hidden,) = session.run(None, {"input_ids": ids, "attention_mask": mask})
            return _mean_pooled(hidden, mask)

        return run

    # PyTorch

    def _load_torch(self) -> Batch:
        import torch
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
        log.info("Loaded sentence encoder %s on PyTorch (%s)", self.model_id, self.device)

        def run(batch: list[str]) -> np.ndarray:
            encoded = tokenizer(
                batch, padding=True, truncation=True, max_length=self.max_tokens, return_tensors="pt"
            ).to(self.device)
            with torch.inference_mode():
                hidden = model(**encoded).last_hidden_state.float().cpu().numpy()
            return _mean_pooled(hidden, encoded["attention_mask"].cpu().numpy())

        return run

    # Encoding

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return one unit-length float32 row per text, in the order given."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        if self.cache_size:
            return self._encode_cached(texts)
        return self._encode(texts)

    def encode_fixed(self, texts: Sequence[str]) -> np.ndarray:
        """Return the vectors of a fixed set of texts (a taxonomy's), kept on disk beside the model's export.

        The file is named by the model and the texts, so a changed model or taxonomy computes them again.
        """
        identity = json.dumps([self.runtime, self.export_folder().name, list(texts)])
        path = self.model_cache / f"vectors-{hashlib.sha256(identity.encode()).hexdigest()[:20]}.npy"
        try:
            stored: np.ndarray = np.load(path)
            if stored.shape[0] == len(texts):
                return stored
        except (OSError, ValueError):
            pass  # not computed yet, or damaged: computed again below
        vectors = self.encode(texts)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            scratch = path.with_name(f".{path.name}.{os.getpid()}.npy")
            np.save(scratch, vectors)
            scratch.replace(path)
        except OSError as error:
            log.debug("Could not keep the vectors in %s: %s", path, error)
        return vectors

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
        run = self._load()
        self.encoded += len(texts)
        return np.stack(by_length(texts, self.batch_size, run))


def build_encoder(settings: SummarizeSettings) -> SentenceEncoder:
    """Return the sentence encoder named in the settings (not loaded until first used)."""
    return SentenceEncoder(
        settings.encoder,
        device=settings.device,
        batch_size=settings.encoder_batch_size,
        offline=settings.offline,
        int8=settings.encoder_int8,
        cache_size=settings.embedding_cache,
        runtime=settings.encoder_runtime,
        model_cache=Path(settings.model_cache).expanduser() if settings.model_cache else None,
    )
