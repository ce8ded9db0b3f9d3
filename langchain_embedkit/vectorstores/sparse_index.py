"""An in-memory inverted index of sparse vectors, for engines without a sparse index.

Local Chroma cannot index sparse vectors, so the store keeps each document's sparse
vector inside the collection (a reserved metadata key, written in the same request as the
dense vector, so a crash never leaves the two out of step) and searches this index, built
from the collection when first needed and kept current by the store's own writes.
Scores are exact dot products, the same numbers Milvus' ``IP`` sparse search returns.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

import numpy as np

from langchain_embedkit.types import SparseVector

__all__ = ["SparseIndex", "decode_sparse", "encode_sparse"]


def encode_sparse(vector: SparseVector) -> str:
    """Compact JSON text ``[[indices], [values]]`` of a sparse vector."""
    return json.dumps([vector.indices, vector.values], separators=(",", ":"))


def decode_sparse(text: str) -> SparseVector:
    """Inverse of :func:`encode_sparse`."""
    indices, values = json.loads(text)
    return SparseVector([int(i) for i in indices], [float(v) for v in values])


class SparseIndex:
    """Exact sparse dot-product search over ``{doc_id: SparseVector}``.

    Example:
        >>> index = SparseIndex()
        >>> index.upsert(["a", "b"], [SparseVector([1], [2.0]), SparseVector([2], [1.0])])
        >>> index.search(SparseVector([1, 2], [1.0, 1.0]), k=5)
        [('a', 2.0), ('b', 1.0)]
    """

    def __init__(self) -> None:
        self._row_of: dict[str, int] = {}
        self._ids: list[str | None] = []
        # term -> growing lists of (row, weight); arrays are rebuilt lazily after writes
        self._post_rows: dict[int, list[int]] = {}
        self._post_vals: dict[int, list[float]] = {}
        self._arrays: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._alive = np.zeros(0, dtype=bool)
        self._dirty = False

    def __len__(self) -> int:
        return len(self._row_of)

    def clear(self) -> None:
        """Forget every vector."""
        self.__init__()  # type: ignore[misc]

    def upsert(self, ids: Sequence[str], vectors: Sequence[SparseVector]) -> None:
        """Add or replace the vectors of ``ids``."""
        self.delete(i for i in ids if i in self._row_of)
        start = len(self._ids)
        for offset, (doc_id, vector) in enumerate(zip(ids, vectors, strict=True)):
            row = start + offset
            self._row_of[doc_id] = row
            self._ids.append(doc_id)
            for term, value in zip(vector.indices, vector.values, strict=True):
                self._post_rows.setdefault(term, []).append(row)
                self._post_vals.setdefault(term, []).append(value)
        grown = np.ones(len(self._ids), dtype=bool)
        grown[: len(self._alive)] = self._alive
        self._alive = grown
        self._dirty = True

    def delete(self, ids: Iterable[str]) -> None:
        """Drop the vectors of ``ids`` (unknown ids are ignored)."""
        for doc_id in ids:
            row = self._row_of.pop(doc_id, None)
            if row is not None:
                self._ids[row] = None
                self._alive[row] = False
        # rows are tombstoned; compact when most of the index is dead
        if len(self._ids) > 1024 and len(self._row_of) < len(self._ids) // 2:
            self._compact()

    def _compact(self) -> None:
        live = [(i, r) for i, r in self._row_of.items()]
        old_rows = {r: new for new, (_, r) in enumerate(sorted(live, key=lambda x: x[1]))}
        post_rows: dict[int, list[int]] = {}
        post_vals: dict[int, list[float]] = {}
        for term, rows in self._post_rows.items():
            vals = self._post_vals[term]
            for row, val in zip(rows, vals, strict=True):
                new = old_rows.get(row)
                if new is not None:
                    post_rows.setdefault(term, []).append(new)
                    post_vals.setdefault(term, []).append(val)
        ordered = sorted(live, key=lambda x: x[1])
        self._ids = [doc_id for doc_id, _ in ordered]
        self._row_of = {doc_id: n for n, doc_id in enumerate(self._ids) if doc_id is not None}
        self._post_rows, self._post_vals = post_rows, post_vals
        self._alive = np.ones(len(self._ids), dtype=bool)
        self._dirty = True

    def search(
        self, query: SparseVector, k: int, allowed: set[str] | None = None
    ) -> list[tuple[str, float]]:
        """Top ``k`` ``(doc_id, dot product)`` with a positive score, best first.

        Args:
            query: The query's sparse vector; an empty one gives no hits.
            k: How many to return.
            allowed: When given, only these ids may be returned (a filter's matches).
        """
        if k <= 0 or len(query) == 0 or not self._row_of:
            return []
        if self._dirty:
            self._arrays = {}
            self._dirty = False
        scores = np.zeros(len(self._ids), dtype=np.float64)
        touched = False
        for term, weight in zip(query.indices, query.values, strict=True):
            if term not in self._post_rows:
                continue
            arrays = self._arrays.get(term)
            if arrays is None:
                arrays = (
                    np.asarray(self._post_rows[term], dtype=np.int64),
                    np.asarray(self._post_vals[term], dtype=np.float64),
                )
                self._arrays[term] = arrays
            rows, vals = arrays
            scores[rows] += weight * vals
            touched = True
        if not touched:
            return []
        mask = self._alive & (scores > 0)
        if allowed is not None:
            allow = np.zeros(len(self._ids), dtype=bool)
            for doc_id in allowed:
                row = self._row_of.get(doc_id)
                if row is not None:
                    allow[row] = True
            mask &= allow
        candidates = np.flatnonzero(mask)
        if candidates.size == 0:
            return []
        if candidates.size > k:
            part = np.argpartition(-scores[candidates], k - 1)[:k]
            candidates = candidates[part]
        # ties broken by insertion order so results are stable
        order = sorted(candidates.tolist(), key=lambda r: (-scores[r], r))
        return [(self._ids[r], float(scores[r])) for r in order]
