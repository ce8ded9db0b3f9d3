"""Retrieval quality and latency on SciFact: langchain-embedkit vs LangChain's usual recipe.

Both sides use the same dense vectors (the packaged all-MiniLM-L6-v2, doc text
title + " " + text; the corpus is encoded once and cached) and embed each query with the
same model at query time.

Ours:  dense = exact cosine (``DenseIndex``); BM25 = ``BM25SparseEmbeddings`` (default
       analyzer) with a sparse matrix product (``SparseIndex``); hybrid = RRF (k=60,
       equal weights) of the top 100 of each leg, cut to 10; and the product path,
       ``EmbedKitVectorStore(backend="chroma")`` in hybrid mode.
Peer:  dense = langchain-chroma ``Chroma`` retriever (k=10); BM25 = LangChain's
       ``BM25Retriever`` (rank_bm25 ``BM25Okapi``, default ``str.split`` tokens, k=10);
       hybrid = ``EnsembleRetriever([bm25, chroma], weights=[0.5, 0.5])`` (c=60), each
       leg asked for 10 documents, as a user wanting 10 results would write it.

nDCG@10 comes from one pass per system (``langchain_embedkit.evaluation.evaluate``, the
trec_eval definitions). Latency is per query, end to end through ``invoke`` (query
embedding included); systems are timed query by query in rotating order, ``--repeats``
times, and medians are reported with the ratio ours / peer.

Usage: python benchmarks/evaluation.py [--data DIR] [--repeats N] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from langchain_core.callbacks import CallbackManagerForRetrieverRun  # noqa: E402
from langchain_core.documents import Document  # noqa: E402
from langchain_core.embeddings import Embeddings  # noqa: E402
from langchain_core.retrievers import BaseRetriever  # noqa: E402
from pydantic import ConfigDict  # noqa: E402

from benchmarks.data import scifact_dir  # noqa: E402
from langchain_embedkit.evaluation import (  # noqa: E402
    DenseIndex,
    EmbeddingCache,
    EvaluationResult,
    RetrievalDataset,
    SparseIndex,
    evaluate,
    load_beir,
)
from langchain_embedkit.fusion import rrf  # noqa: E402

K = 10
FETCH_K = 100


class PrecomputedEmbeddings(Embeddings):
    """Known document texts answer from the cached matrix; queries go to the model."""

    def __init__(self, model: Embeddings, texts: list[str], matrix: np.ndarray) -> None:
        self.model = model
        self.rows = {text: i for i, text in enumerate(texts)}
        self.matrix = matrix

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        missing = [t for t in texts if t not in self.rows]
        extra = (
            dict(zip(missing, self.model.embed_documents(missing), strict=True)) if missing else {}
        )
        return [self.matrix[self.rows[t]].tolist() if t in self.rows else extra[t] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.model.embed_query(text)


class ExactRetriever(BaseRetriever):
    """Our exact search as a retriever: dense, BM25 or their RRF fusion."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    mode: str
    embeddings: Any = None
    dense: Any = None
    bm25: Any = None
    sparse: Any = None
    corpus: dict[str, str]
    k: int = K

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        legs = []
        depth = self.k if self.mode != "hybrid" else FETCH_K
        if self.mode in ("dense", "hybrid"):
            vector = np.asarray(self.embeddings.embed_query(query), dtype=np.float32)
            legs.append(self.dense.search(vector, depth)[0])
        if self.mode in ("bm25", "hybrid"):
            legs.append(self.sparse.search([self.bm25.embed_query(query)], depth)[0])
        ranking = rrf(legs, k=60) if len(legs) > 1 else legs[0]
        return [
            Document(page_content=self.corpus[doc_id], id=doc_id, metadata={"doc_id": doc_id})
            for doc_id, _ in ranking[: self.k]
        ]


class SplitBM25Retriever(BaseRetriever):
    """LangChain's BM25Retriever, reproduced (rank_bm25 BM25Okapi over ``str.split``)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    vectorizer: Any
    docs: list[Document]
    k: int = K

    @classmethod
    def from_documents(cls, docs: list[Document], k: int) -> SplitBM25Retriever:
        from rank_bm25 import BM25Okapi

        return cls(vectorizer=BM25Okapi([d.page_content.split() for d in docs]), docs=docs, k=k)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return list(self.vectorizer.get_top_n(query.split(), self.docs, n=self.k))


def peer_bm25(docs: list[Document]) -> tuple[BaseRetriever, str]:
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from langchain_community.retrievers import BM25Retriever
    except ImportError:
        return SplitBM25Retriever.from_documents(docs, K), "BM25Retriever (reproduced)"
    return BM25Retriever.from_documents(docs, k=K), "LangChain BM25Retriever"


def build(
    dataset: RetrievalDataset, cache_dir: Path
) -> tuple[dict[str, BaseRetriever], dict[str, str]]:
    """Every system over the same cached corpus vectors, and the peers' display names."""
    from langchain_embedkit.embeddings import DefaultEmbeddings

    model = DefaultEmbeddings()
    texts = [dataset.corpus[d] for d in dataset.corpus]
    cache = EmbeddingCache(cache_dir)
    start = time.perf_counter()
    matrix = cache.encode(model, texts, desc="Encoding corpus (once, then cached)")
    how = "from cache" if cache.last_hit else f"in {time.perf_counter() - start:.0f} s"
    print(f"corpus vectors: {matrix.shape[0]} x {matrix.shape[1]} {how}", flush=True)
    shared = PrecomputedEmbeddings(model, texts, matrix)
    suffix = str(os.getpid())
    peers, names = peer_systems(dataset, shared, suffix)
    return {**our_systems(dataset, model, matrix, shared, suffix), **peers}, names


def our_systems(
    dataset: RetrievalDataset,
    model: Embeddings,
    matrix: np.ndarray,
    shared: Embeddings,
    suffix: str,
) -> dict[str, BaseRetriever]:
    """Exact dense, BM25 and hybrid search, and the store's hybrid retriever on Chroma."""
    from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings
    from langchain_embedkit.vectorstores import EmbedKitVectorStore

    doc_ids = list(dataset.corpus)
    texts = [dataset.corpus[d] for d in doc_ids]
    bm25 = BM25SparseEmbeddings().fit(texts)
    common: dict[str, Any] = {
        "embeddings": model,
        "dense": DenseIndex(doc_ids, matrix),
        "bm25": bm25,
        "sparse": SparseIndex(doc_ids, bm25.embed_documents(texts)),
        "corpus": dataset.corpus,
    }
    store = EmbedKitVectorStore(
        shared,
        BM25SparseEmbeddings(),
        backend="chroma",
        collection_name=f"bench-eval-ours-{suffix}",
        fetch_k=FETCH_K,
    )
    store.add_documents(dataset.documents())
    return {
        "ours dense": ExactRetriever(mode="dense", **common),
        "ours bm25": ExactRetriever(mode="bm25", **common),
        "ours hybrid": ExactRetriever(mode="hybrid", **common),
        "ours store hybrid": store.as_retriever(retrieval_mode="hybrid", search_kwargs={"k": K}),
    }


def peer_systems(
    dataset: RetrievalDataset, shared: Embeddings, suffix: str
) -> tuple[dict[str, BaseRetriever], dict[str, str]]:
    """LangChain's usual recipe: a Chroma retriever, BM25Retriever and their ensemble."""
    from langchain_chroma import Chroma
    from langchain_classic.retrievers import EnsembleRetriever

    docs = dataset.documents()
    chroma = Chroma(collection_name=f"bench-eval-peer-{suffix}", embedding_function=shared)
    chroma.add_documents(docs, ids=list(dataset.corpus))
    peer_dense = chroma.as_retriever(search_kwargs={"k": K})
    bm25_peer, bm25_name = peer_bm25(docs)
    ensemble = EnsembleRetriever(retrievers=[bm25_peer, peer_dense], weights=[0.5, 0.5])
    systems: dict[str, BaseRetriever] = {
        "peer dense": peer_dense,
        "peer bm25": bm25_peer,
        "peer hybrid": ensemble,
    }
    names = {
        "peer dense": "langchain-chroma Chroma retriever",
        "peer bm25": f"{bm25_name} (str.split)",
        "peer hybrid": "EnsembleRetriever (BM25Retriever + Chroma, k=10 each)",
    }
    return systems, names


def time_queries(
    systems: dict[str, BaseRetriever], queries: list[str], repeats: int
) -> dict[str, list[float]]:
    """Per-query milliseconds; systems take turns query by query in rotating order."""
    times: dict[str, list[float]] = {name: [] for name in systems}
    order = list(systems)
    turn = 0
    for _ in range(repeats):
        for query in queries:
            for name in order[turn % len(order) :] + order[: turn % len(order)]:
                start = time.perf_counter()
                systems[name].invoke(query)
                times[name].append((time.perf_counter() - start) * 1000)
            turn += 1
    return times


# (label, our system, the peer it is compared with, goal)
PAIRS = [
    ("dense", "ours dense", "peer dense", "ours 0.645 +- 0.005"),
    ("BM25", "ours bm25", "peer bm25", "ours >= 0.66"),
    ("hybrid", "ours hybrid", "peer hybrid", "ours >= 0.69, ratio > 1"),
    (
        "hybrid, EmbedKitVectorStore (Chroma)",
        "ours store hybrid",
        "peer hybrid",
        "ours >= 0.69, ratio > 1",
    ),
]


def quality_rows(
    quality: dict[str, EvaluationResult], names: dict[str, str], smoke: bool
) -> list[dict[str, Any]]:
    """nDCG@K of each pair (goals left out of a smoke run, whose figures mean nothing)."""
    rows = []
    for label, ours, peer, goal in PAIRS:
        a = quality[ours].metrics[f"nDCG@{K}"]
        b = quality[peer].metrics[f"nDCG@{K}"]
        rows.append(
            {
                "metric": f"SciFact nDCG@{K}, {label}",
                "ours": round(a, 4),
                "peer": round(b, 4),
                "peer_name": names[peer],
                "ratio": round(a / b, 4) if b else None,
                "goal": goal if not smoke else "",
                "unit": "",
            }
        )
    return rows


def latency_rows(p50: dict[str, float], names: dict[str, str]) -> list[dict[str, Any]]:
    """Median per-query latency of each pair, in milliseconds."""
    rows = []
    for label, ours, peer, _ in PAIRS:
        a, b = p50[ours], p50[peer]
        rows.append(
            {
                "metric": f"query latency p50, {label} (invoke, query encoding included)",
                "ours": round(a, 3),
                "peer": round(b, 3),
                "peer_name": names[peer],
                "ratio": round(a / b, 4) if b else None,
                "goal": "ratio <= 1",
                "unit": "ms",
            }
        )
    return rows


def returned_row(quality: dict[str, EvaluationResult], names: dict[str, str]) -> dict[str, Any]:
    """How many documents each hybrid gave at most when asked for K."""
    ours = quality["ours store hybrid"].info["max_returned"]
    peer = quality["peer hybrid"].info["max_returned"]
    return {
        "metric": f"most documents returned when asked for {K} (hybrid)",
        "ours": ours,
        "peer": peer,
        "peer_name": names["peer hybrid"],
        "ratio": round(ours / max(1, peer), 4),
        "goal": f"ours == {K}",
        "unit": "docs",
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    print()
    print("| metric | ours | peer | peer | ratio | goal |")
    print("|---|---:|---:|---|---:|---|")
    for row in rows:
        unit = f" {row['unit']}" if row["unit"] else ""
        print(
            f"| {row['metric']} | {row['ours']}{unit} | {row['peer']}{unit} | "
            f"{row['peer_name']} | {row['ratio']} | {row['goal']} |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=scifact_dir())
    parser.add_argument("--repeats", type=int, default=3, help="interleaved timing passes")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="20 queries over a 300-document subset, one timing pass",
    )
    parser.add_argument("--cache-dir", type=Path, default=REPO / "benchmarks" / "out" / "cache")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "evaluation.json")
    args = parser.parse_args()

    dataset = load_beir(args.data)
    if args.smoke:
        dataset = dataset.sample(20, corpus_size=300, seed=0)
    repeats = 1 if args.smoke else args.repeats
    print(
        f"SciFact: {len(dataset.corpus)} docs, {len(dataset)} queries; {repeats} timing passes; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
        flush=True,
    )
    systems, peer_names = build(dataset, args.cache_dir)
    quality = {
        name: evaluate(retriever, dataset, k=K, name=name, show_progress_bar=False)
        for name, retriever in systems.items()
    }
    times = time_queries(systems, list(dataset.queries.values()), repeats)
    p50 = {name: statistics.median(values) for name, values in times.items()}
    rows = [
        *quality_rows(quality, peer_names, args.smoke),
        *latency_rows(p50, peer_names),
        returned_row(quality, peer_names),
    ]
    print_table(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
