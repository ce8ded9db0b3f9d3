"""DefaultEmbeddings on the real packaged all-MiniLM-L6-v2, and its ONNX int8 path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from langchain_embedkit.embeddings import DefaultEmbeddings
from langchain_embedkit.embeddings._onnx import resolve_quantization
from langchain_embedkit.embeddings.default import packaged_model_path
from langchain_embedkit.evaluation import load_beir
from langchain_embedkit.similarity import cosine_similarity

GOLDEN_TEXT = "Artificial intelligence was founded as an academic discipline in 1956."
GOLDEN_FIRST_DIMS = [-0.0309393, -0.0180663, 0.0134776, 0.0277156]
SENTENCES = [
    GOLDEN_TEXT,
    "Alan Turing was the first person to conduct substantial research in AI.",
    "Born in Maida Vale, London, Turing was raised in southern England.",
]


@pytest.fixture(scope="module")
def minilm() -> DefaultEmbeddings:
    return DefaultEmbeddings()


@pytest.fixture(scope="module")
def minilm_onnx(onnx_cache_dir: Path) -> DefaultEmbeddings:
    return DefaultEmbeddings(backend="onnx", onnx_cache_dir=str(onnx_cache_dir))


def scifact_passages(folder: Path, n: int) -> list[str]:
    return list(load_beir(folder).corpus.values())[:n]


def test_golden_first_dimensions(minilm: DefaultEmbeddings) -> None:
    query = minilm.embed_query(GOLDEN_TEXT)
    doc = minilm.embed_documents([GOLDEN_TEXT])[0]
    assert len(query) == 384
    np.testing.assert_allclose(query[:4], GOLDEN_FIRST_DIMS, atol=1e-5)
    np.testing.assert_allclose(doc[:4], GOLDEN_FIRST_DIMS, atol=1e-5)
    assert abs(np.linalg.norm(query) - 1.0) < 1e-5


def test_quick_start_ranking(minilm: DefaultEmbeddings) -> None:
    query = minilm.embed_query("Who started AI research?")
    scores = cosine_similarity(query, minilm.embed_documents(SENTENCES))
    assert SENTENCES[int(np.argmax(scores))].startswith("Alan Turing was the first person")


def test_order_and_batches_do_not_change_vectors(minilm: DefaultEmbeddings) -> None:
    single = [minilm.embed_query(s) for s in SENTENCES]
    small = DefaultEmbeddings(batch_size=1).embed_documents(SENTENCES[::-1])[::-1]
    np.testing.assert_allclose(minilm.embed_documents(SENTENCES), single, atol=1e-5)
    np.testing.assert_allclose(small, single, atol=1e-5)


def test_empty_string_is_a_unit_vector(minilm: DefaultEmbeddings) -> None:
    vector = minilm.embed_documents([""])[0]
    assert len(vector) == 384 and abs(np.linalg.norm(vector) - 1.0) < 1e-5


def test_onnx_export_lands_in_the_cache_not_in_the_package(
    minilm_onnx: DefaultEmbeddings, onnx_cache_dir: Path
) -> None:
    exports = [p for p in onnx_cache_dir.iterdir() if not p.name.startswith(".")]
    assert len(exports) == 1 and exports[0].name.startswith("model-")
    quantized = exports[0] / "onnx" / f"model_qint8_{resolve_quantization('auto')}.onnx"
    assert quantized.is_file() and (exports[0] / "modules.json").is_file()
    assert not (Path(packaged_model_path()) / "onnx").exists()
    assert minilm_onnx.client.get_backend() == "onnx"


def test_onnx_is_exported_once_and_reused(
    minilm_onnx: DefaultEmbeddings, onnx_cache_dir: Path
) -> None:
    files = sorted(onnx_cache_dir.rglob("*.onnx"))
    stamps = [f.stat().st_mtime_ns for f in files]
    again = DefaultEmbeddings(backend="onnx", onnx_cache_dir=str(onnx_cache_dir))
    assert sorted(onnx_cache_dir.rglob("*.onnx")) == files
    assert [f.stat().st_mtime_ns for f in files] == stamps
    np.testing.assert_allclose(
        again.embed_documents(SENTENCES), minilm_onnx.embed_documents(SENTENCES), atol=1e-6
    )


def test_onnx_int8_stays_close_to_fp32(
    minilm: DefaultEmbeddings, minilm_onnx: DefaultEmbeddings, scifact_dir: Path
) -> None:
    texts = [*SENTENCES, *scifact_passages(scifact_dir, 24)]
    fp32 = np.asarray(minilm.embed_documents(texts))
    int8 = np.asarray(minilm_onnx.embed_documents(texts))
    cosines = np.sum(fp32 * int8, axis=1)  # both unit length
    assert cosines.mean() >= 0.99
    assert cosines.min() >= 0.98
    query = minilm_onnx.embed_query("Who started AI research?")
    assert all(type(x) is float for x in query)
    assert float(np.dot(query, minilm.embed_query("Who started AI research?"))) >= 0.98
