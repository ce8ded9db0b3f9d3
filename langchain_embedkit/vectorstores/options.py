"""Engine settings of :class:`~langchain_embedkit.vectorstores.EmbedKitVectorStore`.

One options object per engine: :class:`MilvusOptions` (Milvus Lite or a server) and
:class:`ChromaOptions` (memory, a folder or a server). A store takes one of them as
``backend=``; the flat keywords of earlier releases (``uri=``, ``persist_directory=``,
``host=``...) are mapped onto them in one place, :func:`resolve_options`.

Example:
    >>> MilvusOptions(uri="./rag.db", token="root:Milvus", consistency_level="Strong")
    MilvusOptions(uri='./rag.db', token=SecretStr('**********'), db_name=None, index_type=None, \
index_params=None, search_params=None, text_max_length=65535, client_kwargs=None, \
consistency_level='Strong')
    >>> resolve_options(None, {"persist_directory": "./chroma_db"}).persist_directory
    './chroma_db'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.utils import secret_from_env
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_serializer, field_validator

from langchain_embedkit._http import MASK, is_secret_header, mask_headers
from langchain_embedkit.vectorstores.arguments import BackendName, choose_backend
from langchain_embedkit.vectorstores.backends.milvus_engine import (
    ConsistencyLevel,
    check_consistency_level,
)
from langchain_embedkit.vectorstores.scoring import Metric

if TYPE_CHECKING:
    from langchain_embedkit.vectorstores.backends.base import Backend

__all__ = [
    "BackendName",
    "BackendOptions",
    "ChromaOptions",
    "ConsistencyLevel",
    "MilvusOptions",
    "resolve_options",
]

# keys of client_kwargs that have their own field (a second place would be ambiguous)
_OWN_FIELDS = {"uri": "uri", "token": "token", "db_name": "db_name"}
_PATHS = ("uri", "persist_directory")


def _path(value: Any) -> Any:
    """``os.PathLike`` as ``str``; anything else unchanged (pydantic checks the type)."""
    return os.fspath(value) if isinstance(value, os.PathLike) else value


def _positive(name: str, value: int | None) -> int | None:
    if value is not None and value <= 0:
        msg = f"{name} must be a positive integer; got {value}."
        raise ValueError(msg)
    return value


class MilvusOptions(BaseModel):
    """Where and how to open a Milvus collection (Milvus Lite file or server).

    Example:
        >>> options = MilvusOptions(uri="http://localhost:19530", token="root:Milvus",
        ...                         client_kwargs={"secure": True, "password": "pw"})
        >>> "root:Milvus" in repr(options) or "pw" in repr(options)
        False
        >>> options.client_kwargs
        {'secure': True, 'password': SecretStr('**********')}
        >>> options.token.get_secret_value()
        'root:Milvus'
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    uri: str = "./embedkit.db"
    """A Milvus Lite file (``./embedkit.db``) or a server (``http://host:19530``)."""
    token: SecretStr | None = Field(default_factory=secret_from_env("MILVUS_TOKEN", default=None))
    """Server token (``user:password`` or an API key); read from ``MILVUS_TOKEN`` when not
    given; never shown in ``repr``."""
    db_name: str | None = None
    """Milvus database (the server's default when None)."""
    index_type: str | None = None
    """Dense index: ``FLAT`` for Milvus Lite, ``AUTOINDEX`` on servers by default, or
    ``HNSW``/``IVF_FLAT`` where the engine supports them."""
    index_params: dict[str, Any] | None = None
    """Index build parameters, e.g. ``{"M": 16, "efConstruction": 200}``."""
    search_params: dict[str, Any] | None = None
    """Search parameters, e.g. ``{"ef": 64}``."""
    text_max_length: int = 65_535
    """Size of the ``text`` field in bytes."""
    client_kwargs: dict[str, Any] | None = None
    """Extra ``MilvusClient`` arguments: TLS (``secure``, ``server_pem_path``,
    ``server_name``, ``client_pem_path``...), ``user``/``password``, ``timeout``.
    Credential-looking values (``password``...) are kept as ``SecretStr``."""
    consistency_level: ConsistencyLevel | None = None
    """What a search sees of recent writes; the collection's own level when None."""

    @field_validator("consistency_level", mode="before")
    @classmethod
    def _consistency_level(cls, value: Any) -> Any:
        return check_consistency_level(value)

    @field_validator("uri", mode="before")
    @classmethod
    def _uri(cls, value: Any) -> Any:
        return _path(value)

    @field_validator("token", mode="before")
    @classmethod
    def _token(cls, value: Any) -> Any:
        return value or None

    @field_validator("text_max_length")
    @classmethod
    def _text_max_length(cls, value: int) -> int:
        return _positive("text_max_length", value) or value

    @field_validator("client_kwargs")
    @classmethod
    def _client_kwargs(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        for key in value:
            if key in _OWN_FIELDS:
                msg = (
                    f"client_kwargs[{key!r}] repeats a setting of its own; pass "
                    f"{_OWN_FIELDS[key]}= on MilvusOptions instead."
                )
                raise ValueError(msg)
        # credentials are held as SecretStr, so that no repr, log or dump shows them
        return {
            key: SecretStr(item) if isinstance(item, str) and is_secret_header(key) else item
            for key, item in value.items()
        }

    def connection_kwargs(self) -> dict[str, Any]:
        """``client_kwargs`` as ``MilvusClient`` takes them (secret values unwrapped)."""
        return {
            key: value.get_secret_value() if isinstance(value, SecretStr) else value
            for key, value in (self.client_kwargs or {}).items()
        }

    def open(self, *, collection_name: str, metric: Metric, with_sparse: bool) -> Backend:
        """The Milvus adapter for one collection."""
        from langchain_embedkit.vectorstores.backends.milvus import MilvusBackend

        return MilvusBackend(
            uri=self.uri,
            token=self.token,
            db_name=self.db_name,
            collection_name=collection_name,
            metric=metric,
            with_sparse=with_sparse,
            index_type=self.index_type,
            index_params=self.index_params,
            search_params=self.search_params,
            text_max_length=self.text_max_length,
            client_kwargs=self.connection_kwargs(),
            consistency_level=self.consistency_level,
        )


class ChromaOptions(BaseModel):
    """Where and how to open a Chroma collection (memory, a folder or a server).

    With none of ``persist_directory``, ``host`` and ``client`` the collection lives in
    memory.

    Example:
        >>> ChromaOptions(host="localhost", token="tok-1", headers={"X-Api-Key": "k-2"})
        ChromaOptions(persist_directory=None, host='localhost', port=8000, ssl=False, \
token=SecretStr('**********'), headers={'X-Api-Key': '**********'}, space=None, \
ef_search=None, ef_construction=None, max_neighbors=None)
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, arbitrary_types_allowed=True, use_attribute_docstrings=True
    )

    persist_directory: str | None = None
    """A folder for a persistent collection (created when missing)."""
    host: str | None = None
    """A Chroma server's host name (``chromadb.HttpClient``)."""
    port: int = 8000
    """The Chroma server's port."""
    ssl: bool = False
    """Talk to the server over HTTPS."""
    token: SecretStr | None = Field(default_factory=secret_from_env("CHROMA_TOKEN", default=None))
    """Server token, sent as ``Authorization: Bearer``; read from ``CHROMA_TOKEN`` when
    not given; used only with ``host``; never shown in ``repr``."""
    headers: dict[str, str] | None = None
    """Extra HTTP headers for the server; credential-looking values are masked in ``repr``."""
    client: Any = Field(default=None, repr=False)
    """An existing ``chromadb`` client to use instead of opening one."""
    space: Metric | None = None
    """HNSW space; Chroma's name for the store's ``metric`` (they must agree)."""
    ef_search: int | None = None
    """HNSW ``ef_search``."""
    ef_construction: int | None = None
    """HNSW ``ef_construction``."""
    max_neighbors: int | None = None
    """HNSW ``max_neighbors``."""

    @field_validator("persist_directory", mode="before")
    @classmethod
    def _folder(cls, value: Any) -> Any:
        value = _path(value)
        return value or None

    @field_validator("token", mode="before")
    @classmethod
    def _token(cls, value: Any) -> Any:
        return value or None

    @field_validator("port")
    @classmethod
    def _port(cls, value: int) -> int:
        if not 0 < value < 65_536:
            msg = f"port must be between 1 and 65535; got {value}."
            raise ValueError(msg)
        return value

    @field_validator("ef_search", "ef_construction", "max_neighbors")
    @classmethod
    def _hnsw(cls, value: int | None, info: Any) -> int | None:
        return _positive(info.field_name, value)

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            yield name, mask_headers(value) if name == "headers" and value else value

    @field_serializer("headers")
    def _headers_shown(self, value: dict[str, str] | None) -> dict[str, str] | None:
        return mask_headers(value) if value else value

    def hnsw(self) -> dict[str, int]:
        """The HNSW settings that were given."""
        given = {
            "ef_search": self.ef_search,
            "ef_construction": self.ef_construction,
            "max_neighbors": self.max_neighbors,
        }
        return {key: value for key, value in given.items() if value is not None}

    def open(self, *, collection_name: str, metric: Metric, with_sparse: bool) -> Backend:
        """The Chroma adapter for one collection."""
        from langchain_embedkit.vectorstores.backends.chroma import ChromaBackend

        return ChromaBackend.from_options(
            self, collection_name=collection_name, metric=metric, with_sparse=with_sparse
        )


BackendOptions = MilvusOptions | ChromaOptions
"""Settings of one engine."""

_FIELDS: dict[str, type[BackendOptions]] = {
    **{name: MilvusOptions for name in MilvusOptions.model_fields},
    **{name: ChromaOptions for name in ChromaOptions.model_fields},
}
_BY_NAME: dict[str, type[BackendOptions]] = {"milvus": MilvusOptions, "chroma": ChromaOptions}


def engine_keywords() -> list[str]:
    """Every flat engine keyword the store accepts (the fields of both options objects)."""
    return sorted(_FIELDS)


def _shown(name: str, value: Any) -> str:
    """A setting as an error may show it: credentials masked."""
    if name == "token":
        return MASK
    if isinstance(value, Mapping):
        return repr({k: MASK if is_secret_header(str(k)) else v for k, v in value.items()})
    return repr(_path(value))


def resolve_options(
    backend: str | BackendOptions | None, flat: Mapping[str, Any]
) -> BackendOptions:
    """One options object from ``backend=`` and the flat engine keywords.

    ``backend`` is an options object, an engine name or None (``persist_directory`` or
    ``host`` then mean Chroma, else Milvus). Flat keywords fill the options of a named
    engine; beside an options object they may only repeat what it holds.

    Example:
        >>> resolve_options("milvus", {"uri": "./a.db"}) == MilvusOptions(uri="./a.db")
        True
        >>> resolve_options(MilvusOptions(uri="./a.db"), {"uri": "./b.db"})
        Traceback (most recent call last):
        ...
        ValueError: uri='./b.db' disagrees with MilvusOptions(uri='./a.db'); set it once.
    """
    # a flat None (or token="") means "not given": token=None still reads the environment
    flat = {
        key: value
        for key, value in flat.items()
        if value is not None and not (key == "token" and value == "")
    }
    unknown = sorted(set(flat) - set(_FIELDS))
    if unknown:
        msg = (
            f"EmbedKitVectorStore() got unknown keyword arguments {unknown}; engine "
            f"settings are {engine_keywords()} (or pass backend=MilvusOptions(...) / "
            "ChromaOptions(...))."
        )
        raise TypeError(msg)
    if isinstance(backend, BackendOptions):
        kind = type(backend)
        for name, value in flat.items():
            if name not in kind.model_fields:
                msg = (
                    f"{name}= is a {_FIELDS[name].__name__} setting but "
                    f"backend={kind.__name__}(...) was given; move it onto the options "
                    "object of the engine you mean."
                )
                raise ValueError(msg)
            held = getattr(backend, name)
            # validated as the field would be: paths as str, passwords as SecretStr
            given = getattr(kind(**{name: value}), name)
            if name in _PATHS and given is not None and held is not None:
                given, held = Path(given), Path(held)  # "./db" and "db" are one folder
            if given != held:
                msg = (
                    f"{name}={_shown(name, value)} disagrees with {kind.__name__}("
                    f"{name}={_shown(name, getattr(backend, name))}); set it once."
                )
                raise ValueError(msg)
        return backend
    if backend is not None and not isinstance(backend, str):
        msg = (
            f"backend must be 'milvus', 'chroma', MilvusOptions(...) or ChromaOptions(...); "
            f"got {type(backend).__name__} {backend!r}."
        )
        raise TypeError(msg)
    name = choose_backend(backend, flat.get("persist_directory"), flat.get("host"))
    kind = _BY_NAME[name]
    foreign = sorted(key for key in flat if key not in kind.model_fields)
    if foreign:
        msg = (
            f"{', '.join(f'{key}=' for key in foreign)} "
            f"{'is a setting' if len(foreign) == 1 else 'are settings'} of the other engine, "
            f"but the store opens {name!r}; drop {'it' if len(foreign) == 1 else 'them'} or "
            f"choose the engine with backend=."
        )
        raise ValueError(msg)
    return kind(**flat)
