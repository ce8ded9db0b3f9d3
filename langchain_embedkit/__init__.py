"""Embeddings, sparse BM25, one vector store over Chroma and Milvus, hybrid retrieval.

Importing this package is light: each public name is imported from its module the first
time it is used (PEP 562), so torch, transformers, chromadb, pymilvus, openai and even
LangChain's tracers load only when a class that needs them is used.
"""

from __future__ import annotations

from importlib import import_module, metadata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_embedkit.chains import create_rag_chain
    from langchain_embedkit.embeddings import (
        BGEEmbeddings,
        BGEM3Embeddings,
        BGEM3SparseEmbeddings,
        DefaultEmbeddings,
        EmbeddingAPIError,
        ModelNotFoundError,
        OpenAICompatibleEmbeddings,
        Qwen3Embeddings,
    )
    from langchain_embedkit.errors import (
        APIError,
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
    from langchain_embedkit.sparse.base import (
        FittableSparseEmbeddings,
        SparseEmbeddings,
        SparseStatistics,
    )
    from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings
    from langchain_embedkit.sparse.splade import SpladeSparseEmbeddings
    from langchain_embedkit.types import RetrievalMode, SparseVector
    from langchain_embedkit.vectorstores import ChromaOptions, EmbedKitVectorStore, MilvusOptions

try:
    __version__ = metadata.version("langchain-embedkit")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

# public name -> module it lives in (imported on first access)
_LAZY = {
    "APIError": "langchain_embedkit.errors",
    "BGEEmbeddings": "langchain_embedkit.embeddings",
    "BGEM3Embeddings": "langchain_embedkit.embeddings",
    "BGEM3SparseEmbeddings": "langchain_embedkit.embeddings",
    "BM25SparseEmbeddings": "langchain_embedkit.sparse.bm25",
    "ChromaOptions": "langchain_embedkit.vectorstores",
    "CrossEncoderReranker": "langchain_embedkit.rerankers",
    "DefaultEmbeddings": "langchain_embedkit.embeddings",
    "DimensionMismatchError": "langchain_embedkit.errors",
    "EmbedKitError": "langchain_embedkit.errors",
    "EmbedKitVectorStore": "langchain_embedkit.vectorstores",
    "EmbeddingAPIError": "langchain_embedkit.embeddings",
    "FittableSparseEmbeddings": "langchain_embedkit.sparse.base",
    "HTTPReranker": "langchain_embedkit.rerankers",
    "HybridRetriever": "langchain_embedkit.retrievers",
    "MilvusOptions": "langchain_embedkit.vectorstores",
    "ModelNotFoundError": "langchain_embedkit.embeddings",
    "NotFittedError": "langchain_embedkit.errors",
    "OpenAICompatibleEmbeddings": "langchain_embedkit.embeddings",
    "PersistenceError": "langchain_embedkit.errors",
    "Qwen3Embeddings": "langchain_embedkit.embeddings",
    "RerankAPIError": "langchain_embedkit.rerankers",
    "RetrievalMode": "langchain_embedkit.types",
    "SparseEmbeddings": "langchain_embedkit.sparse.base",
    "SparseStatistics": "langchain_embedkit.sparse.base",
    "SparseVector": "langchain_embedkit.types",
    "SpladeSparseEmbeddings": "langchain_embedkit.sparse.splade",
    "StoreLockedError": "langchain_embedkit.errors",
    "cosine_similarity": "langchain_embedkit.similarity",
    "create_rag_chain": "langchain_embedkit.chains",
    "inner_product": "langchain_embedkit.similarity",
    "l2_distance": "langchain_embedkit.similarity",
    "rrf": "langchain_embedkit.fusion",
    "weighted": "langchain_embedkit.fusion",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'langchain_embedkit' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "APIError",
    "BGEEmbeddings",
    "BGEM3Embeddings",
    "BGEM3SparseEmbeddings",
    "BM25SparseEmbeddings",
    "ChromaOptions",
    "CrossEncoderReranker",
    "DefaultEmbeddings",
    "DimensionMismatchError",
    "EmbedKitError",
    "EmbedKitVectorStore",
    "EmbeddingAPIError",
    "FittableSparseEmbeddings",
    "HTTPReranker",
    "HybridRetriever",
    "MilvusOptions",
    "ModelNotFoundError",
    "NotFittedError",
    "OpenAICompatibleEmbeddings",
    "PersistenceError",
    "Qwen3Embeddings",
    "RerankAPIError",
    "RetrievalMode",
    "SparseEmbeddings",
    "SparseStatistics",
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
