"""Embeddings, sparse BM25, one vector store over Chroma and Milvus, hybrid retrieval.

Importing this package is light: torch, transformers, chromadb, pymilvus and openai are
imported only when a class that needs them is used.
"""

from __future__ import annotations

from importlib import metadata

from langchain_embedkit.chains import create_rag_chain
from langchain_embedkit.embeddings import (
    BGEEmbeddings,
    DefaultEmbeddings,
    EmbeddingAPIError,
    ModelNotFoundError,
    OpenAICompatibleEmbeddings,
    Qwen3Embeddings,
)
from langchain_embedkit.errors import (
    DimensionMismatchError,
    EmbedKitError,
    NotFittedError,
    PersistenceError,
    StoreLockedError,
)
from langchain_embedkit.fusion import rrf, weighted
from langchain_embedkit.rerankers import CrossEncoderReranker, HTTPReranker, RerankAPIError
from langchain_embedkit.retrievers import HybridRetriever
from langchain_embedkit.similarity import cosine_similarity, inner_product, l2_distance
from langchain_embedkit.sparse.base import SparseEmbeddings
from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings
from langchain_embedkit.sparse.splade import SpladeSparseEmbeddings
from langchain_embedkit.types import RetrievalMode, SparseVector
from langchain_embedkit.vectorstores import EmbedKitVectorStore

try:
    __version__ = metadata.version("langchain-embedkit")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "BGEEmbeddings",
    "BM25SparseEmbeddings",
    "CrossEncoderReranker",
    "DefaultEmbeddings",
    "DimensionMismatchError",
    "EmbedKitError",
    "EmbedKitVectorStore",
    "EmbeddingAPIError",
    "HTTPReranker",
    "HybridRetriever",
    "ModelNotFoundError",
    "NotFittedError",
    "OpenAICompatibleEmbeddings",
    "PersistenceError",
    "Qwen3Embeddings",
    "RerankAPIError",
    "RetrievalMode",
    "SparseEmbeddings",
    "SparseVector",
    "SpladeSparseEmbeddings",
    "StoreLockedError",
    "__version__",
    "cosine_similarity",
    "create_rag_chain",
    "inner_product",
    "l2_distance",
    "rrf",
    "weighted",
]
