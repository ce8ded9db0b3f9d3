"""The published figures, reproduced on SciFact with the packaged all-MiniLM-L6-v2 and BM25.

The corpus (5,183 abstracts, title + " " + text, max 256 tokens) is encoded once per
session into a temporary cache; dense, sparse and hybrid figures come from that one run.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from langchain_embedkit.evaluation import ComparisonResult, compare, load_beir

# Encoding 5,183 abstracts takes about 3 minutes on 2 free cores; allow for busy machines.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")
def scifact_run(scifact_dir: Path, minilm: Embeddings, session_cache: Path) -> ComparisonResult:
    dataset = load_beir(scifact_dir)
    return compare(
        {"all-MiniLM-L6-v2": minilm},
        dataset,
        modes=["dense", "sparse", "hybrid"],
        k=10,
        k_values=[100],
        cache_dir=session_cache,
        show_progress_bar=False,
    )


def _by_mode(result: ComparisonResult) -> dict[str, dict[str, float]]:
    return {r.mode: r.metrics for r in result.results}


def test_minilm_dense_matches_the_published_mteb_figure(scifact_run: ComparisonResult) -> None:
    dense = _by_mode(scifact_run)["dense"]
    assert dense["nDCG@10"] == pytest.approx(0.645, abs=0.005)  # MTEB: 0.6451
    assert dense["Recall@100"] == pytest.approx(0.925, abs=0.01)


def test_bm25_reaches_the_bm25_baseline(scifact_run: ComparisonResult) -> None:
    assert _by_mode(scifact_run)["sparse"]["nDCG@10"] >= 0.66


def test_hybrid_beats_both_legs(scifact_run: ComparisonResult) -> None:
    modes = _by_mode(scifact_run)
    assert modes["hybrid"]["nDCG@10"] >= 0.69
    assert modes["hybrid"]["nDCG@10"] > max(modes["dense"]["nDCG@10"], modes["sparse"]["nDCG@10"])


def test_a_second_run_reads_the_corpus_from_the_cache(
    scifact_run: ComparisonResult, scifact_dir: Path, minilm: Embeddings, session_cache: Path
) -> None:
    first = next(r for r in scifact_run.results if r.mode == "dense")
    assert first.info["corpus_from_cache"] is False
    start = time.perf_counter()
    again = compare(
        {"all-MiniLM-L6-v2": minilm},
        load_beir(scifact_dir).sample(50),
        modes=["dense"],
        cache_dir=session_cache,
        show_progress_bar=False,
    )
    elapsed = time.perf_counter() - start
    dense = again.results[0]
    assert dense.info["corpus_from_cache"] is True  # a query sample keeps the corpus whole
    assert dense.info["queries_from_cache"] is False  # other queries: encoded (50 of them)
    assert elapsed < first.info["encode_seconds"] / 3
