"""LangChain's standard vector store suite on every engine the store supports."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_tests.integration_tests import VectorStoreIntegrationTests

from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings
from langchain_embedkit.vectorstores import EmbedKitVectorStore


def _name() -> str:
    return f"std_{uuid.uuid4().hex[:12]}"


class TestChromaInMemory(VectorStoreIntegrationTests):
    @pytest.fixture()
    def vectorstore(self) -> Iterator[EmbedKitVectorStore]:  # type: ignore[override]
        store = EmbedKitVectorStore(
            self.get_embeddings(), backend="chroma", collection_name=_name()
        )
        try:
            yield store
        finally:
            store._backend.client.delete_collection(store.collection_name)  # type: ignore[attr-defined]


class TestChromaPersistent(VectorStoreIntegrationTests):
    @pytest.fixture()
    def vectorstore(self, tmp_path: Path) -> Iterator[EmbedKitVectorStore]:  # type: ignore[override]
        store = EmbedKitVectorStore(
            self.get_embeddings(),
            backend="chroma",
            collection_name=_name(),
            persist_directory=tmp_path / "chroma",
        )
        yield store
        store.close()


class TestMilvusLite(VectorStoreIntegrationTests):
    @pytest.fixture()
    def vectorstore(self, tmp_path: Path) -> Iterator[EmbedKitVectorStore]:  # type: ignore[override]
        store = EmbedKitVectorStore(
            self.get_embeddings(), backend="milvus", uri=str(tmp_path / "milvus.db")
        )
        yield store
        store.close()


class TestChromaServer(VectorStoreIntegrationTests):
    @pytest.fixture()
    def vectorstore(self, chroma_server: tuple[str, int]) -> Iterator[EmbedKitVectorStore]:  # type: ignore[override]
        host, port = chroma_server
        store = EmbedKitVectorStore(
            self.get_embeddings(), backend="chroma", collection_name=_name(), host=host, port=port
        )
        try:
            yield store
        finally:
            store._backend.client.delete_collection(store.collection_name)  # type: ignore[attr-defined]


class TestChromaPersistentWithBM25(VectorStoreIntegrationTests):
    """The suite again with a BM25 encoder: statistics follow every write and delete."""

    @pytest.fixture()
    def vectorstore(self, tmp_path: Path) -> Iterator[EmbedKitVectorStore]:  # type: ignore[override]
        store = EmbedKitVectorStore(
            self.get_embeddings(),
            BM25SparseEmbeddings(),
            backend="chroma",
            collection_name=_name(),
            persist_directory=tmp_path / "chroma",
        )
        yield store
        store.close()


class TestMilvusLiteWithBM25(VectorStoreIntegrationTests):
    """The suite again with a BM25 encoder on Milvus Lite."""

    @pytest.fixture()
    def vectorstore(self, tmp_path: Path) -> Iterator[EmbedKitVectorStore]:  # type: ignore[override]
        store = EmbedKitVectorStore(
            self.get_embeddings(),
            BM25SparseEmbeddings(),
            backend="milvus",
            uri=str(tmp_path / "milvus.db"),
        )
        yield store
        store.close()
