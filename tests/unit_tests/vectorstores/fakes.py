"""Small, real encoders for store tests: hashed term counts and a call-counting wrapper."""

from __future__ import annotations

import re
import zlib

from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings

from langchain_embedkit.sparse.base import SparseEmbeddings
from langchain_embedkit.types import SparseVector

_WORD = re.compile(r"\w+", re.UNICODE)


def term_ids(text: str, buckets: int = 1 << 20) -> dict[int, float]:
    """Lower-cased word counts, keyed by a stable hash of each word."""
    counts: dict[int, float] = {}
    for word in _WORD.findall(text.lower()):
        index = zlib.crc32(word.encode()) % buckets
        counts[index] = counts.get(index, 0.0) + 1.0
    return counts


class HashedTermCounts(SparseEmbeddings):
    """Sparse vectors of hashed term counts: ``dot(query, doc)`` counts shared words.

    Each term count is scaled by a small per-term factor so that scores rarely tie.
    """

    def embed_documents(self, texts: list[str]) -> list[SparseVector]:
        return [
            SparseVector.from_dict({i: c * (1.0 + (i % 97) / 1000) for i, c in term_ids(t).items()})
            for t in texts
        ]

    def embed_query(self, text: str) -> SparseVector:
        return SparseVector.from_dict({i: 1.0 for i in term_ids(text)})


class CountingEmbeddings(Embeddings):
    """Deterministic embeddings that count how many texts they were asked to embed."""

    def __init__(self, size: int = 16) -> None:
        self.inner = DeterministicFakeEmbedding(size=size)
        self.documents_embedded = 0
        self.calls: list[int] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.documents_embedded += len(texts)
        self.calls.append(len(texts))
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)
