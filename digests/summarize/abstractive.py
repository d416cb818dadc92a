"""Summaries written by a Hugging Face model (seq2seq, or a causal LM with a prompt), kept honest by a guard."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from digests.inference.batching import by_length, generate_texts
from digests.inference.loading import load_error, local_only, offline_mode, pick_device, quiet_transformers
from digests.settings import SummarizeSettings
from digests.summarize.base import SectionInput, SectionSummary, join_within
from digests.summarize.extractive import ExtractiveSummarizer
from digests.summarize.guard import unsupported_facts
from digests.text import sentences_of

log = logging.getLogger(__name__)


class AbstractiveSummarizer:
    """Generates a summary per section; falls back to the extractive one when the guard objects."""

    backend = "abstractive"

    def __init__(self, settings: SummarizeSettings, fallback: ExtractiveSummarizer) -> None:
        self.settings = settings
        self.fallback = fallback
        self.model_id = settings.model + (f"#{settings.gguf_file}" if settings.gguf_file else "")
        self.offline = offline_mode(settings.offline)
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any, str] | None = None

    @property
    def cache_key(self) -> str:
        """Identify the model and the generation parameters."""
        s = self.settings
        parameters = f"t{s.max_new_tokens}:b{s.num_beams}:i{s.max_input_tokens}:c{s.max_chars}"
        return f"abstractive:{self.model_id}:{s.model_kind}:{parameters}"

    def _load(self) -> tuple[Any, Any, str]:
        with self._lock:
            if self._loaded is not None:
                return self._loaded
            from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

            quiet_transformers()
            name = self.settings.model
            extra: dict[str, Any] = {"local_files_only": local_only(name, self.offline)}
            if self.settings.gguf_file:
                extra["gguf_file"] = self.settings.gguf_file
            try:
                kind = self.settings.model_kind
                if kind == "auto":
                    config = AutoConfig.from_pretrained(name, **extra)
                    kind = "seq2seq" if getattr(config, "is_encoder_decoder", False) else "causal"
                tokenizer = AutoTokenizer.from_pretrained(name, **extra)
                loader = AutoModelForSeq2SeqLM if kind == "seq2seq" else AutoModelForCausalLM
                model = loader.from_pretrained(name, **extra)
            except (OSError, ValueError, ImportError) as error:
                raise load_error(name, error, offline=self.offline) from error
            device = pick_device(self.settings.device)
            model.eval().to(device)
            if kind == "causal":
                tokenizer.padding_side = "left"
                if tokenizer.pad_token is None:
                    tokenizer.pad_token = tokenizer.eos_token
            log.info("Loaded %s summarizer %s on %s", kind, self.model_id, device)
            self._loaded = (tokenizer, model, kind)
            return self._loaded

    def _prompt(self, tokenizer: Any, text: str) -> str:
        content = self.settings.prompt.format(text=text)
        if getattr(tokenizer, "chat_template", None):
            return str(
                tokenizer.apply_chat_template(
                    [{"role": "user", "content": content}], tokenize=False, add_generation_prompt=True
                )
            )
        return content + "\n\nSummary:"

    def generate(self, texts: Sequence[str]) -> list[str]:
        """Return the model's raw summary of each text, batched by length, deterministic."""
        import torch

        tokenizer, model, kind = self._load()

        def run(batch: list[str]) -> list[str]:
            return generate_texts(
                tokenizer,
                model,
                batch if kind == "seq2seq" else [self._prompt(tokenizer, text) for text in batch],
                max_input_tokens=self.settings.max_input_tokens,
                prompted=kind == "causal",
                max_new_tokens=self.settings.max_new_tokens,
                num_beams=self.settings.num_beams,
                pad_token_id=tokenizer.pad_token_id,
            )

        with torch.inference_mode():
            return by_length(texts, self.settings.batch_size, run)

    def summarize(self, sections: Sequence[SectionInput]) -> list[SectionSummary]:
        """Return a guarded abstractive summary per section, or the extractive one where the guard objects."""
        generated = self.generate([s.text for s in sections])
        extractive: list[SectionSummary] | None = None
        results: list[SectionSummary] = []
        for index, (section, text) in enumerate(zip(sections, generated, strict=True)):
            candidate = join_within(sentences_of(text), self.settings.max_chars) if text else ""
            problems = unsupported_facts(candidate, section.text) if candidate else ["empty output"]
            if not problems:
                results.append(SectionSummary(candidate, self.backend, self.model_id))
                continue
            log.debug("Guard rejected a summary by %s: %s", self.model_id, ", ".join(problems[:5]))
            if extractive is None:
                extractive = self.fallback.summarize(sections)
            results.append(SectionSummary(extractive[index].summary, self.backend, self.model_id, fallback=True))
        return results
