"""Engine options objects: validation, the flat-keyword mapping, secrets, native hybrid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from langchain_embedkit.types import SparseVector
from langchain_embedkit.vectorstores import ChromaOptions, MilvusOptions
from langchain_embedkit.vectorstores.backends.base import Hit, NativeHybrid, native_hybrid
from langchain_embedkit.vectorstores.options import engine_keywords, resolve_options


@pytest.fixture(autouse=True)
def _no_env_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MILVUS_TOKEN", raising=False)
    monkeypatch.delenv("CHROMA_TOKEN", raising=False)


# -- validation ------------------------------------------------------------------------------


def test_milvus_options_refuse_bad_values() -> None:
    with pytest.raises(ValidationError, match="Strong"):
        MilvusOptions(consistency_level="strongest")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="text_max_length must be a positive integer"):
        MilvusOptions(text_max_length=0)
    with pytest.raises(ValidationError, match="extra"):
        MilvusOptions(url="http://localhost:19530")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match=r"client_kwargs\['token'\].*pass token="):
        MilvusOptions(client_kwargs={"token": "root:Milvus"})
    with pytest.raises(ValidationError, match=r"client_kwargs\['uri'\]"):
        MilvusOptions(client_kwargs={"uri": "http://elsewhere:19530"})


def test_chroma_options_refuse_bad_values() -> None:
    with pytest.raises(ValidationError, match="port must be between 1 and 65535; got 70000"):
        ChromaOptions(port=70000)
    with pytest.raises(ValidationError, match="ef_search must be a positive integer; got 0"):
        ChromaOptions(ef_search=0)
    with pytest.raises(ValidationError, match="max_neighbors must be a positive integer"):
        ChromaOptions(max_neighbors=-3)
    with pytest.raises(ValidationError, match="'cosine'"):
        ChromaOptions(space="dot")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="extra"):
        ChromaOptions(persist_dir="./x")  # type: ignore[call-arg]


def test_paths_are_accepted_and_held_as_strings(tmp_path: Path) -> None:
    assert MilvusOptions(uri=tmp_path / "m.db").uri == str(tmp_path / "m.db")  # type: ignore[arg-type]
    folder = ChromaOptions(persist_directory=tmp_path / "c")  # type: ignore[arg-type]
    assert folder.persist_directory == str(tmp_path / "c")


def test_options_are_frozen() -> None:
    options = MilvusOptions(uri="./a.db")
    with pytest.raises(ValidationError):
        options.uri = "./b.db"  # type: ignore[misc]


def test_every_field_has_a_docstring() -> None:
    for kind in (MilvusOptions, ChromaOptions):
        missing = [name for name, f in kind.model_fields.items() if not f.description]
        assert missing == [], f"{kind.__name__} fields without a docstring: {missing}"


# -- secrets -----------------------------------------------------------------------------------


def test_repr_and_dump_hide_every_secret() -> None:
    milvus = MilvusOptions(
        uri="https://milvus.example:19530",
        token="root:t0k3n-m",
        client_kwargs={
            "secure": True,
            "server_pem_path": "/etc/ca.pem",
            "server_name": "milvus.example",
            "user": "root",
            "password": "p4ssw0rd",
        },
    )
    chroma = ChromaOptions(
        host="chroma.example",
        token="t0k3n-c",
        headers={"Authorization": "Bearer h3ad3r", "X-Team": "search"},
    )
    for shown in (repr(milvus), str(milvus), milvus.model_dump_json()):
        assert "t0k3n-m" not in shown and "p4ssw0rd" not in shown
        assert "server_pem_path" in shown  # only credentials are masked
    for shown in (repr(chroma), str(chroma), chroma.model_dump_json()):
        assert "t0k3n-c" not in shown and "h3ad3r" not in shown
        assert "search" in shown
    assert milvus.connection_kwargs()["password"] == "p4ssw0rd"
    assert milvus.token is not None and milvus.token.get_secret_value() == "root:t0k3n-m"


def test_disagreeing_credentials_are_named_but_never_shown() -> None:
    with pytest.raises(ValueError, match="token=") as caught:
        resolve_options(MilvusOptions(token="s3cret-a"), {"token": "s3cret-b"})
    assert "s3cret" not in str(caught.value)
    options = MilvusOptions(client_kwargs={"user": "root", "password": "s3cret-c"})
    with pytest.raises(ValueError, match="client_kwargs=") as caught:
        resolve_options(options, {"client_kwargs": {"user": "root", "password": "s3cret-d"}})
    assert "s3cret" not in str(caught.value) and "root" in str(caught.value)
    chroma = ChromaOptions(host="h", headers={"Authorization": "Bearer s3cret-e"})
    with pytest.raises(ValueError, match="headers=") as caught:
        resolve_options(chroma, {"headers": {"Authorization": "Bearer s3cret-f"}})
    assert "s3cret" not in str(caught.value)


def test_tokens_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MILVUS_TOKEN", "env-milvus")
    monkeypatch.setenv("CHROMA_TOKEN", "env-chroma")
    assert MilvusOptions().token == SecretStr("env-milvus")
    assert ChromaOptions(host="h").token == SecretStr("env-chroma")
    # a flat token=None means "not given": the environment still applies
    resolved = resolve_options("milvus", {"token": None})
    assert isinstance(resolved, MilvusOptions)
    assert resolved.token == SecretStr("env-milvus")
    assert resolve_options("milvus", {"token": ""}).token == SecretStr("env-milvus")
    assert resolve_options("chroma", {"host": "h", "token": ""}).token == SecretStr("env-chroma")
    assert MilvusOptions(token="given").token == SecretStr("given")


# -- flat keywords -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("backend", "flat", "expected"),
    [
        (None, {}, MilvusOptions()),
        ("milvus", {"uri": "./a.db", "db_name": "rag"}, MilvusOptions(uri="./a.db", db_name="rag")),
        (
            None,
            {"uri": "http://m:19530", "index_type": "HNSW", "index_params": {"M": 8}},
            MilvusOptions(uri="http://m:19530", index_type="HNSW", index_params={"M": 8}),
        ),
        (None, {"persist_directory": "./db"}, ChromaOptions(persist_directory="./db")),
        ("chroma", {}, ChromaOptions()),
        (
            None,
            {"host": "localhost", "port": 8001, "ssl": True},
            ChromaOptions(host="localhost", port=8001, ssl=True),
        ),
        (
            "chroma",
            {"space": "l2", "ef_search": 50, "persist_directory": None},
            ChromaOptions(space="l2", ef_search=50),
        ),
        (
            "milvus",
            {"consistency_level": "Bounded", "client_kwargs": {"secure": True}},
            MilvusOptions(consistency_level="Bounded", client_kwargs={"secure": True}),
        ),
    ],
)
def test_flat_keywords_map_onto_the_options(
    backend: str | None, flat: dict[str, Any], expected: MilvusOptions | ChromaOptions
) -> None:
    assert resolve_options(backend, flat) == expected


def test_an_options_object_with_agreeing_flat_keywords_is_used_as_it_is() -> None:
    options = ChromaOptions(persist_directory="./db", ef_search=40)
    assert resolve_options(options, {}) is options
    assert resolve_options(options, {"persist_directory": Path("./db")}) is options
    assert resolve_options(options, {"ef_search": None}) is options
    milvus = MilvusOptions(token="t", client_kwargs={"secure": True, "password": "pw"})
    same = {"token": "t", "client_kwargs": {"secure": True, "password": "pw"}}
    assert resolve_options(milvus, same) is milvus


def test_flat_keywords_that_disagree_with_the_options_are_refused() -> None:
    with pytest.raises(ValueError, match=r"uri='\./b\.db' disagrees with MilvusOptions\("):
        resolve_options(MilvusOptions(uri="./a.db"), {"uri": "./b.db"})
    with pytest.raises(ValueError, match="port=9000 disagrees"):
        resolve_options(ChromaOptions(host="h"), {"port": 9000})


def test_the_other_engines_keywords_are_refused() -> None:
    with pytest.raises(ValueError, match="persist_directory= is a ChromaOptions setting"):
        resolve_options(MilvusOptions(), {"persist_directory": "./db"})
    with pytest.raises(ValueError, match="uri= is a MilvusOptions setting"):
        resolve_options(ChromaOptions(), {"uri": "./m.db"})
    with pytest.raises(ValueError, match=r"index_type= is a setting of the other engine"):
        resolve_options("chroma", {"index_type": "HNSW"})
    with pytest.raises(ValueError, match=r"host= is a Chroma setting but backend='milvus'"):
        resolve_options("milvus", {"host": "localhost"})
    with pytest.raises(ValueError, match=r"persist_directory= is a Chroma setting"):
        resolve_options("milvus", {"persist_directory": "./db"})


def test_unknown_keywords_and_backends_are_refused() -> None:
    with pytest.raises(TypeError, match=r"unknown keyword arguments \['persist_dir'\]"):
        resolve_options(None, {"persist_dir": "./db"})
    with pytest.raises(ValueError, match="Unknown backend 'redis'; supported: 'milvus', 'chroma'"):
        resolve_options("redis", {})
    with pytest.raises(TypeError, match="backend must be"):
        resolve_options(42, {})  # type: ignore[arg-type]


def test_engine_keywords_are_the_fields_of_both_options() -> None:
    assert set(engine_keywords()) == set(MilvusOptions.model_fields) | set(
        ChromaOptions.model_fields
    )
    assert {"uri", "persist_directory", "host", "token", "consistency_level"} <= set(
        engine_keywords()
    )


# -- native hybrid as a capability ---------------------------------------------------------------


class _Fusing:
    name = "fusing"

    def __init__(self, able: bool) -> None:
        self.has_native_hybrid = able

    def hybrid_search(
        self,
        dense: Any,
        sparse: SparseVector,
        k: int,
        fetch_k: int,
        filter: Any,
        rrf_k: int,
    ) -> list[Hit]:
        return []


class _Plain:
    name = "plain"


def test_native_hybrid_is_an_optional_capability() -> None:
    able, unable, plain = _Fusing(True), _Fusing(False), _Plain()
    assert isinstance(able, NativeHybrid) and native_hybrid(able) is able  # type: ignore[arg-type]
    # the engine reached may lack it (a Milvus 2.3 server): the flag says so per connection
    assert native_hybrid(unable) is None  # type: ignore[arg-type]
    assert not isinstance(plain, NativeHybrid)
    assert native_hybrid(plain) is None  # type: ignore[arg-type]
