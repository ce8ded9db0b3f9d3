"""langchain-tests standard unit suites for every Embeddings class (no network)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_tests.unit_tests import EmbeddingsUnitTests

from langchain_embedkit.embeddings import (
    BGEEmbeddings,
    DefaultEmbeddings,
    OpenAICompatibleEmbeddings,
    Qwen3Embeddings,
)


class TestDefaultEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[DefaultEmbeddings]:
        return DefaultEmbeddings


class TestBGEEmbeddingsUnit(EmbeddingsUnitTests):
    @pytest.fixture(autouse=True)
    def _dirs(self, tiny_model_dirs: dict[str, Path]) -> None:
        self.dirs = tiny_model_dirs

    @property
    def embeddings_class(self) -> type[BGEEmbeddings]:
        return BGEEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model_name": str(self.dirs["bge_en"])}


class TestQwen3EmbeddingsUnit(EmbeddingsUnitTests):
    @pytest.fixture(autouse=True)
    def _dirs(self, tiny_model_dirs: dict[str, Path]) -> None:
        self.dirs = tiny_model_dirs

    @property
    def embeddings_class(self) -> type[Qwen3Embeddings]:
        return Qwen3Embeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model_name": str(self.dirs["qwen3"]), "dimensions": 32}


class TestOpenAICompatibleEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[OpenAICompatibleEmbeddings]:
        return OpenAICompatibleEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": "text-embedding-3-small", "api_key": "sk-unit-test"}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {"OPENAI_API_KEY": "sk-from-env", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"},
            {"model": "text-embedding-3-small"},
            {"api_key": "sk-from-env", "base_url": "http://127.0.0.1:9/v1"},
        )


class TestOpenAICompatibleEmbeddingsDashScopeEnvUnit(EmbeddingsUnitTests):
    """The same suite, configured from the DashScope variables only."""

    @property
    def embeddings_class(self) -> type[OpenAICompatibleEmbeddings]:
        return OpenAICompatibleEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": "text-embedding-v4", "api_key": "sk-unit-test"}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {"DASHSCOPE_API_KEY": "sk-dashscope-env"},
            {"model": "text-embedding-v3"},
            {
                "api_key": "sk-dashscope-env",
                "base_url": "https://dashscope.aliyuncs.com/compatible-mode/v1",
                "batch_size": 10,
            },
        )
