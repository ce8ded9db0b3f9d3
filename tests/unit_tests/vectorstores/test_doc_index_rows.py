"""The document index's rows against a dict model, across removals, re-adds and compaction."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import langchain_embedkit.vectorstores.doc_index as doc_index
from langchain_embedkit.sparse.bm25_counts import DocumentCounts
from langchain_embedkit.vectorstores.doc_index import DocIndex

IDS = [f"d{i}" for i in range(12)]


def _counts(seed: int) -> DocumentCounts:
    tokens = np.unique(np.random.default_rng(seed).integers(0, 50, size=4)).astype(np.int64)
    return DocumentCounts(len(tokens) + seed % 3, tokens)


def _physical(index: DocIndex) -> tuple[set[str], set[str]]:
    with sqlite3.connect(index.path) as db:
        docs = {row[0] for row in db.execute("SELECT id FROM docs")}
        gone = {row[0] for row in db.execute("SELECT id FROM gone")}
    db.close()
    return docs, gone


_step = st.tuples(
    st.lists(st.sampled_from(IDS), max_size=5),
    st.lists(st.tuples(st.sampled_from(IDS), st.integers(0, 30)), max_size=5),
)


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(_step, max_size=25), limit=st.integers(1, 6))
def test_rows_equal_a_model_of_every_write(
    steps: list[tuple[list[str], list[tuple[str, int]]]], limit: int
) -> None:
    with pytest.MonkeyPatch.context() as patch, tempfile.TemporaryDirectory() as tmp:
        patch.setattr(doc_index, "_GONE_LIMIT", limit)
        index = DocIndex(Path(tmp) / "state.docs")
        model: dict[str, DocumentCounts] = {}
        for removed, added in steps:
            rows = {doc_id: _counts(seed) for doc_id, seed in added}
            index.apply(removed, list(rows.items()))
            for doc_id in removed:
                if doc_id not in rows:
                    model.pop(doc_id, None)
            model.update(rows)
            assert index.counts(IDS) == model
            assert index.stored(IDS) == set(model)
            assert index.totals() == (len(model), sum(c.length for c in model.values()))
            docs, gone = _physical(index)
            assert docs - gone == set(model)  # a removed row is named in gone until dropped
            assert len(gone) < limit and gone <= docs
        index.close()


def test_a_version_1_file_is_read_as_one_without_removals(tmp_path: Path) -> None:
    path = tmp_path / "state.docs"
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE docs (id TEXT PRIMARY KEY NOT NULL, length INTEGER NOT NULL, "
            "tokens BLOB NOT NULL) WITHOUT ROWID;"
            "CREATE TABLE totals (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL) "
            "WITHOUT ROWID;"
        )
        counts = _counts(3)
        db.execute("INSERT INTO docs VALUES ('a', ?, ?)", (counts.length, counts.token_bytes()))
        db.executemany(
            "INSERT INTO totals VALUES (?, ?)",
            [("version", 1), ("n_docs", 1), ("total_tokens", counts.length)],
        )
    db.close()
    index = DocIndex(path)
    assert index.counts(["a", "b"]) == {"a": counts}
    index.apply(["a"], [])
    assert index.stored(["a"]) == set()
    assert index.totals() == (0, 0)
    index.close()
