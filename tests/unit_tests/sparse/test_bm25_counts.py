"""Per-document BM25 counts: taking a document out without its text.

``unfit_counts(count_documents(texts))`` must change the statistics exactly as
``partial_unfit(texts)`` does, ``refit_counts`` must undo it, and counts that were never
counted (or crafted) must be refused without changing anything.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings
from langchain_embedkit.sparse.bm25_counts import (
    DocumentCounts,
    count_documents,
    refit_counts,
    unfit_counts,
)

WORDS = ["apple", "berry", "cherry", "date", "elder", "fig", "the", "苹果", "香蕉"]
texts = st.lists(st.sampled_from(WORDS), min_size=0, max_size=6).map(" ".join)


@settings(max_examples=60, deadline=None)
@given(st.lists(texts, min_size=1, max_size=8), st.data())
def test_unfitting_counts_equals_unfitting_texts(corpus: list[str], data: st.DataObject) -> None:
    removed = data.draw(st.lists(st.sampled_from(corpus), max_size=len(corpus), unique=False))
    # remove each document at most as often as it was counted
    removed = [t for i, t in enumerate(removed) if removed[:i].count(t) < corpus.count(t)]
    by_text = BM25SparseEmbeddings(analyzer="en").fit(corpus)
    by_counts = BM25SparseEmbeddings(analyzer="en").fit(corpus)
    counts = count_documents(by_counts, removed)
    by_text.partial_unfit(removed)
    unfit_counts(by_counts, counts)
    assert by_counts.statistics() == by_text.statistics()
    refit_counts(by_counts, counts)
    assert by_counts.statistics() == BM25SparseEmbeddings(analyzer="en").fit(corpus).statistics()


def test_counts_reuse_the_batch_partial_fit_analysed() -> None:
    bm25 = BM25SparseEmbeddings(analyzer="en").fit(["red apples"])
    batch = ["green pears and red apples", "blue plums"]
    bm25.partial_fit(batch)
    counts = count_documents(bm25, batch)
    assert bm25._last_batch is not None  # still there for embed_documents
    vocab = bm25.vocabulary
    assert counts[1] == DocumentCounts(2, np.array(sorted([vocab["blue"], vocab["plum"]])))
    assert counts[0].length == 4  # "and" is a stop word


def test_counts_of_unknown_tokens_count_in_the_length_only() -> None:
    bm25 = BM25SparseEmbeddings(analyzer="en").fit(["red apples"])
    (counts,) = count_documents(bm25, ["red kiwis"])
    assert counts == DocumentCounts(2, np.array([bm25.vocabulary["red"]]))


@pytest.mark.parametrize(
    ("counts", "problem"),
    [
        (DocumentCounts(1, np.array([99])), "outside the vocabulary"),
        (DocumentCounts(1, np.array([-1])), "outside the vocabulary"),
        (DocumentCounts(50, np.array([0])), "remove more than was counted"),
    ],
)
def test_counts_never_counted_are_refused_and_change_nothing(
    counts: DocumentCounts, problem: str
) -> None:
    bm25 = BM25SparseEmbeddings(analyzer="en").fit(["red apples", "green pears"])
    before = bm25.statistics()
    with pytest.raises(ValueError, match=problem):
        unfit_counts(bm25, [counts, *count_documents(bm25, ["green pears"])])
    assert bm25.statistics() == before


def test_removing_one_document_twice_is_refused() -> None:
    bm25 = BM25SparseEmbeddings(analyzer="en").fit(["red apples", "green pears"])
    counts = count_documents(bm25, ["red apples"])
    unfit_counts(bm25, counts)
    with pytest.raises(ValueError, match="remove more than was counted"):
        unfit_counts(bm25, counts)


def test_round_trips_through_bytes_and_json() -> None:
    counts = DocumentCounts(7, np.array([1, 5, 70_000]))
    assert DocumentCounts.from_bytes(7, counts.token_bytes()) == counts
    assert DocumentCounts.from_json(counts.to_json()) == counts


@pytest.mark.parametrize(
    "payload",
    [
        None,
        [],
        {"n": 2},
        {"n": 2, "t": "not base64!"},
        {"n": 2, "t": "AAA="},  # 2 bytes: not whole uint32 ids
        {"n": -1, "t": ""},
        {"n": "2", "t": ""},
        {"n": 1, "t": DocumentCounts(5, np.array([1, 2])).to_json()["t"]},  # more ids than length
        {"n": 5, "t": DocumentCounts(5, np.array([2, 1])).to_json()["t"]},  # not ascending
        {"n": 5, "t": DocumentCounts(5, np.array([2, 2])).to_json()["t"]},  # repeated
    ],
)
def test_crafted_counts_are_refused(payload: object) -> None:
    with pytest.raises(ValueError, match="not document counts"):
        DocumentCounts.from_json(payload)
