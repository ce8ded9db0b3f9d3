"""pymilvus-model's BM25 tutorial runs as written with the class swapped in."""

from __future__ import annotations

from pathlib import Path

import pytest

from langchain_embedkit.errors import NotFittedError, PersistenceError
from langchain_embedkit.sparse import BM25SparseEmbeddings


def test_the_pymilvus_model_bm25_tutorial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    # Milvus docs, "BM25": only the two imports differ.
    # from pymilvus.model.sparse.bm25.tokenizers import build_default_analyzer
    # from pymilvus.model.sparse import BM25EmbeddingFunction
    from langchain_embedkit.sparse import BM25SparseEmbeddings as BM25EmbeddingFunction
    from langchain_embedkit.sparse import get_analyzer as build_default_analyzer

    analyzer = build_default_analyzer("en")
    corpus = [
        "Artificial intelligence was founded as an academic discipline in 1956.",
        "Alan Turing was the first person to conduct substantial research in AI.",
        "Born in Maida Vale, London, Turing was raised in southern England.",
    ]
    tokens = analyzer(corpus[0])
    bm25_ef = BM25EmbeddingFunction(analyzer)
    bm25_ef.fit(corpus)
    bm25_ef.save("bm25_params.json")
    new_bm25_ef = BM25EmbeddingFunction(analyzer)
    new_bm25_ef.load("bm25_params.json")

    docs = [
        "The field of artificial intelligence was established as an academic subject in 1956.",
        "Alan Turing was the pioneer in conducting significant research in "
        "artificial intelligence.",
        "Originating in Maida Vale, London, Turing grew up in the southern regions of England.",
        "In 1956, artificial intelligence emerged as a scholarly field.",
        "Turing, originally from Maida Vale, London, was brought up in the south of England.",
    ]
    docs_embeddings = new_bm25_ef.encode_documents(docs)
    queries = ["When was artificial intelligence founded", "Where was Alan Turing born?"]
    query_embeddings = new_bm25_ef.encode_queries(queries)

    # Same figures as the tutorial prints: 21 dimensions, the same tokens.
    assert tokens == ["artifici", "intellig", "found", "academ", "disciplin", "1956"]
    assert new_bm25_ef.dim == 21
    assert new_bm25_ef.is_fitted
    # The loaded instance encodes exactly as the one that was fitted.
    assert docs_embeddings == bm25_ef.encode_documents(docs)
    assert query_embeddings == bm25_ef.encode_queries(queries)
    scores = [[q.dot(d) for d in docs_embeddings] for q in query_embeddings]
    assert max(range(5), key=scores[0].__getitem__) in (0, 3)  # the 1956 documents
    assert scores[1][0] == 0.0 and scores[1][3] == 0.0  # they share nothing with "born"


def test_pymilvus_model_names_and_semantics(tmp_path: Path) -> None:
    bm25 = BM25SparseEmbeddings("en")
    assert bm25.dim == 0
    with pytest.raises(NotFittedError, match=r"fit\(texts\).*load\(path\)"):
        bm25.encode_queries(["anything"])
    assert bm25.fit(["red apples", "green pears"]) is bm25
    assert bm25.dim == 4
    path = bm25.save(tmp_path / "bm25.json")
    assert path == tmp_path / "bm25.json"
    for loaded in (BM25SparseEmbeddings.load(path), BM25SparseEmbeddings().load(path)):
        assert loaded.encode_documents(["red pears"]) == bm25.encode_documents(["red pears"])
        assert loaded.encode_queries(["red"]) == bm25.encode_queries(["red"])
    with pytest.raises(PersistenceError, match=r"missing\.json does not exist"):
        BM25SparseEmbeddings().load(tmp_path / "missing.json")
    with pytest.raises(TypeError, match="analyzer twice"):
        BM25SparseEmbeddings("en", analyzer="zh")
