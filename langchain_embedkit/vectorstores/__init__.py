"""One vector store over Milvus and Chroma: dense, sparse and hybrid search."""

from __future__ import annotations

from langchain_embedkit.vectorstores.options import ChromaOptions, MilvusOptions
from langchain_embedkit.vectorstores.store import EmbedKitVectorStore

__all__ = ["ChromaOptions", "EmbedKitVectorStore", "MilvusOptions"]
