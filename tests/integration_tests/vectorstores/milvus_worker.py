"""A separate process that writes to or reads from a Milvus store (test_milvus_engines.py).

Usage: ``python milvus_worker.py write|read URI COLLECTION N``. ``write`` adds N notes and
returns when ``add_texts`` does; ``read`` prints the count, a filtered search and the ids
it reads back, as one JSON line.
"""

from __future__ import annotations

import json
import sys

from langchain_core.embeddings import DeterministicFakeEmbedding

from langchain_embedkit.vectorstores import EmbedKitVectorStore

TOPICS = ["server", "lite", "hybrid", "filters", "dense"]


def notes(n: int) -> tuple[list[str], list[dict[str, object]], list[str]]:
    texts = [f"note {i} about {TOPICS[i % 5]}" for i in range(n)]
    metas: list[dict[str, object]] = [{"n": i, "topic": TOPICS[i % 5]} for i in range(n)]
    return texts, metas, [f"note-{i}" for i in range(n)]


def main() -> int:
    command, uri, collection, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    store = EmbedKitVectorStore(
        DeterministicFakeEmbedding(size=16), backend="milvus", uri=uri, collection_name=collection
    )
    texts, metas, ids = notes(n)
    if command == "write":
        store.add_texts(texts, metas, ids=ids)
    else:
        found = store.similarity_search("note", k=1000, filter={"topic": "lite"})
        print(
            json.dumps(
                {
                    "count": store.count(),
                    "lite": sorted(int(d.metadata["n"]) for d in found),
                    "ids": sorted(d.id or "" for d in store.get_by_ids(ids)),
                }
            ),
            flush=True,
        )
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
