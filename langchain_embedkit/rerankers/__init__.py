"""Rerankers: reorder retrieved documents by a cross-encoder or a hosted rerank API.

Both are ``BaseDocumentCompressor``s, so they drop into ``ContextualCompressionRetriever``
and :func:`~langchain_embedkit.chains.create_rag_chain`.
"""

from __future__ import annotations

from langchain_embedkit.rerankers.base import BaseReranker
from langchain_embedkit.rerankers.cross_encoder import CrossEncoderReranker
from langchain_embedkit.rerankers.http import HTTPReranker, RerankAPIError

__all__ = ["BaseReranker", "CrossEncoderReranker", "HTTPReranker", "RerankAPIError"]
