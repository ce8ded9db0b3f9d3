"""The saved sparse statistics: a base file and a change log a write appends to.

A write must cost in proportion to what it changed (the base file is not rewritten), a
crash at any point of the log's life must reopen to statistics equal to a fresh fit on
the stored documents, and an edited log must be refused naming the file and the field.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from langchain_embedkit.errors import PersistenceError
from langchain_embedkit.vectorstores import EmbedKitVectorStore
from langchain_embedkit.vectorstores.sparse_state import SparseBook
from tests.integration_tests.vectorstores.test_changes import (
    assert_statistics_follow_the_store,
    open_store,
)

ENGINES = ["chroma", "milvus"]
CORPUS = [f"document {i} about topic{i % 37} and subject{i % 11} number{i}" for i in range(400)]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def filled(engine: str, tmp_path: Path) -> EmbedKitVectorStore:
    store = open_store(engine, tmp_path)
    store.add_texts(CORPUS, ids=[str(i) for i in range(len(CORPUS))])
    return store


def files(store: EmbedKitVectorStore) -> tuple[Path, Path]:
    base = store.sparse_state_path()
    assert base is not None
    return base, base.with_name(base.name + ".log")


def test_a_write_appends_its_change_and_leaves_the_base_file_alone(
    engine: str, tmp_path: Path
) -> None:
    store = filled(engine, tmp_path)
    base, log = files(store)
    before = base.read_bytes()
    store.add_texts(["document 5 rewritten with a brand new word"], ids=["5"])
    store.delete(["7"])
    assert base.read_bytes() == before
    lines = log.read_bytes().splitlines()
    assert len(lines) == 3  # header, the upsert, the delete
    # each line holds the change (a few tokens), not the vocabulary of 400 documents
    assert all(len(line) < 600 for line in lines), [len(line) for line in lines]
    assert len(before) > 5 * max(len(line) for line in lines)
    store.close()
    reopened = open_store(engine, tmp_path)
    assert reopened.count() == 399
    assert_statistics_follow_the_store(reopened)
    assert reopened.similarity_search("brand", k=1, retrieval_mode="sparse")[0].id == "5"
    reopened.close()


def test_the_log_is_folded_into_the_base_once_it_outgrows_it(engine: str, tmp_path: Path) -> None:
    store = filled(engine, tmp_path)
    base, log = files(store)
    first = base.read_bytes()
    for round_ in range(60):
        store.add_texts(
            [f"round {round_} text {j} novel{round_}x{j}" for j in range(5)],
            ids=[str(round_ * 5 + j) for j in range(5)],
        )
    assert base.read_bytes() != first  # folded at least once
    assert log.stat().st_size <= base.stat().st_size if log.exists() else True
    store.close()
    reopened = open_store(engine, tmp_path)
    assert_statistics_follow_the_store(reopened)
    reopened.close()


def test_a_crash_after_the_log_append_before_the_journal_is_removed(
    engine: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = filled(engine, tmp_path)
    book = store._book
    assert isinstance(book, SparseBook)
    book._clear = lambda: None  # type: ignore[method-assign]
    store.add_texts(["document 3 replaced by apricots"], ids=["3"])
    store.add_texts(["an extra document about apricots"], ids=["extra"])
    assert book.journal_path is not None and book.journal_path.exists()
    store.close()
    with caplog.at_level(logging.WARNING, logger=SparseBook.__module__):
        reopened = open_store(engine, tmp_path)  # the change must not count twice
    # recovered from the log and journal, not by the refit that a wrong count triggers
    assert not [r for r in caplog.records if "refitting" in r.getMessage()]
    assert_statistics_follow_the_store(reopened)
    reopened.add_texts(["after the crash"], ids=["after"])
    reopened.close()
    again = open_store(engine, tmp_path)
    assert_statistics_follow_the_store(again)
    again.close()


def test_a_log_left_by_an_interrupted_fold_is_not_counted_again(
    engine: str, tmp_path: Path
) -> None:
    store = filled(engine, tmp_path)
    _, log = files(store)
    store.add_texts(["document 1 now mentions kiwis"], ids=["1"])
    store.delete(["2", "4"])
    stale = log.read_bytes()
    store.save_sparse_state()  # a new base holding both changes; the log is gone
    assert not log.exists()
    log.write_bytes(stale)  # as if killed between writing the base and removing the log
    store.close()
    reopened = open_store(engine, tmp_path)
    assert_statistics_follow_the_store(reopened)
    reopened.close()


@pytest.mark.parametrize(
    ("damage", "field"),
    [
        ("number", "sum"),
        ("truncate", "<line>"),
    ],
)
def test_an_edited_log_is_refused_naming_the_file_line_and_field(
    damage: str, field: str, tmp_path: Path
) -> None:
    store = filled("chroma", tmp_path)
    _, log = files(store)
    store.add_texts(["document 9 changed"], ids=["9"])
    store.close()
    lines = log.read_bytes().splitlines()
    if damage == "number":
        record = json.loads(lines[1])
        record["n_docs"] += 5
        lines[1] = json.dumps(record).encode()
    else:
        lines[1] = lines[1][: len(lines[1]) // 2]
    log.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(PersistenceError, match=rf"\.log line 2, field '{field}'") as caught:
        open_store("chroma", tmp_path)
    assert str(log) in str(caught.value)


def test_token_ids_survive_a_crash_after_the_statistics_were_emptied(
    engine: str, tmp_path: Path
) -> None:
    # the statistics count no document but "appl" keeps id 0: "berri" gets id 1 in memory,
    # and the redo on open must give it the same id as its stored vector
    store = open_store(engine, tmp_path)
    store.add_texts(["apple"], ids=["a"])
    store.delete(["a"])
    book = store._book
    assert isinstance(book, SparseBook)
    book.after_write = lambda pending: None  # type: ignore[method-assign]
    store.add_texts(["berry"], ids=["b"])
    store.close()
    reopened = open_store(engine, tmp_path)
    assert_statistics_follow_the_store(reopened)
    found = reopened.similarity_search("berry", k=1, retrieval_mode="sparse")
    assert [d.id for d in found] == ["b"]
    reopened.close()
