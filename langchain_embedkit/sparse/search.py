"""Exact top-k search of sparse query vectors by dot product: the one implementation.

Two ways in, one scoring and selection path:

- :func:`sparse_top_k`: a batch of queries against a fixed list (or CSR matrix, see
  :func:`to_csr`) of document vectors; results are row numbers.
- :class:`SparseIndex`: documents kept by id, added, replaced and deleted over time
  (a vector store's client-side sparse search, an evaluation run); results are ids,
  optionally restricted to an ``allowed`` set of ids (a filter's matches). Equal scores
  are ordered by id (``ties="id"``, trec_eval's order) or by when the document was last
  written (``ties="insertion"``, the order Milvus returns them in).

Documents are held term-major (one row of postings per token), so a query only
touches the postings of its own tokens. Scores are exact dot products in float64; only
positive scores are returned. scipy is imported when these functions first run.

Example:
    >>> from langchain_embedkit.types import SparseVector
    >>> docs = to_csr([SparseVector([0, 2], [1.0, 0.5]), SparseVector([1], [2.0])])
    >>> sparse_top_k([SparseVector([2], [3.0]), SparseVector([7], [1.0])], docs, k=2)
    [[(0, 1.5)], []]
"""

from __future__ import annotations

import json
import threading
from collections.abc import Collection, Iterable, Sequence
from itertools import chain
from typing import TYPE_CHECKING, Any, Literal, get_args, overload

import numpy as np

from langchain_embedkit._imports import require
from langchain_embedkit.types import SparseVector

if TYPE_CHECKING:
    from scipy.sparse import csr_array

__all__ = ["SparseIndex", "Ties", "decode_sparse", "encode_sparse", "sparse_top_k", "to_csr"]

Ties = Literal["id", "insertion"]
"""How :class:`SparseIndex` orders equal scores: by id, descending, or by write order."""

# Scores of at most this many (query, document) pairs are materialised at once.
_BLOCK_PAIRS = 1 << 24
# Fewer queries than this are scored from their postings, more by a sparse matrix product.
_BATCH_MIN_QUERIES = 8
# Deleted rows are dropped once they outnumber the live ones (and this many exist).
_COMPACT_MIN_DEAD = 1024


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


def _check_k(k: object, name: str, owner: str) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        msg = f"{owner}: {name} must be an integer >= 1; got {k!r}."
        raise ValueError(msg)
    return int(k)


def _query_matrix(queries: Sequence[SparseVector] | csr_array, dim: int) -> csr_array:
    """Queries as a CSR matrix of ``dim`` columns (tokens no document has are dropped)."""
    if isinstance(queries, Sequence):
        return to_csr([_clip(query, dim) for query in queries], dim=dim)
    return queries if queries.shape[1] == dim else _resize_columns(queries, dim)


def _scored_rows(
    query_matrix: csr_array, term_major: Sequence[csr_array]
) -> Iterable[tuple[np.ndarray, np.ndarray]]:
    """``(rows, scores)`` with a stored product for each query, in blocks of bounded size.

    ``term_major`` holds consecutive row ranges side by side, each with its own number
    of tokens (at most the query matrix's columns).
    """
    n_rows = sum(matrix.shape[1] for matrix in term_major)
    block = max(1, _BLOCK_PAIRS // max(n_rows, 1))
    for start in range(0, query_matrix.shape[0], block):
        queries = query_matrix[start : start + block]
        parts = [
            queries[:, : matrix.shape[0]] @ matrix
            if matrix.shape[0] < queries.shape[1]
            else queries @ matrix
            for matrix in term_major
        ]
        if len(parts) == 1:
            scores = parts[0].tocsr()
        else:
            scores = require("scipy.sparse", "bm25").hstack(parts, format="csr")
        for row in range(scores.shape[0]):
            lo, hi = scores.indptr[row], scores.indptr[row + 1]
            yield scores.indices[lo:hi], scores.data[lo:hi]


def _leaders(
    rows: np.ndarray, values: np.ndarray, k: int, keep: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Rows with a positive score at least the ``k``-th best (ties at the cut included)."""
    mask = values > 0
    if keep is not None:
        mask &= keep[rows]
    rows, values = rows[mask], values[mask]
    if len(values) > k:
        threshold = np.partition(values, len(values) - k)[len(values) - k]
        mask = values >= threshold
        rows, values = rows[mask], values[mask]
    return rows, values


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
    k = _check_k(k, "k", "sparse_top_k")
    doc_matrix = documents if not isinstance(documents, Sequence) else to_csr(documents)
    term_major = doc_matrix.T.tocsr()
    results: list[list[tuple[int, float]]] = []
    query_matrix = _query_matrix(queries, doc_matrix.shape[1])
    for rows, values in _scored_rows(query_matrix, [term_major]):
        rows, values = _leaders(rows, values, k)
        order = np.lexsort((rows, -values))[:k]
        results.append(list(zip(rows[order].tolist(), values[order].tolist(), strict=True)))
    return results


def _posting_sums(
    query: SparseVector, segments: Sequence[_Segment]
) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, scores)`` of one query, summed from its tokens' postings.

    For a few queries this beats a sparse matrix product, whose set-up costs more than
    the few postings a query touches. Each document's products are added in token
    order, as the matrix product adds them, so both give the same floats.
    """
    tokens = np.asarray(query.indices, dtype=np.int64)
    weights = np.asarray(query.values, dtype=np.float64)
    parts: list[np.ndarray] = []
    for segment in segments:
        matrix = segment.matrix
        inside = tokens < matrix.shape[0]
        lo = matrix.indptr[tokens[inside]]
        lengths = matrix.indptr[tokens[inside] + 1] - lo
        total = int(lengths.sum())
        if total == 0:
            parts.append(np.zeros(segment.size))
            continue
        # positions of every posting of the query's tokens, token after token
        starts = np.repeat(lo - np.cumsum(lengths) + lengths, lengths)
        positions = starts + np.arange(total)
        products = matrix.data[positions] * np.repeat(weights[inside], lengths)
        parts.append(np.bincount(matrix.indices[positions], products, minlength=segment.size))
    scores = np.concatenate(parts) if parts else np.zeros(0)
    rows = np.flatnonzero(scores)
    return rows, scores[rows]


class _Segment:
    """Documents written together: rows ``start .. start + n`` as a term-major matrix."""

    __slots__ = ("matrix", "start")

    def __init__(self, start: int, matrix: csr_array) -> None:
        self.start = start
        self.matrix = matrix  # shape (dim, n): one row of postings per token

    @property
    def size(self) -> int:
        return int(self.matrix.shape[1])


class SparseIndex:
    """Exact sparse dot-product search over documents kept by id.

    Each write appends a segment; segments of similar size merge (so there are about
    log2(n) of them), and deleted rows are dropped once they outnumber the live ones.
    Results are ``(id, score)`` pairs with a positive score, best first. Thread-safe.

    Args:
        ids: Document ids (each at most once; a later duplicate replaces an earlier one).
        vectors: One :class:`SparseVector` per id.
        ties: Order of equal scores. ``"id"`` (default): by id, descending, trec_eval's
            order, so the same documents give the same results whatever order they were
            written in. ``"insertion"``: the document written first comes first, and a
            replaced document counts as written at its replacement; Milvus orders a
            sparse search's equal scores this way, so a client-side index built with it
            fuses like Milvus does.

    Example:
        >>> index = SparseIndex(["a", "b"], [SparseVector([1], [2.0]), SparseVector([2], [1.0])])
        >>> index.search(SparseVector([1, 2], [1.0, 1.0]), 5)
        [('a', 2.0), ('b', 1.0)]
        >>> index.upsert(["c"], [SparseVector([2], [4.0])])
        >>> index.delete(["a"])
        >>> index.search([SparseVector([2], [1.0])], 5, allowed={"b", "c"})
        [[('c', 4.0), ('b', 1.0)]]
        >>> tied = [SparseVector([1], [1.0])] * 2
        >>> SparseIndex(["a", "b"], tied).search(SparseVector([1], [1.0]), 5)
        [('b', 1.0), ('a', 1.0)]
        >>> SparseIndex(["a", "b"], tied, ties="insertion").search(SparseVector([1], [1.0]), 5)
        [('a', 1.0), ('b', 1.0)]
    """

    def __init__(
        self,
        ids: Iterable[str] = (),
        vectors: Iterable[SparseVector] = (),
        *,
        ties: Ties = "id",
    ) -> None:
        if ties not in get_args(Ties):
            choices = ", ".join(repr(choice) for choice in get_args(Ties))
            msg = f"SparseIndex: unknown ties={ties!r}; choose one of {choices}."
            raise ValueError(msg)
        self._ties = ties
        self._lock = threading.RLock()
        self._ids: list[str | None] = []
        self._row_of: dict[str, int] = {}
        self._alive = np.zeros(0, dtype=bool)
        self._segments: list[_Segment] = []
        ids, vectors = list(ids), list(vectors)
        if len(ids) != len(vectors):
            msg = (
                f"SparseIndex needs one vector per id; got {len(ids)} ids and "
                f"{len(vectors)} vectors."
            )
            raise ValueError(msg)
        if ids:
            self.upsert(ids, vectors)

    def __len__(self) -> int:
        return len(self._row_of)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._row_of

    @property
    def ties(self) -> Ties:
        """How equal scores are ordered (see the class docstring)."""
        return self._ties

    @property
    def doc_ids(self) -> list[str]:
        """Ids of the documents held, in row order."""
        with self._lock:
            return [doc_id for doc_id in self._ids if doc_id is not None]

    def clear(self) -> None:
        """Forget every document."""
        with self._lock:
            self._ids, self._row_of, self._segments = [], {}, []
            self._alive = np.zeros(0, dtype=bool)

    def upsert(self, ids: Sequence[str], vectors: Sequence[SparseVector]) -> None:
        """Add documents, or replace those whose id is already held.

        Raises:
            TypeError: ``ids`` is one ``str`` or holds a non-string id.
            ValueError: ``ids`` and ``vectors`` differ in length.
        """
        ids = _check_ids(ids, "upsert")
        vectors = list(vectors)
        if len(ids) != len(vectors):
            msg = (
                f"SparseIndex.upsert needs one vector per id; got {len(ids)} ids and "
                f"{len(vectors)} vectors."
            )
            raise ValueError(msg)
        last = {doc_id: position for position, doc_id in enumerate(ids)}
        if len(last) != len(ids):  # the last vector of a repeated id wins
            kept = sorted(last.values())
            ids, vectors = [ids[i] for i in kept], [vectors[i] for i in kept]
        if not ids:
            return
        term_major = to_csr(vectors).T.tocsr()
        with self._lock:
            self._tombstone(ids)
            start = len(self._ids)
            self._ids.extend(ids)
            self._row_of.update(zip(ids, range(start, start + len(ids)), strict=True))
            if len(self._alive) < len(self._ids):
                grown = np.zeros(max(len(self._ids), 2 * len(self._alive)), dtype=bool)
                grown[: len(self._alive)] = self._alive
                self._alive = grown
            self._alive[start : len(self._ids)] = True
            self._segments.append(_Segment(start, term_major))
            self._merge_tail()

    def delete(self, ids: Iterable[str]) -> None:
        """Drop the documents of ``ids`` (ids not held are ignored).

        Raises:
            TypeError: ``ids`` is one ``str`` (pass ``[doc_id]``).
        """
        ids = _check_ids(ids, "delete")
        with self._lock:
            self._tombstone(ids)
            dead = len(self._ids) - len(self._row_of)
            if dead >= _COMPACT_MIN_DEAD and dead > len(self._row_of):
                self._compact()

    @overload
    def search(
        self, queries: SparseVector, top_k: int, allowed: Collection[str] | None = None
    ) -> list[tuple[str, float]]: ...

    @overload
    def search(
        self,
        queries: Sequence[SparseVector],
        top_k: int,
        allowed: Collection[str] | None = None,
    ) -> list[list[tuple[str, float]]]: ...

    def search(
        self,
        queries: SparseVector | Sequence[SparseVector],
        top_k: int,
        allowed: Collection[str] | None = None,
    ) -> list[tuple[str, float]] | list[list[tuple[str, float]]]:
        """Top ``top_k`` ``(id, score)`` with a positive score, best first.

        Args:
            queries: One query vector (gives one list) or several (a list per query).
            top_k: How many results per query, at most.
            allowed: When given, only these ids may be returned (a filter's matches).

        Raises:
            ValueError: ``top_k`` is not an integer >= 1.
        """
        top_k = _check_k(top_k, "top_k", "SparseIndex.search")
        single = isinstance(queries, SparseVector)
        batch: list[SparseVector] = (
            [queries] if isinstance(queries, SparseVector) else list(queries)
        )
        with self._lock:
            found = self._search(batch, top_k, allowed)
        return found[0] if single else found

    # ------------------------------------------------------------------ internals

    def _search(
        self, queries: list[SparseVector], top_k: int, allowed: Collection[str] | None
    ) -> list[list[tuple[str, float]]]:
        if not self._row_of or not self._segments:
            return [[] for _ in queries]
        keep = self._alive[: len(self._ids)]
        if allowed is not None:
            allowed_rows = [
                self._row_of.get(doc_id, -1) for doc_id in _check_ids(allowed, "search")
            ]
            keep = np.zeros(len(self._ids), dtype=bool)
            keep[[row for row in allowed_rows if row >= 0]] = True
        scored: Iterable[tuple[np.ndarray, np.ndarray]]
        if len(queries) < _BATCH_MIN_QUERIES:
            scored = (_posting_sums(query, self._segments) for query in queries)
        else:
            matrices = [segment.matrix for segment in self._segments]
            query_matrix = _query_matrix(queries, max(matrix.shape[0] for matrix in matrices))
            scored = _scored_rows(query_matrix, matrices)
        ids = self._ids
        results: list[list[tuple[str, float]]] = []
        for rows, values in scored:
            rows, values = _leaders(rows, values, top_k, keep)
            if self._ties == "insertion":  # rows are numbered in write order
                order = np.lexsort((rows, -values))[:top_k]
                rows, values = rows[order], values[order]
            pairs: list[tuple[Any, float]] = [
                (ids[row], value) for row, value in zip(rows.tolist(), values.tolist(), strict=True)
            ]
            if self._ties == "id":
                pairs.sort(key=lambda pair: pair[0], reverse=True)
                pairs.sort(key=lambda pair: pair[1], reverse=True)
            results.append(pairs[:top_k])
        return results

    def _tombstone(self, ids: Iterable[str]) -> None:
        for doc_id in ids:
            row = self._row_of.pop(doc_id, None)
            if row is not None:
                self._ids[row] = None
                self._alive[row] = False

    def _merge_tail(self) -> None:
        """Merge the newest segments while the last is at least half its predecessor."""
        segments = self._segments
        while len(segments) > 1 and 2 * segments[-1].size >= segments[-2].size:
            right, left = segments.pop(), segments.pop()
            segments.append(_Segment(left.start, _hstack([left.matrix, right.matrix])))

    def _compact(self) -> None:
        live = np.flatnonzero(self._alive[: len(self._ids)])
        matrix = _hstack([s.matrix for s in self._segments])[:, live] if len(live) else None
        self._ids = [self._ids[row] for row in live.tolist()]
        self._row_of = {doc_id: row for row, doc_id in enumerate(self._ids) if doc_id is not None}
        self._alive = np.ones(len(self._ids), dtype=bool)
        self._segments = [] if matrix is None else [_Segment(0, matrix.tocsr())]


def encode_sparse(vector: SparseVector) -> str:
    """Compact JSON text ``[[indices], [values]]`` of a sparse vector.

    The form a store keeps a sparse vector in where the engine has no sparse field
    (Chroma's metadata).

    Example:
        >>> encode_sparse(SparseVector([1, 5], [0.25, 2.0]))
        '[[1,5],[0.25,2.0]]'
    """
    return json.dumps([vector.indices, vector.values], separators=(",", ":"))


def decode_sparse(text: str) -> SparseVector:
    """Inverse of :func:`encode_sparse`.

    Example:
        >>> decode_sparse('[[1,5],[0.25,2.0]]')
        SparseVector(indices=[1, 5], values=[0.25, 2.0])
    """
    indices, values = json.loads(text)
    return SparseVector([int(i) for i in indices], [float(v) for v in values])


def _check_ids(ids: Iterable[str], method: str) -> list[str]:
    if isinstance(ids, str):
        msg = (
            f"SparseIndex.{method} takes a list of ids; got one str ({ids[:40]!r}). "
            f"Wrap it in a list: [{ids[:40]!r}]."
        )
        raise TypeError(msg)
    ids = list(ids)
    for doc_id in ids:
        if not isinstance(doc_id, str):
            msg = f"SparseIndex.{method}: ids must be strings; got {type(doc_id).__name__}."
            raise TypeError(msg)
    return ids


def _hstack(matrices: list[csr_array]) -> csr_array:
    """Term-major matrices side by side (more documents), padded to the largest vocabulary."""
    sparse = require("scipy.sparse", "bm25")
    dim = max(matrix.shape[0] for matrix in matrices)
    padded = []
    for matrix in matrices:
        if matrix.shape[0] < dim:
            grow = np.full(dim - matrix.shape[0], matrix.indptr[-1], dtype=matrix.indptr.dtype)
            matrix = sparse.csr_array(
                (matrix.data, matrix.indices, np.concatenate([matrix.indptr, grow])),
                shape=(dim, matrix.shape[1]),
            )
        padded.append(matrix)
    return sparse.hstack(padded, format="csr")


def _clip(vector: SparseVector, dim: int) -> SparseVector:
    """Drop dimensions no document has (tokens learnt after the documents were stacked)."""
    if not vector.indices or vector.indices[-1] < dim:
        return vector
    pairs = [(i, v) for i, v in zip(vector.indices, vector.values, strict=True) if i < dim]
    return SparseVector([i for i, _ in pairs], [v for _, v in pairs])


def _resize_columns(matrix: csr_array, dim: int) -> csr_array:
    coo = matrix.tocoo()
    keep = coo.col < dim
    sparse = require("scipy.sparse", "bm25")
    return sparse.csr_array(
        (coo.data[keep], (coo.row[keep], coo.col[keep])), shape=(matrix.shape[0], dim)
    )
