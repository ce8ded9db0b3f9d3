"""The BM25 document index: upserts and deletes take old versions out without engine reads.

A local store keeps what BM25 counted for each document by id, so a delete or an upsert
reads nothing from the engine (on Milvus not even which ids are stored). The index is a
derived state like the statistics: lost, damaged or left behind by an older version, it
is rebuilt from the stored texts, and the statistics stay equal to a fresh fit.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from langchain_embedkit.sparse.bm25_counts import count_documents
from langchain_embedkit.sparse.bm25_format import checksum
from langchain_embedkit.vectorstores import EmbedKitVectorStore
from langchain_embedkit.vectorstores.sparse_state import SparseBook
from tests.integration_tests.vectorstores.test_changes import (
    assert_statistics_follow_the_store,
    open_store,
)

CORPUS = [f"doc {i} on topic{i % 7} and theme{i % 5} item{i}" for i in range(60)]


@pytest.fixture(params=["chroma", "milvus"])
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def filled(engine: str, tmp_path: Path) -> EmbedKitVectorStore:
    store = open_store(engine, tmp_path)
    store.add_texts(CORPUS, ids=[str(i) for i in range(len(CORPUS))])
    return store


def book_of(store: EmbedKitVectorStore) -> SparseBook:
    book = store._book
    assert isinstance(book, SparseBook) and book.docs is not None
    return book


def no_engine_reads(store: EmbedKitVectorStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the engine was asked")

    monkeypatch.setattr(store._backend, "get", refuse)
    if not store._backend.upsert_needs_stored_keys:
        monkeypatch.setattr(store._backend, "existing", refuse)


def test_deletes_and_upserts_read_nothing_from_the_engine(
    engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = filled(engine, tmp_path)
    with monkeypatch.context() as patch:
        no_engine_reads(store, patch)
        store.delete(["3", "4", "not-stored"])
        store.add_texts(["doc 5 rewritten with kiwis", "a new doc"], ids=["5", "new"])
    assert_statistics_follow_the_store(store)
    assert store.similarity_search("kiwis", k=1, retrieval_mode="sparse")[0].id == "5"
    assert store.get_by_ids(["3", "4"]) == []
    store.close()


def test_the_index_holds_what_bm25_counted_for_each_stored_document(
    engine: str, tmp_path: Path
) -> None:
    store = filled(engine, tmp_path)
    store.delete(["1"])
    store.add_texts(["doc 2 again"], ids=["2"])
    book = book_of(store)
    texts = {d.id: d.page_content for d in store.peek(1000)}
    assert book.docs is not None
    expected = dict(zip(texts, count_documents(book._bm25(), list(texts.values())), strict=True))
    assert book.docs.counts([*texts, "1"]) == expected
    assert book.docs.totals() == (len(texts), sum(c.length for c in expected.values()))
    store.close()


@pytest.mark.parametrize("damage", ["lost", "garbage", "wrong totals"])
def test_a_lost_or_damaged_index_is_rebuilt_and_nothing_is_lost(
    engine: str, tmp_path: Path, damage: str
) -> None:
    store = filled(engine, tmp_path)
    docs = book_of(store).docs
    assert docs is not None
    if damage == "wrong totals":
        docs.apply(["7"], [])  # the row leaves, the statistics still count it
    store.close()
    if damage == "lost":
        docs.remove()
    elif damage == "garbage":
        docs.remove()
        docs.path.write_bytes(b"\x00not a database" * 40)
    reopened = open_store(engine, tmp_path)
    reopened.delete(["8"])
    reopened.add_texts(["doc 9 replaced"], ids=["9"])
    assert reopened.count() == len(CORPUS) - 1
    assert_statistics_follow_the_store(reopened)
    book = book_of(reopened)
    assert book.docs is not None
    assert book.docs.totals()[0] == len(CORPUS) - 1
    reopened.close()


def test_an_index_whose_rows_disagree_with_the_statistics_triggers_a_refit(
    engine: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = filled(engine, tmp_path)
    encoder = store.sparse_embedding
    store.close()
    # statistics that count one document too many: the index built from the stored texts
    # cannot add up to them
    assert encoder is not None
    state = store.sparse_state_path()
    assert state is not None
    book_of(store).docs.remove()  # type: ignore[union-attr]
    payload = json.loads(state.read_text(encoding="utf-8"))
    payload["stats"]["total_tokens"] += 3
    payload["checksum"] = checksum(payload)
    state.write_text(json.dumps(payload), encoding="utf-8")
    state.with_name(state.name + ".log").unlink(missing_ok=True)
    reopened = open_store(engine, tmp_path)
    with caplog.at_level("WARNING"):
        reopened.delete(["0"])
    assert "do not add up" in caplog.text
    assert_statistics_follow_the_store(reopened)
    reopened.close()


def test_a_journal_of_the_previous_version_is_still_recovered(engine: str, tmp_path: Path) -> None:
    store = filled(engine, tmp_path)
    book = book_of(store)
    book.after_write = lambda pending: None  # type: ignore[method-assign]
    store.add_texts(["doc 11 new words xylophone"], ids=["11"])
    journal = book.journal_path
    assert journal is not None
    payload = json.loads(journal.read_text(encoding="utf-8"))
    # the previous journal named old texts, not counts
    payload["version"] = 2
    payload["changes"] = [["11", CORPUS[11], "doc 11 new words xylophone"]]
    journal.write_text(json.dumps(payload), encoding="utf-8")
    store.close()
    reopened = open_store(engine, tmp_path)
    assert not journal.exists()
    assert_statistics_follow_the_store(reopened)
    assert reopened.similarity_search("xylophone", k=1, retrieval_mode="sparse")[0].id == "11"
    reopened.close()


@pytest.mark.parametrize(
    "row",
    [
        (3, b"\x01\x00"),  # token bytes cut
        (0, b"\x01\x00\x00\x00"),  # more tokens than the length
        (9, b"\x02\x00\x00\x00\x01\x00\x00\x00"),  # not ascending
        (9, b"\xff\xff\x00\x00"),  # a token id past the vocabulary
        ("x", b""),  # a length that is not a count
    ],
)
def test_a_crafted_row_is_noticed_and_the_index_rebuilt(
    engine: str, tmp_path: Path, row: tuple[Any, bytes], caplog: pytest.LogCaptureFixture
) -> None:
    store = filled(engine, tmp_path)
    docs = book_of(store).docs
    assert docs is not None
    store.close()
    with sqlite3.connect(docs.path) as db:
        db.execute("UPDATE docs SET length = ?, tokens = ? WHERE id = '3'", row)
    db.close()
    reopened = open_store(engine, tmp_path)
    with caplog.at_level("WARNING"):
        reopened.delete(["3"])
        reopened.add_texts(["doc 4 replaced"], ids=["4"])
    assert_statistics_follow_the_store(reopened)
    assert reopened.count() == len(CORPUS) - 1
    assert "document index" in caplog.text
    reopened.close()


def test_recovery_rewrites_the_rows_of_an_interrupted_write(engine: str, tmp_path: Path) -> None:
    # an upsert that keeps the document's length keeps the index's totals: only the
    # recovery's own rows can tell the new version from the old one
    store = filled(engine, tmp_path)
    book = book_of(store)
    book.after_write = lambda pending: None  # type: ignore[method-assign]
    store.add_texts(["doc 12 on topic5 and theme2 kiwi12"], ids=["12"])
    store.close()
    reopened = open_store(engine, tmp_path)
    book = book_of(reopened)
    assert book.docs is not None and book._docs_ok
    (expected,) = count_documents(book._bm25(), ["doc 12 on topic5 and theme2 kiwi12"])
    assert book.docs.counts(["12"]) == {"12": expected}
    assert_statistics_follow_the_store(reopened)
    reopened.close()
