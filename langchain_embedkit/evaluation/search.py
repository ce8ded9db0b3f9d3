"""Exact search over a data set's corpus, the candidates ``compare`` scores.

Dense is a numpy matrix product over (by default normalized) vectors, sparse a scipy
sparse matrix product; both return rankings in trec_eval order, so the figures measure
the embeddings, not an approximate index.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

from langchain_embedkit._imports import require

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

    from langchain_embedkit.types import SparseVector

__all__ = ["DenseIndex", "Ranking", "SparseIndex"]

Ranking = list[tuple[str, float]]
"""``(doc_id, score)`` pairs, best first."""


def _top(scores: np.ndarray, ids: Sequence[str], top_k: int, *, nonzero: bool = False) -> Ranking:
    """Best ``top_k`` of one score row in trec_eval order (score desc, then id desc)."""
    n = scores.shape[0]
    if nonzero:
        candidates = np.flatnonzero(scores)
    elif top_k < n:
        part = np.argpartition(-scores, top_k - 1)
        kth = scores[part[top_k - 1]]
        # Every document tied with the k-th score competes for the last places.
        candidates = np.flatnonzero(scores >= kth)
    else:
        candidates = np.arange(n)
    if nonzero and candidates.size > top_k:
        part = np.argpartition(-scores[candidates], top_k - 1)
        kth = scores[candidates[part[top_k - 1]]]
        candidates = candidates[scores[candidates] >= kth]
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
        similarity: Literal["cosine", "dot"] = "cosine",
    ) -> None:
        matrix = np.asarray(vectors, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[0] != len(doc_ids):
            msg = (
                f"DenseIndex needs one vector per document id; got {len(doc_ids)} ids and "
                f"an array of shape {matrix.shape}."
            )
            raise ValueError(msg)
        if similarity not in ("cosine", "dot"):
            msg = f"Unknown similarity {similarity!r}; supported: 'cosine', 'dot'."
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


def _to_csr(vectors: Sequence[SparseVector], dim: int) -> csr_matrix:
    csr_matrix = require("scipy.sparse", "eval").csr_matrix

    indptr = np.zeros(len(vectors) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(v.indices) for v in vectors])
    indices = np.fromiter((i for v in vectors for i in v.indices), dtype=np.int64)
    data = np.fromiter((x for v in vectors for x in v.values), dtype=np.float32)
    return csr_matrix((data, indices, indptr), shape=(len(vectors), dim))


class SparseIndex:
    """Exact sparse search: query vectors times the document matrix (scipy CSR).

    With BM25 vectors the product is the BM25 score. Documents sharing no term with the
    query (score 0) are not returned.

    Example:
        >>> from langchain_embedkit.types import SparseVector
        >>> index = SparseIndex(["a", "b"], [SparseVector([0], [1.0]), SparseVector([1], [2.0])])
        >>> index.search([SparseVector([1], [0.5])], top_k=10)
        [[('b', 1.0)]]
    """

    def __init__(self, doc_ids: Sequence[str], vectors: Sequence[SparseVector]) -> None:
        if len(doc_ids) != len(vectors):
            msg = (
                f"SparseIndex needs one vector per id; got {len(doc_ids)} ids and "
                f"{len(vectors)} vectors."
            )
            raise ValueError(msg)
        self.doc_ids = list(doc_ids)
        self.dim = 1 + max((v.indices[-1] for v in vectors if len(v)), default=0)
        self.matrix_t = _to_csr(vectors, self.dim).T.tocsr()

    def search(self, queries: Sequence[SparseVector], top_k: int) -> list[Ranking]:
        """Top ``top_k`` ``(doc_id, score)`` per query with a non-zero score."""
        # Terms the documents never use cannot score; drop them so the shapes agree.
        clipped = [_clip(v, self.dim) for v in queries]
        scores = (_to_csr(clipped, self.dim) @ self.matrix_t).tocsr()
        out: list[Ranking] = []
        for i in range(scores.shape[0]):
            row = scores.getrow(i)
            dense = np.zeros(len(self.doc_ids), dtype=np.float32)
            dense[row.indices] = row.data
            out.append(_top(dense, self.doc_ids, top_k, nonzero=True))
        return out


def _clip(vector: SparseVector, dim: int) -> SparseVector:
    if not len(vector) or vector.indices[-1] < dim:
        return vector
    from langchain_embedkit.types import SparseVector

    keep = [(i, v) for i, v in zip(vector.indices, vector.values) if i < dim]
    return SparseVector([i for i, _ in keep], [v for _, v in keep])
