"""Rank fusion as pure functions: reciprocal rank fusion and weighted score fusion.

Every store backend and :class:`~langchain_embedkit.HybridRetriever` calls these, so
hybrid results are fused the same way whatever engine holds the vectors.

A *ranking* is a sequence of ``(doc_id, score)`` pairs, best first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

__all__ = ["Normalization", "Ranking", "default_fetch_k", "rrf", "weighted"]

Ranking = Sequence[tuple[str, float]]
Normalization = Literal["minmax", "none"]


def _check_weights(rankings: Sequence[Ranking], weights: Sequence[float] | None) -> list[float]:
    if weights is None:
        return [1.0] * len(rankings)
    if len(weights) != len(rankings):
        msg = (
            f"Got {len(weights)} weights for {len(rankings)} rankings; pass one weight per "
            "ranking (or none for equal weights)."
        )
        raise ValueError(msg)
    if any(w < 0 for w in weights):
        msg = f"Fusion weights must be >= 0; got {list(weights)}."
        raise ValueError(msg)
    return [float(w) for w in weights]


def _sorted(scores: dict[str, float]) -> list[tuple[str, float]]:
    # Ties keep first-seen order (dicts keep insertion order and sort is stable).
    return sorted(scores.items(), key=lambda item: item[1], reverse=True)


def rrf(
    rankings: Sequence[Ranking],
    *,
    k: int = 60,
    weights: Sequence[float] | None = None,
    normalize: bool = False,
) -> list[tuple[str, float]]:
    """Reciprocal rank fusion: ``score(d) = sum_i w_i / (k + rank_i(d))``, ranks from 1.

    Only ranks matter, so legs with incomparable scores (cosine and BM25) fuse safely.
    This is the formula Milvus' ``RRFRanker`` uses.

    Args:
        rankings: One ranking per retriever, best first. Scores are ignored.
        k: Smoothing constant; 60 is the value from Cormack et al. (2009).
        weights: Optional weight per ranking.
        normalize: Divide by the best attainable score (``sum(w) / (k + 1)``) so a
            document ranked first everywhere scores 1.0 and every score is in [0, 1].

    Returns:
        ``(doc_id, fused_score)`` pairs, best first.

    Example:
        >>> rrf([[("a", 0.9), ("b", 0.8)], [("b", 12.0), ("c", 3.0)]], k=60)[0][0]
        'b'
    """
    if k < 0:
        msg = f"RRF k must be >= 0; got {k}."
        raise ValueError(msg)
    ws = _check_weights(rankings, weights)
    scores: dict[str, float] = {}
    for ranking, w in zip(rankings, ws, strict=True):
        seen: set[str] = set()
        for rank, (doc_id, _) in enumerate(ranking, start=1):
            if doc_id in seen:
                continue
            seen.add(doc_id)
            scores[doc_id] = scores.get(doc_id, 0.0) + w / (k + rank)
    if normalize and scores:
        best = sum(ws) / (k + 1)
        scores = {d: s / best for d, s in scores.items()}
    return _sorted(scores)


def _minmax(ranking: Ranking) -> dict[str, float]:
    if not ranking:
        return {}
    values = [s for _, s in ranking]
    low, high = min(values), max(values)
    if high == low:
        return {d: 1.0 for d, _ in ranking}
    return {d: (s - low) / (high - low) for d, s in ranking}


def weighted(
    rankings: Sequence[Ranking],
    *,
    weights: Sequence[float] | None = None,
    normalization: Normalization = "minmax",
) -> list[tuple[str, float]]:
    """Weighted sum of per-ranking scores: ``score(d) = sum_i w_i * norm_i(s_i(d))``.

    A document missing from a ranking contributes 0 from it.

    Args:
        rankings: One ranking per retriever; higher score is better.
        weights: Optional weight per ranking (equal by default).
        normalization: ``"minmax"`` rescales each ranking to [0, 1] over its own
            candidates, so BM25 and cosine scores become comparable; ``"none"`` adds
            the scores as given (use it when they are already relevance scores in [0, 1]).

    Returns:
        ``(doc_id, fused_score)`` pairs, best first. With ``"minmax"`` and weights
        summing to 1 the scores lie in [0, 1].

    Example:
        >>> weighted([[("a", 0.9), ("b", 0.5)], [("b", 7.0), ("a", 1.0)]], weights=[0.3, 0.7])
        [('b', 0.7), ('a', 0.3)]
    """
    if normalization not in ("minmax", "none"):
        msg = f"Unknown normalization {normalization!r}; supported: 'minmax', 'none'."
        raise ValueError(msg)
    ws = _check_weights(rankings, weights)
    scores: dict[str, float] = {}
    for ranking, w in zip(rankings, ws, strict=True):
        normed = _minmax(ranking) if normalization == "minmax" else dict(ranking)
        for doc_id, s in normed.items():
            scores[doc_id] = scores.get(doc_id, 0.0) + w * s
    return _sorted(scores)


def default_fetch_k(k: int) -> int:
    """Candidates asked of each leg (or of the search before a rerank or MMR) for ``k``
    results: ``max(4 * k, 20)``.

    >>> default_fetch_k(3), default_fetch_k(10)
    (20, 40)
    """
    return max(4 * k, 20)
