"""Exact top-k search of sparse query vectors against a CSR matrix of documents.

For client-side sparse search (an engine without a sparse index, an evaluation run):
stack the document vectors once with :func:`to_csr`, then score any batch of queries
with one sparse matrix product in :func:`sparse_top_k`. scipy is imported here only
when these functions run.

Example:
    >>> from langchain_embedkit.types import SparseVector
    >>> docs = to_csr([SparseVector([0, 2], [1.0, 0.5]), SparseVector([1], [2.0])])
    >>> sparse_top_k([SparseVector([2], [3.0]), SparseVector([7], [1.0])], docs, k=2)
    [[(0, 1.5)], []]
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from typing import TYPE_CHECKING

import numpy as np

from langchain_embedkit._imports import require
from langchain_embedkit.types import SparseVector

if TYPE_CHECKING:
    from scipy.sparse import csr_array

__all__ = ["sparse_top_k", "to_csr"]

# Scores of at most this many (query, document) pairs are materialised at once.
_BLOCK_PAIRS = 1 << 24


def to_csr(vectors: Sequence[SparseVector], dim: int | None = None) -> csr_array:
    """Stack sparse vectors as the rows of a ``scipy.sparse.csr_array`` (float64).

    Args:
        vectors: One :class:`SparseVector` per row.
        dim: Number of columns; default one more than the largest index. Indices at or
            above ``dim`` raise ``ValueError``.

    Example:
        >>> to_csr([SparseVector([1], [2.0]), SparseVector()], dim=4).toarray().tolist()
        [[0.0, 2.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
    """
    sparse = require("scipy.sparse", "bm25")
    lengths = np.fromiter((len(v.indices) for v in vectors), dtype=np.int64, count=len(vectors))
    indptr = np.zeros(len(vectors) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    nnz = int(indptr[-1])
    indices = np.fromiter(
        chain.from_iterable(v.indices for v in vectors), dtype=np.int64, count=nnz
    )
    data = np.fromiter(chain.from_iterable(v.values for v in vectors), dtype=np.float64, count=nnz)
    largest = int(indices.max()) + 1 if nnz else 0
    if dim is None:
        dim = largest
    elif largest > dim:
        msg = (
            f"to_csr: a vector has index {largest - 1}, outside dim={dim}; pass a larger "
            "dim (the encoder's current dim) or leave it out."
        )
        raise ValueError(msg)
    index_type = np.int32 if max(dim, nnz) < 2**31 else np.int64
    return sparse.csr_array(
        (data, indices.astype(index_type), indptr.astype(index_type)),
        shape=(len(vectors), dim),
    )


def sparse_top_k(
    queries: Sequence[SparseVector] | csr_array,
    documents: Sequence[SparseVector] | csr_array,
    k: int = 10,
) -> list[list[tuple[int, float]]]:
    """Exact top-``k`` documents by dot product for each query.

    Only documents that share at least one dimension with the query (score > 0 for
    non-negative weights) are returned, best first; equal scores keep the lower row.

    Args:
        queries: Query vectors, or their CSR matrix.
        documents: Document vectors, or their CSR matrix from :func:`to_csr` (build it
            once when you search the same documents many times).
        k: How many results per query.

    Returns:
        For each query, ``[(document_row, score), ...]`` with Python ints and floats.
    """
    if k < 1:
        msg = f"sparse_top_k: k must be >= 1; got {k}."
        raise ValueError(msg)
    doc_matrix = documents if not isinstance(documents, Sequence) else to_csr(documents)
    n_docs, dim = doc_matrix.shape
    if isinstance(queries, Sequence):
        queries = [_clip(query, dim) for query in queries]
        query_matrix = to_csr(queries, dim=dim)
    else:
        query_matrix = queries
        if query_matrix.shape[1] != dim:
            query_matrix = _resize_columns(query_matrix, dim)
    transposed = doc_matrix.T.tocsr()
    block = max(1, _BLOCK_PAIRS // max(n_docs, 1))
    results: list[list[tuple[int, float]]] = []
    for start in range(0, query_matrix.shape[0], block):
        scores = (query_matrix[start : start + block] @ transposed).tocsr()
        scores.sort_indices()
        for row in range(scores.shape[0]):
            lo, hi = scores.indptr[row], scores.indptr[row + 1]
            results.append(_best(scores.indices[lo:hi], scores.data[lo:hi], k))
    return results


def _best(columns: np.ndarray, values: np.ndarray, k: int) -> list[tuple[int, float]]:
    keep = values > 0
    columns, values = columns[keep], values[keep]
    if len(values) > k:
        threshold = np.partition(values, len(values) - k)[len(values) - k]
        keep = values >= threshold
        columns, values = columns[keep], values[keep]
    order = np.lexsort((columns, -values))[:k]
    return list(zip(columns[order].tolist(), values[order].tolist()))


def _clip(vector: SparseVector, dim: int) -> SparseVector:
    """Drop dimensions no document has (tokens learnt after the documents were stacked)."""
    if not vector.indices or vector.indices[-1] < dim:
        return vector
    pairs = [(i, v) for i, v in zip(vector.indices, vector.values) if i < dim]
    return SparseVector([i for i, _ in pairs], [v for _, v in pairs])


def _resize_columns(matrix: csr_array, dim: int) -> csr_array:
    coo = matrix.tocoo()
    keep = coo.col < dim
    sparse = require("scipy.sparse", "bm25")
    return sparse.csr_array(
        (coo.data[keep], (coo.row[keep], coo.col[keep])), shape=(matrix.shape[0], dim)
    )
