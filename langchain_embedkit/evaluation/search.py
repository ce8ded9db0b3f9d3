"""Exact search over a data set's corpus, the candidates ``compare`` scores.

Dense is a numpy matrix product over (by default normalized) vectors; sparse is the
package's one sparse search, :class:`~langchain_embedkit.sparse.search.SparseIndex`
(re-exported here). Both return rankings in trec_eval order (score descending, then
id descending), so the figures measure the embeddings, not an approximate index.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, get_args

import numpy as np

from langchain_embedkit.sparse.search import SparseIndex

__all__ = ["SIMILARITIES", "DenseIndex", "Ranking", "Similarity", "SparseIndex"]

Similarity = Literal["cosine", "dot"]
"""How :class:`DenseIndex` scores: cosine of the vectors, or their plain dot product."""
SIMILARITIES: tuple[Similarity, ...] = get_args(Similarity)

Ranking = list[tuple[str, float]]
"""``(doc_id, score)`` pairs, best first."""


def _top(scores: np.ndarray, ids: Sequence[str], top_k: int) -> Ranking:
    """Best ``top_k`` of one score row in trec_eval order (score desc, then id desc)."""
    n = scores.shape[0]
    if top_k < n:
        part = np.argpartition(-scores, top_k - 1)
        kth = scores[part[top_k - 1]]
        # Every document tied with the k-th score competes for the last places.
        candidates = np.flatnonzero(scores >= kth)
    else:
        candidates = np.arange(n)
    pairs = [(ids[i], float(scores[i])) for i in candidates.tolist()]
    pairs.sort(key=lambda p: p[0], reverse=True)
    pairs.sort(key=lambda p: p[1], reverse=True)
    return pairs[:top_k]


class DenseIndex:
    """Exact nearest-neighbour search over a matrix of document vectors.

    Args:
        doc_ids: One id per row.
        vectors: ``(n_docs, dim)`` document vectors.
        similarity: ``"cosine"`` normalizes documents and queries (normalized dot
            product); ``"dot"`` uses raw inner products.

    Example:
        >>> index = DenseIndex(["a", "b"], np.array([[1.0, 0.0], [0.6, 0.8]]))
        >>> index.search(np.array([[0.0, 1.0]]), top_k=1)
        [[('b', 0.800000011920929)]]
    """

    def __init__(
        self,
        doc_ids: Sequence[str],
        vectors: np.ndarray,
        *,
        similarity: Similarity = "cosine",
    ) -> None:
        matrix = np.asarray(vectors, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[0] != len(doc_ids):
            msg = (
                f"DenseIndex needs one vector per document id; got {len(doc_ids)} ids and "
                f"an array of shape {matrix.shape}."
            )
            raise ValueError(msg)
        if similarity not in SIMILARITIES:
            choices = ", ".join(repr(choice) for choice in SIMILARITIES)
            msg = f"Unknown similarity {similarity!r}; supported: {choices}."
            raise ValueError(msg)
        self.similarity = similarity
        self.doc_ids = list(doc_ids)
        self.matrix = _normalize(matrix) if similarity == "cosine" else matrix

    def search(self, queries: np.ndarray, top_k: int, *, batch_size: int = 256) -> list[Ranking]:
        """Top ``top_k`` ``(doc_id, score)`` per query row, best first."""
        q = np.asarray(queries, dtype=np.float32)
        if q.ndim == 1:
            q = q[None, :]
        if q.shape[1] != self.matrix.shape[1]:
            msg = (
                f"Query vectors have {q.shape[1]} dimensions but the documents have "
                f"{self.matrix.shape[1]}; encode both with the same model."
            )
            raise ValueError(msg)
        if self.similarity == "cosine":
            q = _normalize(q)
        top_k = min(top_k, len(self.doc_ids))
        out: list[Ranking] = []
        for start in range(0, q.shape[0], batch_size):
            scores = q[start : start + batch_size] @ self.matrix.T
            out.extend(_top(row, self.doc_ids, top_k) for row in scores)
        return out


def _normalize(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
