"""``EmbedKitVectorStore``: one LangChain ``VectorStore`` over Milvus and Chroma.

Dense, sparse and hybrid search, one portable filter language, idempotent streaming
ingestion and the same scores on every engine. The engine adapters live in
:mod:`.backends`; ids in :mod:`.ids`; batching in :mod:`.ingest`; score maths, fusion
and MMR in :mod:`.scoring`; the searches in :mod:`.search`, the writes in :mod:`.writes`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.documents import Document
from langchain_core.runnables.config import run_in_executor
from langchain_core.vectorstores import VectorStore, VectorStoreRetriever

from langchain_embedkit.fusion import Normalization
from langchain_embedkit.types import RetrievalMode
from langchain_embedkit.vectorstores import scoring
from langchain_embedkit.vectorstores.backends.base import Backend
from langchain_embedkit.vectorstores.options import (
    BackendName,
    BackendOptions,
    ChromaOptions,
    MilvusOptions,
)
from langchain_embedkit.vectorstores.search import StoreSearch, open_collection
from langchain_embedkit.vectorstores.sparse_state import SparseBook
from langchain_embedkit.vectorstores.writes import StoreWrites

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from langchain_embedkit.sparse.base import SparseEmbeddings

__all__ = ["ChromaOptions", "EmbedKitVectorStore", "MilvusOptions"]

logger = logging.getLogger(__name__)


class EmbedKitVectorStore(StoreSearch, StoreWrites, VectorStore):
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
        self.embedding = embedding
        self.sparse_embedding = sparse_embedding
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
        options, engine, lock, book = open_collection(
            backend, engine_options, collection_name, self.metric, sparse_embedding
        )
        self.options: BackendOptions = options
        """The engine settings the store was opened with."""
        self.backend_name: BackendName = (
            "milvus" if isinstance(options, MilvusOptions) else "chroma"
        )
        self._backend: Backend = engine
        self._lock = lock
        self._book: SparseBook | None = book

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

    # -- async reads (the searches are in StoreSearch) ------------------------------------------

    async def acount(self) -> int:
        """Async :meth:`count`."""
        return await run_in_executor(None, self.count)

    async def apeek(self, limit: int = 10) -> list[Document]:
        """Async :meth:`peek`."""
        return await run_in_executor(None, self.peek, limit)

    async def _asimilarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        return await run_in_executor(
            None, self._similarity_search_with_relevance_scores, query, k, **kwargs
        )

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        metric = self.metric
        return lambda score: scoring.dense_relevance(score, metric)

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
