"""Where ONNX exports are cached and which int8 recipe ``auto`` picks (no export here)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from langchain_embedkit.embeddings import DefaultEmbeddings, _onnx
from langchain_embedkit.embeddings._onnx import (
    default_onnx_cache_dir,
    export_onnx_model,
    onnx_export_dir,
    resolve_quantization,
)


def test_default_cache_dir_honours_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("EMBEDKIT_CACHE_DIR", raising=False)
    monkeypatch.delenv("LANGCHAIN_EMBEDKIT_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_onnx_cache_dir() == tmp_path / "xdg" / "langchain-embedkit" / "onnx"
    monkeypatch.setenv("EMBEDKIT_CACHE_DIR", str(tmp_path / "mine"))
    assert default_onnx_cache_dir() == tmp_path / "mine" / "onnx"


def test_one_cache_root_for_onnx_and_evaluation(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from langchain_embedkit.evaluation.cache import default_cache_dir

    monkeypatch.delenv("LANGCHAIN_EMBEDKIT_CACHE", raising=False)
    monkeypatch.setenv("EMBEDKIT_CACHE_DIR", str(tmp_path / "root"))
    assert default_onnx_cache_dir().parent == default_cache_dir().parent == tmp_path / "root"


def test_old_cache_variable_still_read_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("EMBEDKIT_CACHE_DIR", raising=False)
    monkeypatch.setenv("LANGCHAIN_EMBEDKIT_CACHE", str(tmp_path / "old"))
    with pytest.warns(DeprecationWarning, match="EMBEDKIT_CACHE_DIR="):
        assert default_onnx_cache_dir() == tmp_path / "old" / "onnx"
    monkeypatch.setenv("EMBEDKIT_CACHE_DIR", str(tmp_path / "new"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new name wins, silently
        assert default_onnx_cache_dir() == tmp_path / "new" / "onnx"


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


@pytest.mark.parametrize(
    ("machine", "flags", "expected"),
    [
        ("x86_64", "fpu sse2 avx avx2 fma", "avx2"),
        ("x86_64", "fpu avx2 avx512f avx512bw", "avx512"),
        ("x86_64", "fpu avx2 avx512f avx512_vnni", "avx512_vnni"),
        ("x86_64", "fpu avx2 avx_vnni", "avx2"),  # AVX-VNNI (256-bit) is not AVX-512 VNNI
        ("x86_64", "", "avx2"),  # no /proc/cpuinfo
        ("aarch64", "fp asimd", "arm64"),
    ],
)
def test_auto_quantization_follows_the_cpu_flags(
    monkeypatch: pytest.MonkeyPatch, machine: str, flags: str, expected: str
) -> None:
    monkeypatch.setattr(_onnx.platform, "machine", lambda: machine)
    monkeypatch.setattr(_onnx, "_cpu_flags", lambda: set(flags.split()))
    assert resolve_quantization("auto") == expected


def test_auto_quantization_matches_this_cpu() -> None:
    """On this machine, the recipe is the one its own flags call for, whatever they are."""
    import platform

    choice = resolve_quantization("auto")
    if platform.machine().lower() in {"arm64", "aarch64"}:
        expected = "arm64"
    else:
        flags: set[str] = set()
        if os.path.exists("/proc/cpuinfo"):
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
        if flags & {"avx512_vnni", "avx512vnni"}:
            expected = "avx512_vnni"
        elif "avx512f" in flags:
            expected = "avx512"
        else:
            expected = "avx2"
    assert choice == expected
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
