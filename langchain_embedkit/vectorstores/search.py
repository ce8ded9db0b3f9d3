"""The search half of :class:`~langchain_embedkit.vectorstores.EmbedKitVectorStore`.

Dense, sparse and hybrid searches, MMR and the reads by id need only the engine, the
encoders and the score maths of :mod:`.hybrid` and :mod:`.scoring`, not LangChain's
``VectorStore`` (whose retrievers bring its tracers and langsmith, about half a second
to import). :class:`StoreSearch` holds them for the store; :class:`StoreReader` opens a
collection the way the store does and offers them alone, which is what ``embedkit
search`` and ``embedkit info`` use.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.documents import Document

from langchain_embedkit.errors import DimensionMismatchError
from langchain_embedkit.fusion import Normalization, default_fetch_k
from langchain_embedkit.types import RetrievalMode
from langchain_embedkit.vectorstores import scoring
from langchain_embedkit.vectorstores.arguments import (
    check_collection_name,
    check_filter,
    check_ids,
    check_k,
    search_filter,
)
from langchain_embedkit.vectorstores.backends import create_backend
from langchain_embedkit.vectorstores.backends.base import Backend, Record
from langchain_embedkit.vectorstores.hybrid import (
    FusionSettings,
    Scored,
    dense_scored,
    hybrid_search,
    sparse_scored,
)
from langchain_embedkit.vectorstores.ingest import check_finite
from langchain_embedkit.vectorstores.options import (
    BackendName,
    BackendOptions,
    MilvusOptions,
    resolve_options,
)
from langchain_embedkit.vectorstores.sparse_state import SparseBook, write_lock

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from langchain_embedkit.sparse.base import SparseEmbeddings

__all__ = ["StoreReader", "StoreSearch", "open_collection"]

_MODES: tuple[str, ...] = ("dense", "sparse", "hybrid")
# below this k a search never asks the engine for its count; above, k is clamped to it
_CLAMP_FROM = 100


def open_collection(
    backend: BackendName | BackendOptions | None,
    engine_options: dict[str, Any],
    collection_name: str,
    metric: scoring.Metric,
    sparse_embedding: SparseEmbeddings | None,
) -> tuple[BackendOptions, Backend, threading.RLock, SparseBook | None]:
    """What every store object does on open: resolve and check the engine options, connect,
    and load the sparse statistics (finishing an interrupted write, reconciling them).

    Returns:
        The options, the engine adapter, the collection's write lock and the statistics'
        book (None without a sparse encoder).
    """
    options = resolve_options(backend, engine_options)
    if isinstance(options, MilvusOptions):
        check_collection_name(collection_name, "milvus", options.uri, None)
    else:
        check_collection_name(collection_name, "chroma", "", options.persist_directory)
    engine = create_backend(
        options,
        collection_name=collection_name,
        metric=metric,
        with_sparse=sparse_embedding is not None,
    )
    state = engine.state_path()
    lock = write_lock(str(state) if state is not None else f"store-{id(engine)}")
    book = None
    if sparse_embedding is not None:
        book = SparseBook(sparse_embedding, engine, state, collection_name)
        with lock:
            book.open()
    return options, engine, lock, book


class StoreSearch:
    """Search and read methods; the store (or the reader) sets the attributes below."""

    embedding: Embeddings
    sparse_embedding: SparseEmbeddings | None
    metric: scoring.Metric
    retrieval_mode: RetrievalMode
    fusion: scoring.Fusion
    rrf_k: int
    fusion_weights: list[float] | None
    fusion_normalization: Normalization
    fetch_k: int | None
    sparse_score_scale: float
    _backend: Backend
    _book: SparseBook | None

    @staticmethod
    def _check_mode(mode: str) -> RetrievalMode:
        if mode not in _MODES:
            msg = f"Unknown retrieval_mode {mode!r}; supported: 'dense', 'sparse', 'hybrid'."
            raise ValueError(msg)
        return mode  # type: ignore[return-value]

    def _mode(self, mode: str | None) -> RetrievalMode:
        chosen = self._check_mode(mode or self.retrieval_mode)
        if chosen != "dense" and self.sparse_embedding is None:
            msg = (
                f"retrieval_mode={chosen!r} needs a sparse encoder; create the store with "
                "sparse_embedding=BM25SparseEmbeddings() (or use retrieval_mode='dense')."
            )
            raise ValueError(msg)
        return chosen

    @staticmethod
    def _document(record: Record) -> Document:
        return Document(page_content=record.text, metadata=record.metadata, id=record.id)

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Documents of the ids that exist, in the order of ``ids``."""
        ids = check_ids(ids)
        found = {r.id: r for r in self._backend.get(list(dict.fromkeys(ids)))}
        return [self._document(found[i]) for i in ids if i in found]

    def count(self) -> int:
        """Number of stored documents."""
        return self._backend.count()

    def peek(self, limit: int = 10) -> list[Document]:
        """Up to ``limit`` stored documents, to look at what a collection holds."""
        return [self._document(r) for r in self._backend.peek(limit)]

    @staticmethod
    def _validate_filter(filter: Mapping[str, Any] | None) -> None:
        if check_filter(filter):
            from langchain_embedkit.vectorstores import filters

            filters.validate_filter(filter)

    def _clamp(self, k: Any, name: str = "k") -> int:
        """``k`` checked, and no larger than the collection (0 when it is empty)."""
        value = check_k(k, name)
        return min(value, self._backend.count()) if value > _CLAMP_FROM else value

    def _query_vector(self, vector: Sequence[float]) -> list[float]:
        """A query vector checked like a write: finite, of the collection's size."""
        values = [float(x) for x in vector]
        check_finite([values])
        expected = self._backend.dimension()
        if expected is not None and len(values) != expected:
            msg = (
                f"Query dimension mismatch: the collection holds {expected}-dimensional "
                f"vectors but the query vector has {len(values)}. Search with the model "
                "the collection was built with."
            )
            raise DimensionMismatchError(msg)
        return values

    def _sparse_ready(self) -> bool:
        """False when a fittable encoder has no statistics: the collection holds nothing."""
        book = self._book
        return book is None or book.fittable is None or book.fittable.is_fitted

    def _search(
        self,
        query: str,
        k: Any,
        filter: Mapping[str, Any] | None,
        mode: str | None,
        fetch_k: Any,
        *,
        with_vectors: bool = False,
    ) -> list[Scored]:
        chosen = self._mode(mode)
        self._validate_filter(filter)
        k = self._clamp(k)
        fetch = self._clamp(fetch_k, "fetch_k") if fetch_k is not None else None
        if k == 0 or (chosen != "dense" and not self._sparse_ready()):
            return []
        if chosen == "dense":
            vector = self._query_vector(self.embedding.embed_query(query))
            hits = self._backend.dense_search(vector, k, filter, with_vectors=with_vectors)
            found = dense_scored(hits, self.metric)
        elif chosen == "sparse":
            assert self.sparse_embedding is not None
            sparse_q = self.sparse_embedding.embed_query(query)
            hits = self._backend.sparse_search(sparse_q, k, filter)
            found = sparse_scored(hits, self.sparse_score_scale)
        else:
            found = self._hybrid(query, k, filter, fetch)
        # engines order equal scores differently; ties go by id so every engine agrees
        sign = 1.0 if chosen == "dense" and self.metric == "l2" else -1.0
        return sorted(found, key=lambda item: (sign * item[1], item[0].id))

    def _hybrid(
        self, query: str, k: int, filter: Mapping[str, Any] | None, fetch_k: int | None
    ) -> list[Scored]:
        assert self.sparse_embedding is not None
        settings = FusionSettings(
            metric=self.metric,
            method=self.fusion,
            rrf_k=self.rrf_k,
            weights=self.fusion_weights,
            normalization=self.fusion_normalization,
            sparse_score_scale=self.sparse_score_scale,
        )
        fetch = max(k, fetch_k or self.fetch_k or default_fetch_k(k))
        return hybrid_search(
            self._backend,
            self._query_vector(self.embedding.embed_query(query)),
            self.sparse_embedding.embed_query(query),
            k=k,
            fetch_k=self._clamp(fetch, "fetch_k"),
            filter=filter,
            settings=settings,
        )

    def similarity_search(
        self,
        query: str,
        k: int = 4,
        filter: Mapping[str, Any] | None = None,
        *,
        retrieval_mode: RetrievalMode | None = None,
        fetch_k: int | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """The ``k`` best documents for ``query`` (``retrieval_mode`` per call).

        ``filter`` takes the portable filter language; Chroma's ``where=`` and
        ``where_document=`` are translated onto it, other stores' keywords refused.
        """
        where = search_filter(filter, kwargs, "similarity_search")
        found = self._search(query, k, where, retrieval_mode, fetch_k)
        return [self._document(r) for r, _, _ in found]

    def similarity_search_with_score(
        self,
        query: str,
        k: int = 4,
        filter: Mapping[str, Any] | None = None,
        *,
        retrieval_mode: RetrievalMode | None = None,
        fetch_k: int | None = None,
        **kwargs: Any,
    ) -> list[tuple[Document, float]]:
        """Documents with raw scores: see :mod:`.scoring` for each metric and mode."""
        where = search_filter(filter, kwargs, "similarity_search_with_score")
        found = self._search(query, k, where, retrieval_mode, fetch_k)
        return [(self._document(r), raw) for r, raw, _ in found]

    def _similarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        options = ("retrieval_mode", "fetch_k")
        where = search_filter(
            kwargs.get("filter"),
            {key: v for key, v in kwargs.items() if key != "filter"},
            "similarity_search_with_relevance_scores",
            allowed=options,
        )
        found = self._search(query, k, where, kwargs.get("retrieval_mode"), kwargs.get("fetch_k"))
        return [(self._document(r), rel) for r, _, rel in found]

    def similarity_search_with_score_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        filter: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[tuple[Document, float]]:
        """Dense search by a query vector; raw scores."""
        where = search_filter(filter, kwargs, "similarity_search_by_vector")
        self._validate_filter(where)
        k = self._clamp(k)
        if k == 0:
            return []
        hits = self._backend.dense_search(self._query_vector(embedding), k, where)
        return [(self._document(h.record), h.score) for h in hits]

    def similarity_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        filter: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """Dense search by a query vector."""
        found = self.similarity_search_with_score_by_vector(embedding, k, filter, **kwargs)
        return [d for d, _ in found]

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Mapping[str, Any] | None = None,
        *,
        retrieval_mode: RetrievalMode | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """Diverse results: ``fetch_k`` candidates (any mode), re-ranked by MMR on dense vectors."""
        where = search_filter(filter, kwargs, "max_marginal_relevance_search")
        mode = self._mode(retrieval_mode)
        k = check_k(k)
        fetch = max(k, check_k(fetch_k, "fetch_k"))
        if mode == "dense":
            vector = self.embedding.embed_query(query)
            return self.max_marginal_relevance_search_by_vector(
                vector, k, fetch, lambda_mult, where
            )
        candidates = [r for r, _, _ in self._search(query, fetch, where, mode, fetch)]
        with_vectors = {
            r.id: r for r in self._backend.get([r.id for r in candidates], with_vectors=True)
        }
        pool = [with_vectors[r.id] for r in candidates if r.id in with_vectors]
        chosen = scoring.mmr_select(
            self._query_vector(self.embedding.embed_query(query)),
            [r.vector or [] for r in pool],
            k=k,
            lambda_mult=lambda_mult,
        )
        return [self._document(pool[i]) for i in chosen]

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """MMR over the ``fetch_k`` nearest documents to a query vector."""
        where = search_filter(filter, kwargs, "max_marginal_relevance_search_by_vector")
        self._validate_filter(where)
        k = check_k(k)
        fetch = self._clamp(max(k, check_k(fetch_k, "fetch_k")), "fetch_k")
        if fetch == 0:
            return []
        vector = self._query_vector(embedding)
        hits = self._backend.dense_search(vector, fetch, where, with_vectors=True)
        chosen = scoring.mmr_select(
            vector, [h.record.vector or [] for h in hits], k=k, lambda_mult=lambda_mult
        )
        return [self._document(hits[i].record) for i in chosen]


class StoreReader(StoreSearch):
    """An existing collection opened for searching only, without LangChain's ``VectorStore``.

    It opens the engine and loads (and, after a crash, redoes) the sparse statistics with
    the same code as :class:`~langchain_embedkit.vectorstores.EmbedKitVectorStore`, and its
    searches are the store's own methods, with the store's default fusion settings; it has
    no write methods and no retrievers. Use the store for anything else.

    Args:
        embedding: The dense model the collection was built with.
        sparse_embedding: Optional sparse encoder (enables ``"sparse"`` and ``"hybrid"``).
        backend: ``MilvusOptions(...)``, ``ChromaOptions(...)`` or an engine name with its
            settings as flat keywords, as for the store.
        collection_name: Collection to open.
        metric: The collection's metric.
        **engine_options: The engine settings as flat keywords (see the store).

    Example:
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> from langchain_embedkit.vectorstores import EmbedKitVectorStore
        >>> fake = DeterministicFakeEmbedding(size=8)
        >>> store = EmbedKitVectorStore(fake, backend="chroma", collection_name="reader")
        >>> _ = store.add_texts(["foo", "bar"])
        >>> reader = StoreReader(fake, backend="chroma", collection_name="reader")
        >>> reader.similarity_search("foo", k=1) == store.similarity_search("foo", k=1)
        True
    """

    def __init__(
        self,
        embedding: Embeddings,
        sparse_embedding: SparseEmbeddings | None = None,
        *,
        backend: BackendName | BackendOptions | None = None,
        collection_name: str = "embedkit",
        metric: scoring.Metric = "cosine",
        **engine_options: Any,
    ) -> None:
        self.embedding = embedding
        self.sparse_embedding = sparse_embedding
        self.collection_name = collection_name
        self.metric = scoring.check_metric(metric)
        self.retrieval_mode = "hybrid" if sparse_embedding is not None else "dense"
        self.fusion = "rrf"
        self.rrf_k = 60
        self.fusion_weights = None
        self.fusion_normalization = "none"
        self.fetch_k = None
        self.sparse_score_scale = 10.0
        self._closed = False
        self.options, self._backend, _, self._book = open_collection(
            backend, engine_options, collection_name, self.metric, sparse_embedding
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(backend={self._backend!r}, metric={self.metric!r})"

    def sparse_state_path(self) -> Path | None:
        """Where the sparse encoder's fit state is saved (None for servers)."""
        return self._backend.state_path()

    def similarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Documents with relevance in [0, 1], best first, as the store returns them
        (``filter``, ``retrieval_mode``, ``fetch_k`` and ``score_threshold`` as there)."""
        threshold = kwargs.pop("score_threshold", None)
        found = self._similarity_search_with_relevance_scores(query, k, **kwargs)
        return found if threshold is None else [(d, s) for d, s in found if s >= threshold]

    def close(self) -> None:
        """Release the engine; a second call does nothing."""
        if not self._closed:
            self._closed = True
            if self._book is not None:
                self._book.close()
            self._backend.close()

    def __enter__(self) -> StoreReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
