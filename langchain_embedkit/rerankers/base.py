"""What every reranker shares: score, copy, sort, cut to ``top_n`` and ``score_threshold``."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING

from langchain_core.documents import BaseDocumentCompressor, Document
from langchain_core.runnables import run_in_executor
from pydantic import model_validator
from typing_extensions import Self

if TYPE_CHECKING:
    from langchain_core.callbacks import Callbacks

__all__ = ["BaseReranker"]


class BaseReranker(BaseDocumentCompressor, ABC):
    """A ``BaseDocumentCompressor`` that scores (query, document) pairs and reorders.

    Subclasses implement :meth:`_score`. Results are copies of the input documents
    with ``metadata["relevance_score"]`` set and ``Document.id`` kept, best first; the
    inputs are never modified. Ties keep the input order.

    Example:
        >>> class WordOverlap(BaseReranker):
        ...     def _score(self, query, texts):
        ...         q = set(query.split())
        ...         return [(i, len(q & set(t.split())) / len(q)) for i, t in enumerate(texts)]
        >>> docs = [Document("cats purr", id="c"), Document("bm25 ranks words", id="b")]
        >>> [(d.id, d.metadata["relevance_score"])
        ...  for d in WordOverlap(top_n=1).compress_documents(docs, "bm25 words")]
        [('b', 1.0)]
    """

    top_n: int | None = 3
    """How many documents to keep (``None`` keeps all)."""

    score_threshold: float | None = None
    """Drop documents whose relevance score is below this value."""

    @model_validator(mode="after")
    def _check_cut(self) -> Self:
        if self.top_n is not None and (isinstance(self.top_n, bool) or self.top_n < 1):
            msg = (
                f"{type(self).__name__} top_n must be >= 1 or None (keep all); got {self.top_n!r}."
            )
            raise ValueError(msg)
        return self

    @abstractmethod
    def _score(self, query: str, texts: list[str]) -> list[tuple[int, float]]:
        """``(index into texts, relevance score)`` pairs; may cover only some texts."""

    async def _ascore(self, query: str, texts: list[str]) -> list[tuple[int, float]]:
        return await run_in_executor(None, self._score, query, texts)

    def _select(
        self, documents: Sequence[Document], scored: list[tuple[int, float]]
    ) -> list[Document]:
        best: dict[int, float] = {}
        for index, score in scored:
            if not isinstance(index, int) or not 0 <= index < len(documents):
                msg = (
                    f"{type(self).__name__} got a score for document index {index!r}, but only "
                    f"{len(documents)} documents were sent (valid: 0..{len(documents) - 1})."
                )
                raise ValueError(msg)
            if math.isnan(score):
                continue
            best[index] = score
        order = sorted(best, key=lambda i: (-best[i], i))
        if self.score_threshold is not None:
            order = [i for i in order if best[i] >= self.score_threshold]
        if self.top_n is not None:
            order = order[: self.top_n]
        return [
            documents[i].model_copy(
                update={"metadata": {**documents[i].metadata, "relevance_score": best[i]}}
            )
            for i in order
        ]

    def compress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """Score every document against ``query``; return the best, highest first.

        Args:
            documents: Candidates, e.g. from a retriever. Not modified.
            query: The user's question.
            callbacks: Unused; accepted for the ``BaseDocumentCompressor`` interface.

        Returns:
            Copies with ``metadata["relevance_score"]``, at most ``top_n`` of them.
        """
        if not documents:
            return []
        return self._select(documents, self._score(query, [d.page_content for d in documents]))

    async def acompress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """Async :meth:`compress_documents`."""
        if not documents:
            return []
        scored = await self._ascore(query, [d.page_content for d in documents])
        return self._select(documents, scored)
