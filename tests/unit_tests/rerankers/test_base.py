"""The ranking contract every reranker shares: copies, ids, order, top_n, threshold."""

from __future__ import annotations

import copy

import pytest
from langchain_core.documents import Document

from langchain_embedkit.rerankers.base import BaseReranker


class OverlapReranker(BaseReranker):
    """Scores by the share of query words found in the text."""

    def _score(self, query: str, texts: list[str]) -> list[tuple[int, float]]:
        words = set(query.lower().split())
        return [
            (i, len(words & set(t.lower().split())) / max(len(words), 1))
            for i, t in enumerate(texts)
        ]


DOCS = [
    Document("cats and dogs", id="1", metadata={"source": "a"}),
    Document("vector search with bm25", id="2", metadata={"source": "b"}),
    Document("bm25 ranking", id="3", metadata={"source": "c"}),
    Document("nothing relevant", id=None, metadata={"source": "d"}),
]


def test_sorted_best_first_with_scores_on_copies() -> None:
    before = copy.deepcopy(DOCS)
    out = OverlapReranker(top_n=None).compress_documents(DOCS, "bm25 vector search")
    assert [d.id for d in out] == ["2", "3", "1", None]
    scores = [d.metadata["relevance_score"] for d in out]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] == pytest.approx(1.0)
    assert before == DOCS
    assert all("relevance_score" not in d.metadata for d in DOCS)
    assert out[0].metadata["source"] == "b"


def test_top_n_and_threshold() -> None:
    reranker = OverlapReranker(top_n=2)
    assert [d.id for d in reranker.compress_documents(DOCS, "bm25 vector search")] == ["2", "3"]
    strict = OverlapReranker(top_n=None, score_threshold=0.5)
    assert [d.id for d in strict.compress_documents(DOCS, "bm25 vector search")] == ["2"]


def test_ties_keep_input_order() -> None:
    docs = [Document("x", id=str(i)) for i in range(5)]
    assert [d.id for d in OverlapReranker(top_n=None).compress_documents(docs, "x")] == list(
        "01234"
    )


def test_empty_input_gives_empty_output() -> None:
    assert OverlapReranker().compress_documents([], "q") == []


async def test_async_matches_sync() -> None:
    reranker = OverlapReranker(top_n=3)
    assert await reranker.acompress_documents(DOCS, "bm25") == reranker.compress_documents(
        DOCS, "bm25"
    )


def test_bad_top_n_is_refused() -> None:
    with pytest.raises(ValueError, match="top_n must be >= 1"):
        OverlapReranker(top_n=0)


def test_an_out_of_range_index_is_an_error() -> None:
    class Broken(BaseReranker):
        def _score(self, query: str, texts: list[str]) -> list[tuple[int, float]]:
            return [(len(texts), 1.0)]

    with pytest.raises(ValueError, match="index 4"):
        Broken().compress_documents(DOCS, "q")
