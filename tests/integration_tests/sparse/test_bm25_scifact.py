"""BM25 retrieval quality on the whole SciFact test set."""

from __future__ import annotations

from pathlib import Path

import pytest

from langchain_embedkit.evaluation import load_beir
from langchain_embedkit.evaluation.metrics import evaluate_run
from langchain_embedkit.sparse.analyzers import AutoAnalyzer, EnglishAnalyzer
from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings
from langchain_embedkit.sparse.search import sparse_top_k, to_csr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("analyzer", "floor"),
    [(AutoAnalyzer(), 0.68), (AutoAnalyzer(en=EnglishAnalyzer(stemmer=None)), 0.66)],
    ids=["stemmed", "unstemmed"],
)
def test_ndcg_at_10_on_scifact(scifact_dir: Path, analyzer: AutoAnalyzer, floor: float) -> None:
    dataset = load_beir(scifact_dir)
    doc_ids, docs = list(dataset.corpus), list(dataset.corpus.values())
    encoder = BM25SparseEmbeddings(analyzer=analyzer).fit(docs)
    matrix = to_csr(encoder.embed_documents(docs), dim=encoder.dim)
    results = sparse_top_k(encoder.encode_queries(list(dataset.queries.values())), matrix, k=10)
    run = {
        query_id: [doc_ids[row] for row, _ in found]
        for query_id, found in zip(dataset.queries, results, strict=True)
    }
    means, _ = evaluate_run(dataset.qrels, run, k_values=(10,), metrics=("ndcg",))
    assert means["nDCG@10"] >= floor
