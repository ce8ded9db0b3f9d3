"""HybridRetriever over real retrievers: an in-memory vector store and a rank_bm25 leg."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.retrievers import BaseRetriever
from langchain_core.vectorstores import InMemoryVectorStore, VectorStoreRetriever
from langchain_tests.integration_tests import RetrieversIntegrationTests
from pydantic import PrivateAttr
from rank_bm25 import BM25Okapi

from langchain_embedkit.fusion import rrf, weighted
from langchain_embedkit.retrievers import HybridRetriever

TEXTS = [
    "BM25 ranks documents by term frequency and inverse document frequency.",
    "Dense retrieval embeds queries and documents as vectors.",
    "Vector search finds nearest neighbours of a query embedding.",
    "Reciprocal rank fusion merges ranked lists from several retrievers.",
    "Milvus Lite stores vectors in a local file.",
    "Chroma is an open-source embedding database.",
    "Cross-encoders rerank query and document pairs jointly.",
    "Hybrid search combines sparse keyword scores with dense vector scores.",
    "向量检索通过比较向量之间的相似度来查找文档。",
    "BM25 是一种经典的关键词检索排序函数。",
]
DOCS = [Document(t, id=f"doc-{i}", metadata={"i": i}) for i, t in enumerate(TEXTS)]


def tokenize(text: str) -> list[str]:
    # Words for Latin script, single characters for Han: enough for a test leg.
    return re.findall(r"[a-z0-9]+|[\u4e00-\u9fff]", text.lower())


class BM25KeywordRetriever(BaseRetriever):
    """A keyword leg over rank_bm25, with a ``k`` field and no per-call arguments."""

    docs: list[Document]
    k: int = 4
    _bm25: Any = PrivateAttr(default=None)

    def model_post_init(self, context: Any, /) -> None:
        self._bm25 = BM25Okapi([tokenize(d.page_content) for d in self.docs])

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        scores = self._bm25.get_scores(tokenize(query))
        order = sorted(range(len(self.docs)), key=lambda i: -scores[i])
        return [
            self.docs[i].model_copy(
                update={"metadata": {**self.docs[i].metadata, "score": float(scores[i])}}
            )
            for i in order[: self.k]
            if scores[i] > 0
        ]


def dense_leg() -> VectorStoreRetriever:
    store = InMemoryVectorStore(DeterministicFakeEmbedding(size=64))
    store.add_documents(DOCS)
    return store.as_retriever()


class TestHybridRetrieverRRF(RetrieversIntegrationTests):
    @property
    def retriever_constructor(self) -> type[HybridRetriever]:
        return HybridRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"retrievers": [dense_leg(), BM25KeywordRetriever(docs=DOCS)], "k": 2}

    @property
    def retriever_query_example(self) -> str:
        return "dense vector search"


class TestHybridRetrieverWeighted(TestHybridRetrieverRRF):
    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {
            "retrievers": [dense_leg(), BM25KeywordRetriever(docs=DOCS)],
            "fusion": "weighted",
            "weights": [0.4, 0.6],
        }


@pytest.mark.parametrize("fusion", ["rrf", "weighted"])
def test_fuses_exactly_what_each_leg_returns(fusion: str) -> None:
    dense, sparse = dense_leg(), BM25KeywordRetriever(docs=DOCS)
    query = "BM25 keyword vector search"
    hybrid = HybridRetriever(retrievers=[dense, sparse], fusion=fusion, k=5)  # type: ignore[arg-type]
    got = [(d.id, d.metadata["fused_score"]) for d in hybrid.invoke(query)]

    fetch_k = 20  # the default for k=5: max(4 * k, 20)
    dense_docs = dense.invoke(query, k=fetch_k)
    sparse_docs = BM25KeywordRetriever(docs=DOCS, k=fetch_k).invoke(query)
    assert len(dense_docs) == len(DOCS)
    rankings = [
        # The in-memory store attaches no score: HybridRetriever uses 1 / rank instead.
        [(str(d.id), 1.0 / r) for r, d in enumerate(dense_docs, start=1)],
        [(str(d.id), d.metadata["score"]) for d in sparse_docs],
    ]
    expected = rrf(rankings) if fusion == "rrf" else weighted(rankings)
    assert [doc_id for doc_id, _ in got] == [doc_id for doc_id, _ in expected[:5]]
    assert [score for _, score in got] == pytest.approx([score for _, score in expected[:5]])


def test_keyword_and_vector_legs_both_contribute() -> None:
    sparse = BM25KeywordRetriever(docs=DOCS, k=1)
    dense = dense_leg()
    query = "向量检索"
    hybrid = HybridRetriever(retrievers=[dense, sparse], k=3)
    got = [d.id for d in hybrid.invoke(query)]
    assert sparse.invoke(query)[0].id in got
    assert dense.invoke(query, k=1)[0].id in got
    assert len(set(got)) == 3


async def test_async_over_real_legs_matches_sync() -> None:
    hybrid = HybridRetriever(retrievers=[dense_leg(), BM25KeywordRetriever(docs=DOCS)], k=4)
    query = "hybrid search with sparse and dense scores"
    assert await hybrid.ainvoke(query) == hybrid.invoke(query)


def test_filter_reaches_the_leg_that_takes_it() -> None:
    def only_even(doc: Document) -> bool:
        return doc.metadata["i"] % 2 == 0

    hybrid = HybridRetriever(retrievers=[dense_leg(), BM25KeywordRetriever(docs=DOCS)], k=10)
    got = hybrid.invoke("BM25", filter=only_even)
    keyword_hits = {d.id for d in BM25KeywordRetriever(docs=DOCS, k=20).invoke("BM25")}
    evens = {f"doc-{i}" for i in range(0, len(DOCS), 2)}
    # The store leg filtered; the keyword leg takes no filter and returned its BM25 hits.
    assert keyword_hits == {"doc-0", "doc-9"}
    assert {d.id for d in got} == evens | keyword_hits


def test_fusing_the_store_legs_matches_the_store_hybrid_mode() -> None:
    from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings
    from langchain_embedkit.vectorstores.store import EmbedKitVectorStore

    sparse = BM25SparseEmbeddings()
    sparse.fit(TEXTS)
    store = EmbedKitVectorStore(
        DeterministicFakeEmbedding(size=32),
        sparse,
        backend="chroma",
        collection_name=f"hybrid-{uuid.uuid4().hex[:8]}",  # in-memory Chroma is per process
    )
    store.add_documents(DOCS)
    hybrid = HybridRetriever(
        retrievers=[
            store.as_retriever(retrieval_mode="dense"),
            store.as_retriever(retrieval_mode="sparse"),
        ],
        k=5,
    )
    for query in ("BM25 keyword vector search", "向量检索", "rerank query pairs"):
        ours = [(d.id, d.metadata["fused_score"]) for d in hybrid.invoke(query)]
        theirs = store.similarity_search_with_score(query, k=5, retrieval_mode="hybrid")
        assert sorted(ours, key=lambda p: (-round(p[1], 12), p[0])) == [
            (d.id, pytest.approx(score)) for d, score in theirs
        ]


ID_LESS_DOCS = [Document(t, metadata={"i": i}) for i, t in enumerate(TEXTS)]
QUERIES = ("BM25 keyword vector search", "向量检索", "rerank query pairs", "Chroma database")


def _store_and_bm25_legs(k: int) -> tuple[VectorStoreRetriever, BaseRetriever]:
    """``store.as_retriever()`` next to ``BM25Retriever.from_documents(docs)`` on id-less docs."""
    from langchain_community.retrievers import BM25Retriever

    from langchain_embedkit.vectorstores.store import EmbedKitVectorStore

    store = EmbedKitVectorStore(
        DeterministicFakeEmbedding(size=32),
        backend="chroma",
        collection_name=f"ensemble-{uuid.uuid4().hex[:8]}",
    )
    store.add_documents(ID_LESS_DOCS)  # the store gives every document an id
    bm25 = BM25Retriever.from_documents(ID_LESS_DOCS, preprocess_func=tokenize, k=k)
    return store.as_retriever(search_kwargs={"k": k}), bm25


@pytest.mark.parametrize("query", QUERIES)
def test_store_leg_and_bm25_retriever_fuse_like_ensemble_retriever(query: str) -> None:
    from langchain_classic.retrievers import EnsembleRetriever

    dense, bm25 = _store_and_bm25_legs(k=4)
    assert all(d.id is None for d in bm25.invoke(query))
    assert all(d.id is not None for d in dense.invoke(query))

    hybrid = HybridRetriever(retrievers=[dense, bm25], k=len(TEXTS), fetch_k=4)
    ensemble = EnsembleRetriever(retrievers=[dense, bm25], weights=[0.5, 0.5])
    ours = hybrid.invoke(query)
    theirs = ensemble.invoke(query)
    texts = [d.page_content for d in ours]
    assert len(texts) == len(set(texts)), f"duplicate text in {texts}"
    assert texts == [d.page_content for d in theirs]
    # A text found by both legs comes back once, with the id the store gave it.
    both = {d.page_content for d in dense.invoke(query)} & {
        d.page_content for d in bm25.invoke(query)
    }
    assert all(d.id is not None for d in ours if d.page_content in both)
    # The fused score is the sum of both legs' reciprocal ranks (EnsembleRetriever's c=60).
    for doc in ours:
        expected = sum(
            1 / (60 + rank)
            for leg in (dense, bm25)
            for rank, hit in enumerate(leg.invoke(query), start=1)
            if hit.page_content == doc.page_content
        )
        assert doc.metadata["fused_score"] == pytest.approx(expected)


def test_weighted_legs_rank_like_ensemble_retriever_weights() -> None:
    from langchain_classic.retrievers import EnsembleRetriever

    dense, bm25 = _store_and_bm25_legs(k=5)
    for query in QUERIES:
        ours = HybridRetriever(
            retrievers=[dense, bm25], weights=[0.3, 0.7], k=len(TEXTS), fetch_k=5
        ).invoke(query)
        theirs = EnsembleRetriever(retrievers=[dense, bm25], weights=[0.3, 0.7]).invoke(query)
        assert [d.page_content for d in ours] == [d.page_content for d in theirs]
