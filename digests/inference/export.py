"""Turn a Hugging Face sentence encoder into an ONNX Runtime model: export, fuse, and optionally quantize.

Runs in a process of its own (``python -m digests.inference.export NAME FOLDER [--int8] [--offline]``), so that
the process serving digests never imports PyTorch for its encoder. The folder receives ``model.onnx`` and the
fast tokenizer's ``tokenizer.json``; it is written elsewhere first and renamed into place, so a reader never
sees half of it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

FORMAT = 1  # bump when the exported graph changes: cached exports are made again


def _export(name: str, target: Path, *, offline: bool) -> dict[str, Any]:
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=offline)
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError("the encoder has no fast tokenizer (tokenizer.json), which ONNX Runtime needs")
    # Eager attention exports as plain operators that ONNX Runtime fuses into its own attention kernel.
    model = AutoModel.from_pretrained(name, local_files_only=offline, attn_implementation="eager").eval()

    class Hidden(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    sample = tokenizer(["a first sentence", "and a second, longer one"], padding=True, return_tensors="pt")
    axes = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # tracer advisories about constant Python values
        torch.onnx.export(
            Hidden(model),
            (sample["input_ids"], sample["attention_mask"]),
            str(target / "model.onnx"),
            input_names=["input_ids", "attention_mask"],
            output_names=["hidden"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "hidden": axes},
            opset_version=17,
            dynamo=False,
        )
    tokenizer.backend_tokenizer.save(str(target / "tokenizer.json"))
    config = model.config
    return {
        "model_type": getattr(config, "model_type", ""),
        "heads": int(getattr(config, "num_attention_heads", 0) or 0),
        "hidden": int(getattr(config, "hidden_size", 0) or 0),
        "pad_id": int(tokenizer.pad_token_id or 0),
        "max_tokens": int(min(getattr(tokenizer, "model_max_length", 512) or 512, 512)),
    }


def _optimize(path: Path, info: dict[str, Any]) -> bool:
    """Fuse attention, layer norms and GELU for BERT-like encoders; others are left as exported."""
    if info["model_type"] not in ("bert", "roberta", "distilbert", "xlm-roberta", "mpnet", "electra"):
        return False
    from onnxruntime.transformers import optimizer

    optimized = optimizer.optimize_model(
        str(path), model_type="bert", num_heads=info["heads"], hidden_size=info["hidden"], opt_level=1
    )
    optimized.save_model_to_file(str(path))
    return True


def _quantize(path: Path) -> None:
    """Store the matrix weights in int8, one scale per output channel (activations quantized on the fly)."""
    import logging

    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.getLogger().setLevel(logging.ERROR)  # the quantizer advises pre-processing through the root logger
    quantized = path.with_name("model.int8.onnx")
    quantize_dynamic(
        str(path),
        str(quantized),
        weight_type=QuantType.QInt8,
        per_channel=True,
        extra_options={"DefaultTensorType": TensorProto.FLOAT},
    )
    quantized.replace(path)


def export(name: str, folder: Path, *, int8: bool, offline: bool) -> None:
    """Write the ONNX model and tokenizer of ``name`` into ``folder`` (replacing nothing that is there)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".export-") as scratch:
        work = Path(scratch)
        info = _export(name, work, offline=offline)
        info["fused"] = _optimize(work / "model.onnx", info)
        if int8:
            _quantize(work / "model.onnx")
        info.update(source=name, int8=int8, format=FORMAT)
        (work / "export.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
        for leftover in work.glob("*.data"):  # external weights are folded into model.onnx by the optimizer
            leftover.unlink()
        done = work / "done"
        done.mkdir()
        for item in ("model.onnx", "tokenizer.json", "export.json"):
            shutil.move(str(work / item), done / item)
        try:
            os.rename(done, folder)
        except OSError:
            if not (folder / "export.json").exists():  # another process did not finish it either
                raise


def main(argv: list[str] | None = None) -> int:
    """Export one encoder; the exit status and stderr say whether it worked."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--int8", action="store_true")
    parser.add_argument("--offline", action="store_true")
    args = parser.parse_args(argv)
    try:
        export(args.name, args.folder, int8=args.int8, offline=args.offline)
    except Exception as error:  # reported to the parent process, which says what to do
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
