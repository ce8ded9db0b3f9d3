"""evaluate() on retrievers and stores, compare() over embeddings x modes."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from langchain_core.callbacks import CallbackManagerForRetrieverRun, Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.vectorstores import InMemoryVectorStore
from pydantic import Field

from langchain_embedkit.evaluation.datasets import RetrievalDataset
from langchain_embedkit.evaluation.metrics import rank
from langchain_embedkit.evaluation.results import ComparisonResult, EvaluationResult
from langchain_embedkit.evaluation.runner import compare, evaluate
from langchain_embedkit.evaluation.search import DenseIndex, SparseIndex
from langchain_embedkit.fusion import rrf
from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings
from langchain_embedkit.types import SparseVector

from .conftest import WordCountEmbeddings


class ListRetriever(BaseRetriever):
    """Returns fixed documents per query text."""

    answers: dict[str, list[Document]]

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return self.answers.get(query, [])


def test_evaluate_a_retriever_by_document_ids(tiny_dataset: RetrievalDataset) -> None:
    answers = {
        # q1: relevant d1 (grade 2) at rank 2, d4 (grade 1) at rank 1.
        "capital of France": [Document("x", id="d4"), Document("y", id="d1")],
        # q2: found by metadata, repeated id counts once, hit at rank 2.
        "pasta in Italy": [
            Document("z", metadata={"doc_id": "d2"}),
            Document("z", metadata={"doc_id": "d2"}),
            Document("w", metadata={"doc_id": "d3"}),
        ],
        # q3: no id at all, matched by exact text.
        "river in Berlin": [Document("Berlin lies on the river Spree")],
    }
    result = evaluate(ListRetriever(answers=answers), tiny_dataset, k=2, show_progress_bar=False)
    q1 = (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3))
    assert result.per_query["q1"]["nDCG@2"] == pytest.approx(q1)
    assert result.per_query["q2"]["MRR@2"] == pytest.approx(0.5)
    assert result.per_query["q3"]["HitRate@2"] == 1.0
    assert result.metrics["Recall@2"] == pytest.approx(1.0)
    assert result.name == "ListRetriever" and result.mode == "retriever"
    assert result.info["max_returned"] == 3


class SlowRetriever(ListRetriever):
    """Waits a set number of milliseconds per query before answering."""

    delays_ms: dict[str, float]

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        time.sleep(self.delays_ms[query] / 1000)
        return super()._get_relevant_documents(query, run_manager=run_manager)


def test_evaluate_reports_the_median_query_latency_in_milliseconds(
    tiny_dataset: RetrievalDataset,
) -> None:
    delays = {"capital of France": 0.0, "pasta in Italy": 30.0, "river in Berlin": 600.0}
    retriever = SlowRetriever(answers={}, delays_ms=delays)
    result = evaluate(retriever, tiny_dataset, show_progress_bar=False)
    # the middle query's 30 ms: not the mean (210 ms), the slowest, seconds, or nothing
    assert result.latency_ms is not None
    assert 30.0 <= result.latency_ms < 200.0


def test_evaluate_rejects_documents_it_cannot_identify(tiny_dataset: RetrievalDataset) -> None:
    answers = {"capital of France": [Document("some text not in the corpus")]}
    with pytest.raises(ValueError, match="carries no id"):
        evaluate(ListRetriever(answers=answers), tiny_dataset, show_progress_bar=False)
    with pytest.raises(TypeError, match="BaseRetriever or VectorStore"):
        evaluate(object(), tiny_dataset)  # type: ignore[arg-type]


def test_evaluate_a_store_matches_compare_dense(
    tiny_dataset: RetrievalDataset, embeddings: WordCountEmbeddings, tmp_path: Path
) -> None:
    store = InMemoryVectorStore(embeddings)
    store.add_documents(tiny_dataset.documents())
    from_store = evaluate(store, tiny_dataset, k=3, show_progress_bar=False)
    exact = compare(
        {"wc": embeddings},
        tiny_dataset,
        modes=["dense"],
        k=3,
        cache_dir=tmp_path,
        show_progress_bar=False,
    )
    assert from_store.metrics == pytest.approx(exact.results[0].metrics)


class ReverseReranker(BaseDocumentCompressor):
    """Puts the candidates in reverse order and keeps at most top_n."""

    top_n: int = 2
    seen: list[int] = Field(default_factory=list)

    def compress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks = None
    ) -> Sequence[Document]:
        self.seen.append(len(documents))
        return list(reversed(documents))[: self.top_n]


def test_compare_modes_and_their_rankings(
    tiny_dataset: RetrievalDataset, embeddings: WordCountEmbeddings, tmp_path: Path
) -> None:
    reranker = ReverseReranker(top_n=1)
    result = compare(
        {"wc": embeddings},
        tiny_dataset,
        modes=["dense", "sparse", "hybrid", "hybrid+rerank"],
        k=3,
        k_values=[1],
        reranker=reranker,
        cache_dir=tmp_path,
        fetch_k=4,
        rerank_depth=3,
        show_progress_bar=False,
    )
    by_mode = {r.mode: r for r in result.results}
    assert [r.mode for r in result.results] == ["dense", "sparse", "hybrid", "hybrid+rerank"]
    assert by_mode["sparse"].name == "bm25"
    assert by_mode["sparse"].info["fitted_on_corpus"] is True

    # Dense equals brute-force cosine over the same vectors.
    ids = list(tiny_dataset.corpus)
    docs = np.array(embeddings.embed_documents(list(tiny_dataset.corpus.values())))
    q = np.array(embeddings.embed_query(tiny_dataset.queries["q1"]))
    cos = docs @ q / (np.linalg.norm(docs, axis=1) * np.linalg.norm(q))
    dense_q1 = by_mode["dense"].run["q1"]
    assert isinstance(dense_q1, dict)
    everything = {ids[i]: float(cos[i]) for i in range(len(ids))}
    # d3 and d5 tie at 0: the higher id, d5, comes first.
    assert rank(everything)[:4] == ["d1", "d4", "d2", "d5"]
    assert dense_q1 == pytest.approx({d: everything[d] for d in rank(everything)[:4]})

    # Hybrid is RRF (k=60) of the two legs cut at fetch_k.
    sparse_q1 = by_mode["sparse"].run["q1"]
    assert isinstance(sparse_q1, dict)
    legs = [sorted(r.items(), key=lambda p: -p[1])[:4] for r in (dense_q1, sparse_q1)]
    assert by_mode["hybrid"].run["q1"] == pytest.approx(dict(rrf(legs, k=60)))
    assert by_mode["hybrid"].info["fetch_k"] == 4

    # The reranker saw rerank_depth candidates and returned them all despite its top_n=1;
    # the fused documents below that depth follow in fused order.
    assert set(reranker.seen) == {3}  # the copy shares this list
    fused = rank(by_mode["hybrid"].run["q1"])
    reranked = by_mode["hybrid+rerank"].run["q1"]
    assert len(fused) == 4  # the union of both legs
    assert list(reranked) == [*reversed(fused[:3]), *fused[3:]]
    assert by_mode["dense"].metrics["nDCG@1"] == pytest.approx(1.0)  # every top-1 is right
    # dense and hybrid tie at nDCG@3 = 1.0: the first in report order wins
    assert result.best() is by_mode["dense"]
    assert by_mode["hybrid+rerank"].metrics["nDCG@3"] < 1.0
    assert result.settings["fetch_k"] == 4 and result.settings["reranker"] == "ReverseReranker"


def test_compare_reads_the_corpus_from_cache_on_a_second_run(
    tiny_dataset: RetrievalDataset, tmp_path: Path
) -> None:
    model = WordCountEmbeddings()
    first = compare(
        {"wc": model}, tiny_dataset, modes=["dense"], cache_dir=tmp_path, show_progress_bar=False
    )
    calls = (model.document_calls, model.query_calls)
    assert first.results[0].info["corpus_from_cache"] is False
    second = compare(
        {"wc": model}, tiny_dataset, modes=["dense"], cache_dir=tmp_path, show_progress_bar=False
    )
    assert (model.document_calls, model.query_calls) == calls  # nothing encoded again
    assert second.results[0].info["corpus_from_cache"] is True
    assert second.results[0].info["queries_from_cache"] is True
    assert second.results[0].metrics == first.results[0].metrics
    third = compare(
        {"wc": model},
        tiny_dataset,
        modes=["dense"],
        use_cache=False,
        cache_dir=tmp_path / "unused",
        show_progress_bar=False,
    )
    assert model.document_calls > calls[0]
    assert not (tmp_path / "unused").exists()
    assert third.results[0].metrics == first.results[0].metrics


def test_compare_uses_a_fitted_sparse_encoder_as_given(tiny_dataset: RetrievalDataset) -> None:
    bm25 = BM25SparseEmbeddings(analyzer="en").fit(["berlin river"] * 3 + ["paris"])
    result = compare({}, tiny_dataset, modes=["sparse"], sparse=bm25, show_progress_bar=False)
    assert "fitted_on_corpus" not in result.results[0].info
    assert bm25.n_docs == 4


def test_compare_argument_errors(tiny_dataset: RetrievalDataset, tmp_path: Path) -> None:
    model = {"wc": WordCountEmbeddings()}
    with pytest.raises(ValueError, match="supported: dense, sparse, hybrid, hybrid\\+rerank"):
        compare(model, tiny_dataset, modes=["semantic"], cache_dir=tmp_path)
    with pytest.raises(ValueError, match="needs a reranker"):
        compare(model, tiny_dataset, modes=["hybrid+rerank"], cache_dir=tmp_path)
    with pytest.raises(ValueError, match="at least one dense embeddings model"):
        compare({}, tiny_dataset, modes=["dense"])
    with pytest.raises(ValueError, match="must be >= 1"):
        compare(model, tiny_dataset, k=0, cache_dir=tmp_path)


def test_dense_index_ties_and_boundary() -> None:
    # Four documents with the same vector: order is by id, descending, even at the cut.
    index = DenseIndex(["a", "c", "b", "d"], np.ones((4, 2)))
    assert [d for d, _ in index.search(np.array([1.0, 1.0]), top_k=2)[0]] == ["d", "c"]
    assert index.search(np.array([[1.0, 1.0]]), top_k=10)[0][-1][0] == "a"
    with pytest.raises(ValueError, match="3 dimensions but the documents have 2"):
        index.search(np.ones(3), top_k=1)
    with pytest.raises(ValueError, match="one vector per document id"):
        DenseIndex(["a"], np.ones((2, 2)))
    dot = DenseIndex(["x", "y"], np.array([[10.0, 0.0], [1.0, 1.0]]), similarity="dot")
    assert dot.search(np.array([1.0, 1.0]), 1)[0][0] == ("x", 10.0)


def test_sparse_index_skips_non_matching_and_unknown_terms() -> None:
    vectors = [SparseVector([0, 2], [1.0, 1.0]), SparseVector([1], [3.0]), SparseVector()]
    index = SparseIndex(["a", "b", "c"], vectors)
    out = index.search(
        [SparseVector([2], [2.0]), SparseVector([7], [1.0]), SparseVector([0, 1], [1.0, 1.0])],
        top_k=5,
    )
    assert out[0] == [("a", 2.0)]
    assert out[1] == []  # a term no document has
    assert out[2] == [("b", 3.0), ("a", 1.0)]


def test_best_is_the_highest_row_for_the_chosen_metric() -> None:
    def row(name: str, ndcg: float, mrr: float) -> EvaluationResult:
        metrics = {"nDCG@10": ndcg, "MRR@10": mrr}
        return EvaluationResult(name, "dense", 10, metrics, 1, {}, {}, None, {})

    rows = [row("low", 0.2, 0.1), row("top-ndcg", 0.9, 0.3), row("top-mrr", 0.5, 0.8)]
    result = ComparisonResult("d", 1, 1, 10, rows)
    assert result.best().name == "top-ndcg"  # nDCG@k by default, wherever the row is
    assert result.best("MRR@10").name == "top-mrr"


def test_dense_index_names_the_similarities_it_knows() -> None:
    with pytest.raises(ValueError, match=r"Unknown similarity 'l2'; supported: 'cosine', 'dot'\."):
        DenseIndex(["a"], np.ones((1, 2)), similarity="l2")  # type: ignore[arg-type]
