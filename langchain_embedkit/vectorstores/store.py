"""``EmbedKitVectorStore``: one LangChain ``VectorStore`` over Milvus and Chroma.

Dense, sparse and hybrid search, one portable filter language, idempotent streaming
ingestion and the same scores on every engine. The engine adapters live in
:mod:`.backends`; ids in :mod:`.ids`; batching in :mod:`.ingest`; score maths, fusion
and MMR in :mod:`.scoring`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.documents import Document
from langchain_core.runnables.config import run_in_executor
from langchain_core.vectorstores import VectorStore, VectorStoreRetriever

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
    ChromaOptions,
    MilvusOptions,
    resolve_options,
)
from langchain_embedkit.vectorstores.sparse_state import SparseBook, write_lock
from langchain_embedkit.vectorstores.writes import StoreWrites

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from langchain_embedkit.sparse.base import SparseEmbeddings

__all__ = ["ChromaOptions", "EmbedKitVectorStore", "MilvusOptions"]

logger = logging.getLogger(__name__)

_MODES: tuple[str, ...] = ("dense", "sparse", "hybrid")
# below this k a search never asks the engine for its count; above, k is clamped to it
_CLAMP_FROM = 100


class EmbedKitVectorStore(StoreWrites, VectorStore):
    """A LangChain vector store over Milvus (Lite or server) or Chroma (memory, disk, server).

    Args:
        embedding: Dense embedding model (``embed_documents`` on ingest, ``embed_query``
            on search).
        sparse_embedding: Optional sparse encoder (e.g. ``BM25SparseEmbeddings``); enables
            ``retrieval_mode="sparse"`` and ``"hybrid"``.
        backend: The engine: ``MilvusOptions(...)``, ``ChromaOptions(...)``, or the name
            ``"milvus"`` / ``"chroma"`` with its settings as flat keywords. Defaults to
            ``"chroma"`` when ``persist_directory`` or ``host`` is given, else
            ``"milvus"`` (a Milvus Lite file ``./embedkit.db``).
        collection_name: Collection to open or create.
        metric: ``"cosine"``, ``"l2"`` or ``"ip"``; see :mod:`.scoring` for raw scores.
        retrieval_mode: Default mode of searches: ``"dense"``, ``"sparse"`` or ``"hybrid"``
            (defaults to ``"hybrid"`` with a sparse encoder, else ``"dense"``). Any search
            takes ``retrieval_mode=`` per call.
        fusion: ``"rrf"`` (reciprocal rank fusion) or ``"weighted"`` for hybrid search.
        rrf_k: RRF smoothing constant.
        fusion_weights: ``(dense, sparse)`` weights; with RRF, weights make fusion run
            client-side on Milvus too.
        fusion_normalization: For ``"weighted"``: ``"none"`` adds the legs' relevance scores
            as they are (query-independent), ``"minmax"`` rescales each leg per query.
        fetch_k: Candidates per leg in hybrid search (default ``max(4 * k, 20)``).
        sparse_score_scale: Sparse relevance is ``s / (s + scale)``.
        batch_size: Documents embedded and written per step while ingesting.
        show_progress_bar: Show a progress bar while ingesting.
        **engine_options: The engine settings as flat keywords, mapped onto the options
            objects: :class:`MilvusOptions` fields (``uri``, ``token``, ``db_name``,
            ``index_type``, ``index_params``, ``search_params``, ``text_max_length``,
            ``client_kwargs``, ``consistency_level``) and :class:`ChromaOptions` fields
            (``persist_directory``, ``host``, ``port``, ``ssl``, ``token``, ``headers``,
            ``client``, ``space``, ``ef_search``, ``ef_construction``, ``max_neighbors``).
            Beside an options object they may only repeat what it holds.

    A fittable sparse encoder's statistics always describe exactly the stored documents
    (upserts and deletes included; see :mod:`.sparse_state`). They are saved beside local
    stores (``<file>.db.<collection>.sparse.json`` for Milvus Lite,
    ``<persist_directory>/embedkit/<collection>.sparse.json`` for Chroma), loaded into the
    encoder when the store opens and checked against the collection.

    Example:
        >>> from langchain_core.embeddings import DeterministicFakeEmbedding
        >>> store = EmbedKitVectorStore(DeterministicFakeEmbedding(size=8), backend="chroma",
        ...                             collection_name="doctest")
        >>> ids = store.add_texts(["foo", "bar"], metadatas=[{"n": 1}, {"n": 2}])
        >>> store.add_texts(["foo", "bar"], metadatas=[{"n": 1}, {"n": 2}]) == ids
        True
        >>> store.count()
        2
        >>> store.similarity_search("foo", k=1)[0].page_content
        'foo'
        >>> same = EmbedKitVectorStore(DeterministicFakeEmbedding(size=8),
        ...                            backend=ChromaOptions(), collection_name="doctest")
        >>> same.options == store.options == ChromaOptions()
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
        retrieval_mode: RetrievalMode | None = None,
        fusion: scoring.Fusion = "rrf",
        rrf_k: int = 60,
        fusion_weights: Sequence[float] | None = None,
        fusion_normalization: Normalization = "none",
        fetch_k: int | None = None,
        sparse_score_scale: float = 10.0,
        batch_size: int = 1000,
        show_progress_bar: bool = False,
        **engine_options: Any,
    ) -> None:
        options = resolve_options(backend, engine_options)
        if isinstance(options, MilvusOptions):
            check_collection_name(collection_name, "milvus", options.uri, None)
        else:
            check_collection_name(collection_name, "chroma", "", options.persist_directory)
        self.embedding = embedding
        self.sparse_embedding = sparse_embedding
        self.options: BackendOptions = options
        """The engine settings the store was opened with."""
        self.backend_name: BackendName = (
            "milvus" if isinstance(options, MilvusOptions) else "chroma"
        )
        self._closed = False
        self.collection_name = collection_name
        self.metric = scoring.check_metric(metric)
        self.retrieval_mode = self._check_mode(
            retrieval_mode or ("hybrid" if sparse_embedding is not None else "dense")
        )
        if fusion not in ("rrf", "weighted"):
            msg = f"Unknown fusion {fusion!r}; supported: 'rrf', 'weighted'."
            raise ValueError(msg)
        if fusion_weights is not None and len(fusion_weights) != 2:
            msg = f"fusion_weights takes (dense, sparse); got {list(fusion_weights)}."
            raise ValueError(msg)
        if sparse_score_scale <= 0:
            msg = f"sparse_score_scale must be > 0; got {sparse_score_scale}."
            raise ValueError(msg)
        self.fusion: scoring.Fusion = fusion
        self.rrf_k = rrf_k
        self.fusion_weights = list(fusion_weights) if fusion_weights is not None else None
        self.fusion_normalization: Normalization = fusion_normalization
        self.fetch_k = fetch_k
        self.sparse_score_scale = sparse_score_scale
        self.batch_size = batch_size
        self.show_progress_bar = show_progress_bar
        self._backend: Backend = create_backend(
            options,
            collection_name=collection_name,
            metric=self.metric,
            with_sparse=sparse_embedding is not None,
        )
        state = self._backend.state_path()
        self._lock = write_lock(str(state) if state is not None else f"store-{id(self)}")
        self._book: SparseBook | None = None
        if sparse_embedding is not None:
            self._book = SparseBook(sparse_embedding, self._backend, state, collection_name)
            with self._lock:
                self._book.open()

    # -- housekeeping -----------------------------------------------------------------------

    @property
    def embeddings(self) -> Embeddings:
        """The dense embedding model."""
        return self.embedding

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(backend={self._backend!r}, metric={self.metric!r}, "
            f"retrieval_mode={self.retrieval_mode!r})"
        )

    def close(self) -> None:
        """Release the engine (a Milvus Lite file becomes free); a second call does nothing."""
        if self._closed:
            return
        self._closed = True
        if self._book is not None:
            self._book.close()
        self._backend.close()

    def __enter__(self) -> EmbedKitVectorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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

    def sparse_state_path(self) -> Path | None:
        """Where the sparse encoder's fit state is saved (None for servers)."""
        return self._backend.state_path()

    def save_sparse_state(self) -> None:
        """Save the sparse encoder's fit state beside a local store (atomic replace)."""
        if self._book is not None:
            with self._lock:
                self._book.save()

    def rebuild_sparse(self) -> None:
        """Refit the sparse encoder on the stored texts and re-encode every sparse vector.

        Stored document vectors keep the average document length of their write time;
        after large changes this brings them to the current statistics (it reads and
        rewrites the whole collection).
        """
        if self._book is not None:
            with self._lock:
                self._book.rebuild()

    # -- reads ---------------------------------------------------------------------------------

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

    async def acount(self) -> int:
        """Async :meth:`count`."""
        return await run_in_executor(None, self.count)

    async def apeek(self, limit: int = 10) -> list[Document]:
        """Async :meth:`peek`."""
        return await run_in_executor(None, self.peek, limit)

    # -- search ----------------------------------------------------------------------------------

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

    async def _asimilarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        return await run_in_executor(
            None, self._similarity_search_with_relevance_scores, query, k, **kwargs
        )

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        metric = self.metric
        return lambda score: scoring.dense_relevance(score, metric)

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

    # -- construction and retrievers ----------------------------------------------------------

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[Any, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> EmbedKitVectorStore:
        """Create a store (constructor keywords in ``kwargs``) and add ``texts``."""
        batch_size = kwargs.pop("add_batch_size", None)
        store = cls(embedding, **kwargs)
        store.add_texts(texts, metadatas, ids, batch_size=batch_size)
        return store

    def as_retriever(self, **kwargs: Any) -> VectorStoreRetriever:
        """A retriever; ``search_type`` is ``similarity``, ``mmr`` or
        ``similarity_score_threshold``, and ``retrieval_mode`` (here, in ``search_kwargs``
        or per ``invoke`` call) is ``dense``, ``sparse`` or ``hybrid``.

        Example:
            With a store that has a sparse encoder::

                retriever = store.as_retriever(retrieval_mode="hybrid", search_kwargs={"k": 5})
                docs = retriever.invoke("query", retrieval_mode="sparse")
        """
        search_kwargs = dict(kwargs.pop("search_kwargs", None) or {})
        mode = kwargs.pop("retrieval_mode", None)
        if mode is not None:
            search_kwargs["retrieval_mode"] = mode
        if "retrieval_mode" in search_kwargs:
            self._mode(search_kwargs["retrieval_mode"])
        return super().as_retriever(search_kwargs=search_kwargs, **kwargs)
