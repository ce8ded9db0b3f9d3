"""Score maths as pure functions: raw scores, relevance scores in [0, 1], fusion inputs, MMR.

Raw scores (what ``similarity_search_with_score`` returns) are the same on every engine:

=========  ==========================================  =================================
metric     raw score                                   relevance score in [0, 1]
=========  ==========================================  =================================
cosine     cosine similarity in [-1, 1], higher better  ``(1 + s) / 2``
ip         inner product, higher better                 ``clip((1 + s) / 2, 0, 1)``
l2         squared Euclidean distance, lower better     ``clip(1 - d / 4, 0, 1)``
sparse     dot product (the BM25 score), higher better  ``s / (s + sparse_score_scale)``
hybrid     fused score (RRF or weighted)                RRF: divided by its best possible
                                                        value; weighted: the fused score
=========  ==========================================  =================================

For unit-length embeddings the three dense relevance scores are equal, since
``|a - b|^2 = 2 - 2 cos(a, b)``. None of them depends on the query, so one
``score_threshold`` means the same thing for every query.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from langchain_embedkit.fusion import Normalization, rrf, weighted

__all__ = [
    "Metric",
    "dense_relevance",
    "fuse",
    "higher_is_better",
    "mmr_select",
    "sparse_relevance",
]

Metric = Literal["cosine", "l2", "ip"]
METRICS: tuple[str, ...] = ("cosine", "l2", "ip")
Fusion = Literal["rrf", "weighted"]


def check_metric(metric: str) -> Metric:
    """Return ``metric`` or raise naming the valid ones."""
    if metric not in METRICS:
        msg = f"Unknown metric {metric!r}; supported: 'cosine', 'l2', 'ip'."
        raise ValueError(msg)
    return metric  # type: ignore[return-value]


def dense_relevance(score: float, metric: Metric) -> float:
    """Map a raw dense score to [0, 1], higher better, independent of the query.

    Example:
        >>> dense_relevance(1.0, "cosine"), dense_relevance(0.0, "l2"), dense_relevance(4.0, "l2")
        (1.0, 1.0, 0.0)
    """
    value = 1.0 - score / 4.0 if metric == "l2" else (1.0 + score) / 2.0
    return float(min(1.0, max(0.0, value)))


def sparse_relevance(score: float, scale: float) -> float:
    """Map a sparse dot product (>= 0) to [0, 1): ``s / (s + scale)``; half at ``s == scale``.

    Example:
        >>> sparse_relevance(10.0, 10.0)
        0.5
    """
    score = max(0.0, float(score))
    return score / (score + scale)


def higher_is_better(score: float, metric: Metric) -> float:
    """A dense raw score turned so that larger is better (``-d`` for l2)."""
    return -score if metric == "l2" else score


def rrf_best(k: int, weights: Sequence[float]) -> float:
    """The largest fused RRF score possible: first in every leg."""
    return float(sum(weights)) / (k + 1)


def fuse(
    dense: Sequence[tuple[str, float]],
    sparse: Sequence[tuple[str, float]],
    *,
    method: Fusion,
    rrf_k: int,
    weights: Sequence[float] | None,
    normalization: Normalization,
) -> list[tuple[str, float]]:
    """Fuse a dense and a sparse ranking, best first, with :mod:`langchain_embedkit.fusion`.

    For ``"weighted"`` the legs must already carry relevance scores in [0, 1]; the
    weights are rescaled to sum to 1 so the fused score stays in [0, 1].
    """
    if method == "rrf":
        return rrf([dense, sparse], k=rrf_k, weights=weights)
    if method == "weighted":
        ws = [0.5, 0.5] if weights is None else [float(w) for w in weights]
        total = sum(ws)
        if total <= 0:
            msg = f"Fusion weights must not all be 0; got {list(ws)}."
            raise ValueError(msg)
        return weighted(
            [dense, sparse], weights=[w / total for w in ws], normalization=normalization
        )
    msg = f"Unknown fusion {method!r}; supported: 'rrf', 'weighted'."
    raise ValueError(msg)


def mmr_select(
    query_embedding: Sequence[float],
    candidates: Sequence[Sequence[float]],
    *,
    k: int,
    lambda_mult: float,
) -> list[int]:
    """Indices of ``candidates`` chosen by maximal marginal relevance (LangChain's own)."""
    from langchain_core.vectorstores.utils import maximal_marginal_relevance

    if not candidates:
        return []
    return maximal_marginal_relevance(
        np.asarray(query_embedding, dtype=np.float32),
        [list(c) for c in candidates],
        lambda_mult=lambda_mult,
        k=min(k, len(candidates)),
    )
