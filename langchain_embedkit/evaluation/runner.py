"""Run retrieval on a data set and score it: ``evaluate`` one retriever, ``compare`` many.

``compare`` searches exactly, so its figures measure the embeddings, not an index:
dense is a numpy matrix product over normalized vectors (cosine), sparse a scipy sparse
matrix product (:mod:`.search`), hybrid reciprocal rank fusion
(:func:`langchain_embedkit.fusion.rrf`, k=60, equal weights) of the top ``fetch_k`` of
each leg, and ``hybrid+rerank`` hands the top ``rerank_depth`` fused documents to a
reranker. The result types live in :mod:`.results`, the indexes in :mod:`.search`.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.vectorstores import VectorStore

from langchain_embedkit.errors import NotFittedError
from langchain_embedkit.evaluation.cache import EmbeddingCache, encode_texts
from langchain_embedkit.evaluation.metrics import METRICS, QueryRun, evaluate_run
from langchain_embedkit.evaluation.results import ComparisonResult, EvaluationResult
from langchain_embedkit.evaluation.search import DenseIndex, Ranking, Similarity, SparseIndex
from langchain_embedkit.fusion import rrf
from langchain_embedkit.sparse.base import FittableSparseEmbeddings

if TYPE_CHECKING:
    import numpy as np
    from langchain_core.documents import BaseDocumentCompressor
    from langchain_core.embeddings import Embeddings

    from langchain_embedkit.evaluation.datasets import RetrievalDataset
    from langchain_embedkit.sparse.base import SparseEmbeddings
    from langchain_embedkit.types import SparseVector

__all__ = ["MODES", "EvalMode", "compare", "evaluate"]

EvalMode = Literal["dense", "sparse", "hybrid", "hybrid+rerank"]
MODES: tuple[str, ...] = get_args(EvalMode)


def _fuse(dense: Ranking, sparse: Ranking, rrf_k: int) -> Ranking:
    return rrf([dense, sparse], k=rrf_k)


def _doc_id(doc: Document, by_text: Mapping[str, str], id_key: str | None) -> str:
    if id_key is not None:
        if id_key not in doc.metadata:
            msg = (
                f"A retrieved document has no metadata[{id_key!r}]; "
                f"its keys: {sorted(doc.metadata)}."
            )
            raise KeyError(msg)
        return str(doc.metadata[id_key])
    for key in ("doc_id", "_id", "corpus_id"):
        if key in doc.metadata:
            return str(doc.metadata[key])
    if doc.id:
        return str(doc.id)
    found = by_text.get(doc.page_content.strip())
    if found is None:
        msg = (
            "A retrieved document carries no id (Document.id, metadata['doc_id']) and its "
            "text matches no corpus document, so it cannot be scored. Index the data set's "
            "documents with their ids: store.add_documents(dataset.documents())."
        )
        raise ValueError(msg)
    return found


def evaluate(
    retriever: BaseRetriever | VectorStore,
    dataset: RetrievalDataset,
    k: int = 10,
    *,
    mode: str | None = None,
    name: str | None = None,
    k_values: Sequence[int] | None = None,
    id_key: str | None = None,
    show_progress_bar: bool = True,
) -> EvaluationResult:
    """Score any LangChain retriever (or a vector store in one mode) on a data set.

    Each query is sent with ``invoke``; the returned documents are identified by
    ``metadata[id_key]`` when given, else ``metadata["doc_id"]``, ``Document.id``, or
    an exact match of their text with a corpus document. Their order is the ranking
    (repeated ids count once); metrics cut it at each ``k``.

    Args:
        retriever: A ``BaseRetriever``, or a ``VectorStore`` that holds the data set's
            documents (``store.add_documents(dataset.documents())``); a store is
            searched through ``as_retriever(search_kwargs={"k": k})``.
        dataset: The data set.
        k: Main cut-off, reported as e.g. ``nDCG@10``.
        mode: For a store: passed to ``as_retriever(retrieval_mode=mode)``
            (``"dense"``, ``"sparse"``, ``"hybrid"``) when the store supports it.
        name: Label in reports (default: the retriever's class name).
        k_values: Extra cut-offs (``k`` is always included).
        id_key: Metadata key that holds the corpus id.
        show_progress_bar: Show a progress bar over queries.

    Example:
        With a retriever over SciFact::

            result = evaluate(retriever, load_beir("benchmarks/data/scifact"))
            round(result.metrics["nDCG@10"], 3)  # 0.645
    """
    retriever, label = _as_retriever(retriever, k, mode, name)
    ks = sorted({k, *(k_values or ())})
    run, latencies, returned = _query_all(retriever, dataset, label, id_key, show_progress_bar)
    means, per_query = evaluate_run(dataset.qrels, run, ks)
    return EvaluationResult(
        name=label,
        mode=mode or "retriever",
        k=k,
        metrics=means,
        num_queries=len(dataset.queries),
        per_query=per_query,
        run=run,
        latency_ms=statistics.median(latencies) if latencies else None,
        info={
            "mean_returned": round(sum(returned) / len(returned), 2) if returned else 0,
            "max_returned": max(returned, default=0),
        },
    )


def _as_retriever(
    retriever: BaseRetriever | VectorStore, k: int, mode: str | None, name: str | None
) -> tuple[BaseRetriever, str]:
    """The retriever to query (a store's, asking ``k`` documents) and its label."""
    if isinstance(retriever, VectorStore):
        kwargs: dict[str, Any] = {"search_kwargs": {"k": k}}
        if mode is not None:
            kwargs["retrieval_mode"] = mode
        return retriever.as_retriever(**kwargs), name or type(retriever).__name__
    if not isinstance(retriever, BaseRetriever):
        msg = (
            f"evaluate() takes a LangChain BaseRetriever or VectorStore; got "
            f"{type(retriever).__name__}. Wrap other search functions in a BaseRetriever."
        )
        raise TypeError(msg)
    return retriever, name or type(retriever).__name__


def _query_all(
    retriever: BaseRetriever,
    dataset: RetrievalDataset,
    label: str,
    id_key: str | None,
    show_progress_bar: bool,
) -> tuple[dict[str, QueryRun], list[float], list[int]]:
    """Send every query; the run, each query's latency (ms) and its number of documents."""
    from tqdm.auto import tqdm

    by_text = {text.strip(): doc_id for doc_id, text in dataset.corpus.items()}
    run: dict[str, QueryRun] = {}
    latencies: list[float] = []
    returned: list[int] = []
    for query_id, query in tqdm(
        dataset.queries.items(), desc=f"Querying {label}", disable=not show_progress_bar
    ):
        start = time.perf_counter()
        docs = retriever.invoke(query)
        latencies.append((time.perf_counter() - start) * 1000)
        returned.append(len(docs))
        run[query_id] = [_doc_id(doc, by_text, id_key) for doc in docs]
    return run, latencies, returned


def _check_modes(modes: Sequence[str]) -> list[str]:
    chosen = list(dict.fromkeys(modes))
    for mode in chosen:
        if mode not in MODES:
            msg = f"Unknown mode {mode!r}; supported: {', '.join(MODES)}."
            raise ValueError(msg)
    if not chosen:
        msg = f"No mode given; choose from {', '.join(MODES)}."
        raise ValueError(msg)
    return chosen


def _default_sparse() -> SparseEmbeddings:
    from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings

    return BM25SparseEmbeddings()


def _prepare_sparse(
    sparse: SparseEmbeddings | None, texts: list[str], show_progress_bar: bool
) -> tuple[SparseEmbeddings, list[SparseVector], dict[str, Any]]:
    from tqdm.auto import tqdm

    info: dict[str, Any] = {}
    if sparse is None:
        sparse = _default_sparse()
    start = time.perf_counter()
    if isinstance(sparse, FittableSparseEmbeddings) and not sparse.is_fitted:
        # An unfitted encoder learns its statistics from the corpus being searched.
        sparse.fit(texts)
        info["fitted_on_corpus"] = True
    with tqdm(
        total=len(texts), desc="Sparse-encoding corpus", unit="doc", disable=not show_progress_bar
    ) as bar:
        # One call: encoders may reuse what fit() just computed for the same texts.
        try:
            vectors = sparse.embed_documents(texts)
        except NotFittedError:
            if not isinstance(sparse, FittableSparseEmbeddings):
                raise
            sparse.fit(texts)
            info["fitted_on_corpus"] = True
            vectors = sparse.embed_documents(texts)
        bar.update(len(texts))
    info["encode_seconds"] = round(time.perf_counter() - start, 3)
    return sparse, vectors, info


def _rerank(
    reranker: BaseDocumentCompressor,
    fused: dict[str, Ranking],
    dataset: RetrievalDataset,
    depth: int,
    show_progress_bar: bool,
) -> dict[str, QueryRun]:
    from tqdm.auto import tqdm

    if getattr(reranker, "top_n", None) is not None and hasattr(reranker, "model_copy"):
        # Keep every candidate: the ranking below the reranked head still counts at k.
        reranker = reranker.model_copy(update={"top_n": depth})
    run: dict[str, QueryRun] = {}
    for query_id, ranking in tqdm(fused.items(), desc="Reranking", disable=not show_progress_bar):
        head = [doc_id for doc_id, _ in ranking[:depth]]
        docs = [
            Document(page_content=dataset.corpus[d], id=d, metadata={"doc_id": d}) for d in head
        ]
        reranked = reranker.compress_documents(docs, dataset.queries[query_id])
        order = [str(doc.metadata.get("doc_id", doc.id)) for doc in reranked]
        seen = set(order)
        order += [doc_id for doc_id, _ in ranking if doc_id not in seen]
        run[query_id] = order
    return run


def compare(
    embeddings: Mapping[str, Embeddings],
    dataset: RetrievalDataset,
    *,
    modes: Sequence[str] = ("dense", "sparse", "hybrid"),
    k: int = 10,
    k_values: Sequence[int] | None = None,
    sparse: SparseEmbeddings | None = None,
    reranker: BaseDocumentCompressor | None = None,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    fetch_k: int = 100,
    rrf_k: int = 60,
    rerank_depth: int = 100,
    similarity: Similarity = "cosine",
    show_progress_bar: bool = True,
) -> ComparisonResult:
    """Evaluate several embeddings in several modes on one data set, in one run.

    Args:
        embeddings: Display name -> LangChain ``Embeddings``. May be empty when only
            ``"sparse"`` is asked for.
        dataset: The data set (see :mod:`~langchain_embedkit.evaluation.datasets`).
        modes: Any of ``"dense"``, ``"sparse"``, ``"hybrid"``, ``"hybrid+rerank"``.
            Sparse does not depend on the dense model, so it is one row.
        k: Main cut-off (``nDCG@k`` ...).
        k_values: Extra cut-offs.
        sparse: Sparse encoder; default ``BM25SparseEmbeddings()``. An unfitted encoder
            is fitted on the corpus.
        reranker: A ``BaseDocumentCompressor`` (e.g. ``CrossEncoderReranker``), required
            for ``"hybrid+rerank"``.
        cache_dir: Where corpus and query embeddings are cached (npy + JSON), keyed by
            model identity and content hash; default :func:`~.cache.default_cache_dir`.
        use_cache: ``False`` encodes without reading or writing the cache.
        fetch_k: Documents each leg hands to fusion. 100 is the depth BEIR reranks and
            reports recall at; it was not tuned on any evaluation set.
        rrf_k: RRF constant (60, from Cormack et al. 2009).
        rerank_depth: Fused documents the reranker sees (BEIR's reranking depth, 100).
        similarity: ``"cosine"`` (normalized dot product) or ``"dot"``.
        show_progress_bar: Progress bars while encoding, searching and reranking.

    Returns:
        A :class:`ComparisonResult`; ``print(result.table())`` shows it.

    Example:
        With the packaged model and the shipped SciFact::

            from langchain_embedkit.embeddings import DefaultEmbeddings
            ds = load_beir("benchmarks/data/scifact")
            result = compare({"minilm": DefaultEmbeddings()}, ds)
            round(result.best().metrics["nDCG@10"], 2)  # 0.7
    """
    chosen = _check_modes(modes)
    _check_compare_arguments(chosen, embeddings, reranker, k, fetch_k, rerank_depth)
    ks = sorted({k, *(k_values or ())})
    job = _Comparison(
        dataset=dataset,
        chosen=chosen,
        k=k,
        ks=ks,
        depth=max(fetch_k, max(ks), rerank_depth if "hybrid+rerank" in chosen else 0),
        fetch_k=fetch_k,
        rrf_k=rrf_k,
        rerank_depth=rerank_depth,
        similarity=similarity,
        reranker=reranker,
        cache=EmbeddingCache(cache_dir) if use_cache else None,
        show_progress_bar=show_progress_bar,
    )
    sparse_rankings: list[Ranking] | None = None
    sparse_name = "bm25"
    if any(m in ("sparse", "hybrid", "hybrid+rerank") for m in chosen):
        sparse_name, sparse_rankings = _sparse_leg(job, sparse)
    if any(m != "sparse" for m in chosen):
        for name, model in embeddings.items():
            dense_rankings, dense_ms, info = _dense_leg(job, name, model)
            if sparse_rankings is not None and any(m.startswith("hybrid") for m in chosen):
                _hybrid_legs(
                    job,
                    name,
                    dense_rankings,
                    sparse_rankings,
                    dense_ms,
                    {**info, "sparse": sparse_name, "fetch_k": fetch_k, "rrf_k": rrf_k},
                )
    order = {mode: i for i, mode in enumerate(MODES)}
    job.results.sort(key=lambda r: order.get(r.mode, len(order)))
    return ComparisonResult(
        dataset=dataset.name,
        num_queries=len(job.query_ids),
        num_documents=len(job.doc_ids),
        k=k,
        results=job.results,
        settings={
            "modes": chosen,
            "k_values": ks,
            "fetch_k": fetch_k,
            "rrf_k": rrf_k,
            "similarity": similarity,
            "sparse": sparse_name if sparse_rankings is not None else None,
            "reranker": type(reranker).__name__ if reranker is not None else None,
            "rerank_depth": rerank_depth if "hybrid+rerank" in chosen else None,
        },
    )


def _check_compare_arguments(
    chosen: list[str],
    embeddings: Mapping[str, Embeddings],
    reranker: BaseDocumentCompressor | None,
    k: int,
    fetch_k: int,
    rerank_depth: int,
) -> None:
    if k < 1 or fetch_k < 1 or rerank_depth < 1:
        msg = f"k, fetch_k and rerank_depth must be >= 1; got {k}, {fetch_k}, {rerank_depth}."
        raise ValueError(msg)
    if any(m != "sparse" for m in chosen) and not embeddings:
        msg = (
            f"Modes {chosen} need at least one dense embeddings model; "
            "pass embeddings={name: model}."
        )
        raise ValueError(msg)
    if "hybrid+rerank" in chosen and reranker is None:
        msg = "Mode 'hybrid+rerank' needs a reranker, e.g. reranker=CrossEncoderReranker(...)."
        raise ValueError(msg)


@dataclass
class _Comparison:
    """What every leg of one ``compare`` run shares: data, settings and the results so far."""

    dataset: RetrievalDataset
    chosen: list[str]
    k: int
    ks: list[int]
    depth: int
    """Documents each leg ranks: enough for fusion, every cut-off and the reranker."""
    fetch_k: int
    rrf_k: int
    rerank_depth: int
    similarity: Similarity
    reranker: BaseDocumentCompressor | None
    cache: EmbeddingCache | None
    show_progress_bar: bool
    results: list[EvaluationResult] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.doc_ids = list(self.dataset.corpus)
        self.doc_texts = [self.dataset.corpus[d] for d in self.doc_ids]
        self.query_ids = list(self.dataset.queries)
        self.query_texts = [self.dataset.queries[q] for q in self.query_ids]

    def per_query_ms(self, seconds: float) -> float:
        return seconds * 1000 / max(1, len(self.query_ids))

    def score(self, name: str, mode: str, run: Mapping[str, QueryRun], **info: Any) -> None:
        means, per_query = evaluate_run(self.dataset.qrels, run, self.ks, METRICS)
        latency = info.pop("latency_ms", None)
        self.results.append(
            EvaluationResult(
                name, mode, self.k, means, len(self.query_ids), per_query, dict(run), latency, info
            )
        )


def _sparse_leg(job: _Comparison, sparse: SparseEmbeddings | None) -> tuple[str, list[Ranking]]:
    """Encode and search the corpus sparsely; score the ``sparse`` row when it is asked for."""
    encoder, vectors, sparse_info = _prepare_sparse(sparse, job.doc_texts, job.show_progress_bar)
    sparse_name = _sparse_label(encoder)
    index = SparseIndex(job.doc_ids, vectors)
    start = time.perf_counter()
    query_vectors = [encoder.embed_query(q) for q in job.query_texts]
    encoded = time.perf_counter()
    rankings = index.search(query_vectors, job.depth)
    searched = time.perf_counter()
    if "sparse" in job.chosen:
        job.score(
            sparse_name,
            "sparse",
            {q: dict(r) for q, r in zip(job.query_ids, rankings, strict=True)},
            latency_ms=job.per_query_ms(searched - encoded),
            query_encode_ms=round(job.per_query_ms(encoded - start), 4),
            **sparse_info,
        )
    return sparse_name, rankings


def _encode(
    job: _Comparison, name: str, model: Embeddings
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Corpus and query matrices (through the cache when there is one) and what it cost."""
    start = time.perf_counter()
    if job.cache is not None:
        doc_matrix = job.cache.encode(
            model,
            job.doc_texts,
            show_progress_bar=job.show_progress_bar,
            desc=f"Encoding corpus ({name})",
        )
        docs_cached = job.cache.last_hit
        query_matrix = job.cache.encode(
            model,
            job.query_texts,
            role="queries",
            show_progress_bar=job.show_progress_bar,
            desc=f"Encoding queries ({name})",
        )
        queries_cached = job.cache.last_hit
    else:
        doc_matrix = encode_texts(model, job.doc_texts, show_progress_bar=job.show_progress_bar)
        query_matrix = encode_texts(
            model, job.query_texts, role="queries", show_progress_bar=job.show_progress_bar
        )
        docs_cached = queries_cached = False
    info = {
        "encode_seconds": round(time.perf_counter() - start, 3),
        "corpus_from_cache": docs_cached,
        "queries_from_cache": queries_cached,
        "dim": int(doc_matrix.shape[1]) if doc_matrix.size else 0,
    }
    return doc_matrix, query_matrix, info


def _dense_leg(
    job: _Comparison, name: str, model: Embeddings
) -> tuple[list[Ranking], float, dict[str, Any]]:
    """Search one model's embeddings exactly; score its ``dense`` row when it is asked for.

    Returns the rankings, the search time per query (ms) and the encoding facts.
    """
    doc_matrix, query_matrix, info = _encode(job, name, model)
    start = time.perf_counter()
    rankings = DenseIndex(job.doc_ids, doc_matrix, similarity=job.similarity).search(
        query_matrix, job.depth
    )
    dense_ms = job.per_query_ms(time.perf_counter() - start)
    if "dense" in job.chosen:
        run = {q: dict(r) for q, r in zip(job.query_ids, rankings, strict=True)}
        job.score(name, "dense", run, latency_ms=dense_ms, **info)
    return rankings, dense_ms, info


def _hybrid_legs(
    job: _Comparison,
    name: str,
    dense_rankings: list[Ranking],
    sparse_rankings: list[Ranking],
    dense_ms: float,
    info: dict[str, Any],
) -> None:
    """Fuse the two legs' top ``fetch_k`` with RRF and score ``hybrid`` / ``hybrid+rerank``."""
    start = time.perf_counter()
    fused = {
        q: _fuse(d[: job.fetch_k], s[: job.fetch_k], job.rrf_k)
        for q, d, s in zip(job.query_ids, dense_rankings, sparse_rankings, strict=True)
    }
    fuse_ms = job.per_query_ms(time.perf_counter() - start)
    if "hybrid" in job.chosen:
        job.score(
            name,
            "hybrid",
            {q: dict(r) for q, r in fused.items()},
            latency_ms=dense_ms + fuse_ms,
            **info,
        )
    if "hybrid+rerank" in job.chosen and job.reranker is not None:
        start = time.perf_counter()
        reranked = _rerank(
            job.reranker, fused, job.dataset, job.rerank_depth, job.show_progress_bar
        )
        rerank_ms = job.per_query_ms(time.perf_counter() - start)
        job.score(
            name,
            "hybrid+rerank",
            reranked,
            latency_ms=dense_ms + fuse_ms + rerank_ms,
            reranker=type(job.reranker).__name__,
            rerank_depth=job.rerank_depth,
            **info,
        )


def _sparse_label(encoder: SparseEmbeddings) -> str:
    name = type(encoder).__name__
    if name.startswith("BM25"):
        return "bm25"
    return name.removesuffix("SparseEmbeddings").lower() or name
