"""Ranking metrics with the trec_eval definitions that BEIR and MTEB report.

Every figure here equals what ``pytrec_eval`` (trec_eval 9.0) gives for the same
qrels and run, so numbers can be compared with published BEIR/MTEB tables:

* **nDCG@k** (``ndcg_cut``): gain is the graded relevance from the qrels (linear, not
  ``2**rel - 1``), discount ``1 / log2(rank + 1)``, ideal DCG from the qrels sorted by
  grade and cut at ``k``. Grades <= 0 give no gain.
* **Recall@k** (``recall``): relevant documents in the top ``k`` / all relevant documents.
* **MAP@k** (``map_cut``): the sum of precision at each relevant rank <= ``k``, divided
  by the number of relevant documents of the query. trec_eval (so BEIR) divides by *all*
  relevant documents, not ``min(#relevant, k)``: a query with 12 relevant documents
  cannot reach MAP@10 = 1.
* **MRR@k**: ``1 / rank`` of the first relevant document in the top ``k``, else 0
  (BEIR's ``MRR@k``; trec_eval's ``recip_rank`` cut at ``k``).
* **HitRate@k** (``success``): 1 if any relevant document is in the top ``k``.
* **P@k** (``P``): relevant documents in the top ``k`` / ``k``.

A document is *relevant* when its grade is >= 1 (trec_eval's default
``relevance_level``).

Ranking of a scored run: by score, highest first; equal scores are ordered by document
id in *descending* string order, as trec_eval does (``comp_sim_docno``). A run given as a
list of ids is taken in that order (duplicates after the first are dropped).

Queries: every query of the qrels is evaluated, and the mean is over them. A query whose
judgements are all grade 0 (no relevant document) scores 0 on every metric and still
counts in the mean, as in BEIR (pytrec_eval returns 0 for it). A query of the qrels that
is missing from the run counts as an empty result (0). Queries of the run that have no
qrels are ignored, as pytrec_eval ignores them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal, get_args

__all__ = [
    "METRICS",
    "MetricName",
    "Qrels",
    "Run",
    "average_precision_at_k",
    "evaluate_run",
    "hit_rate_at_k",
    "metric_key",
    "ndcg_at_k",
    "precision_at_k",
    "rank",
    "recall_at_k",
    "reciprocal_rank_at_k",
]

Qrels = Mapping[str, Mapping[str, int]]
"""``{query_id: {doc_id: grade}}``; grade >= 1 is relevant, 0 judged non-relevant."""

QueryRun = Mapping[str, float] | Sequence[str]
Run = Mapping[str, QueryRun]
"""``{query_id: {doc_id: score}}`` (ranked by score) or ``{query_id: [doc_id, ...]}``."""

MetricName = Literal["ndcg", "recall", "mrr", "map", "hit_rate", "precision"]
METRICS: tuple[MetricName, ...] = get_args(MetricName)
"""Every metric :func:`evaluate_run` can compute, in report order."""

_LABELS = {
    "ndcg": "nDCG",
    "recall": "Recall",
    "mrr": "MRR",
    "map": "MAP",
    "hit_rate": "HitRate",
    "precision": "P",
}


def metric_key(metric: str, k: int) -> str:
    """The key a metric has in results and reports, e.g. ``metric_key("ndcg", 10)``.

    Example:
        >>> metric_key("ndcg", 10)
        'nDCG@10'
    """
    if metric not in _LABELS:
        msg = f"Unknown metric {metric!r}; supported: {', '.join(METRICS)}."
        raise ValueError(msg)
    return f"{_LABELS[metric]}@{k}"


def rank(run: QueryRun) -> list[str]:
    """Document ids of one query's run, best first, in trec_eval's order.

    A mapping is sorted by score descending, ties by document id descending; a sequence
    keeps its order with repeated ids dropped.

    Example:
        >>> rank({"a": 1.0, "b": 1.0, "c": 2.0})
        ['c', 'b', 'a']
        >>> rank(["x", "y", "x"])
        ['x', 'y']
    """
    if isinstance(run, Mapping):
        # Two stable sorts: by id descending, then by score descending.
        by_id = sorted(run.items(), key=lambda item: item[0], reverse=True)
        return [doc for doc, _ in sorted(by_id, key=lambda item: float(item[1]), reverse=True)]
    if isinstance(run, str):
        msg = (
            f"A query's run must be a mapping of doc id to score or a list of doc ids; "
            f"got the string {run!r}."
        )
        raise TypeError(msg)
    seen: set[str] = set()
    ordered: list[str] = []
    for doc in run:
        if doc not in seen:
            seen.add(doc)
            ordered.append(doc)
    return ordered


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        msg = f"k must be a positive integer; got {k!r}."
        raise ValueError(msg)


def _num_relevant(qrels: Mapping[str, int]) -> int:
    return sum(1 for grade in qrels.values() if grade >= 1)


def ndcg_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """nDCG@k of one ranked list (trec_eval ``ndcg_cut``).

    Example:
        >>> round(ndcg_at_k(["b", "a"], {"a": 2, "b": 1}, 2), 4)
        0.8597
    """
    _check_k(k)
    dcg = 0.0
    for position, doc in enumerate(ranked[:k], start=1):
        gain = qrels.get(doc, 0)
        if gain > 0:
            dcg += gain / math.log2(position + 1)
    ideal = sorted((g for g in qrels.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(position + 1) for position, g in enumerate(ideal, start=1))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """Recall@k: relevant documents in the top ``k`` / all relevant documents."""
    _check_k(k)
    num_rel = _num_relevant(qrels)
    if num_rel == 0:
        return 0.0
    return sum(1 for doc in ranked[:k] if qrels.get(doc, 0) >= 1) / num_rel


def precision_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """P@k: relevant documents in the top ``k`` / ``k`` (missing ranks count as misses)."""
    _check_k(k)
    return sum(1 for doc in ranked[:k] if qrels.get(doc, 0) >= 1) / k


def average_precision_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """AP@k (trec_eval ``map_cut``): divided by *all* relevant documents of the query."""
    _check_k(k)
    num_rel = _num_relevant(qrels)
    if num_rel == 0:
        return 0.0
    hits = 0
    total = 0.0
    for position, doc in enumerate(ranked[:k], start=1):
        if qrels.get(doc, 0) >= 1:
            hits += 1
            total += hits / position
    return total / num_rel


def reciprocal_rank_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """RR@k: ``1 / rank`` of the first relevant document within the top ``k``, else 0."""
    _check_k(k)
    for position, doc in enumerate(ranked[:k], start=1):
        if qrels.get(doc, 0) >= 1:
            return 1.0 / position
    return 0.0


def hit_rate_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """1.0 if a relevant document is in the top ``k`` (trec_eval ``success``), else 0.0."""
    _check_k(k)
    return 1.0 if any(qrels.get(doc, 0) >= 1 for doc in ranked[:k]) else 0.0


_FUNCTIONS = {
    "ndcg": ndcg_at_k,
    "recall": recall_at_k,
    "mrr": reciprocal_rank_at_k,
    "map": average_precision_at_k,
    "hit_rate": hit_rate_at_k,
    "precision": precision_at_k,
}


def evaluate_run(
    qrels: Qrels,
    run: Run,
    k_values: Iterable[int] = (10,),
    metrics: Iterable[str] = METRICS,
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Score a run against qrels: the means and the per-query values.

    Args:
        qrels: ``{query_id: {doc_id: grade}}``. Every query here is evaluated.
        run: ``{query_id: {doc_id: score}}`` or ``{query_id: [doc_id, ...]}``.
        k_values: Cut-offs, e.g. ``(1, 10, 100)``.
        metrics: Names from :data:`METRICS`.

    Returns:
        ``(means, per_query)``: ``means`` maps keys such as ``"nDCG@10"`` to the mean
        over the qrels' queries; ``per_query`` maps each query id to its own values.

    Example:
        >>> means, _ = evaluate_run({"q": {"d1": 1}}, {"q": ["d2", "d1"]}, k_values=[1, 2])
        >>> means["MRR@2"], means["HitRate@1"]
        (0.5, 0.0)
    """
    ks = sorted(set(k_values))
    if not ks:
        msg = "k_values is empty; pass at least one cut-off, e.g. k_values=[10]."
        raise ValueError(msg)
    for k in ks:
        _check_k(k)
    names = list(metrics)
    for name in names:
        if name not in _FUNCTIONS:
            msg = f"Unknown metric {name!r}; supported: {', '.join(METRICS)}."
            raise ValueError(msg)
    if not qrels:
        msg = "The qrels are empty: there is no judged query to evaluate."
        raise ValueError(msg)
    keys = [(name, k, metric_key(name, k)) for name in names for k in ks]
    per_query: dict[str, dict[str, float]] = {}
    for query_id, judged in qrels.items():
        ranked = rank(run.get(query_id, ()))
        per_query[query_id] = {key: _FUNCTIONS[name](ranked, judged, k) for name, k, key in keys}
    count = len(per_query)
    means = {key: sum(values[key] for values in per_query.values()) / count for *_, key in keys}
    return means, per_query
