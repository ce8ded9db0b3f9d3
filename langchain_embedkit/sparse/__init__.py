"""Sparse encoders: BM25 (``"en"``, ``"zh"``, ``"auto"`` analyzers) and SPLADE.

Names are imported on first use, so ``import langchain_embedkit`` stays light.

Example:
    >>> from langchain_embedkit.sparse import BM25SparseEmbeddings, sparse_top_k, to_csr
    >>> docs = ["RAG是一种检索增强生成技术", "向量数据库存储文档的嵌入表示"]
    >>> bm25 = BM25SparseEmbeddings().fit(docs)
    >>> hits = sparse_top_k([bm25.embed_query("RAG是什么?")], to_csr(bm25.embed_documents(docs)))
    >>> [(row, round(score, 3)) for row, score in hits[0]]
    [(0, 0.773)]
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from langchain_embedkit.sparse.base import (
    FittableSparseEmbeddings,
    SparseEmbeddings,
    SparseStatistics,
)

if TYPE_CHECKING:
    from langchain_embedkit.sparse.analyzers import (
        Analyzer,
        AutoAnalyzer,
        ChineseAnalyzer,
        EnglishAnalyzer,
        get_analyzer,
        register_analyzer,
        registered_analyzers,
        unregister_analyzer,
    )
    from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings
    from langchain_embedkit.sparse.search import sparse_top_k, to_csr
    from langchain_embedkit.sparse.splade import SpladeSparseEmbeddings

__all__ = [
    "Analyzer",
    "AutoAnalyzer",
    "BM25SparseEmbeddings",
    "ChineseAnalyzer",
    "EnglishAnalyzer",
    "FittableSparseEmbeddings",
    "SparseEmbeddings",
    "SparseStatistics",
    "SpladeSparseEmbeddings",
    "get_analyzer",
    "register_analyzer",
    "registered_analyzers",
    "sparse_top_k",
    "to_csr",
    "unregister_analyzer",
]

_LAZY = {
    "Analyzer": "analyzers",
    "AutoAnalyzer": "analyzers",
    "ChineseAnalyzer": "analyzers",
    "EnglishAnalyzer": "analyzers",
    "get_analyzer": "analyzers",
    "register_analyzer": "analyzers",
    "registered_analyzers": "analyzers",
    "unregister_analyzer": "analyzers",
    "BM25SparseEmbeddings": "bm25",
    "sparse_top_k": "search",
    "to_csr": "search",
    "SpladeSparseEmbeddings": "splade",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'langchain_embedkit.sparse' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(f"langchain_embedkit.sparse.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
