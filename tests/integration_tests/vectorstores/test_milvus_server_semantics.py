"""Server semantics of ``MilvusBackend``: consistency levels, id look-ups, connection options.

Runs against the Milvus standalone server of ``milvus_server.py`` (and Milvus Lite where
the point is engine-independent); the connection-option tests need no server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from pydantic import SecretStr

from langchain_embedkit.vectorstores import EmbedKitVectorStore
from langchain_embedkit.vectorstores.backends.base import Row
from langchain_embedkit.vectorstores.backends.milvus import MilvusBackend
from langchain_embedkit.vectorstores.backends.milvus_engine import (
    CONSISTENCY_LEVELS,
    check_consistency_level,
    redact_uri,
)

DIM = 8
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}


def _name() -> str:
    return f"s_{uuid.uuid4().hex[:12]}"


def _backend(uri: str, name: str, **kwargs: Any) -> MilvusBackend:
    return MilvusBackend(
        uri=uri,
        token=kwargs.pop("token", None),
        db_name=None,
        collection_name=name,
        metric="cosine",
        with_sparse=False,
        index_type=None,
        index_params=None,
        search_params=None,
        text_max_length=1000,
        **kwargs,
    )


def _rows(ids: list[str], text: str = "t") -> list[Row]:
    return [
        Row(i, f"{text} {i}", {"i": n}, [1.0 + n] + [0.5] * (DIM - 1)) for n, i in enumerate(ids)
    ]


class _Calls:
    """Records the keyword arguments of every call to some ``MilvusClient`` methods."""

    def __init__(self, client: Any, names: tuple[str, ...]) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        for name in names:
            method = getattr(client, name)

            def spy(*args: Any, _name: str = name, _method: Any = method, **kw: Any) -> Any:
                self.calls.append((_name, dict(kw)))
                return _method(*args, **kw)

            setattr(client, name, spy)

    def of(self, name: str) -> list[dict[str, Any]]:
        return [kw for called, kw in self.calls if called == name]


@pytest.fixture()
def server_backend(milvus_server: str) -> Iterator[MilvusBackend]:
    backend = _backend(milvus_server, _name())
    yield backend
    backend.drop()
    backend.close()


# -- consistency_level ------------------------------------------------------------------


def test_consistency_level_is_checked_before_connecting() -> None:
    assert [check_consistency_level(v) for v in CONSISTENCY_LEVELS] == list(CONSISTENCY_LEVELS)
    assert check_consistency_level(" eventually ") == "Eventually"
    assert check_consistency_level(None) is None
    for bad in ("strongest", "", "Customized", 3):
        with pytest.raises(ValueError, match="Unknown Milvus consistency_level") as err:
            # an unreachable server: the value is refused before any connection is tried
            _backend("http://127.0.0.1:9", _name(), consistency_level=bad)
        for level in CONSISTENCY_LEVELS:
            assert repr(level) in str(err.value)


def test_consistency_level_sets_the_collection_and_every_search(milvus_server: str) -> None:
    backend = _backend(milvus_server, _name(), consistency_level="bounded")
    try:
        assert backend.consistency_level == "Bounded"
        assert "consistency_level='Bounded'" in repr(backend)
        backend.write(_rows(["a", "b"]), {})
        backend.end_of_writes()
        info = backend.client.describe_collection(backend.collection_name)
        assert info["consistency_level_name"] == "Bounded"
        calls = _Calls(backend.client, ("search", "query", "get"))
        backend.dense_search([1.0] * DIM, 2, None)
        backend.count()
        backend.get(["a"])
        backend.existing(["a", "zz"])
        assert calls.of("search")[0]["consistency_level"] == "Bounded"
        assert calls.of("query")[0]["consistency_level"] == "Bounded"
        # a read whose answer decides a write never lags: get() and the id look-up read Strong
        assert [kw["consistency_level"] for kw in calls.of("get")] == ["Strong", "Strong"]
    finally:
        backend.drop()
        backend.close()


def test_store_default_reads_strong_and_sees_its_writes_at_once(milvus_server: str) -> None:
    store = EmbedKitVectorStore(
        DeterministicFakeEmbedding(size=DIM), uri=milvus_server, collection_name=_name()
    )
    backend: Any = store._backend
    try:
        assert backend.consistency_level is None
        for round_ in range(3):
            store.add_texts([f"r{round_}"], ids=[f"r{round_}"])
            assert store.count() == round_ + 1
            assert [d.id for d in store.similarity_search(f"r{round_}", k=1)] == [f"r{round_}"]
        info = backend.client.describe_collection(store.collection_name)
        assert info["consistency_level_name"] == "Strong"
    finally:
        backend.drop()
        store.close()


# -- id look-ups while ingesting ---------------------------------------------------------


def test_the_pass_that_creates_a_collection_looks_up_only_ids_it_wrote(
    server_backend: MilvusBackend,
) -> None:
    backend = server_backend
    calls = _Calls(backend.client, ("get", "insert", "upsert"))
    assert backend.existing(["a", "b"]) == {}  # no collection yet
    backend.write(_rows(["a", "b"]), {})
    assert backend.existing(["c", "d"]) == {}  # new ids: no read
    assert calls.of("get") == []
    backend.write(_rows(["c", "d"]), {})
    found = backend.existing(["a", "e"])  # "a" came in this pass: read (Strong) to be sure
    assert found == {"a": set()}
    assert [kw["consistency_level"] for kw in calls.of("get")] == ["Strong"]
    backend.write(_rows(["a", "e"], "new"), found)
    backend.end_of_writes()
    assert len(calls.of("upsert")) == 1
    assert backend.count() == 5
    assert [r.text for r in backend.get(["a"])] == ["new a"]


def test_after_the_pass_ids_written_by_another_client_are_found(
    server_backend: MilvusBackend, milvus_server: str
) -> None:
    backend = server_backend
    backend.write(_rows(["a"]), {})
    backend.end_of_writes()
    other = _backend(milvus_server, backend.collection_name)
    try:
        other.write(_rows(["x"], "other"), other.existing(["x"]))
        other.end_of_writes()
    finally:
        other.close()
    # the next pass must see "x": inserting it again would store it twice
    found = backend.existing(["x", "y"])
    assert found == {"x": set()}
    backend.write(_rows(["x", "y"], "mine"), found)
    backend.end_of_writes()
    assert backend.count() == 3
    assert [r.text for r in backend.get(["x"])] == ["mine x"]


def test_store_ingest_stays_idempotent_on_a_server(milvus_server: str) -> None:
    store = EmbedKitVectorStore(
        DeterministicFakeEmbedding(size=DIM),
        uri=milvus_server,
        collection_name=_name(),
        batch_size=3,
    )
    backend: Any = store._backend
    try:
        texts = [f"doc {i}" for i in range(10)]
        ids = [f"id{i % 7}" for i in range(10)]  # ids repeat across batches of one call
        store.add_texts(texts, ids=ids)
        assert store.count() == 7
        store.add_texts(texts[:5], ids=[f"id{i}" for i in range(5)])
        store.add_texts(texts)  # content ids: all new, then all skipped
        store.add_texts(texts)
        assert store.count() == 17
        got = {d.id: d.page_content for d in store.get_by_ids([f"id{i}" for i in range(7)])}
        assert got == {f"id{i}": f"doc {i}" for i in range(5)} | {"id5": "doc 5", "id6": "doc 6"}
    finally:
        backend.drop()
        store.close()


def test_explicit_ids_are_upserted_without_a_look_up_after_the_pass(milvus_server: str) -> None:
    # a Strong look-up waits for the server's next time tick; with no BM25 statistics to
    # update, an upsert gives the same result without it (content ids are still looked up,
    # so stored ones are skipped without embedding)
    store = EmbedKitVectorStore(
        DeterministicFakeEmbedding(size=DIM), uri=milvus_server, collection_name=_name()
    )
    backend: Any = store._backend
    try:
        store.add_texts(["one", "two"], ids=["a", "b"])
        content_ids = store.add_texts(["three"])
        calls = _Calls(backend.client, ("get", "insert", "upsert"))
        store.add_texts(["one v2", "four"], ids=["a", "d"])
        assert calls.of("get") == []
        assert len(calls.of("upsert")) == 1
        assert calls.of("insert") == []
        assert store.add_texts(["three", "five"])[0] == content_ids[0]
        assert [kw["consistency_level"] for kw in calls.of("get")] == ["Strong"]
        assert len(calls.of("insert")) == 1  # "five" only: "three" is stored, so skipped
        assert store.count() == 5
        got = {d.id: d.page_content for d in store.get_by_ids(["a", "b", "d"])}
        assert got == {"a": "one v2", "b": "two", "d": "four"}
    finally:
        backend.drop()
        store.close()


# -- connection options ------------------------------------------------------------------


class _Refused(Exception):
    pass


def test_client_kwargs_reach_the_client_and_secrets_stay_out_of_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pymilvus

    seen: dict[str, Any] = {}

    def client(**kwargs: Any) -> Any:
        seen.update(kwargs)
        msg = f"handshake failed for {kwargs.get('password')} / {kwargs.get('token')}"
        raise _Refused(msg)

    monkeypatch.setattr(pymilvus, "MilvusClient", client)
    options = {
        "secure": True,
        "server_pem_path": "/etc/milvus/server.pem",
        "server_name": "milvus.internal",
        "user": "alice",
        "password": "pw-0d1e",
        "timeout": 3,
    }
    with pytest.raises(ConnectionError) as err:
        _backend(
            "https://bob:uripw-77@milvus.internal:19530",
            _name(),
            token=SecretStr("tok-9f3a"),
            client_kwargs=options,
        )
    assert seen == {
        "uri": "https://bob:uripw-77@milvus.internal:19530",
        "token": "tok-9f3a",
        **options,
    }
    text = str(err.value)
    assert "https://***@milvus.internal:19530" in text and "client_kwargs" in text
    for secret in ("pw-0d1e", "tok-9f3a", "uripw-77"):
        assert secret not in text
        assert secret not in repr(err.value.__cause__) and err.value.__cause__ is None


def test_user_and_password_reach_a_real_server(milvus_server: str) -> None:
    # this server runs without authentication, so it takes any credentials; what matters
    # is that they travel and that nothing shows them
    backend = _backend(
        milvus_server,
        _name(),
        token=SecretStr("root:Milvus"),
        client_kwargs={"user": "root", "password": "Milvus", "timeout": 10},
    )
    try:
        backend.write(_rows(["a"]), {})
        backend.end_of_writes()
        assert backend.count() == 1
        assert "Milvus'" not in repr(backend) and "root" not in repr(backend)
    finally:
        backend.drop()
        backend.close()


def test_tls_to_a_plain_server_fails_clearly(milvus_server: str, tmp_path: Path) -> None:
    # in a fresh process: pymilvus reuses an open connection to the same address, whatever
    # its TLS options, and this session already holds plain ones to this server
    pem = tmp_path / "server.pem"
    pem.write_text("not a certificate")
    script = (
        "import sys, uuid\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from test_milvus_server_semantics import _backend\n"
        "try:\n"
        f"    _backend({milvus_server.replace('http://', 'https://')!r}, 'tls_' + uuid.uuid4().hex,"
        f" client_kwargs={{'secure': True, 'server_pem_path': {str(pem)!r},"
        " 'server_name': 'localhost', 'timeout': 5})\n"
        "except ConnectionError as exc:\n"
        "    print('REFUSED', exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=ENV, timeout=120
    )
    assert "REFUSED Could not connect to the Milvus server at 'https://127.0.0.1:" in done.stdout, (
        done.stdout + done.stderr[-2000:]
    )
    assert "server_pem_path" in done.stdout


def test_uri_credentials_are_redacted() -> None:
    assert redact_uri("http://u:p@h:1") == "http://***@h:1"
    assert redact_uri("http://h:1/db") == "http://h:1/db"
    assert redact_uri("./x.db") == "./x.db"
