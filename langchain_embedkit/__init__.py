"""Embeddings, sparse BM25, one vector store over Chroma and Milvus, hybrid retrieval.

Importing this package is light: torch, transformers, chromadb, pymilvus and openai are
imported only when a class that needs them is used.
"""

from __future__ import annotations

from importlib import metadata

from langchain_embedkit.errors import (
    DimensionMismatchError,
    EmbedKitError,
    NotFittedError,
    PersistenceError,
    StoreLockedError,
)
from langchain_embedkit.fusion import rrf, weighted
from langchain_embedkit.sparse.base import SparseEmbeddings
from langchain_embedkit.types import RetrievalMode, SparseVector

try:
    __version__ = metadata.version("langchain-embedkit")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "DimensionMismatchError",
    "EmbedKitError",
    "NotFittedError",
    "PersistenceError",
    "RetrievalMode",
    "SparseEmbeddings",
    "SparseVector",
    "StoreLockedError",
    "__version__",
    "rrf",
    "weighted",
]
