"""Behaviour users notice, checked on every engine: ids, metadata, scores, hybrid, filters."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings

from langchain_embedkit.errors import DimensionMismatchError
from langchain_embedkit.vectorstores import EmbedKitVectorStore
from tests.unit_tests.vectorstores.fakes import CountingEmbeddings, HashedTermCounts

ENGINES = ["chroma-memory", "chroma-disk", "milvus"]
WORDS = [
    "vector",
    "search",
    "hybrid",
    "sparse",
    "dense",
    "milvus",
    "chroma",
    "retrieval",
    "ranking",
    "fusion",
    "embedding",
    "query",
    "document",
    "metadata",
    "filter",
    "score",
    "index",
    "recall",
    "latency",
    "memory",
    "batch",
]


def corpus(n: int = 120) -> tuple[list[str], list[dict[str, Any]]]:
    texts = [
        " ".join(WORDS[(i * 7 + j * 3) % len(WORDS)] for j in range(3 + i % 5)) + f" doc{i}"
        for i in range(n)
    ]
    metas = [{"n": i, "group": ["a", "b", "c"][i % 3], "even": i % 2 == 0} for i in range(n)]
    return texts, metas


def make_store(engine: str, tmp_path: Path, **kwargs: Any) -> EmbedKitVectorStore:
    kwargs.setdefault("embedding", DeterministicFakeEmbedding(size=16))
    name = kwargs.pop("collection_name", f"t_{uuid.uuid4().hex[:10]}")
    if engine == "milvus":
        return EmbedKitVectorStore(
            backend="milvus", uri=str(tmp_path / "m.db"), collection_name=name, **kwargs
        )
    if engine == "chroma-disk":
        return EmbedKitVectorStore(
            backend="chroma", persist_directory=tmp_path / "c", collection_name=name, **kwargs
        )
    return EmbedKitVectorStore(backend="chroma", collection_name=name, **kwargs)


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture()
def hybrid_store(engine: str, tmp_path: Path) -> Iterator[EmbedKitVectorStore]:
    store = make_store(engine, tmp_path, sparse_embedding=HashedTermCounts())
    texts, metas = corpus()
    store.add_texts(texts, metas)
    yield store
    store.close()


def test_reingest_is_a_noop_and_embeds_nothing(engine: str, tmp_path: Path) -> None:
    embedding = CountingEmbeddings()
    store = make_store(engine, tmp_path, embedding=embedding, batch_size=50)
    texts, metas = corpus()
    first = store.add_texts(iter(texts), iter(metas))  # generators are streamed
    assert embedding.documents_embedded == len(texts)
    assert max(embedding.calls) <= 50
    again = store.add_documents(
        [Document(t, metadata=m) for t, m in zip(texts, metas, strict=True)]
    )
    assert again == first
    assert embedding.documents_embedded == len(texts)
    assert store.count() == len(texts)
    # same text with other metadata is another document
    store.add_texts([texts[0]], [{"n": -1}])
    assert store.count() == len(texts) + 1
    store.close()


def test_stores_sharing_a_milvus_lite_collection_never_duplicate(tmp_path: Path) -> None:
    # a process knows every id written to a Milvus Lite collection it created, and skips the
    # existence lookup for the others: writes through any store in the process must count,
    # a deleted document must come back when added again, and a store opened before the
    # collection existed must see it
    early = make_store("milvus", tmp_path, collection_name="shared")
    first = make_store("milvus", tmp_path, collection_name="shared")
    id_a, id_b = first.add_texts(["a", "b"])
    second = make_store("milvus", tmp_path, collection_name="shared")
    (id_c,) = second.add_texts(["c"])
    second.delete([id_a])
    assert first.count() == 2
    assert first.add_texts(["a", "b", "c"]) == [id_a, id_b, id_c]
    assert early.add_texts(["c", "d"])[0] == id_c
    assert early.count() == first.count() == 4
    got = first.get_by_ids([id_a, id_b, id_c])
    assert [d.page_content for d in got] == ["a", "b", "c"]
    for store in (early, first, second):
        store.close()


def test_a_large_milvus_lite_collection_warns_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from langchain_embedkit.vectorstores.backends import milvus

    monkeypatch.setattr(milvus, "LITE_SCAN_WARNING_ROWS", 30)
    store = make_store("milvus", tmp_path)
    texts, _ = corpus(60)
    with caplog.at_level(logging.WARNING, logger=milvus.__name__):
        store.add_texts(texts[:20])
        assert not caplog.records  # below the threshold
        store.add_texts(texts[20:40])
        store.add_texts(texts[40:])
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert "40 documents" in warnings[0] and "backend='chroma'" in warnings[0]
    store.close()


def test_the_size_check_uses_what_the_store_already_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from langchain_embedkit.vectorstores.backends import milvus

    monkeypatch.setattr(milvus, "LITE_SCAN_WARNING_ROWS", 30)
    texts, _ = corpus(60)
    store = make_store("milvus", tmp_path, collection_name="sized")
    store.add_texts(texts[:35])
    store.delete(store.add_texts(texts[35:45]))  # 35 left, the size an upper bound again
    store.close()
    reopened = make_store("milvus", tmp_path, collection_name="sized")
    asked: list[str] = []
    backend = reopened._backend
    stats = backend.client.get_collection_stats  # type: ignore[attr-defined]
    monkeypatch.setattr(
        backend.client, "get_collection_stats", lambda name: asked.append(name) or stats(name)
    )
    assert reopened.count() == 35
    with caplog.at_level(logging.WARNING, logger=milvus.__name__):
        reopened.add_texts(texts[50:51])
    assert asked == []  # the count and this write's inserts give the size exactly
    assert "36 documents" in caplog.text
    reopened.close()


def test_document_ids_and_explicit_ids_are_kept(engine: str, tmp_path: Path) -> None:
    store = make_store(engine, tmp_path)
    ids = store.add_documents([Document("a", id="doc-a"), Document("b"), Document("c", id="c")])
    assert ids[0] == "doc-a" and ids[2] == "c" and len(ids[1]) == 36
    assert store.add_texts(["x", "y"], ids=["1", "2"]) == ["1", "2"]
    # the same id twice in one call: the last version wins, stored once
    store.add_texts(["old", "new"], ids=["dup", "dup"])
    assert [d.page_content for d in store.get_by_ids(["dup"])] == ["new"]
    assert store.count() == 6
    got = store.get_by_ids(["c", "missing", "doc-a"])
    assert [d.id for d in got] == ["c", "doc-a"]
    store.close()


def test_metadata_round_trips_exactly(engine: str, tmp_path: Path) -> None:
    store = make_store(engine, tmp_path, sparse_embedding=HashedTermCounts())
    meta: dict[str, Any] = {
        "int": 3,
        "float": 1.0,
        "neg": -2.5,
        "flag": False,
        "text": "向量 \"quoted\" 'x'",
        "tags": ["a", "b"],
        "id": "not the primary key",
    }
    if engine == "milvus":
        meta.update({"nested": {"k": [1, {"z": None}]}})
    # a key set to None is stored as absent, on every engine
    store.add_texts(["hello world"], [{**meta, "none": None}], ids=["m1"])
    (doc,) = store.get_by_ids(["m1"])
    assert doc.metadata == meta
    assert {k: type(v) for k, v in doc.metadata.items()} == {k: type(v) for k, v in meta.items()}
    # an upsert may drop keys and add new ones; nothing stale survives
    store.add_texts(["hello again"], [{"int": 4, "new": "yes"}], ids=["m1"])
    (doc,) = store.get_by_ids(["m1"])
    assert doc.metadata == {"int": 4, "new": "yes"}
    hit = store.similarity_search("hello", k=1, retrieval_mode="hybrid")[0]
    assert hit.metadata == {"int": 4, "new": "yes"} and hit.id == "m1"
    store.add_texts(["bare"], ids=["m2"])
    assert store.get_by_ids(["m2"])[0].metadata == {}
    store.close()


UNSTORABLE = [
    ("chroma-memory", {"k": 1}),
    ("chroma-memory", []),
    ("chroma-memory", [1, "a"]),
    ("chroma-memory", 2**70),
    ("chroma-memory", float("nan")),
    ("milvus", float("nan")),
    ("chroma-memory", object()),
    ("milvus", object()),
]


@pytest.mark.parametrize(("engine_name", "value"), UNSTORABLE)
def test_unstorable_metadata_names_the_key(engine_name: str, value: Any, tmp_path: Path) -> None:
    store = make_store(engine_name, tmp_path)
    with pytest.raises(ValueError, match="'bad_key'"):
        store.add_texts(["ok", "fine"], [{"a": 1}, {"a": 2, "bad_key": value}])
    assert store.count() == 0
    store.close()


def test_dimension_mismatch_names_both_sizes_and_writes_nothing(
    engine: str, tmp_path: Path
) -> None:
    name = "dims_check"
    store = make_store(engine, tmp_path, collection_name=name)
    store.add_texts(["a", "b"])
    store.close()
    other = make_store(
        engine, tmp_path, collection_name=name, embedding=DeterministicFakeEmbedding(size=8)
    )
    with pytest.raises(DimensionMismatchError, match=r"16.*8"):
        other.add_texts(["c", "d"])
    assert other.count() == 2
    other.close()


@pytest.mark.parametrize("metric", ["cosine", "l2", "ip"])
def test_relevance_scores_are_in_unit_range_and_ordered(
    engine: str, metric: str, tmp_path: Path
) -> None:
    store = make_store(engine, tmp_path, sparse_embedding=HashedTermCounts(), metric=metric)
    texts, metas = corpus(60)
    store.add_texts(texts, metas)
    for mode in ("dense", "sparse", "hybrid"):
        scored = store.similarity_search_with_relevance_scores(
            "hybrid sparse fusion", k=8, retrieval_mode=mode
        )
        assert len(scored) == 8, mode
        values = [s for _, s in scored]
        assert all(0.0 <= s <= 1.0 for s in values), (mode, values)
        assert values == sorted(values, reverse=True), (mode, values)
        raw = [
            s
            for _, s in store.similarity_search_with_score(
                "hybrid sparse fusion", k=8, retrieval_mode=mode
            )
        ]
        if mode == "dense" and metric == "l2":
            assert raw == sorted(raw)  # distances: lower is better
        else:
            assert raw == sorted(raw, reverse=True)
    store.close()


def test_engines_return_the_same_results(tmp_path: Path) -> None:
    texts, metas = corpus()
    results: dict[str, dict[str, list[tuple[str, float]]]] = {}
    for engine in ENGINES[::2]:
        # RRF through the store on both engines (equal weights are plain RRF): Milvus' native
        # RRF ranks equal leg scores by storage position, the store by id, and these hashed
        # term counts tie often
        store = make_store(
            engine,
            tmp_path / engine,
            sparse_embedding=HashedTermCounts(),
            fusion_weights=(1.0, 1.0),
        )
        store.add_texts(texts, metas)
        results[engine] = {}
        for mode in ("dense", "sparse", "hybrid"):
            for filter in (None, {"group": "b"}):
                found = store.similarity_search_with_score(
                    "dense retrieval fusion doc7", k=10, retrieval_mode=mode, filter=filter
                )
                results[engine][f"{mode} {filter}"] = [(d.id or "", s) for d, s in found]
        store.close()
    chroma, milvus = results["chroma-memory"], results["milvus"]
    for key in chroma:
        assert len(chroma[key]) == 10, key
        assert [s for _, s in chroma[key]] == pytest.approx([s for _, s in milvus[key]], abs=1e-4)
        # equal scores are ordered by id, so only a tie across the k-th place may differ
        last = chroma[key][-1][1]
        same = [i for i, s in chroma[key] if abs(s - last) > 1e-6]
        assert same == [i for i, s in milvus[key] if abs(s - last) > 1e-6], key


def test_hybrid_returns_k_and_survives_queries_with_no_known_token(
    hybrid_store: EmbedKitVectorStore,
) -> None:
    assert len(hybrid_store.similarity_search("ranking recall", k=10)) == 10
    assert hybrid_store.similarity_search("zzzz qqqq", k=3, retrieval_mode="sparse") == []
    dense = hybrid_store.similarity_search("zzzz qqqq", k=3, retrieval_mode="dense")
    hybrid = hybrid_store.similarity_search("zzzz qqqq", k=3, retrieval_mode="hybrid")
    assert [d.id for d in hybrid] == [d.id for d in dense]


def test_sparse_scores_are_dot_products(hybrid_store: EmbedKitVectorStore) -> None:
    found = hybrid_store.similarity_search_with_score("doc5 milvus", k=5, retrieval_mode="sparse")
    assert found
    encoder = HashedTermCounts()
    query = encoder.embed_query("doc5 milvus")
    for doc, score in found:
        assert score == pytest.approx(query.dot(encoder.embed_documents([doc.page_content])[0]))


def test_filters_search_and_delete(hybrid_store: EmbedKitVectorStore) -> None:
    for mode in ("dense", "sparse", "hybrid"):
        found = hybrid_store.similarity_search(
            "vector search", k=50, retrieval_mode=mode, filter={"group": "a", "n": {"$lt": 30}}
        )
        assert found, mode
        assert all(d.metadata["group"] == "a" and d.metadata["n"] < 30 for d in found), mode
    hostile = 'x" or 1==1 or "'
    assert hybrid_store.similarity_search("vector", k=5, filter={"group": hostile}) == []
    hybrid_store.delete(filter={"group": hostile})
    assert hybrid_store.count() == 120
    hybrid_store.delete(filter={"even": True})
    assert hybrid_store.count() == 60
    assert all(not d.metadata["even"] for d in hybrid_store.peek(100))
    assert len(hybrid_store.peek(5)) == 5
    with pytest.raises(ValueError, match="ids"):
        hybrid_store.delete()


def test_mmr_and_retrievers(hybrid_store: EmbedKitVectorStore) -> None:
    plain = hybrid_store.similarity_search("vector search", k=4)
    diverse = hybrid_store.max_marginal_relevance_search("vector search", k=4, fetch_k=30)
    assert len(diverse) == 4 and len({d.id for d in diverse}) == 4
    for mode in ("dense", "sparse", "hybrid"):
        assert (
            len(hybrid_store.max_marginal_relevance_search("vector", k=3, retrieval_mode=mode)) == 3
        )
    retriever = hybrid_store.as_retriever(search_kwargs={"k": 4})
    assert [d.id for d in retriever.invoke("vector search")] == [d.id for d in plain]
    sparse = hybrid_store.as_retriever(retrieval_mode="sparse", search_kwargs={"k": 3})
    expected = hybrid_store.similarity_search("doc3", k=3, retrieval_mode="sparse")
    assert sparse.invoke("doc3") == expected
    assert retriever.invoke("doc3", retrieval_mode="sparse", k=3) == expected
    mmr = hybrid_store.as_retriever(search_type="mmr", search_kwargs={"k": 3, "fetch_k": 20})
    assert len(mmr.invoke("vector")) == 3
    threshold = hybrid_store.as_retriever(
        search_type="similarity_score_threshold",
        retrieval_mode="dense",
        search_kwargs={"k": 50, "score_threshold": 0.6},
    )
    scored = hybrid_store.similarity_search_with_relevance_scores(
        "vector", k=50, retrieval_mode="dense"
    )
    assert len(threshold.invoke("vector")) == sum(s >= 0.6 for _, s in scored)
    with pytest.raises(ValueError, match="'dense', 'sparse', 'hybrid'"):
        hybrid_store.as_retriever(retrieval_mode="bm25")


async def test_async_twins(engine: str, tmp_path: Path) -> None:
    store = make_store(engine, tmp_path, sparse_embedding=HashedTermCounts())
    texts, metas = corpus(30)
    ids = await store.aadd_texts(texts, metas)
    assert await store.acount() == 30
    assert len(await store.apeek(3)) == 3
    assert [d.id for d in await store.aget_by_ids(ids[:2])] == ids[:2]
    sync = store.similarity_search("vector", k=3, retrieval_mode="hybrid")
    assert await store.asimilarity_search("vector", k=3, retrieval_mode="hybrid") == sync
    scored = await store.asimilarity_search_with_relevance_scores("vector", k=3)
    assert all(0 <= s <= 1 for _, s in scored)
    assert len(await store.amax_marginal_relevance_search("vector", k=2)) == 2
    await store.adelete(ids[:10])
    assert await store.acount() == 20
    await store.adelete(filter={"group": "a"})
    assert store.count() == 20 - sum(m["group"] == "a" for m in metas[10:])
    store.close()


def test_chroma_batches_beyond_its_max_batch_size(tmp_path: Path) -> None:
    store = make_store("chroma-memory", tmp_path, embedding=CountingEmbeddings(4))
    limit = store._backend.max_rows_per_write()
    n = limit + 200
    store.add_texts((f"t{i}" for i in range(n)), batch_size=n)
    assert store.count() == n


def test_token_never_shown(tmp_path: Path) -> None:
    store = make_store("milvus", tmp_path, token="root:s3cr3t-token")
    assert "s3cr3t" not in repr(store) and "s3cr3t" not in repr(store._backend)
    store.close()


def test_bm25_learns_only_new_documents_and_reloads(engine: str, tmp_path: Path) -> None:
    from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings

    store = make_store(
        engine, tmp_path, sparse_embedding=BM25SparseEmbeddings(), collection_name="bm25_docs"
    )
    texts, metas = corpus(50)
    store.add_texts(texts, metas)
    store.add_texts(texts, metas)  # re-ingest: nothing new to count
    store.add_texts(["brand new words"])
    encoder = store.sparse_embedding
    assert isinstance(encoder, BM25SparseEmbeddings) and encoder.n_docs == 51
    assert store.similarity_search("qqqzzz", k=3, retrieval_mode="sparse") == []
    assert len(store.similarity_search("qqqzzz", k=3, retrieval_mode="hybrid")) == 3
    top = store.similarity_search("doc7", k=1, retrieval_mode="sparse")[0]
    assert top.metadata["n"] == 7
    store.close()
    if engine == "chroma-memory":
        return
    reopened = make_store(
        engine, tmp_path, sparse_embedding=BM25SparseEmbeddings(), collection_name="bm25_docs"
    )
    loaded = reopened.sparse_embedding
    assert isinstance(loaded, BM25SparseEmbeddings) and loaded.n_docs == 51
    assert reopened.similarity_search("doc7", k=1, retrieval_mode="sparse")[0].id == top.id
    reopened.close()


class _PlacedEmbeddings(Embeddings):
    """Texts at chosen points of the plane, so that the best k are known by hand."""

    def __init__(self, points: dict[str, list[float]]) -> None:
        self.points = points

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.points[text] for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.points[text]


def test_mmr_passes_over_a_near_duplicate_that_similarity_keeps(
    engine: str, tmp_path: Path
) -> None:
    # "twin" is almost "top": similarity ranks it second, MMR skips it for "aside"
    points = {"q": [1.0, 0.0], "top": [1.0, 0.0], "twin": [0.99, 0.01], "aside": [0.7, 0.7]}
    store = make_store(engine, tmp_path, embedding=_PlacedEmbeddings(points))
    store.add_texts(["top", "twin", "aside"], ids=["top", "twin", "aside"])
    plain = store.similarity_search("q", k=2, retrieval_mode="dense")
    assert [d.id for d in plain] == ["top", "twin"]
    diverse = store.max_marginal_relevance_search(
        "q", k=2, fetch_k=3, lambda_mult=0.3, retrieval_mode="dense"
    )
    assert [d.id for d in diverse] == ["top", "aside"]
    retriever = store.as_retriever(
        search_type="mmr", search_kwargs={"k": 2, "fetch_k": 3, "lambda_mult": 0.3}
    )
    assert [d.id for d in retriever.invoke("q")] == ["top", "aside"]
    store.close()
