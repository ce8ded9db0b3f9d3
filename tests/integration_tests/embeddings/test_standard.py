"""langchain-tests standard integration suites for every Embeddings class.

Local models run for real (the packaged MiniLM, the tiny bge/Qwen3 folders); the
OpenAI-compatible class talks to a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_tests.integration_tests import EmbeddingsIntegrationTests

from langchain_embedkit.embeddings import (
    BGEEmbeddings,
    DefaultEmbeddings,
    OpenAICompatibleEmbeddings,
    Qwen3Embeddings,
)
from tests.support.embeddings_server import EmbeddingsAPIHandler
from tests.support.http import serve


class TestDefaultEmbeddingsIntegration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[DefaultEmbeddings]:
        return DefaultEmbeddings


class TestBGEEmbeddingsIntegration(EmbeddingsIntegrationTests):
    @pytest.fixture(autouse=True)
    def _dirs(self, tiny_model_dirs: dict[str, Path]) -> None:
        self.dirs = tiny_model_dirs

    @property
    def embeddings_class(self) -> type[BGEEmbeddings]:
        return BGEEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model_name": str(self.dirs["bge_zh"])}


class TestQwen3EmbeddingsIntegration(EmbeddingsIntegrationTests):
    @pytest.fixture(autouse=True)
    def _dirs(self, tiny_model_dirs: dict[str, Path]) -> None:
        self.dirs = tiny_model_dirs

    @property
    def embeddings_class(self) -> type[Qwen3Embeddings]:
        return Qwen3Embeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model_name": str(self.dirs["qwen3"]), "dimensions": 48}


class TestOpenAICompatibleEmbeddingsIntegration(EmbeddingsIntegrationTests):
    base_url: str

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def _server(cls) -> Iterator[None]:
        with serve(EmbeddingsAPIHandler) as server:
            server.state.update({"key": "sk-integration", "max_batch": 10})
            cls.base_url = f"{server.base_url}/v1"
            yield

    @property
    def embeddings_class(self) -> type[OpenAICompatibleEmbeddings]:
        return OpenAICompatibleEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {
            "model": "text-embedding-v4",
            "api_key": "sk-integration",
            "base_url": self.base_url,
            "dimensions": 64,
        }
