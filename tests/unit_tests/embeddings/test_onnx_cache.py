"""Where ONNX exports are cached and which int8 recipe ``auto`` picks (no export here)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from langchain_embedkit.embeddings import DefaultEmbeddings
from langchain_embedkit.embeddings._onnx import (
    default_onnx_cache_dir,
    export_onnx_model,
    onnx_export_dir,
    resolve_quantization,
)


def test_default_cache_dir_honours_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("LANGCHAIN_EMBEDKIT_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_onnx_cache_dir() == tmp_path / "xdg" / "langchain_embedkit" / "onnx"
    monkeypatch.setenv("LANGCHAIN_EMBEDKIT_CACHE", str(tmp_path / "mine"))
    assert default_onnx_cache_dir() == tmp_path / "mine" / "onnx"


def test_export_dir_changes_with_model_weights_and_recipe(tmp_path: Path) -> None:
    model = tmp_path / "my-model"
    model.mkdir()
    weights = model / "model.safetensors"
    weights.write_bytes(b"a" * 10)
    cache = tmp_path / "cache"
    first = onnx_export_dir(str(model), "avx2", cache)
    assert first.parent == cache and first.name.startswith("my-model-")
    assert onnx_export_dir(str(model), "avx2", cache) == first
    assert onnx_export_dir(str(model), "avx512_vnni", cache) != first
    assert onnx_export_dir(str(model), None, cache) != first
    weights.write_bytes(b"b" * 11)
    assert onnx_export_dir(str(model), "avx2", cache) != first


def test_auto_quantization_matches_this_cpu() -> None:
    choice = resolve_quantization("auto")
    assert choice in {"avx2", "avx512", "avx512_vnni", "arm64"}
    if os.path.exists("/proc/cpuinfo"):
        flags = Path("/proc/cpuinfo").read_text()
        if " avx512_vnni" in flags:
            assert choice == "avx512_vnni"
    assert resolve_quantization("arm64") == "arm64"
    assert resolve_quantization(None) is None


def test_unknown_quantization_lists_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"Unknown onnx_quantization 'int4'; supported: auto"):
        export_onnx_model(str(tmp_path), quantization="int4", cache_dir=tmp_path)


def test_unknown_backend_lists_the_choices() -> None:
    with pytest.raises(ValueError, match=r"(?s)backend.*'torch' or 'onnx'"):
        DefaultEmbeddings(backend="openvino")  # type: ignore[arg-type]


def test_unwritable_cache_dir_is_explained(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(PermissionError, match=r"Pass a writable folder: onnx_cache_dir="):
        DefaultEmbeddings(backend="onnx", onnx_cache_dir=str(blocker / "sub"))
