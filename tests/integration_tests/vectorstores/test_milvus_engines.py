"""The store on every Milvus engine: the Milvus server and the installed milvus-lite.

Runs the langchain-tests standard suite, read-after-write across processes, a store
written by one client and read by another, the hybrid mode each engine offers and
collections created by other tools. The same file runs against milvus-lite 3 here and
milvus-lite 2.5 in the second environment that ``make test`` builds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_tests.integration_tests import VectorStoreIntegrationTests

from langchain_embedkit.vectorstores import EmbedKitVectorStore
from langchain_embedkit.vectorstores.backends.milvus_engine import detect_engine

WORKER = Path(__file__).with_name("milvus_worker.py")
ROOT = Path(__file__).resolve().parents[3]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _name() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


def _drop(store: EmbedKitVectorStore) -> None:
    backend: Any = store._backend
    if not backend.local and backend.client.has_collection(store.collection_name):
        backend.client.drop_collection(store.collection_name)
    store.close()


class TestMilvusServer(VectorStoreIntegrationTests):
    @pytest.fixture()
    def vectorstore(self, milvus_server: str) -> Iterator[EmbedKitVectorStore]:  # type: ignore[override]
        store = EmbedKitVectorStore(
            self.get_embeddings(), backend="milvus", uri=milvus_server, collection_name=_name()
        )
        yield store
        _drop(store)


@pytest.fixture(params=["lite", "server"])
def uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "lite":
        return str(tmp_path / "store.db")
    return str(request.getfixturevalue("milvus_server"))


def _worker(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(WORKER), *args], capture_output=True, text=True, env=ENV, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def test_written_by_one_process_read_by_another(uri: str) -> None:
    """The reader opens the store the moment the writer's add_texts returned."""
    collection = _name()
    _worker("write", uri, collection, "60")
    read = _worker("read", uri, collection, "60")
    assert read["count"] == 60
    assert read["lite"] == list(range(1, 60, 5))
    assert read["ids"] == sorted(f"note-{i}" for i in range(60))


def test_server_read_after_write_between_live_clients(milvus_server: str) -> None:
    """Two stores open at once on one server: each sees the other's writes at once."""
    collection = _name()
    embedding = DeterministicFakeEmbedding(size=16)
    first = EmbedKitVectorStore(
        embedding, backend="milvus", uri=milvus_server, collection_name=collection
    )
    first.add_texts(["seed"], [{"k": 0}], ids=["seed"])
    second = EmbedKitVectorStore(
        embedding, backend="milvus", uri=milvus_server, collection_name=collection
    )
    try:
        for round_ in range(1, 6):
            first.add_texts([f"text {round_}"], [{"k": round_}], ids=[f"id{round_}"])
            assert second.count() == 2  # the seed and this round's text
            found = second.similarity_search("text", k=10, filter={"k": round_})
            assert [d.id for d in found] == [f"id{round_}"]
            second.delete([f"id{round_}"])
            assert first.get_by_ids([f"id{round_}"]) == []
    finally:
        second.close()
        _drop(first)


def test_hybrid_on_milvus_lite_runs_on_the_engine(tmp_path: Path) -> None:
    """Both Lite lines hold sparse vectors and fuse on the engine (native hybrid)."""
    from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings

    texts = [f"note {i} about topic{i % 7} and word{i}" for i in range(40)]
    store = EmbedKitVectorStore(
        DeterministicFakeEmbedding(size=16),
        BM25SparseEmbeddings(),
        uri=str(tmp_path / "h.db"),
        collection_name=_name(),
    )
    try:
        assert store._backend.has_native_hybrid  # type: ignore[attr-defined]
        store.add_texts(texts, ids=[str(i) for i in range(40)])
        sparse = store.similarity_search("word7", k=1, retrieval_mode="sparse")
        assert [d.id for d in sparse] == ["7"]
        hybrid = store.similarity_search("word7", k=3, retrieval_mode="hybrid", fetch_k=40)
        assert "7" in [d.id for d in hybrid]
    finally:
        store.close()


def test_hybrid_on_a_server_without_sparse_vectors_is_refused(milvus_server: str) -> None:
    pytest.importorskip("scipy", reason="BM25SparseEmbeddings needs the bm25 extra")
    from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings

    engine = detect_engine(__import__("pymilvus").MilvusClient(milvus_server), local=False)
    embedding = DeterministicFakeEmbedding(size=16)
    if engine.sparse_vectors:  # a 2.4+ server: hybrid runs natively
        store = EmbedKitVectorStore(
            embedding, BM25SparseEmbeddings(), uri=milvus_server, collection_name=_name()
        )
        store.add_texts(["alpha beta", "gamma delta"])
        assert store.similarity_search("alpha", k=1, retrieval_mode="hybrid")
        _drop(store)
        return
    collection = _name()
    with pytest.raises(ValueError, match=r"Milvus server 2\.3\.\d+ .* no sparse vectors") as err:
        EmbedKitVectorStore(
            embedding, BM25SparseEmbeddings(), uri=milvus_server, collection_name=collection
        )
    assert "2.4.0" in str(err.value) and "backend='chroma'" in str(err.value)
    # nothing was created, and dense search on the same server works
    store = EmbedKitVectorStore(embedding, uri=milvus_server, collection_name=collection)
    assert store.count() == 0
    store.add_texts(["alpha beta"], ids=["a"])
    assert [d.id for d in store.similarity_search("alpha", k=1)] == ["a"]
    _drop(store)


def test_collection_created_by_another_tool_opens_as_it_is(uri: str) -> None:
    from pymilvus import DataType, MilvusClient

    name = _name()
    client = MilvusClient(uri)
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("text", DataType.VARCHAR, max_length=1000)
    schema.add_field("metadata", DataType.JSON)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=16)
    index = client.prepare_index_params()
    index.add_index("dense", index_type="FLAT", metric_type="IP")
    # Strong, so that reads see the insert below; a store reads a collection at its level
    client.create_collection(name, schema=schema, index_params=index, consistency_level="Strong")
    embedding = DeterministicFakeEmbedding(size=16)
    vectors = embedding.embed_documents(["one", "two"])
    client.insert(
        name,
        [
            {"id": "x1", "text": "one", "metadata": {"lang": "en"}, "dense": vectors[0]},
            {"id": "x2", "text": "two", "metadata": {"lang": "zh"}, "dense": vectors[1]},
        ],
    )
    client.close()
    # the metric matters to searches only: the first one names the mismatch, before asking
    wrong = EmbedKitVectorStore(embedding, uri=uri, collection_name=name, metric="cosine")
    assert wrong.count() == 2
    with pytest.raises(ValueError, match=r"built with metric 'IP'.*metric='ip'"):
        wrong.similarity_search("two", k=1)
    with pytest.raises(ValueError, match=r"built with metric 'IP'.*metric='ip'"):
        wrong.similarity_search_by_vector(vectors[0], k=1)
    wrong.close()
    store = EmbedKitVectorStore(embedding, uri=uri, collection_name=name, metric="ip")
    try:
        found = store.similarity_search("two", k=2, filter={"lang": "zh"})
        assert [d.id for d in found] == ["x2"]
        assert found[0].page_content == "two"
    finally:
        _drop(store)


def test_metadata_reads_back_as_written_and_bad_keys_write_nothing(uri: str) -> None:
    # the store sends metadata to the engine as JSON text: what comes back, what filters
    # see and what is refused must be what the dict form gave
    embedding = DeterministicFakeEmbedding(size=16)
    store = EmbedKitVectorStore(embedding, uri=uri, collection_name=_name())
    metadata = {"z": 1, "lang": "中文 é", "score": -0.5, "nested": {"tags": ["a", "b"], "n": None}}
    try:
        store.add_texts(["one", "two"], [metadata, {"lang": "en"}], ids=["a", "b"])
        got = store.get_by_ids(["a"])[0].metadata
        assert got == metadata
        assert list(got) == list(metadata)
        found = store.similarity_search("one", k=2, filter={"lang": "中文 é", "score": {"$lt": 0}})
        assert [d.id for d in found] == ["a"]
        with pytest.raises(ValueError, match=r"Metadata key 3 at \['nested'\] is a int"):
            store.add_texts(["three", "four"], [{"ok": 1}, {"nested": {3: "x"}}], ids=["c", "d"])
        assert store.count() == 2
        assert store.get_by_ids(["c", "d"]) == []
    finally:
        _drop(store)
