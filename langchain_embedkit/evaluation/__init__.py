"""Retrieval evaluation: choose an embedding model and a retrieval mode on your own data.

* :mod:`.datasets`: BEIR folders and CSV/JSONL question files.
* :mod:`.metrics`: nDCG, Recall, MRR, MAP, hit rate and precision at k, with the
  trec_eval / BEIR definitions.
* :mod:`.runner`: :func:`evaluate` any retriever, :func:`compare` embeddings x modes.
* :mod:`.search`: the exact dense and sparse search that ``compare`` runs.
* :mod:`.results`: what they return, :class:`EvaluationResult` and :class:`ComparisonResult`.
* :mod:`.cache`: corpus embeddings cached on disk (npy + JSON).
* :mod:`.report`: terminal table, JSON, Markdown and a PNG chart.

Example:
    >>> from langchain_embedkit.evaluation import compare, load_dataset
    >>> from langchain_embedkit.embeddings import DefaultEmbeddings  # doctest: +SKIP
    >>> result = compare({"minilm": DefaultEmbeddings()}, load_dataset("scifact"))  # doctest: +SKIP
    >>> print(result.table())  # doctest: +SKIP
"""

from __future__ import annotations

from langchain_embedkit.evaluation.cache import EmbeddingCache, content_hash, model_identity
from langchain_embedkit.evaluation.datasets import (
    RetrievalDataset,
    load_beir,
    load_dataset,
    load_qa,
)
from langchain_embedkit.evaluation.metrics import (
    METRICS,
    average_precision_at_k,
    evaluate_run,
    hit_rate_at_k,
    metric_key,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    reciprocal_rank_at_k,
)
from langchain_embedkit.evaluation.results import ComparisonResult, EvaluationResult
from langchain_embedkit.evaluation.runner import MODES, compare, evaluate
from langchain_embedkit.evaluation.search import DenseIndex, SparseIndex

__all__ = [
    "METRICS",
    "MODES",
    "ComparisonResult",
    "DenseIndex",
    "EmbeddingCache",
    "EvaluationResult",
    "RetrievalDataset",
    "SparseIndex",
    "average_precision_at_k",
    "compare",
    "content_hash",
    "evaluate",
    "evaluate_run",
    "hit_rate_at_k",
    "load_beir",
    "load_dataset",
    "load_qa",
    "metric_key",
    "model_identity",
    "ndcg_at_k",
    "precision_at_k",
    "recall_at_k",
    "reciprocal_rank_at_k",
]
