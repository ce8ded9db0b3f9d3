"""Scored results for each retrieval mode, and hybrid search over any backend.

An engine with the optional :class:`~.backends.base.NativeHybrid` capability (Milvus 2.4
and later) fuses RRF itself; every other case (Chroma, weighted fusion, RRF with weights,
a query with no known sparse token) runs both legs and fuses them client-side with
:mod:`langchain_embedkit.fusion`, so the numbers are the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_embedkit.fusion import Normalization
from langchain_embedkit.types import SparseVector
from langchain_embedkit.vectorstores import scoring
from langchain_embedkit.vectorstores.backends.base import Backend, Hit, Record, native_hybrid

__all__ = ["FusionSettings", "Scored", "dense_scored", "hybrid_search", "sparse_scored"]

Scored = tuple[Record, float, float]
"""A result: the record, its raw score and its relevance score in [0, 1]."""


@dataclass(frozen=True)
class FusionSettings:
    """How the two legs of a hybrid search are fused and scored."""

    metric: scoring.Metric
    method: scoring.Fusion
    rrf_k: int
    weights: Sequence[float] | None
    normalization: Normalization
    sparse_score_scale: float


def dense_scored(hits: list[Hit], metric: scoring.Metric) -> list[Scored]:
    """Dense hits with their relevance scores."""
    return [(h.record, h.score, scoring.dense_relevance(h.score, metric)) for h in hits]


def sparse_scored(hits: list[Hit], scale: float) -> list[Scored]:
    """Sparse hits with their relevance scores."""
    return [(h.record, h.score, scoring.sparse_relevance(h.score, scale)) for h in hits]


def _rank_key(item: tuple[str, float]) -> tuple[float, str]:
    return (-float(f"{item[1]:.6g}"), item[0])


def hybrid_search(
    backend: Backend,
    dense_q: Sequence[float],
    sparse_q: SparseVector,
    *,
    k: int,
    fetch_k: int,
    filter: Mapping[str, Any] | None,
    settings: FusionSettings,
) -> list[Scored]:
    """The ``k`` best documents by fusing ``fetch_k`` candidates from each leg."""
    best = scoring.rrf_best(settings.rrf_k, settings.weights or [1.0, 1.0])
    engine = native_hybrid(backend)
    fused_by_engine = settings.method == "rrf" and settings.weights is None and len(sparse_q) > 0
    if engine is not None and fused_by_engine:
        hits = engine.hybrid_search(dense_q, sparse_q, k, fetch_k, filter, settings.rrf_k)
        return [(h.record, h.score, min(1.0, h.score / best)) for h in hits]
    # both legs return ids and scores only; text and metadata are fetched for the k winners
    dense = dense_scored(
        backend.dense_search(dense_q, fetch_k, filter, ids_only=True), settings.metric
    )
    sparse = sparse_scored(
        backend.sparse_search(sparse_q, fetch_k, filter, ids_only=True),
        settings.sparse_score_scale,
    )
    if settings.method == "rrf":
        dense_leg = [(r.id, scoring.higher_is_better(s, settings.metric)) for r, s, _ in dense]
        sparse_leg = [(r.id, s) for r, s, _ in sparse]
    else:
        dense_leg = [(r.id, rel) for r, _, rel in dense]
        sparse_leg = [(r.id, rel) for r, _, rel in sparse]
    # engines return equal scores in storage order, which changes with upserts; ranks
    # (and so RRF) must not: equal scores go by id. "Equal" allows for the last bits an
    # engine's arithmetic varies with how rows are batched (1e-6 of the score)
    dense_leg.sort(key=_rank_key)
    sparse_leg.sort(key=_rank_key)
    fused = scoring.fuse(
        dense_leg,
        sparse_leg,
        method=settings.method,
        rrf_k=settings.rrf_k,
        weights=settings.weights,
        normalization=settings.normalization,
    )[:k]
    # a winner deleted between the search and this fetch is left out
    records = {r.id: r for r in backend.get([d for d, _ in fused])}
    if settings.method == "rrf":
        return [(records[d], s, min(1.0, s / best)) for d, s in fused if d in records]
    return [(records[d], s, min(1.0, max(0.0, s))) for d, s in fused if d in records]
