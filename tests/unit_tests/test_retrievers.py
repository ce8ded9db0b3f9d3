"""HybridRetriever: fusion through fusion.py, dedup by id, k per call, fetch sizes, copies."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda
from langchain_core.vectorstores import InMemoryVectorStore
from pydantic import Field

from langchain_embedkit.fusion import rrf, weighted
from langchain_embedkit.retrievers import HybridRetriever, document_key


class ListRetriever(BaseRetriever):
    """Returns its documents in order, honouring ``k`` per call; records the calls."""

    docs: list[Document]
    calls: list[dict[str, Any]] = Field(default_factory=list)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        self.calls.append(dict(kwargs))
        return self.docs[: kwargs.get("k", len(self.docs))]


class FieldKRetriever(BaseRetriever):
    """BM25Retriever-style: a ``k`` field, no per-call arguments."""

    docs: list[Document]
    k: int = 2

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return self.docs[: self.k]


class FilterOnlyRetriever(BaseRetriever):
    """Takes ``filter`` but not ``k`` or ``**kwargs``: passing ``k`` would be a TypeError."""

    docs: list[Document]
    seen_filters: list[Any] = Field(default_factory=list)

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        filter: dict[str, Any] | None = None,
    ) -> list[Document]:
        self.seen_filters.append(filter)
        return list(self.docs)


def _docs(prefix: str, n: int) -> list[Document]:
    return [Document(f"{prefix} text {i}", id=f"{prefix}{i}", metadata={"i": i}) for i in range(n)]


def test_rrf_fusion_matches_the_shared_function() -> None:
    a = [Document("x", id="x"), Document("y", id="y"), Document("z", id="z")]
    b = [Document("z", id="z"), Document("w", id="w"), Document("x", id="x")]
    hybrid = HybridRetriever(retrievers=[ListRetriever(docs=a), ListRetriever(docs=b)], k=4)
    got = hybrid.invoke("q")
    expected = rrf([[("x", 0), ("y", 0), ("z", 0)], [("z", 0), ("w", 0), ("x", 0)]], k=60)
    assert [(d.id, d.metadata["fused_score"]) for d in got] == expected


def test_weights_and_rrf_k_reach_the_fusion() -> None:
    a, b = _docs("a", 3), _docs("b", 3)
    hybrid = HybridRetriever(
        retrievers=[ListRetriever(docs=a), ListRetriever(docs=b)], weights=[1.0, 3.0], rrf_k=1, k=6
    )
    got = [d.id for d in hybrid.invoke("q")]
    expected = rrf([[(d.id, 0) for d in a], [(d.id, 0) for d in b]], k=1, weights=[1.0, 3.0])
    assert got == [doc_id for doc_id, _ in expected]
    assert got[0] == "b0"


def test_weighted_fusion_reads_leg_scores_from_metadata() -> None:
    dense = [
        Document("a", id="a", metadata={"score": 0.9}),
        Document("b", id="b", metadata={"score": 0.8}),
        Document("c", id="c", metadata={"score": 0.1}),
    ]
    sparse = [
        Document("c", id="c", metadata={"score": 12.0}),
        Document("b", id="b", metadata={"score": 11.8}),
        Document("d", id="d", metadata={"score": 2.0}),
    ]
    hybrid = HybridRetriever(
        retrievers=[ListRetriever(docs=dense), ListRetriever(docs=sparse)],
        fusion="weighted",
        weights=[0.5, 0.5],
        k=4,
    )
    got = [(d.id, round(d.metadata["fused_score"], 6)) for d in hybrid.invoke("q")]
    expected = weighted(
        [[("a", 0.9), ("b", 0.8), ("c", 0.1)], [("c", 12.0), ("b", 11.8), ("d", 2.0)]],
        weights=[0.5, 0.5],
    )
    assert got == [(i, round(s, 6)) for i, s in expected]
    assert got[0][0] == "b"  # strong in both legs beats best in one


def test_distinct_chunks_with_equal_text_stay_distinct() -> None:
    # EnsembleRetriever deduplicates by page_content and would return one of these.
    a = [Document("Same sentence.", id="chunk-1", metadata={"source": "a.md"})]
    b = [Document("Same sentence.", id="chunk-2", metadata={"source": "b.md"})]
    got = HybridRetriever(retrievers=[ListRetriever(docs=a), ListRetriever(docs=b)]).invoke("q")
    assert sorted(d.id for d in got) == ["chunk-1", "chunk-2"]


def test_same_id_across_legs_is_merged_and_first_copy_kept() -> None:
    a = [Document("from dense", id="doc-1", metadata={"leg": "dense"})]
    b = [Document("from sparse", id="doc-1", metadata={"leg": "sparse"}), Document("o", id="2")]
    got = HybridRetriever(retrievers=[ListRetriever(docs=a), ListRetriever(docs=b)]).invoke("q")
    assert [d.id for d in got] == ["doc-1", "2"]
    assert got[0].metadata["leg"] == "dense"
    assert got[0].metadata["fused_score"] == pytest.approx(1 / 61 + 1 / 61)


def test_documents_without_id_are_deduplicated_by_text_like_ensemble_retriever() -> None:
    same = Document("text", metadata={"page": 1})
    twin = Document("text", metadata={"page": 1})
    other_page = Document("text", metadata={"page": 2})
    assert document_key(same) == document_key(twin) == document_key(other_page)
    assert document_key(same) != document_key(Document("other text"))
    got = HybridRetriever(
        retrievers=[ListRetriever(docs=[same, Document("b")]), ListRetriever(docs=[other_page])]
    ).invoke("q")
    assert [d.page_content for d in got] == ["text", "b"]
    assert got[0].metadata["page"] == 1  # the first copy is kept
    assert got[0].metadata["fused_score"] == pytest.approx(2 / 61)


def test_an_id_less_copy_joins_the_document_with_that_id() -> None:
    # A store leg returns ids; a BM25Retriever leg returns the same texts without ids.
    stored = [Document("alpha", id="a"), Document("beta", id="b")]
    keyword = [Document("beta"), Document("gamma"), Document("alpha")]
    got = HybridRetriever(
        retrievers=[ListRetriever(docs=stored), ListRetriever(docs=keyword)], k=5
    ).invoke("q")
    assert [(d.page_content, d.id) for d in got] == [("beta", "b"), ("alpha", "a"), ("gamma", None)]
    assert [d.metadata["fused_score"] for d in got] == pytest.approx(
        [1 / 62 + 1 / 61, 1 / 61 + 1 / 63, 1 / 62]
    )
    # When the id-less copy comes first, the copy with the id is still the one returned.
    got = HybridRetriever(
        retrievers=[ListRetriever(docs=keyword), ListRetriever(docs=stored)], k=5
    ).invoke("q")
    assert [(d.page_content, d.id) for d in got] == [("beta", "b"), ("alpha", "a"), ("gamma", None)]


def test_an_id_less_copy_of_text_shared_by_two_ids_joins_the_first() -> None:
    a = [Document("Same sentence.", id="chunk-1"), Document("Same sentence.", id="chunk-2")]
    b = [Document("Same sentence.")]
    got = HybridRetriever(retrievers=[ListRetriever(docs=a), ListRetriever(docs=b)]).invoke("q")
    assert [d.id for d in got] == ["chunk-1", "chunk-2"]
    assert got[0].metadata["fused_score"] == pytest.approx(2 / 61)


def test_a_leg_repeating_a_document_counts_its_best_rank_once() -> None:
    leg = ListRetriever(docs=[Document("a", id="a"), Document("b", id="b"), Document("a", id="a")])
    got = HybridRetriever(retrievers=[leg]).invoke("q")
    assert [d.id for d in got] == ["a", "b"]
    assert got[0].metadata["fused_score"] == pytest.approx(1 / 61)


def test_k_in_constructor_and_per_call() -> None:
    legs = [ListRetriever(docs=_docs("a", 30)), ListRetriever(docs=_docs("b", 30))]
    hybrid = HybridRetriever(retrievers=legs, k=5)
    assert len(hybrid.invoke("q")) == 5
    assert len(hybrid.invoke("q", k=12)) == 12
    assert len(hybrid.invoke("q", k=1)) == 1
    with pytest.raises(ValueError, match="positive integer"):
        hybrid.invoke("q", k=0)


def test_each_leg_is_asked_for_fetch_k() -> None:
    leg = ListRetriever(docs=_docs("a", 100), calls=[])
    HybridRetriever(retrievers=[leg], k=10).invoke("q")
    HybridRetriever(retrievers=[leg], k=2).invoke("q")
    HybridRetriever(retrievers=[leg], k=2, fetch_k=7).invoke("q", k=3)
    assert [c["k"] for c in leg.calls] == [40, 20, 7]


def test_leg_with_a_k_field_gets_a_copy_with_fetch_k() -> None:
    leg = FieldKRetriever(docs=_docs("a", 50), k=2)
    got = HybridRetriever(retrievers=[leg], k=10).invoke("q")
    assert len(got) == 10
    assert leg.k == 2  # the caller's retriever is untouched


def test_leg_without_k_gets_no_k_but_gets_filter() -> None:
    leg = FilterOnlyRetriever(docs=_docs("a", 3), seen_filters=[])
    other = ListRetriever(docs=_docs("b", 3), calls=[])
    got = HybridRetriever(retrievers=[leg, other], k=6).invoke("q", filter={"lang": "en"})
    assert len(got) == 6
    assert leg.seen_filters == [{"lang": "en"}]
    assert other.calls == [{"k": 24, "filter": {"lang": "en"}}]


def test_runnable_legs_are_accepted() -> None:
    leg = RunnableLambda(lambda q: [Document(q, id="echo")])
    got = HybridRetriever(retrievers=[leg, ListRetriever(docs=_docs("a", 2))]).invoke("hello")
    assert got[0].id == "echo"


def test_vector_store_legs_get_k_through_search_kwargs() -> None:
    store = InMemoryVectorStore(DeterministicFakeEmbedding(size=16))
    store.add_texts([f"passage {i}" for i in range(60)], ids=[f"p{i}" for i in range(60)])
    leg = store.as_retriever(search_kwargs={"k": 2})
    got = HybridRetriever(retrievers=[leg], k=25).invoke("passage 3")
    assert len(got) == 25
    assert len({d.id for d in got}) == 25


def test_inputs_are_never_mutated() -> None:
    docs = [Document("a", id="a", metadata={"keep": [1, 2]}), Document("b", id="b")]
    before = copy.deepcopy(docs)
    got = HybridRetriever(retrievers=[ListRetriever(docs=docs)]).invoke("q")
    assert docs == before
    assert "fused_score" not in docs[0].metadata
    assert got[0] is not docs[0]
    assert got[0].metadata["keep"] == [1, 2]


def test_custom_score_key() -> None:
    got = HybridRetriever(
        retrievers=[ListRetriever(docs=_docs("a", 2))], score_key="hybrid"
    ).invoke("q")
    assert "hybrid" in got[0].metadata
    assert "fused_score" not in got[0].metadata


async def test_async_matches_sync() -> None:
    legs = [ListRetriever(docs=_docs("a", 10)), ListRetriever(docs=_docs("a", 10)[::-1])]
    hybrid = HybridRetriever(retrievers=legs, k=4)
    got = await hybrid.ainvoke("q", k=6)
    assert got == hybrid.invoke("q", k=6)
    assert len(got) == 6
    assert legs[0].calls == [{"k": 24}, {"k": 24}]  # the sync-only leg got k in async too


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"retrievers": []}, "at least one retriever"),
        ({"weights": [1.0]}, "1 weights for 2 retrievers"),
        ({"weights": [1.0, -1.0]}, ">= 0"),
        ({"k": 0}, "positive integer"),
        ({"fetch_k": 0}, "fetch_k must be >= 1"),
        ({"fusion": "max"}, "rrf"),
    ],
)
def test_bad_settings_explain_themselves(kwargs: dict[str, Any], match: str) -> None:
    params: dict[str, Any] = {
        "retrievers": [ListRetriever(docs=[]), ListRetriever(docs=[])],
        **kwargs,
    }
    with pytest.raises(ValueError, match=match):
        HybridRetriever(**params)
