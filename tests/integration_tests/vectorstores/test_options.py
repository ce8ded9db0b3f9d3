"""The store opened from options objects on real engines, and the same store from flat keywords."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_tests.integration_tests import VectorStoreIntegrationTests

from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings
from langchain_embedkit.vectorstores import ChromaOptions, EmbedKitVectorStore, MilvusOptions
from langchain_embedkit.vectorstores.backends import NativeHybrid, native_hybrid
from langchain_embedkit.vectorstores.backends import milvus as milvus_backend
from langchain_embedkit.vectorstores.backends.milvus import MilvusBackend

TEXTS = [
    "BM25 ranks documents by term frequency",
    "dense vectors capture meaning",
    "hybrid search fuses both legs",
    "Milvus Lite stores vectors in one file",
    "Chroma keeps a collection in a folder",
]
METAS: list[dict[Any, Any]] = [{"n": i, "lang": "en"} for i in range(len(TEXTS))]


def _name() -> str:
    return f"o_{uuid.uuid4().hex[:10]}"


def _answers(store: EmbedKitVectorStore) -> list[list[tuple[str | None, float]]]:
    store.add_texts(TEXTS, METAS)
    out = []
    for query in ("hybrid fusion", "vectors in a file", "term frequency"):
        for mode in ("dense", "sparse", "hybrid"):
            found = store.similarity_search_with_score(query, k=3, retrieval_mode=mode)  # type: ignore[arg-type]
            out.append([(d.id, round(s, 6)) for d, s in found])
    return out


def test_options_and_flat_keywords_open_the_same_chroma_store(tmp_path: Path) -> None:
    flat = EmbedKitVectorStore(
        DeterministicFakeEmbedding(size=16),
        BM25SparseEmbeddings(),
        persist_directory=tmp_path / "flat",
        collection_name="docs",
        ef_search=40,
    )
    options = EmbedKitVectorStore(
        DeterministicFakeEmbedding(size=16),
        BM25SparseEmbeddings(),
        backend=ChromaOptions(persist_directory=str(tmp_path / "opts"), ef_search=40),
        collection_name="docs",
    )
    try:
        assert flat.backend_name == options.backend_name == "chroma"
        assert flat.options == ChromaOptions(persist_directory=str(tmp_path / "flat"), ef_search=40)
        assert _answers(flat) == _answers(options)
        assert options.sparse_state_path() == tmp_path / "opts" / "embedkit" / "docs.sparse.json"
        assert options.sparse_state_path().exists()  # type: ignore[union-attr]
    finally:
        flat.close()
        options.close()


def test_options_and_flat_keywords_open_the_same_milvus_store(tmp_path: Path) -> None:
    flat = EmbedKitVectorStore(
        DeterministicFakeEmbedding(size=16),
        BM25SparseEmbeddings(),
        uri=str(tmp_path / "flat.db"),
        text_max_length=1024,
        collection_name="docs",
    )
    options = EmbedKitVectorStore(
        DeterministicFakeEmbedding(size=16),
        BM25SparseEmbeddings(),
        backend=MilvusOptions(uri=str(tmp_path / "opts.db"), text_max_length=1024),
        collection_name="docs",
    )
    try:
        assert flat.options == MilvusOptions(uri=str(tmp_path / "flat.db"), text_max_length=1024)
        assert _answers(flat) == _answers(options)
    finally:
        flat.close()
        options.close()


def test_milvus_options_reach_the_backend(tmp_path: Path) -> None:
    store = EmbedKitVectorStore(
        DeterministicFakeEmbedding(size=8),
        backend=MilvusOptions(
            uri=str(tmp_path / "m.db"),
            index_type="FLAT",
            search_params={"nprobe": 4},
            consistency_level="Strong",
        ),
    )
    try:
        backend = store._backend
        assert isinstance(backend, MilvusBackend)
        assert backend.consistency_level == "Strong"
        assert backend.index_type == "FLAT" and backend.search_params == {"nprobe": 4}
    finally:
        store.close()


def test_client_kwargs_and_token_reach_the_milvus_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TLS settings and credentials are handed to ``MilvusClient`` unwrapped, once."""
    seen: dict[str, Any] = {}

    class Refused(Exception):
        pass

    def connect(pymilvus: Any, uri: str, kwargs: dict[str, Any], *, local: bool) -> Any:
        seen.update(kwargs, uri=uri)
        raise Refused

    monkeypatch.setattr(milvus_backend, "connect", connect)
    tls = {
        "secure": True,
        "server_pem_path": str(tmp_path / "ca.pem"),
        "server_name": "milvus.example",
        "user": "root",
        "password": "p4ss",
    }
    with pytest.raises(Refused):
        EmbedKitVectorStore(
            DeterministicFakeEmbedding(size=8),
            backend=MilvusOptions(
                uri="https://milvus.example:19530",
                token="root:t0k",
                db_name="rag",
                client_kwargs=tls,
            ),
        )
    assert seen == {
        **tls,
        "token": "root:t0k",
        "db_name": "rag",
        "uri": "https://milvus.example:19530",
    }


def test_native_hybrid_is_milvus_only(tmp_path: Path) -> None:
    chroma = EmbedKitVectorStore(DeterministicFakeEmbedding(size=8), backend=ChromaOptions())
    milvus = EmbedKitVectorStore(
        DeterministicFakeEmbedding(size=8), backend=MilvusOptions(uri=str(tmp_path / "h.db"))
    )
    try:
        assert not isinstance(chroma._backend, NativeHybrid)
        assert native_hybrid(chroma._backend) is None
        assert not hasattr(chroma._backend, "hybrid_search")
        assert native_hybrid(milvus._backend) is milvus._backend
    finally:
        chroma.close()
        milvus.close()


def test_from_texts_keeps_langchain_keywords(tmp_path: Path) -> None:
    store = EmbedKitVectorStore.from_texts(
        TEXTS, DeterministicFakeEmbedding(size=8), persist_directory=str(tmp_path / "c")
    )
    try:
        assert store.backend_name == "chroma"
        assert store.count() == len(TEXTS)
        assert (tmp_path / "c").is_dir()
    finally:
        store.close()
    again = EmbedKitVectorStore.from_texts(
        TEXTS[:1],
        DeterministicFakeEmbedding(size=8),
        backend=ChromaOptions(persist_directory=str(tmp_path / "c")),
    )
    try:
        assert again.count() == len(TEXTS)  # the same folder and collection, nothing lost
    finally:
        again.close()


def test_refusals_keep_what_is_stored(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    store = EmbedKitVectorStore(DeterministicFakeEmbedding(size=8), persist_directory=folder)
    store.add_texts(TEXTS)
    store.close()
    with pytest.raises(ValueError, match="disagrees with ChromaOptions"):
        EmbedKitVectorStore(
            DeterministicFakeEmbedding(size=8),
            backend=ChromaOptions(persist_directory=str(folder)),
            persist_directory=tmp_path / "elsewhere",
        )
    with pytest.raises(ValueError, match="space='l2' and metric='cosine' disagree"):
        EmbedKitVectorStore(
            DeterministicFakeEmbedding(size=8),
            backend=ChromaOptions(persist_directory=str(folder), space="l2"),
        )
    reopened = EmbedKitVectorStore(
        DeterministicFakeEmbedding(size=8), backend=ChromaOptions(persist_directory=str(folder))
    )
    try:
        assert reopened.count() == len(TEXTS)
        assert not (tmp_path / "elsewhere").exists()
    finally:
        reopened.close()


def test_store_repr_hides_secrets(tmp_path: Path) -> None:
    store = EmbedKitVectorStore(
        DeterministicFakeEmbedding(size=8),
        backend=MilvusOptions(
            uri=str(tmp_path / "m.db"), token="root:s3cr3t", client_kwargs={"password": "pw-9"}
        ),
    )
    try:
        for shown in (repr(store), repr(store.options), repr(store._backend)):
            assert "s3cr3t" not in shown and "pw-9" not in shown
    finally:
        store.close()


class TestChromaFromOptions(VectorStoreIntegrationTests):
    """LangChain's standard suite on a store opened with ``ChromaOptions``."""

    @pytest.fixture()
    def vectorstore(self, tmp_path: Path) -> Iterator[EmbedKitVectorStore]:  # type: ignore[override]
        store = EmbedKitVectorStore(
            self.get_embeddings(),
            BM25SparseEmbeddings(),
            backend=ChromaOptions(persist_directory=str(tmp_path / "chroma"), ef_search=64),
            collection_name=_name(),
        )
        yield store
        store.close()


class TestMilvusFromOptions(VectorStoreIntegrationTests):
    """LangChain's standard suite on a store opened with ``MilvusOptions``."""

    @pytest.fixture()
    def vectorstore(self, tmp_path: Path) -> Iterator[EmbedKitVectorStore]:  # type: ignore[override]
        store = EmbedKitVectorStore(
            self.get_embeddings(),
            BM25SparseEmbeddings(),
            backend=MilvusOptions(uri=str(tmp_path / "milvus.db"), consistency_level="Strong"),
        )
        yield store
        store.close()


def test_the_store_fuses_on_the_engine_only_where_it_can(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    engine_hybrid = MilvusBackend.hybrid_search

    def counted(self: MilvusBackend, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return engine_hybrid(self, *args, **kwargs)

    monkeypatch.setattr(MilvusBackend, "hybrid_search", counted)
    stores = {
        "milvus": EmbedKitVectorStore(
            DeterministicFakeEmbedding(size=16),
            BM25SparseEmbeddings(),
            backend=MilvusOptions(uri=str(tmp_path / "m.db")),
        ),
        "chroma": EmbedKitVectorStore(
            DeterministicFakeEmbedding(size=16), BM25SparseEmbeddings(), backend=ChromaOptions()
        ),
    }
    try:
        found = {}
        for name, store in stores.items():
            store.add_texts(TEXTS, ids=[str(i) for i in range(len(TEXTS))])
            before = len(calls)
            hits = store.similarity_search_with_score("hybrid search fuses", k=3)
            found[name] = [(d.id, round(s, 6)) for d, s in hits]
            assert len(calls) - before == (1 if name == "milvus" else 0)
        assert found["milvus"] == found["chroma"]
        weighted = EmbedKitVectorStore(
            DeterministicFakeEmbedding(size=16),
            BM25SparseEmbeddings(),
            backend=MilvusOptions(uri=str(tmp_path / "w.db")),
            fusion_weights=(0.7, 0.3),
        )
        try:
            weighted.add_texts(TEXTS)
            before = len(calls)
            # weights make fusion client-side on every engine
            assert weighted.similarity_search("hybrid search fuses", k=3)
            assert len(calls) == before
        finally:
            weighted.close()
    finally:
        for store in stores.values():
            store.close()
