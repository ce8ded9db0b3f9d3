"""evaluate() through EmbedKitVectorStore agrees with compare()'s exact search."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from langchain_embedkit.evaluation import RetrievalDataset, compare, evaluate
from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings
from langchain_embedkit.vectorstores import EmbedKitVectorStore

pytestmark = pytest.mark.slow


def test_store_modes_score_like_exact_search(
    scifact_sample: RetrievalDataset, minilm: Embeddings, session_cache: Path
) -> None:
    store = EmbedKitVectorStore(
        minilm,
        BM25SparseEmbeddings(),
        backend="chroma",
        collection_name="eval-parity",
        fetch_k=100,
    )
    store.add_documents(scifact_sample.documents())
    exact = compare(
        {"minilm": minilm},
        scifact_sample,
        modes=["dense", "sparse", "hybrid"],
        cache_dir=session_cache,
        show_progress_bar=False,
    )
    for row in exact.results:
        through_store = evaluate(
            store, scifact_sample, k=10, mode=row.mode, show_progress_bar=False
        )
        assert through_store.info["max_returned"] <= 10
        assert through_store.metrics["nDCG@10"] == pytest.approx(
            row.metrics["nDCG@10"], abs=0.02
        ), row.mode
