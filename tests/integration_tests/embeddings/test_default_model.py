"""DefaultEmbeddings on the real packaged all-MiniLM-L6-v2: its torch-free fp32 query path,
the torch path it must match, and the int8 path."""

from __future__ import annotations

import json
import subprocess
import sys
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
    return DefaultEmbeddings(backend="torch")


@pytest.fixture(scope="module")
def minilm_auto(onnx_cache_dir: Path) -> DefaultEmbeddings:
    return DefaultEmbeddings(onnx_cache_dir=str(onnx_cache_dir))


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


def test_auto_queries_run_on_onnx_and_match_torch_on_scifact_queries(
    minilm: DefaultEmbeddings, minilm_auto: DefaultEmbeddings, scifact_dir: Path
) -> None:
    assert minilm_auto.engine == "onnxruntime fp32 (queries), torch (documents)"
    queries = list(load_beir(scifact_dir).queries.values())
    fast = np.asarray(minilm_auto.encode_queries(queries))
    reference = np.asarray(minilm.encode_queries(queries))
    cos = np.sum(fast * reference, axis=1)
    assert len(queries) >= 300 and cos.min() >= 0.99999
    np.testing.assert_allclose(minilm_auto.embed_query(queries[7]), fast[7], atol=1e-6)
    golden = minilm_auto.embed_query(GOLDEN_TEXT)
    np.testing.assert_allclose(golden[:4], GOLDEN_FIRST_DIMS, atol=1e-5)
    assert all(type(x) is float for x in golden)


def test_query_path_and_an_opened_store_never_import_torch(
    minilm_auto: DefaultEmbeddings, onnx_cache_dir: Path, tmp_path: Path
) -> None:
    # Build the store with torch (documents), then search it in a fresh process.
    from langchain_embedkit import EmbedKitVectorStore

    uri = str(tmp_path / "store.db")
    store = EmbedKitVectorStore(minilm_auto, backend="milvus", uri=uri, collection_name="c")
    store.add_texts(SENTENCES, ids=["a", "b", "c"])
    store.close()
    code = (
        "import sys, json\n"
        "from langchain_embedkit import DefaultEmbeddings, EmbedKitVectorStore\n"
        f"e = DefaultEmbeddings(onnx_cache_dir={str(onnx_cache_dir)!r})\n"
        f"s = EmbedKitVectorStore(e, backend='milvus', uri={uri!r}, collection_name='c')\n"
        "hits = s.similarity_search('Who started AI research?', k=1)\n"
        "print(json.dumps({'id': hits[0].id, 'torch': [m for m in ('torch', 'transformers',"
        " 'sentence_transformers') if m in sys.modules]}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    ).stdout
    assert json.loads(out.strip().splitlines()[-1]) == {"id": "b", "torch": []}


def test_onnx_graph_lands_in_the_cache_not_in_the_package(
    minilm_onnx: DefaultEmbeddings, onnx_cache_dir: Path
) -> None:
    exports = [p for p in onnx_cache_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(exports) == 1 and exports[0].name.startswith("model-")
    quantization = resolve_quantization("auto")
    assert (exports[0] / f"model_qint8_{quantization}.onnx").is_file()
    source = json.loads((exports[0] / "source.json").read_text(encoding="utf-8"))
    assert source["sha256"][:16] in exports[0].name
    assert not (Path(packaged_model_path()) / "onnx").exists()
    assert minilm_onnx.engine == f"onnxruntime int8 {quantization}"


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
