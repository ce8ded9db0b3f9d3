"""The interface every sparse encoder implements, and what fittable ones add."""

from __future__ import annotations

import asyncio
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Protocol, runtime_checkable

from typing_extensions import Self

from langchain_embedkit.types import SparseVector

__all__ = ["FittableSparseEmbeddings", "SparseEmbeddings", "SparseStatistics"]


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
        return await asyncio.get_running_loop().run_in_executor(None, self.embed_documents, texts)

    async def aembed_query(self, text: str) -> SparseVector:
        """Async :meth:`embed_query`, run in the default executor."""
        return await asyncio.get_running_loop().run_in_executor(None, self.embed_query, text)


@dataclass(frozen=True)
class SparseStatistics:
    """The corpus statistics that score queries, independent of token ids.

    Two encoders with equal statistics (and equal parameters) give the same query
    weights, token for token, whatever order their vocabularies were built in.

    Attributes:
        n_docs: Number of documents counted.
        total_tokens: Their total length in tokens, after analysis.
        df: Number of documents containing each token, for tokens with ``df > 0``.

    Example:
        >>> SparseStatistics(2, 5, {"cat": 1}) == SparseStatistics(2, 5, {"cat": 1})
        True
    """

    n_docs: int
    total_tokens: int
    df: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Read-only, so that a frozen snapshot stays one.
        object.__setattr__(self, "df", MappingProxyType(dict(self.df)))

    def __repr__(self) -> str:
        return (
            f"SparseStatistics(n_docs={self.n_docs}, total_tokens={self.total_tokens}, "
            f"df=<{len(self.df)} tokens>)"
        )


@runtime_checkable
class FittableSparseEmbeddings(Protocol):
    """A sparse encoder whose statistics are learnt from, and follow, a corpus.

    A vector store keeps such an encoder in step with what it holds: ``partial_fit``
    the documents it writes, ``partial_unfit`` the ones it deletes or replaces, and
    ``save``/``load`` the state beside the collection. Token ids are never reassigned
    or removed (a token no document contains any more keeps its id), so vectors
    stored earlier never change meaning.

    Example:
        >>> from langchain_embedkit.sparse import BM25SparseEmbeddings
        >>> isinstance(BM25SparseEmbeddings(), FittableSparseEmbeddings)
        True
    """

    @property
    def is_fitted(self) -> bool:
        """Whether the statistics hold at least one document."""
        ...

    def fit(self, texts: Sequence[str]) -> Self:
        """Forget previous statistics and compute them on ``texts``."""
        ...

    def partial_fit(self, texts: Sequence[str]) -> Self:
        """Add ``texts`` to the statistics."""
        ...

    def partial_unfit(self, texts: Sequence[str]) -> Self:
        """Remove ``texts`` again: the exact inverse of :meth:`partial_fit`.

        Raises:
            ValueError: ``texts`` were not all counted (removing more than was added).
        """
        ...

    def statistics(self) -> SparseStatistics:
        """A snapshot of the statistics that score queries."""
        ...

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the state to ``path``; returns the path written."""
        ...

    def load(self, path: str | os.PathLike[str]) -> Self:
        """Read a saved state; on an instance, fill it in place and return it."""
        ...
