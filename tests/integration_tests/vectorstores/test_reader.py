"""``StoreReader`` opens a collection like the store and returns exactly the store's results."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings
from langchain_embedkit.vectorstores import EmbedKitVectorStore
from langchain_embedkit.vectorstores.search import StoreReader, StoreSearch
from tests.integration_tests.vectorstores.test_store import corpus

SETTINGS = (
    "metric",
    "retrieval_mode",
    "fusion",
    "rrf_k",
    "fusion_weights",
    "fusion_normalization",
    "fetch_k",
    "sparse_score_scale",
)
QUERIES = ["hybrid search", "milvus fusion ranking", "doc7 latency", "nothing known here"]


def engine_options(engine: str, tmp_path: Path) -> dict[str, Any]:
    if engine == "milvus":
        return {"backend": "milvus", "uri": str(tmp_path / "m.db")}
    return {"backend": "chroma", "persist_directory": str(tmp_path / "c")}


def searches(store: StoreSearch) -> list[Any]:
    """Every read the command line and a user make, as plain comparable values."""
    found: list[Any] = [store.count()]
    for query in QUERIES:
        for mode in ("dense", "sparse", "hybrid"):
            for where in (None, {"group": "b"}, {"n": {"$gte": 60}}):
                pairs = store._similarity_search_with_relevance_scores(
                    query, k=7, filter=where, retrieval_mode=mode
                )
                found.append([(d.id, d.page_content, d.metadata, round(s, 9)) for d, s in pairs])
            docs = store.max_marginal_relevance_search(query, k=4, retrieval_mode=mode)
            found.append([d.id for d in docs])
        scored = store.similarity_search_with_score(query, k=5, fetch_k=30)
        found.append([(d.id, round(s, 9)) for d, s in scored])
    found.append([d.id for d in store.get_by_ids(["missing", *[str(i) for i in range(5)]])])
    return found


@pytest.mark.parametrize("engine", ["milvus", "chroma-disk"])
def test_reader_returns_the_store_results(engine: str, tmp_path: Path) -> None:
    embedding = DeterministicFakeEmbedding(size=16)
    options = engine_options(engine, tmp_path)
    texts, metas = corpus()
    with EmbedKitVectorStore(
        embedding, BM25SparseEmbeddings(), collection_name="docs", **options
    ) as store:
        store.add_texts(texts, metas, ids=[str(i) for i in range(len(texts))])
        store.delete(ids=["3", "4"])  # the statistics come from a base file plus its log
        expected = searches(store)
        settings = {name: getattr(store, name) for name in SETTINGS}
    with StoreReader(
        embedding, BM25SparseEmbeddings(), collection_name="docs", **options
    ) as reader:
        assert {name: getattr(reader, name) for name in SETTINGS} == settings
        assert searches(reader) == expected
        relevance = reader.similarity_search_with_relevance_scores("hybrid search", k=5)
        assert relevance == reader._similarity_search_with_relevance_scores("hybrid search", k=5)
        above = reader.similarity_search_with_relevance_scores(
            "hybrid search", k=5, score_threshold=relevance[2][1]
        )
        assert above == [pair for pair in relevance if pair[1] >= relevance[2][1]]
        assert reader.sparse_state_path() is not None
        assert not hasattr(reader, "add_texts")


def test_reader_settings_match_a_store_without_sparse_encoder(tmp_path: Path) -> None:
    embedding = DeterministicFakeEmbedding(size=8)
    options = engine_options("chroma-disk", tmp_path)
    with EmbedKitVectorStore(embedding, collection_name="dense", **options) as store:
        store.add_texts(["foo", "bar"])
        settings = {name: getattr(store, name) for name in SETTINGS}
    with StoreReader(embedding, collection_name="dense", **options) as reader:
        assert {name: getattr(reader, name) for name in SETTINGS} == settings
        with pytest.raises(ValueError, match="needs a sparse encoder"):
            reader.similarity_search("foo", retrieval_mode="sparse")


def test_the_search_module_leaves_langchain_vectorstores_out() -> None:
    import subprocess

    code = (
        "import sys\n"
        "import langchain_embedkit.vectorstores.search\n"
        "heavy = ('langchain_core.vectorstores', 'langchain_core.retrievers',"
        " 'langchain_core.tracers', 'langsmith', 'scipy', 'torch')\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]"
