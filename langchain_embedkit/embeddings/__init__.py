"""Dense embeddings: local sentence-transformers models and OpenAI-compatible APIs.

Importing this package is light; torch, sentence-transformers and openai are imported when a
model is constructed or first called.
"""

from __future__ import annotations

from langchain_embedkit.embeddings._sentence_transformers import ModelNotFoundError
from langchain_embedkit.embeddings.bge import (
    BGE_QUERY_INSTRUCTION_EN,
    BGE_QUERY_INSTRUCTION_ZH,
    BGEEmbeddings,
)
from langchain_embedkit.embeddings.default import DefaultEmbeddings
from langchain_embedkit.embeddings.openai_compatible import (
    DASHSCOPE_BASE_URL,
    EmbeddingAPIError,
    OpenAICompatibleEmbeddings,
)
from langchain_embedkit.embeddings.qwen3 import QWEN3_DEFAULT_TASK, Qwen3Embeddings

__all__ = [
    "BGE_QUERY_INSTRUCTION_EN",
    "BGE_QUERY_INSTRUCTION_ZH",
    "DASHSCOPE_BASE_URL",
    "QWEN3_DEFAULT_TASK",
    "BGEEmbeddings",
    "DefaultEmbeddings",
    "EmbeddingAPIError",
    "ModelNotFoundError",
    "OpenAICompatibleEmbeddings",
    "Qwen3Embeddings",
]
