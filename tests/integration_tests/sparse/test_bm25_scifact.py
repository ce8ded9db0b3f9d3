"""BM25 retrieval quality on the whole SciFact test set."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from langchain_embedkit.sparse.analyzers import AutoAnalyzer, EnglishAnalyzer
from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings
from langchain_embedkit.sparse.search import sparse_top_k, to_csr


def _ndcg_at_10(ranked: list[str], relevant: dict[str, int]) -> float:
    dcg = sum(relevant.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(ranked[:10]))
    ideal = sorted(relevant.values(), reverse=True)[:10]
    best = sum(gain / math.log2(rank + 2) for rank, gain in enumerate(ideal))
    return dcg / best if best else 0.0


def test_ndcg_helper_on_a_hand_computed_case() -> None:
    # relevant docs at ranks 1 and 3 of 2 relevant: (1 + 1/2) / (1 + 1/log2(3))
    expected = 1.5 / (1 + 1 / math.log2(3))
    assert _ndcg_at_10(["a", "x", "b"], {"a": 1, "b": 1}) == pytest.approx(expected)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("analyzer", "floor"),
    [(AutoAnalyzer(), 0.68), (AutoAnalyzer(en=EnglishAnalyzer(stemmer=None)), 0.66)],
    ids=["stemmed", "unstemmed"],
)
def test_ndcg_at_10_on_scifact(scifact_dir: Path, analyzer: AutoAnalyzer, floor: float) -> None:
    rows = [json.loads(line) for line in (scifact_dir / "corpus.jsonl").open(encoding="utf-8")]
    queries = [json.loads(line) for line in (scifact_dir / "queries.jsonl").open(encoding="utf-8")]
    qrels: dict[str, dict[str, int]] = {}
    with (scifact_dir / "qrels" / "test.tsv").open(encoding="utf-8") as stream:
        next(stream)
        for line in stream:
            query_id, doc_id, score = line.split("\t")
            qrels.setdefault(query_id, {})[doc_id] = int(score)
    docs = [f"{row['title']} {row['text']}" for row in rows]
    encoder = BM25SparseEmbeddings(analyzer=analyzer).fit(docs)
    matrix = to_csr(encoder.embed_documents(docs), dim=encoder.dim)
    results = sparse_top_k(encoder.encode_queries([q["text"] for q in queries]), matrix, k=10)
    scores = [
        _ndcg_at_10([rows[row]["_id"] for row, _ in found], qrels.get(query["_id"], {}))
        for query, found in zip(queries, results)
    ]
    assert sum(scores) / len(scores) >= floor
