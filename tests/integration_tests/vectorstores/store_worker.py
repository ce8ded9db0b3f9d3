"""A separate process that writes to or reads from a store (run by test_processes.py).

Usage: ``python store_worker.py ingest|query|resume|verify ENGINE LOCATION N [SLEEP]``;
``resume`` prints the count it finds, ingests, then answers like ``query``; ``verify``
checks the BM25 statistics against a fresh fit and every document's own-token query.
``python store_worker.py crash ENGINE LOCATION N POINT BATCH`` ingests (the same call as
``ingest``) and kills itself with SIGKILL at ``POINT`` of write ``BATCH``: ``before-write``
(state and journal saved, engine not written) or ``after-write`` (engine written, state
not yet replaced).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from typing import Any

from langchain_core.embeddings import DeterministicFakeEmbedding

from langchain_embedkit.errors import StoreLockedError
from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings
from langchain_embedkit.vectorstores import EmbedKitVectorStore

TOPICS = ["milvus lite file", "chroma folder", "hybrid fusion", "sparse bm25", "dense vectors"]


def documents(n: int) -> tuple[list[str], list[dict[str, Any]]]:
    texts = [f"note {i} about {TOPICS[i % 5]} number{i}" for i in range(n)]
    metas = [{"n": i, "topic": TOPICS[i % 5]} for i in range(n)]
    return texts, metas


class SlowEmbedding(DeterministicFakeEmbedding):
    """Reports each batch on stdout and sleeps, so a test can kill the writer mid-ingest."""

    pause: float = 0.0
    batches: int = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.batches += 1
        print(f"embedding batch {self.batches}", flush=True)
        time.sleep(self.pause)
        return super().embed_documents(texts)


def open_store(engine: str, location: str, embedding: Any) -> EmbedKitVectorStore:
    sparse = BM25SparseEmbeddings()
    if engine == "milvus":
        return EmbedKitVectorStore(embedding, sparse, backend="milvus", uri=location)
    return EmbedKitVectorStore(embedding, sparse, backend="chroma", persist_directory=location)


def arm_crash(store: EmbedKitVectorStore, point: str, batch: int) -> None:
    """Kill this process with SIGKILL at ``point`` of the ``batch``-th write."""
    from langchain_embedkit.vectorstores.sparse_state import SparseBook

    book = store._book
    assert isinstance(book, SparseBook)
    calls = {"n": 0}
    if point == "before-write":
        backend = store._backend
        write = backend.write

        def dying_write(rows: Any, existing: Any) -> None:
            calls["n"] += 1
            if calls["n"] == batch:
                os.kill(os.getpid(), signal.SIGKILL)
            write(rows, existing)

        backend.write = dying_write  # type: ignore[method-assign]
    else:
        after = book.after_write

        def dying_after(pending: Any) -> None:
            calls["n"] += 1
            if calls["n"] == batch:
                os.kill(os.getpid(), signal.SIGKILL)
            after(pending)

        book.after_write = dying_after  # type: ignore[method-assign]


def verify(store: EmbedKitVectorStore, n: int) -> dict[str, Any]:
    """Statistics against a fresh fit, and each document found by its own token."""
    encoder = store.sparse_embedding
    assert isinstance(encoder, BM25SparseEmbeddings)
    texts = [d.page_content for d in store.peek(n + 10)]
    fresh = BM25SparseEmbeddings().fit(texts).statistics()
    wrong = []
    for i in range(n):
        found = store.similarity_search_with_score(f"number{i}", k=1, retrieval_mode="sparse")
        if not found or found[0][0].metadata.get("n") != i:
            wrong.append(i)
    return {"count": store.count(), "stats_match": encoder.statistics() == fresh, "wrong": wrong}


def main() -> int:
    command, engine, location, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    embedding = SlowEmbedding(size=16)
    embedding.pause = float(sys.argv[5]) if len(sys.argv) > 5 and command != "crash" else 0.0
    try:
        store = open_store(engine, location, embedding)
    except StoreLockedError as exc:
        print(json.dumps({"error": type(exc).__name__, "message": str(exc)}), flush=True)
        return 3
    texts, metas = documents(n)
    if command == "crash":
        arm_crash(store, sys.argv[5], int(sys.argv[6]))
        store.add_texts(texts, metas, batch_size=50)
        print("not killed", flush=True)
        return 4
    if command == "verify":
        print(json.dumps(verify(store, n)), flush=True)
        store.close()
        return 0
    if command == "resume":
        print(json.dumps({"count_before": store.count()}), flush=True)
    if command in ("ingest", "resume"):
        store.add_texts(texts, metas, batch_size=50)
        print("done", flush=True)
    if command in ("query", "resume"):
        sparse = store.sparse_embedding
        hybrid = store.similarity_search("number7", k=3, retrieval_mode="hybrid")
        sparse_hits = store.similarity_search("number7", k=1, retrieval_mode="sparse")
        filtered = store.similarity_search("notes", k=1000, filter={"topic": "chroma folder"})
        stored = store.get_by_ids([d.id for d in store.peek(n + 10)])
        print(
            json.dumps(
                {
                    "count": store.count(),
                    "bm25_docs": getattr(sparse, "n_docs", None),
                    "hybrid": [d.metadata.get("n") for d in hybrid],
                    "sparse": [d.metadata.get("n") for d in sparse_hits],
                    "filtered": sorted(d.metadata["n"] for d in filtered),
                    "ids": [d.id for d in stored],
                }
            ),
            flush=True,
        )
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
