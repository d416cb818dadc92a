"""The sentence encoder on ONNX Runtime: the same vectors as PyTorch, exported once, no PyTorch in the process."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from digests.inference import SentenceEncoder
from tests.models import build_encoder

TEXTS = ["Japan and Britain sign a minerals agreement", "the supply of minerals", "cyber , 1999 ."]
NEWS = [
    "Japan and Britain signed an agreement on critical minerals on Tuesday.",
    "The central bank raised interest rates by a quarter point to curb inflation.",
    "Rebels shelled the city overnight, killing at least twelve civilians.",
    "The striker scored twice as the home side won the cup final.",
    "Regulators fined the company for a data breach that exposed millions of records.",
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_encoder(tmp_path_factory.mktemp("models") / "tiny-bert")


def test_onnx_gives_the_vectors_pytorch_gives(tiny: Path, tmp_path: Path) -> None:
    onnx = SentenceEncoder(str(tiny), runtime="onnx", model_cache=tmp_path, offline=True)
    torch = SentenceEncoder(str(tiny), runtime="torch", offline=True)
    ours, theirs = onnx.encode(TEXTS), torch.encode(TEXTS)
    assert onnx.runtime == "onnx"
    assert ours.shape == (3, 16)
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_an_export_is_made_once_and_reused(tiny: Path, tmp_path: Path) -> None:
    first = SentenceEncoder(str(tiny), model_cache=tmp_path, offline=True)
    first.encode(TEXTS[:1])
    (folder,) = tmp_path.iterdir()
    stamp = (folder / "model.onnx").stat().st_mtime_ns
    again = SentenceEncoder(str(tiny), model_cache=tmp_path, offline=True)
    assert again.export_folder() == folder
    again.encode(TEXTS[:1])
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]  # nothing half-written left behind
    assert (folder / "model.onnx").stat().st_mtime_ns == stamp
    assert SentenceEncoder(str(tiny), model_cache=tmp_path, int8=True).export_folder() != folder


def test_an_export_that_fails_falls_back_to_pytorch(
    tiny: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache should be", encoding="utf-8")
    encoder = SentenceEncoder(str(tiny), model_cache=blocked, offline=True)
    with caplog.at_level(logging.WARNING):
        vectors = encoder.encode(TEXTS)
    assert encoder.runtime == "torch"
    assert "cannot export the sentence encoder" in caplog.text
    assert "runs on PyTorch instead" in caplog.text
    np.testing.assert_allclose(vectors, SentenceEncoder(str(tiny), runtime="torch").encode(TEXTS), atol=1e-5)


def test_int8_onnx_stays_close_to_the_fp32_model(encoder: SentenceEncoder) -> None:
    """Per-channel int8 weights keep the bundled encoder's vectors within a small angle of fp32's."""
    plain = SentenceEncoder(runtime="torch")
    ours, reference = encoder.encode(NEWS), plain.encode(NEWS)
    assert encoder.runtime == "onnx"
    cosines = (ours * reference).sum(axis=1)
    assert cosines.min() > 0.97, cosines
    # Meaning survives: each sentence is still nearest to itself among the others.
    assert list(np.argmax(ours @ reference.T, axis=1)) == list(range(len(NEWS)))


def test_the_serving_process_never_imports_pytorch(encoder: SentenceEncoder) -> None:
    encoder.encode(NEWS[:1])  # the export exists now
    script = (
        "import sys; from digests.inference import SentenceEncoder;"
        "vectors = SentenceEncoder(int8=True).encode(['a sentence']);"
        "print(vectors.shape, 'torch' in sys.modules, 'transformers' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["(1,", "384)", "False", "False"]


def test_prepare_exports_the_configured_encoder_ahead_of_the_first_run(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from digests.cli import app
    from digests.settings import reset_settings_cache

    cache = tmp_path / "models"
    monkeypatch.setenv("SITREP_SUMMARIZE__ENCODER", str(tiny))
    monkeypatch.setenv("SITREP_SUMMARIZE__MODEL_CACHE", str(cache))
    monkeypatch.setenv("SITREP_SUMMARIZE__OFFLINE", "true")
    reset_settings_cache()
    try:
        result = CliRunner().invoke(app, ["--database-url", f"sqlite:///{tmp_path / 'p.db'}", "prepare"])
    finally:
        reset_settings_cache()
    assert result.exit_code == 0, result.output
    assert "ready on onnx" in " ".join(result.stdout.split())  # rich wraps long paths at the terminal's width
    exports = [p for p in cache.iterdir() if p.is_dir()]
    assert len(exports) == 1
    assert (exports[0] / "model.onnx").exists()
    assert [p.name[:8] for p in cache.glob("vectors-*.npy")] == ["vectors-"]  # the taxonomy's, kept
