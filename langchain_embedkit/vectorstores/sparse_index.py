"""Sparse vectors as text, for engines without a sparse index.

Local Chroma cannot index sparse vectors, so the store keeps each document's sparse
vector inside the collection (a reserved metadata key, written in the same request as the
dense vector, so a crash never leaves the two out of step) and searches the package's one
exact sparse index, :class:`~langchain_embedkit.sparse.search.SparseIndex`, built from the
collection when first needed and kept current by the store's own writes. Scores are exact
dot products, the same numbers Milvus' ``IP`` sparse search returns.
"""

from __future__ import annotations

import json

from langchain_embedkit.types import SparseVector

__all__ = ["decode_sparse", "encode_sparse"]


def encode_sparse(vector: SparseVector) -> str:
    """Compact JSON text ``[[indices], [values]]`` of a sparse vector."""
    return json.dumps([vector.indices, vector.values], separators=(",", ":"))


def decode_sparse(text: str) -> SparseVector:
    """Inverse of :func:`encode_sparse`."""
    indices, values = json.loads(text)
    return SparseVector([int(i) for i in indices], [float(v) for v in values])
