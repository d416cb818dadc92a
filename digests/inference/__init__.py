"""Inference: the sentence encoder, model loading, the one batching loop and the model thread."""

from digests.inference.encoder import SentenceEncoder, build_encoder
from digests.inference.loading import ModelLoadError
from digests.inference.worker import ModelWorker

__all__ = ["ModelLoadError", "ModelWorker", "SentenceEncoder", "build_encoder"]
