"""BGEM3Embeddings against FlagEmbedding's ``BGEM3FlagModel`` on the same tiny random BGE-M3,
the standard integration suite, and the sparse side in the store's sparse and hybrid modes."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_tests.integration_tests import EmbeddingsIntegrationTests

from langchain_embedkit.embeddings.bge_m3 import BGEM3Embeddings
from langchain_embedkit.vectorstores.store import EmbedKitVectorStore
from tests.unit_tests.embeddings.tiny_bge_m3 import build_tiny_bge_m3

pytestmark = pytest.mark.slow

DOCS = [
    "BGE-M3 gives dense, sparse and multi-vector representations in one pass.",
    "Hybrid search combines sparse keyword scores with dense vector scores.",
    "BM25 ranks documents by term frequency and inverse document frequency.",
    "Chroma is an open-source embedding database. Milvus stores vectors.",
    "人工智能作为一门学科成立于1956年。",
    "向量检索通过比较向量之间的相似度来查找文档。稀疏向量记录词的权重。",
    "What is the capital of France? Paris is the capital and largest city of France.",
    "foo bar baz qux",
]
QUERIES = ["sparse keyword scores", "向量检索", "capital of France", "Milvus vectors"]


@pytest.fixture(scope="session")
def tiny_m3_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bge_m3(tmp_path_factory.mktemp("tiny-bge-m3"))


@pytest.fixture(scope="module")
def m3(tiny_m3_dir: Path) -> BGEM3Embeddings:
    return BGEM3Embeddings(model_name=str(tiny_m3_dir), device="cpu", batch_size=3)


@pytest.fixture(scope="module")
def reference(tiny_m3_dir: Path) -> Any:
    from FlagEmbedding import BGEM3FlagModel

    return BGEM3FlagModel(str(tiny_m3_dir), use_fp16=False, devices="cpu")


class TestBGEM3EmbeddingsIntegration(EmbeddingsIntegrationTests):
    @pytest.fixture(autouse=True)
    def _dir(self, tiny_m3_dir: Path) -> None:
        self.dir = tiny_m3_dir

    @property
    def embeddings_class(self) -> type[BGEM3Embeddings]:
        return BGEM3Embeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model_name": str(self.dir), "device": "cpu"}


def _as_dict(lexical_weights: dict[str, float]) -> dict[int, float]:
    return {int(token): float(weight) for token, weight in lexical_weights.items()}


@pytest.mark.parametrize("side", ["documents", "queries"])
def test_dense_and_sparse_match_bgem3flagmodel(
    m3: BGEM3Embeddings, reference: Any, side: str
) -> None:
    texts = DOCS if side == "documents" else QUERIES
    if side == "documents":
        ours = m3.encode_documents(texts)
        theirs = reference.encode_corpus(
            texts, max_length=m3.max_length, return_dense=True, return_sparse=True
        )
    else:
        ours = m3.encode_queries(texts)
        theirs = reference.encode_queries(
            texts, max_length=m3.query_max_length, return_dense=True, return_sparse=True
        )
    np.testing.assert_allclose(np.array(ours.dense), theirs["dense_vecs"], atol=1e-5)
    for mine, ref in zip(ours.sparse, theirs["lexical_weights"], strict=True):
        expected = _as_dict(ref)
        assert mine.indices == sorted(expected)
        assert mine.values == pytest.approx([expected[i] for i in mine.indices], abs=1e-5)


def test_lexical_scores_match_bgem3flagmodel(m3: BGEM3Embeddings, reference: Any) -> None:
    docs = reference.encode_corpus(DOCS, return_sparse=True, return_dense=False)
    for query in QUERIES:
        q = reference.encode_queries([query], return_sparse=True, return_dense=False)
        theirs = [
            reference.compute_lexical_matching_score(q["lexical_weights"][0], d)
            for d in docs["lexical_weights"]
        ]
        mine_q = m3.sparse.embed_query(query)
        ours = [mine_q.dot(d) for d in m3.sparse.embed_documents(DOCS)]
        assert ours == pytest.approx(theirs, abs=1e-4)


@pytest.mark.parametrize("backend", ["chroma", "milvus"])
def test_store_sparse_and_hybrid_modes_use_the_m3_weights(
    m3: BGEM3Embeddings, backend: str, tmp_path: Path
) -> None:
    options: dict[str, Any] = (
        {"persist_directory": str(tmp_path / "chroma")}
        if backend == "chroma"
        else {"uri": str(tmp_path / "m3.db")}
    )
    store = EmbedKitVectorStore(
        m3,
        sparse_embedding=m3.sparse,
        backend=backend,  # type: ignore[arg-type]
        collection_name=f"m3_{uuid.uuid4().hex[:8]}",
        fusion_weights=[0.0, 1.0],
        **options,
    )
    ids = store.add_texts(DOCS)
    documents = m3.sparse.embed_documents(DOCS)
    for query in QUERIES:
        q = m3.sparse.embed_query(query)
        lexical = sorted(
            ((q.dot(d), i) for i, d in enumerate(documents) if q.dot(d) > 0), reverse=True
        )
        got = store.similarity_search_with_score(query, k=3, retrieval_mode="sparse")
        assert [d.id for d, _ in got] == [ids[i] for _, i in lexical[:3]]
        assert [s for _, s in got] == pytest.approx([s for s, _ in lexical[:3]], rel=1e-4)
        # With the dense leg weighted 0, hybrid mode ranks by the M3 lexical weights alone
        # (the random tiny model's dense vectors are near-ties, too fragile to rank by).
        hybrid = store.similarity_search(query, k=3, retrieval_mode="hybrid")
        top = [ids[i] for _, i in lexical[:3]]
        assert [d.id for d in hybrid][: len(top)] == top
