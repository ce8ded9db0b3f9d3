"""One vector store over Milvus and Chroma: dense, sparse and hybrid search.

The names load on first use (PEP 562): the store class brings LangChain's ``VectorStore``
and its tracers, which the command line's read path does without.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_embedkit.vectorstores.options import ChromaOptions, MilvusOptions
    from langchain_embedkit.vectorstores.store import EmbedKitVectorStore

__all__ = ["ChromaOptions", "EmbedKitVectorStore", "MilvusOptions"]

_LAZY = {
    "ChromaOptions": "langchain_embedkit.vectorstores.options",
    "EmbedKitVectorStore": "langchain_embedkit.vectorstores.store",
    "MilvusOptions": "langchain_embedkit.vectorstores.options",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
