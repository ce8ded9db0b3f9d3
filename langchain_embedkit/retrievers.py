"""Hybrid retrieval: run several retrievers and fuse their rankings into one list.

:class:`HybridRetriever` calls :func:`~langchain_embedkit.fusion.rrf` or
:func:`~langchain_embedkit.fusion.weighted`, the same fusion the vector store uses,
so a dense leg plus a BM25 leg fuse identically whichever engine serves them.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever, RetrieverLike
from langchain_core.runnables import RunnableConfig, run_in_executor
from pydantic import ConfigDict, model_validator
from typing_extensions import Self

from langchain_embedkit.fusion import Normalization, default_fetch_k, rrf, weighted

__all__ = ["LEG_SCORE_KEYS", "HybridRetriever"]

LEG_SCORE_KEYS: tuple[str, ...] = ("score", "relevance_score", "fused_score", "similarity_score")
"""Metadata keys read, in this order, as a leg's own score for ``fusion="weighted"``."""

_FALLBACK_PREFIX = "\x00content:"


def document_key(doc: Document, ids_by_content: Mapping[str, str] | None = None) -> str:
    """The identity used to deduplicate: ``Document.id``, else the text.

    A document with an id is keyed by it, so two chunks with the same text but
    different ids stay distinct. A document without one (``BM25Retriever`` and most
    LangChain retrievers return those) is keyed by ``page_content``, as
    ``EnsembleRetriever`` does, unless ``ids_by_content`` maps that text to the id of
    a document another leg returned: then it is that document.

    Example:
        >>> from langchain_core.documents import Document
        >>> document_key(Document("text", id="a"))
        'a'
        >>> document_key(Document("text")) == document_key(Document("text", metadata={"p": 2}))
        True
        >>> document_key(Document("text"), {"text": "a"})
        'a'
    """
    if doc.id is not None:
        return str(doc.id)
    if ids_by_content is not None and doc.page_content in ids_by_content:
        return ids_by_content[doc.page_content]
    return _FALLBACK_PREFIX + doc.page_content


def _accepted_kwargs(
    retriever: BaseRetriever, method: str = "_get_relevant_documents"
) -> tuple[set[str], bool]:
    """Names ``method`` accepts, and whether it takes ``**kwargs``."""
    parameters = inspect.signature(getattr(type(retriever), method)).parameters
    var_keyword = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    named = {
        name
        for name, p in parameters.items()
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    } - {"self", "query", "run_manager"}
    return named, var_keyword


def _leg_call(
    leg: RetrieverLike, fetch_k: int, extra: dict[str, Any]
) -> tuple[RetrieverLike, dict[str, Any]]:
    """Ask ``leg`` for ``fetch_k`` results in the way it understands.

    Retrievers whose ``_get_relevant_documents`` takes ``k`` (or ``**kwargs``, as
    ``VectorStoreRetriever`` does, merging them into ``search_kwargs``) get ``k`` per
    call. Retrievers with an integer ``k`` field but no such argument (``BM25Retriever``
    style) are shallow-copied with ``k=fetch_k``. Anything else is called as it is.
    """
    if not isinstance(leg, BaseRetriever):
        return leg, {}
    named, var_keyword = _accepted_kwargs(leg)
    kwargs: dict[str, Any] = {}
    if var_keyword or "k" in named:
        kwargs["k"] = fetch_k
    elif isinstance(getattr(leg, "k", None), int) and "k" in type(leg).model_fields:
        leg = leg.model_copy(update={"k": fetch_k})
    for key, value in extra.items():
        if var_keyword or key in named:
            kwargs[key] = value
    return leg, kwargs


def _async_takes(leg: RetrieverLike, kwargs: dict[str, Any]) -> bool:
    """Whether ``leg.ainvoke`` would pass ``kwargs`` on (many legs only take them in sync)."""
    if not kwargs or not isinstance(leg, BaseRetriever):
        return True
    named, var_keyword = _accepted_kwargs(leg, "_aget_relevant_documents")
    return var_keyword or set(kwargs) <= named


def _leg_score(doc: Document, rank: int) -> float:
    for key in LEG_SCORE_KEYS:
        value = doc.metadata.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    # No score attached: a rank-derived one keeps the leg's order after min-max scaling.
    return 1.0 / rank


class HybridRetriever(BaseRetriever):
    """Fuse the rankings of several retrievers (dense, sparse, any other) into one.

    Every leg is asked for ``fetch_k`` candidates, results are deduplicated by
    ``Document.id``, and documents without an id by ``page_content`` as
    ``EnsembleRetriever`` does (an id-less document whose text equals that of a
    document with an id counts as that document; the copy with the id is returned),
    fused with reciprocal rank fusion or a weighted score sum, and the best
    ``k`` are returned as copies carrying the fused score in
    ``metadata["fused_score"]``. Input documents are never modified.

    Legs that take ``k`` per call (``VectorStoreRetriever``, the store's
    ``as_retriever(retrieval_mode=...)``) are asked for ``fetch_k``; legs with a ``k``
    field (``BM25Retriever``) get a copy with ``k=fetch_k``; other legs return what
    they return. Extra keyword arguments given to ``invoke`` (e.g. ``filter``) are
    passed to every leg whose signature accepts them.

    Example:
        .. code-block:: python

            from langchain_core.embeddings import DeterministicFakeEmbedding
            from langchain_core.vectorstores import InMemoryVectorStore
            from langchain_embedkit.retrievers import HybridRetriever

            store = InMemoryVectorStore(DeterministicFakeEmbedding(size=32))
            store.add_texts(["BM25 ranks words", "vectors rank meaning"], ids=["a", "b"])
            leg = store.as_retriever()
            hybrid = HybridRetriever(retrievers=[leg, leg], k=1)
            docs = hybrid.invoke("ranking", k=2)
            print(len(docs), sorted(d.id for d in docs))
            # 2 ['a', 'b']
            print(round(docs[0].metadata["fused_score"], 4))
            # 0.0328
    """

    retrievers: list[RetrieverLike]
    """The legs to fuse: any retrievers (or runnables from a query to documents)."""

    k: int = 4
    """How many fused documents to return; ``invoke(query, k=...)`` overrides it."""

    fetch_k: int | None = None
    """Candidates asked of each leg. ``None`` means ``max(4 * k, 20)`` for the ``k`` in use."""

    fusion: Literal["rrf", "weighted"] = "rrf"
    """``"rrf"`` (ranks only; safe for incomparable scores) or ``"weighted"`` (scores)."""

    weights: list[float] | None = None
    """One weight per leg; equal weights when ``None``."""

    rrf_k: int = 60
    """Smoothing constant of reciprocal rank fusion."""

    normalization: Normalization = "minmax"
    """Per-leg score scaling for ``fusion="weighted"``: ``"minmax"`` or ``"none"``.

    Leg scores are read from the first of ``LEG_SCORE_KEYS`` found in metadata; a
    document without one gets ``1 / rank``.
    """

    score_key: str = "fused_score"
    """Metadata key that receives the fused score on the returned copies."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not self.retrievers:
            msg = (
                "HybridRetriever needs at least one retriever; got retrievers=[]. Pass e.g. "
                "retrievers=[store.as_retriever(retrieval_mode='dense'), "
                "store.as_retriever(retrieval_mode='sparse')]."
            )
            raise ValueError(msg)
        if self.weights is not None and len(self.weights) != len(self.retrievers):
            msg = (
                f"HybridRetriever got {len(self.weights)} weights for {len(self.retrievers)} "
                "retrievers; pass one weight per retriever or weights=None for equal weights."
            )
            raise ValueError(msg)
        if self.weights is not None and any(w < 0 for w in self.weights):
            msg = f"HybridRetriever weights must be >= 0; got {self.weights}."
            raise ValueError(msg)
        if self.fusion not in ("rrf", "weighted"):
            msg = f"Unknown fusion {self.fusion!r}; supported: 'rrf', 'weighted'."
            raise ValueError(msg)
        self._check_k(self.k)
        if self.fetch_k is not None and self.fetch_k < 1:
            msg = f"HybridRetriever fetch_k must be >= 1 (or None for 4 * k); got {self.fetch_k}."
            raise ValueError(msg)
        return self

    @staticmethod
    def _check_k(k: Any) -> int:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            msg = f"HybridRetriever k must be a positive integer; got {k!r}."
            raise ValueError(msg)
        return k

    def _fetch_size(self, k: int) -> int:
        return self.fetch_k if self.fetch_k is not None else default_fetch_k(k)

    def _fuse(self, results: Sequence[Sequence[Document]], k: int) -> list[Document]:
        # Text -> id of the first document with that text that has an id, so an id-less
        # copy (a BM25Retriever hit) joins the stored document it is a copy of.
        ids_by_content: dict[str, str] = {}
        for docs in results:
            for doc in docs:
                if doc.id is not None:
                    ids_by_content.setdefault(doc.page_content, str(doc.id))
        first_seen: dict[str, Document] = {}
        rankings: list[list[tuple[str, float]]] = []
        for docs in results:
            ranking: list[tuple[str, float]] = []
            in_leg: set[str] = set()
            for rank, doc in enumerate(docs, start=1):
                key = document_key(doc, ids_by_content)
                if key in in_leg:  # a leg repeating a document keeps its best rank
                    continue
                in_leg.add(key)
                kept = first_seen.get(key)
                if kept is None or (kept.id is None and doc.id is not None):
                    first_seen[key] = doc  # the first copy that carries the id is returned
                ranking.append((key, _leg_score(doc, rank)))
            rankings.append(ranking)
        if self.fusion == "rrf":
            fused = rrf(rankings, k=self.rrf_k, weights=self.weights)
        else:
            fused = weighted(rankings, weights=self.weights, normalization=self.normalization)
        out: list[Document] = []
        for key, score in fused[:k]:
            doc = first_seen[key]
            metadata = {**doc.metadata, self.score_key: float(score)}
            out.append(doc.model_copy(update={"metadata": metadata}))
        return out

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        final_k = self._check_k(self.k if k is None else k)
        fetch_k = self._fetch_size(final_k)
        results: list[list[Document]] = []
        for i, leg in enumerate(self.retrievers, start=1):
            runnable, leg_kwargs = _leg_call(leg, fetch_k, kwargs)
            config: RunnableConfig = {"callbacks": run_manager.get_child(tag=f"retriever_{i}")}
            results.append(list(runnable.invoke(query, config, **leg_kwargs)))
        return self._fuse(results, final_k)

    async def _aget_relevant_documents(
        self,
        query: str,
        *,
        run_manager: AsyncCallbackManagerForRetrieverRun,
        k: int | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        final_k = self._check_k(self.k if k is None else k)
        fetch_k = self._fetch_size(final_k)
        calls = []
        for i, leg in enumerate(self.retrievers, start=1):
            runnable, leg_kwargs = _leg_call(leg, fetch_k, kwargs)
            config: RunnableConfig = {"callbacks": run_manager.get_child(tag=f"retriever_{i}")}
            if _async_takes(runnable, leg_kwargs):
                calls.append(runnable.ainvoke(query, config, **leg_kwargs))
            else:
                # The inherited async path drops per-call arguments; run the sync one.
                calls.append(run_in_executor(config, runnable.invoke, query, config, **leg_kwargs))
        results = await asyncio.gather(*calls)
        return self._fuse([list(r) for r in results], final_k)
