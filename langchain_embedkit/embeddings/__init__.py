"""Dense embeddings: local sentence-transformers models and OpenAI-compatible APIs.

Importing this package is light: each class is imported from its module on first use
(PEP 562), and torch, sentence-transformers, onnxruntime and openai when a model is
constructed or first called.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_embedkit.embeddings._sentence_transformers import ModelNotFoundError
    from langchain_embedkit.embeddings.bge import (
        BGE_QUERY_INSTRUCTION_EN,
        BGE_QUERY_INSTRUCTION_ZH,
        BGEEmbeddings,
    )
    from langchain_embedkit.embeddings.bge_m3 import BGEM3Embeddings, BGEM3SparseEmbeddings
    from langchain_embedkit.embeddings.default import DefaultEmbeddings
    from langchain_embedkit.embeddings.openai_compatible import (
        DASHSCOPE_BASE_URL,
        EmbeddingAPIError,
        OpenAICompatibleEmbeddings,
    )
    from langchain_embedkit.embeddings.qwen3 import QWEN3_DEFAULT_TASK, Qwen3Embeddings

_LAZY = {
    "BGE_QUERY_INSTRUCTION_EN": "bge",
    "BGE_QUERY_INSTRUCTION_ZH": "bge",
    "BGEEmbeddings": "bge",
    "BGEM3Embeddings": "bge_m3",
    "BGEM3SparseEmbeddings": "bge_m3",
    "DASHSCOPE_BASE_URL": "openai_compatible",
    "DefaultEmbeddings": "default",
    "EmbeddingAPIError": "openai_compatible",
    "ModelNotFoundError": "_sentence_transformers",
    "OpenAICompatibleEmbeddings": "openai_compatible",
    "QWEN3_DEFAULT_TASK": "qwen3",
    "Qwen3Embeddings": "qwen3",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'langchain_embedkit.embeddings' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "BGE_QUERY_INSTRUCTION_EN",
    "BGE_QUERY_INSTRUCTION_ZH",
    "DASHSCOPE_BASE_URL",
    "QWEN3_DEFAULT_TASK",
    "BGEEmbeddings",
    "BGEM3Embeddings",
    "BGEM3SparseEmbeddings",
    "DefaultEmbeddings",
    "EmbeddingAPIError",
    "ModelNotFoundError",
    "OpenAICompatibleEmbeddings",
    "Qwen3Embeddings",
]
