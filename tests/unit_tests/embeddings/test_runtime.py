"""The torch-free runtime (graph written from the weights, tokenizers + onnxruntime) against
sentence-transformers on the same folder, its cache, and the pymilvus-model names."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from langchain_embedkit.embeddings import BGEEmbeddings, ModelNotFoundError, Qwen3Embeddings
from langchain_embedkit.embeddings._bert_graph import bert_layout
from langchain_embedkit.embeddings._onnx import build_runtime_graph, source_checksum
from langchain_embedkit.embeddings.factory import looks_like_path, make_embeddings

TEXTS = [
    "Alan Turing studied computable numbers.",
    "人工智能研究始于1956年。",
    "",
    "short",
    " ".join(["a long passage about hybrid retrieval"] * 40),
]


def cosines(a: list[list[float]], b: list[list[float]]) -> np.ndarray:
    x, y = np.asarray(a), np.asarray(b)
    return np.sum(x * y, axis=1) / (np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1))


@pytest.fixture(scope="module")
def bge_pair(
    tiny_model_dirs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[BGEEmbeddings, BGEEmbeddings]:
    cache = tmp_path_factory.mktemp("runtime-cache")
    torch_model = BGEEmbeddings(model_name=str(tiny_model_dirs["bge_en"]))
    onnx_model = BGEEmbeddings(
        model_name=str(tiny_model_dirs["bge_en"]),
        backend="onnx",
        onnx_quantization=None,
        onnx_cache_dir=str(cache),
    )
    return torch_model, onnx_model


def test_cls_pooling_graph_matches_sentence_transformers(
    bge_pair: tuple[BGEEmbeddings, BGEEmbeddings],
) -> None:
    torch_model, onnx_model = bge_pair
    assert torch_model.engine == "torch"
    assert onnx_model.engine == "onnxruntime fp32"
    assert cosines(onnx_model.embed_documents(TEXTS), torch_model.embed_documents(TEXTS)).min() > (
        0.99999
    )
    np.testing.assert_allclose(
        onnx_model.embed_query(TEXTS[0]), torch_model.embed_query(TEXTS[0]), atol=1e-5
    )


def test_truncation_and_batches_match(tiny_model_dirs: dict[str, Path], tmp_path: Path) -> None:
    folder = str(tiny_model_dirs["bge_en"])
    short = BGEEmbeddings(model_name=folder, max_seq_length=4, batch_size=2)
    fast = BGEEmbeddings(
        model_name=folder,
        max_seq_length=4,
        batch_size=2,
        backend="onnx",
        onnx_quantization=None,
        onnx_cache_dir=str(tmp_path),
    )
    np.testing.assert_allclose(fast.embed_documents(TEXTS), short.embed_documents(TEXTS), atol=1e-5)


def test_graph_is_cached_by_the_checksum_of_the_weights(
    tiny_model_dirs: dict[str, Path], tmp_path: Path
) -> None:
    original = tiny_model_dirs["bge_en"]
    copy = tmp_path / "copy" / original.name
    shutil.copytree(original, copy)
    cache = tmp_path / "cache"
    first = build_runtime_graph(bert_layout(original), quantization=None, cache_dir=cache)  # type: ignore[arg-type]
    stamp = first.stat().st_mtime_ns
    # Same bytes in another folder: the same graph, not written again.
    again = build_runtime_graph(bert_layout(copy), quantization=None, cache_dir=cache)  # type: ignore[arg-type]
    assert again == first and first.stat().st_mtime_ns == stamp
    checksum = source_checksum(copy / "model.safetensors", cache)
    assert checksum[:16] in first.parent.name
    # Changed weights: a new checksum and a new graph.
    data = bytearray((copy / "model.safetensors").read_bytes())
    data[-1] ^= 1
    (copy / "model.safetensors").write_bytes(bytes(data))
    changed = build_runtime_graph(bert_layout(copy), quantization=None, cache_dir=cache)  # type: ignore[arg-type]
    assert changed.parent != first.parent
    assert source_checksum(copy / "model.safetensors", cache) != checksum


def test_fp32_graph_keeps_its_weights_beside_it(
    tiny_model_dirs: dict[str, Path], tmp_path: Path
) -> None:
    """The weights are ONNX external data, which onnxruntime maps instead of copying."""
    layout = bert_layout(tiny_model_dirs["bge_en"])
    assert layout is not None
    graph = build_runtime_graph(layout, quantization=None, cache_dir=tmp_path)
    data = graph.with_name("model.onnx.data")
    weights = (layout.folder / "model.safetensors").stat().st_size
    assert data.stat().st_size > 0.9 * weights > 10 * graph.stat().st_size
    assert sorted(p.name for p in graph.parent.iterdir()) == [
        "model.onnx",
        "model.onnx.data",
        "source.json",
    ]  # no staging folder left behind


@pytest.mark.parametrize("quantization", [None, "auto"])
def test_sessions_run_plain_layer_norms(
    tiny_model_dirs: dict[str, Path], tmp_path: Path, quantization: str | None
) -> None:
    """onnxruntime's fused SkipLayerNormalization is slower on CPU than Add + LayerNorm:
    neither the written graph nor the one the runtime's session optimizes may hold it."""
    import onnx
    import onnxruntime as ort

    from langchain_embedkit.embeddings._runtime import open_session

    layout = bert_layout(tiny_model_dirs["bge_en"])
    assert layout is not None
    graph = build_runtime_graph(layout, quantization=quantization, cache_dir=tmp_path)
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    open_session(graph, options)
    for path in (graph, tmp_path / "optimized.onnx"):
        ops = {node.op_type for node in onnx.load(str(path), load_external_data=False).graph.node}
        assert "LayerNormalization" in ops
        assert "SkipLayerNormalization" not in ops, path


def test_non_bert_models_keep_sentence_transformers(tiny_model_dirs: dict[str, Path]) -> None:
    assert bert_layout(tiny_model_dirs["qwen3"]) is None
    assert bert_layout(tiny_model_dirs["bge_en"]) is not None
    assert Qwen3Embeddings(model_name=str(tiny_model_dirs["qwen3"])).engine == "torch"


def test_unknown_prompt_name_lists_the_prompts(
    tiny_model_dirs: dict[str, Path], tmp_path: Path
) -> None:
    model = BGEEmbeddings(
        model_name=str(tiny_model_dirs["bge_en"]),
        backend="onnx",
        onnx_quantization=None,
        onnx_cache_dir=str(tmp_path),
        encode_kwargs={"prompt_name": "nope"},
    )
    with pytest.raises(ValueError, match=r"Prompt name 'nope' is not among this model's prompts"):
        model.embed_documents(["x"])


def test_pymilvus_model_names(
    bge_pair: tuple[BGEEmbeddings, BGEEmbeddings], tiny_model_dirs: dict[str, Path]
) -> None:
    qwen3 = Qwen3Embeddings(model_name=str(tiny_model_dirs["qwen3"]), dimensions=32)
    for model in (*bge_pair, qwen3):
        docs = model.encode_documents(TEXTS[:2])
        queries = model.encode_queries(TEXTS[:2])
        assert model.dim == model.dimension == docs[0].shape[0]
        assert [v.dtype for v in docs + queries] == [np.float32] * 4
        np.testing.assert_allclose(docs, model.embed_documents(TEXTS[:2]), atol=1e-6)
        np.testing.assert_allclose(queries[1], model.embed_query(TEXTS[1]), atol=1e-5)
        assert model.encode_queries([]) == [] and model.encode_documents([]) == []
    # The query instruction reaches encode_queries and not encode_documents.
    _, onnx_model = bge_pair
    assert not np.allclose(
        onnx_model.encode_queries(TEXTS[:1])[0], onnx_model.encode_documents(TEXTS[:1])[0]
    )


def test_factory_path_rule_and_errors(tmp_path: Path) -> None:
    assert [looks_like_path(n) for n in ("./m", "/m", "~/m", "C:\\m", "a/b/c", "BAAI/bge-m3")] == [
        True,
        True,
        True,
        True,
        True,
        False,
    ]
    with pytest.raises(ModelNotFoundError, match=r"Model folder not found: \./no/such/model\."):
        make_embeddings("bge", "./no/such/model")
    with pytest.raises(FileNotFoundError, match=r"Model folder not found: a/b/c\."):
        make_embeddings("qwen3", "a/b/c")
    with pytest.raises(ValueError, match=r"Unknown embeddings family 'bert'; supported: default"):
        make_embeddings("bert", "")
