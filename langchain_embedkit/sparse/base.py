"""The interface every sparse encoder implements."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod

from langchain_embedkit.types import SparseVector

__all__ = ["SparseEmbeddings"]


class SparseEmbeddings(ABC):
    """Encodes texts as :class:`SparseVector`.

    Documents and queries go through separate methods because sparse models are
    often asymmetric (BM25 puts saturated term weights on documents and IDF on
    queries, so that ``dot(query, doc)`` is the BM25 score).
    """

    @abstractmethod
    def embed_documents(self, texts: list[str]) -> list[SparseVector]:
        """Encode documents for storage."""

    @abstractmethod
    def embed_query(self, text: str) -> SparseVector:
        """Encode one search query."""

    async def aembed_documents(self, texts: list[str]) -> list[SparseVector]:
        """Async :meth:`embed_documents`, run in the default executor."""
        return await asyncio.get_running_loop().run_in_executor(
            None, self.embed_documents, texts
        )

    async def aembed_query(self, text: str) -> SparseVector:
        """Async :meth:`embed_query`, run in the default executor."""
        return await asyncio.get_running_loop().run_in_executor(None, self.embed_query, text)
