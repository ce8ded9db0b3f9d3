"""Data that changes stays right: upserts, deletes, rejected writes and bad calls.

One test per fault a user hit with changing data; each compares the store's BM25
statistics with a fresh fit on exactly the stored documents, or checks that a bad call
raises before anything is written.
"""

from __future__ import annotations

import math
import threading
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings
from langchain_core.indexing import InMemoryRecordManager, index

from langchain_embedkit.errors import DimensionMismatchError
from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings
from langchain_embedkit.vectorstores import EmbedKitVectorStore
from tests.unit_tests.vectorstores.fakes import HashedTermCounts

ENGINES = ["chroma", "milvus"]


def open_store(
    engine: str, tmp_path: Path, name: str = "docs", **kwargs: Any
) -> EmbedKitVectorStore:
    kwargs.setdefault("embedding", DeterministicFakeEmbedding(size=8))
    kwargs.setdefault("sparse_embedding", BM25SparseEmbeddings())
    if engine == "milvus":
        return EmbedKitVectorStore(
            backend="milvus", uri=str(tmp_path / "m.db"), collection_name=name, **kwargs
        )
    return EmbedKitVectorStore(
        backend="chroma", persist_directory=tmp_path / "c", collection_name=name, **kwargs
    )


def stored_texts(store: EmbedKitVectorStore) -> list[str]:
    return [d.page_content for d in store.peek(100_000)]


def assert_statistics_follow_the_store(store: EmbedKitVectorStore) -> None:
    encoder = store.sparse_embedding
    assert isinstance(encoder, BM25SparseEmbeddings)
    texts = stored_texts(store)
    if not texts:
        assert encoder.statistics().n_docs == 0
        return
    assert encoder.statistics() == BM25SparseEmbeddings().fit(texts).statistics()


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# -- the sparse side follows the store ----------------------------------------------------


def test_an_upsert_is_visible_to_bm25_and_survives_reopening(engine: str, tmp_path: Path) -> None:
    store = open_store(engine, tmp_path)
    store.add_texts(["version one apples"], ids=["x"])
    store.add_texts(["other pears", "more plums"], ids=["y", "z"])
    store.add_texts(["version two bananas"], ids=["x"])
    assert [d.id for d in store.similarity_search("bananas", k=3, retrieval_mode="sparse")] == ["x"]
    assert store.similarity_search("apples", k=3, retrieval_mode="sparse") == []
    assert "x" in [d.id for d in store.similarity_search("bananas", k=3, retrieval_mode="hybrid")]
    assert_statistics_follow_the_store(store)
    store.close()
    reopened = open_store(engine, tmp_path)
    assert [d.id for d in reopened.similarity_search("bananas", k=3, retrieval_mode="sparse")] == [
        "x"
    ]
    assert_statistics_follow_the_store(reopened)
    reopened.close()


def test_index_cleanup_full_cycles_leave_no_deleted_document_in_the_statistics(
    engine: str, tmp_path: Path
) -> None:
    store = open_store(engine, tmp_path)
    manager = InMemoryRecordManager(namespace="docs")
    manager.create_schema()
    fixed = [Document(f"fixed page {i} about tea", metadata={"source": f"f{i}"}) for i in range(5)]
    for cycle in range(30):
        rotating = Document(f"rotating page {cycle} about coffee", metadata={"source": "r"})
        index([*fixed, rotating], manager, store, cleanup="full", source_id_key="source")
        assert store.count() == 6
    assert_statistics_follow_the_store(store)
    assert store.sparse_embedding.statistics().n_docs == 6  # type: ignore[union-attr]
    store.delete(filter={"source": "r"})
    assert_statistics_follow_the_store(store)
    store.close()


def test_rejected_writes_leave_the_statistics_unchanged(tmp_path: Path) -> None:
    store = open_store("milvus", tmp_path, text_max_length=64)
    store.add_texts(["short text kept"], ids=["a"])
    before = store.sparse_embedding.statistics()  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="text_max_length"):
        store.add_texts(["ok words", "far too long " * 20], ids=["b", "c"])
    with pytest.raises(ValueError, match="bytes"):
        store.add_texts(["fine"], ids=["i" * 600])
    assert store.sparse_embedding.statistics() == before  # type: ignore[union-attr]
    assert_statistics_follow_the_store(store)
    store.close()


def test_deletes_by_id_and_filter_leave_the_statistics(engine: str, tmp_path: Path) -> None:
    store = open_store(engine, tmp_path)
    texts = [f"doc {i} {'red' if i % 2 else 'blue'} words{i}" for i in range(40)]
    store.add_texts(
        texts, [{"n": i, "odd": i % 2 == 1} for i in range(40)], [str(i) for i in range(40)]
    )
    store.delete(["0", "1", "2", "missing"])
    store.delete(filter={"odd": True})
    assert store.count() == 18
    assert_statistics_follow_the_store(store)
    store.delete([str(i) for i in range(40)])
    assert store.count() == 0
    assert_statistics_follow_the_store(store)
    for mode in ("dense", "sparse", "hybrid"):
        assert store.similarity_search("red words3", k=4, retrieval_mode=mode) == []
    store.add_texts(["back again red"], ids=["n"])
    assert [d.id for d in store.similarity_search("red", k=2, retrieval_mode="sparse")] == ["n"]
    assert_statistics_follow_the_store(store)
    store.close()


def test_a_fitted_encoder_on_an_empty_store_is_refitted_on_what_is_stored(
    engine: str, tmp_path: Path
) -> None:
    fitted = BM25SparseEmbeddings().fit(["corpus one", "corpus two", "corpus three"])
    store = open_store(engine, tmp_path, sparse_embedding=fitted)
    assert store.similarity_search("corpus", k=2, retrieval_mode="sparse") == []
    store.add_texts(["stored alpha", "stored beta"])
    assert_statistics_follow_the_store(store)
    store.close()


def test_a_missing_state_file_is_rebuilt_with_consistent_vectors(
    engine: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = open_store(engine, tmp_path)
    store.add_texts([f"number{i} shared" for i in range(30)], ids=[str(i) for i in range(30)])
    path = store.sparse_state_path()
    store.close()
    assert path is not None
    path.unlink()
    with caplog.at_level("WARNING"):
        reopened = open_store(engine, tmp_path)
    assert any("refitting" in r.getMessage() for r in caplog.records)
    assert_statistics_follow_the_store(reopened)
    for i in (3, 20):
        found = reopened.similarity_search(f"number{i}", k=1, retrieval_mode="sparse")
        assert [d.id for d in found] == [str(i)]
    reopened.close()


def test_eight_threads_adding_to_one_local_store(engine: str, tmp_path: Path) -> None:
    store = open_store(engine, tmp_path, batch_size=5)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for step in range(3):
                texts = [f"thread{worker} step{step} item{j}" for j in range(7)]
                store.add_texts(texts)
        except BaseException as exc:  # collected and re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.count() == 8 * 3 * 7
    assert_statistics_follow_the_store(store)
    store.close()


# -- empty stores --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["dense", "sparse", "hybrid"])
def test_an_empty_store_returns_nothing_in_every_mode(
    engine: str, tmp_path: Path, mode: str
) -> None:
    store = open_store(engine, tmp_path)
    assert store.similarity_search("anything", k=3, retrieval_mode=mode) == []
    assert store.similarity_search_with_relevance_scores("x", k=3, retrieval_mode=mode) == []
    assert store.max_marginal_relevance_search("x", k=2, retrieval_mode=mode) == []
    store.close()


# -- calls never lose or widen silently -------------------------------------------------------


def test_length_mismatches_raise_before_anything_is_written(engine: str, tmp_path: Path) -> None:
    store = open_store(engine, tmp_path)
    docs = [Document("d1"), Document("d2"), Document("d3")]
    with pytest.raises(ValueError, match=r"3 documents.*1 ids"):
        store.add_documents(docs, ids=["x"])
    with pytest.raises(ValueError, match="Nothing was written"):
        store.add_texts(iter(["a", "b", "c"]), iter([{}, {}]))
    with pytest.raises(ValueError, match="ids"):
        store.add_texts((t for t in ["a", "b"]), ids=(i for i in ["1", "2", "3"]))
    with pytest.raises(ValueError, match="embeddings"):
        store.add_embeddings(["a", "b"], [[0.1] * 8])
    assert store.count() == 0
    store.close()


def test_one_string_where_ids_belong_is_refused(engine: str, tmp_path: Path) -> None:
    store = open_store(engine, tmp_path)
    store.add_texts(["kept a", "kept b", "kept c"], ids=["a", "b", "c"])
    with pytest.raises(TypeError, match=r"ids=\['abc'\]"):
        store.delete(ids="abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="list of ids"):
        store.get_by_ids("abc")
    with pytest.raises(TypeError, match="list of ids"):
        store.add_texts(["x", "y", "z"], ids="xyz")  # type: ignore[arg-type]
    assert store.count() == 3
    store.close()


@pytest.mark.parametrize("bad", [[], "", 0, False, ["a"]])
def test_a_filter_that_is_not_a_dict_is_refused(engine: str, tmp_path: Path, bad: Any) -> None:
    store = open_store(engine, tmp_path)
    store.add_texts(["one", "two"])
    for mode in ("dense", "sparse", "hybrid"):
        with pytest.raises(TypeError, match="filter must be a dict"):
            store.similarity_search("one", k=2, filter=bad, retrieval_mode=mode)
    with pytest.raises(TypeError, match="filter must be a dict"):
        store.delete(filter=bad)
    assert store.count() == 2
    store.close()


def test_chroma_keywords_are_translated_and_others_refused(engine: str, tmp_path: Path) -> None:
    store = open_store(engine, tmp_path)
    texts = ["red apple pie", "green apple tart", "red cherry pie", "blue berry"]
    store.add_texts(texts, [{"c": "red"}, {"c": "green"}, {"c": "red"}, {"c": "blue"}])
    for mode in ("dense", "sparse", "hybrid"):
        where = store.similarity_search("apple pie", k=4, retrieval_mode=mode, where={"c": "red"})
        assert sorted(d.page_content for d in where) == ["red apple pie", "red cherry pie"]
        both = store.similarity_search(
            "pie",
            k=4,
            retrieval_mode=mode,
            where={"c": "red"},
            where_document={"$contains": "apple"},
        )
        assert [d.page_content for d in both] == ["red apple pie"]
    negated = store.similarity_search("x", k=4, where_document={"$not_contains": "apple"})
    assert sorted(d.page_content for d in negated) == ["blue berry", "red cherry pie"]
    with pytest.raises(ValueError, match="filter="):
        store.similarity_search("pie", k=2, expr='metadata["c"] == "red"')
    with pytest.raises(TypeError, match="unexpected keyword"):
        store.similarity_search("pie", k=2, wehre={"c": "red"})
    with pytest.raises(ValueError, match="regex"):
        store.similarity_search("pie", k=2, where_document={"$regex": "a.*"})
    store.delete(where={"c": "blue"})
    assert store.count() == 3
    store.close()


def test_persist_directory_without_backend_means_chroma(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = EmbedKitVectorStore(DeterministicFakeEmbedding(size=8), persist_directory="./x")
    store.add_texts(["kept on disk"])
    assert store.backend_name == "chroma"
    assert (tmp_path / "x").is_dir() and not (tmp_path / "embedkit.db").exists()
    store.close()
    with pytest.raises(ValueError, match="persist_directory"):
        EmbedKitVectorStore(
            DeterministicFakeEmbedding(size=8), backend="milvus", persist_directory="./y"
        )


# -- faults get clear errors ---------------------------------------------------------------


class BadVectors(Embeddings):
    def __init__(self, value: float) -> None:
        self.value = value

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[self.value, *([0.5] * 7)] for _ in texts]

    def embed_query(self, text: str) -> list[float]:
        return [self.value, *([0.5] * 7)]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 1e39])
def test_non_finite_vectors_are_refused_before_writing(
    engine: str, tmp_path: Path, value: float
) -> None:
    store = open_store(engine, tmp_path, embedding=BadVectors(value))
    with pytest.raises(ValueError, match="finite"):
        store.add_texts(["poisoned"])
    assert store.count() == 0
    good = open_store(engine, tmp_path, name="good")
    with pytest.raises(ValueError, match="finite"):
        good.add_embeddings(["poisoned"], [[value] + [0.0] * 7])
    good.add_texts(["fine"])
    with pytest.raises(ValueError, match="finite"):
        good.similarity_search_by_vector([value] + [0.0] * 7, k=1)
    assert good.count() == 1
    store.close()
    good.close()


def test_k_is_checked_and_clamped_on_every_path(engine: str, tmp_path: Path) -> None:
    store = open_store(engine, tmp_path)
    store.add_texts([f"text number {i}" for i in range(20)])
    tracemalloc.start()
    try:
        for mode in ("dense", "sparse", "hybrid"):
            assert len(store.similarity_search("text", k=50_000_000, retrieval_mode=mode)) <= 20
            assert len(store.similarity_search("text", k=10**12, retrieval_mode=mode)) <= 20
        assert len(store.similarity_search_by_vector([0.1] * 8, k=50_000_000)) == 20
        assert len(store.max_marginal_relevance_search("text", k=3, fetch_k=10**12)) == 3
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024 * 1024
    for mode in ("dense", "sparse", "hybrid"):
        with pytest.raises(TypeError, match="k must be a positive integer"):
            store.similarity_search("text", k="3", retrieval_mode=mode)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="k must be a positive integer"):
            store.similarity_search("text", k=2.0, retrieval_mode=mode)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="k must be a positive integer"):
            store.similarity_search("text", k=0, retrieval_mode=mode)
    store.close()


def test_closing_twice_keeps_another_store_on_the_same_file_working(tmp_path: Path) -> None:
    first = open_store("milvus", tmp_path, name="one")
    second = open_store("milvus", tmp_path, name="two")
    first.add_texts(["a"])
    second.add_texts(["b"])
    first.close()
    first.close()
    assert second.count() == 1
    second.add_texts(["c"])
    assert [
        d.page_content for d in second.similarity_search("c", k=5, retrieval_mode="sparse")
    ] == ["c"]
    second.close()


def test_query_dimension_is_checked_like_writes(engine: str, tmp_path: Path) -> None:
    store = open_store(engine, tmp_path)
    store.add_texts(["eight dims"])
    other = open_store(engine, tmp_path, embedding=DeterministicFakeEmbedding(size=5))
    for mode in ("dense", "hybrid"):
        with pytest.raises(DimensionMismatchError, match="8-dimensional"):
            other.similarity_search("eight", k=1, retrieval_mode=mode)
    with pytest.raises(DimensionMismatchError, match="8-dimensional"):
        store.similarity_search_by_vector([0.1] * 5, k=1)
    store.close()
    other.close()


def test_a_long_collection_name_is_refused_before_anything_is_written(
    engine: str, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="collection_name"):
        open_store(engine, tmp_path, name="n" * 300)
    assert not (tmp_path / "m.db").exists() and not (tmp_path / "c").exists()


def test_chroma_sparse_search_with_a_filter_and_a_large_k(tmp_path: Path) -> None:
    # SQLite refuses more than 32,766 bound variables in one statement
    store = EmbedKitVectorStore(
        DeterministicFakeEmbedding(size=2),
        HashedTermCounts(),
        backend="chroma",
        collection_name=f"big_{uuid.uuid4().hex[:8]}",
    )
    n = 33_000
    store.add_texts(
        [f"common w{i}" for i in range(n)], [{"g": i % 2} for i in range(n)], batch_size=5000
    )
    for mode in ("sparse", "hybrid"):
        found = store.similarity_search("common", k=4000, filter={"g": 1}, retrieval_mode=mode)
        assert len(found) == 4000 and all(d.metadata["g"] == 1 for d in found)
    store.close()


# -- add_embeddings, update_documents, collections, None metadata ---------------------------


def test_add_embeddings_update_documents_and_reset(engine: str, tmp_path: Path) -> None:
    store = open_store(engine, tmp_path)
    vectors = DeterministicFakeEmbedding(size=8).embed_documents(["alpha", "beta"])
    ids = store.add_embeddings(
        ["alpha text", "beta text"], vectors, [{"n": 1}, {"n": 2}], ["a", "b"]
    )
    assert ids == ["a", "b"]
    assert [d.id for d in store.similarity_search("alpha", k=1, retrieval_mode="sparse")] == ["a"]
    store.update_documents(["a"], [Document("gamma text", metadata={"n": 3})])
    assert store.get_by_ids(["a"])[0].page_content == "gamma text"
    assert store.similarity_search("alpha", k=1, retrieval_mode="sparse") == []
    assert_statistics_follow_the_store(store)
    store.reset_collection()
    assert store.count() == 0
    assert store.similarity_search("gamma", k=1, retrieval_mode="hybrid") == []
    store.add_texts(["delta text"], None, ["d"])  # positional order of langchain-chroma
    assert [d.id for d in store.similarity_search("delta", k=2, retrieval_mode="sparse")] == ["d"]
    assert_statistics_follow_the_store(store)
    store.delete_collection()
    assert store.count() == 0
    store.close()


def test_none_metadata_values_are_stored_as_absent_on_both_engines(
    engine: str, tmp_path: Path
) -> None:
    store = open_store(engine, tmp_path)
    store.add_texts(
        ["with none", "with value"], [{"a": None, "b": 1}, {"a": "x", "b": 2}], ["n", "v"]
    )
    assert store.get_by_ids(["n"])[0].metadata == {"b": 1}
    assert [d.id for d in store.similarity_search("with", k=5, filter={"a": {"$ne": "x"}})] == ["n"]
    assert [d.id for d in store.similarity_search("with", k=5, filter={"a": {"$nin": ["x"]}})] == [
        "n"
    ]
    assert [d.id for d in store.similarity_search("with", k=5, filter={"a": "x"})] == ["v"]
    store.close()


def test_a_new_collection_name_each_time_does_not_share_state(tmp_path: Path) -> None:
    names = [f"c{uuid.uuid4().hex[:6]}" for _ in range(2)]
    first = open_store("chroma", tmp_path, name=names[0])
    second = open_store("chroma", tmp_path, name=names[1])
    first.add_texts(["only in first"])
    assert second.similarity_search("first", k=1, retrieval_mode="sparse") == []
    first.close()
    second.close()
