"""Which Milvus engine a client talks to, and what it can do: detected on connect.

Milvus engines differ in their expression dialect (see
:class:`~langchain_embedkit.vectorstores._filters_milvus.MilvusDialect`) and in their
features. A server reports its version (``get_server_version``); Milvus Lite does not
(2.5 answers UNIMPLEMENTED), so its version is that of the installed ``milvus-lite``.

=====================  ========  ============  ==================  ===============
engine                 dialect   sparse/hybrid  flush after writes  measured on
=====================  ========  ============  ==================  ===============
milvus-lite 3.x        LITE3     yes            yes (search speed)  3.2.2
milvus-lite 2.4/2.5    LITE25    yes            no                  2.5.1
Milvus server 2.3.x    SERVER23  no             no                  2.3.5
Milvus server 2.4.0-2  SERVER23  yes            no                  release notes
Milvus server >=2.4.3  SERVER24  yes            no                  release notes
=====================  ========  ============  ==================  ===============
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, Literal, get_args

from langchain_embedkit.errors import StoreLockedError
from langchain_embedkit.types import SparseVector
from langchain_embedkit.vectorstores._filters_milvus import (
    LITE3,
    LITE25,
    SERVER23,
    SERVER24,
    MilvusDialect,
)
from langchain_embedkit.vectorstores.backends.base import Row
from langchain_embedkit.vectorstores.ids import canonical_json

__all__ = [
    "CONSISTENCY_LEVELS",
    "EMPTY_SPARSE",
    "ID_MAX_LENGTH",
    "SPARSE_SINCE",
    "MilvusEngine",
    "check_consistency_level",
    "connect",
    "detect_engine",
    "entity",
    "metadata_json",
    "parse_version",
    "redact_uri",
]

logger = logging.getLogger(__name__)

SPARSE_SINCE = (2, 4, 0)
"""Sparse vectors and ``hybrid_search`` arrived in Milvus 2.4.0."""
ID_MAX_LENGTH = 512
"""Bytes a document id may hold (the VARCHAR primary key)."""
# Milvus Lite 3 refuses an all-zero sparse row; a document with no known token gets this
# one weight on a term no query can hold, so it stays findable by dense search only.
EMPTY_SPARSE = {2**32 - 2: 1e-30}
ConsistencyLevel = Literal["Strong", "Bounded", "Session", "Eventually"]
"""Milvus consistency levels (what a search sees of recent writes)."""
CONSISTENCY_LEVELS: tuple[str, ...] = get_args(ConsistencyLevel)
"""The consistency levels a Milvus collection and its reads accept."""
_INFIX_LIKE_SINCE = (2, 4, 3)
# The stored form of the metadata field: compact, UTF-8 kept, keys in the caller's order (read
# back as given), NaN and infinities refused as the reference filter evaluator cannot hold them.
_METADATA_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_VERSION_RE = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


def parse_version(text: str) -> tuple[int, int, int] | None:
    """The first ``major.minor[.patch]`` in ``text``, e.g. ``"v2.3.5-lite"`` -> (2, 3, 5)."""
    found = _VERSION_RE.search(text or "")
    if found is None:
        return None
    return int(found.group(1)), int(found.group(2)), int(found.group(3) or 0)


def _show(version: tuple[int, int, int]) -> str:
    return ".".join(str(part) for part in version)


@dataclass(frozen=True)
class MilvusEngine:
    """The engine behind a Milvus client and what it can do.

    Attributes:
        local: Milvus Lite (a local file) rather than a server.
        version: The engine version, e.g. ``(2, 3, 5)``.
        dialect: How filters are written for it.
        sparse_vectors: SPARSE_FLOAT_VECTOR fields and their inverted index.
        native_hybrid: ``hybrid_search`` with an RRF ranker on the engine.
        flush_after_writes: Searches run much faster on flushed data (milvus-lite 3).
    """

    local: bool
    version: tuple[int, int, int]
    dialect: MilvusDialect
    sparse_vectors: bool
    native_hybrid: bool
    flush_after_writes: bool

    @property
    def label(self) -> str:
        """The engine as users name it: ``"Milvus server 2.3.5"``, ``"milvus-lite 2.5.1"``."""
        kind = "milvus-lite" if self.local else "Milvus server"
        return f"{kind} {_show(self.version)}"

    @classmethod
    def for_version(cls, version: tuple[int, int, int], *, local: bool) -> MilvusEngine:
        """The capabilities of a given engine line and version."""
        if local:
            dialect = LITE3 if version[0] >= 3 else LITE25
            sparse = True
        else:
            dialect = SERVER24 if version >= _INFIX_LIKE_SINCE else SERVER23
            sparse = version >= SPARSE_SINCE
        label = f"{'milvus-lite' if local else 'Milvus server'} {_show(version)}"
        return cls(local, version, dialect.named(label), sparse, sparse, local and version[0] >= 3)


def detect_engine(client: Any, *, local: bool) -> MilvusEngine:
    """Read the engine version through ``client`` and return what that engine can do.

    A server whose version cannot be read or parsed is treated as the oldest line this
    package knows (Milvus 2.3: no sparse vectors, prefix LIKE only), with a warning.
    """
    if local:
        try:
            text = importlib_metadata.version("milvus-lite")
        except importlib_metadata.PackageNotFoundError:
            text = "3.0.0"  # a build without package metadata: the pinned line
        return MilvusEngine.for_version(parse_version(text) or (3, 0, 0), local=True)
    try:
        text = str(client.get_server_version())
    except Exception:
        logger.warning("could not read the Milvus server version", exc_info=True)
        text = ""
    version = parse_version(text)
    if version is None:
        logger.warning(
            "Milvus server version %r is not in major.minor.patch form; using the Milvus 2.3 "
            "filter dialect and features (no sparse vectors).",
            text,
        )
        version = (2, 3, 0)
    return MilvusEngine.for_version(version, local=False)


def check_consistency_level(value: str | None) -> str | None:
    """``value`` spelled as Milvus spells it (case-insensitive), or a clear error.

    Example:
        >>> check_consistency_level("bounded")
        'Bounded'
    """
    if value is None:
        return None
    if isinstance(value, str):
        for level in CONSISTENCY_LEVELS:
            if value.strip().lower() == level.lower():
                return level
    allowed = ", ".join(repr(level) for level in CONSISTENCY_LEVELS)
    msg = (
        f"Unknown Milvus consistency_level {value!r}; supported: {allowed}, or None for the "
        "collection's own level (Strong for collections this store creates). Strong reads "
        "see every write that returned before them; Session sees this client's writes; "
        "Bounded and Eventually may lag recent writes but answer sooner."
    )
    raise ValueError(msg)


_SECRET_KEYS = ("token", "password", "api_key")


def redact_uri(uri: str) -> str:
    """``uri`` without a ``user:password@`` part, for messages and reprs.

    Example:
        >>> redact_uri("https://root:Milvus@db.example.com:19530")
        'https://***@db.example.com:19530'
    """
    return re.sub(r"://[^/@]*@", "://***@", uri)


def _mask(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def connect(pymilvus: Any, uri: str, kwargs: Mapping[str, Any], *, local: bool) -> Any:
    """A ``MilvusClient`` for ``uri``, every option forwarded, errors free of secrets.

    ``kwargs`` go to ``MilvusClient`` as they are (``token``, ``user``/``password``,
    ``db_name``, ``secure``, ``server_pem_path``, ``server_name``, ``ca_pem_path``,
    ``client_pem_path``, ``client_key_path``, ``timeout``...). A Milvus Lite file held by
    another process is a :class:`StoreLockedError`.
    """
    secrets = [str(kwargs[key]) for key in _SECRET_KEYS if kwargs.get(key)]
    found = re.search(r"://([^/@]*)@", uri)
    if found:
        secrets.append(found.group(1))
    attempts = 3 if local else 1
    if local:
        repair_lite_indexes(os.path.abspath(uri))
    for attempt in range(attempts):
        try:
            return pymilvus.MilvusClient(uri=uri, **kwargs)
        except Exception as exc:
            if not local:
                shown = _mask(str(exc), secrets)
                msg = (
                    f"Could not connect to the Milvus server at {redact_uri(uri)!r}: {shown}. "
                    "Check that it runs and is reachable, and the connection options "
                    "(token or user/password; secure=True with server_pem_path/server_name "
                    "for TLS) passed in client_kwargs."
                )
                if shown != str(exc):  # the engine's error quoted a secret: do not chain it
                    raise ConnectionError(msg) from None
                raise ConnectionError(msg) from exc
            locked = "open local milvus failed" in str(exc).lower()
            if not locked:
                if attempt + 1 == attempts:
                    raise
                # Milvus Lite 2.x starts a server process; on a busy machine its socket
                # can appear late, so try again before giving up
                time.sleep(1.0 + attempt)
                continue
            msg = (
                f"Could not open the Milvus Lite file {uri!r}: another process most "
                "likely has it open (Milvus Lite allows one process per file). Close "
                "the other store first (store.close()), or have both processes use a "
                f"Milvus server (uri='http://host:19530'). Engine error: {exc}"
            )
            raise StoreLockedError(msg) from exc
    msg = f"Could not connect to Milvus at {uri!r}."  # unreachable: the loop raises
    raise RuntimeError(msg)


def _check_keys(value: Any, path: str) -> None:
    """Raise naming the first dict key that is not a string (JSON would turn it into one)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                msg = (
                    f"Metadata key {key!r} at {path or 'the top level'} is a "
                    f"{type(key).__name__}; Milvus stores metadata as JSON, whose keys are "
                    f"strings. Use str keys (e.g. {str(key)!r})."
                )
                raise ValueError(msg)
            if isinstance(item, (Mapping, list, tuple)):
                _check_keys(item, f"{path}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for n, item in enumerate(value):
            if isinstance(item, (Mapping, list, tuple)):
                _check_keys(item, f"{path}[{n}]")


def metadata_json(metadata: Mapping[str, Any]) -> str:
    """``metadata`` as the JSON text the ``metadata`` field stores.

    Sent as text, the metadata is only parsed once by pymilvus (in C) instead of being walked
    value by value in Python, which cost about a fifth of an insert request's preparation.

    Example:
        >>> metadata_json({"b": 1, "a": "é"})
        '{"b":1,"a":"é"}'

    Raises:
        ValueError: naming the key that JSON cannot hold as given (a non-string key, NaN,
            an infinity, a ``datetime``...).
    """
    _check_keys(metadata, "")
    try:
        return _METADATA_JSON.encode(metadata)
    except (TypeError, ValueError):
        canonical_json(metadata)  # raises naming the key
        raise


def entity(row: Row, text_max_length: int, *, sparse_field: bool) -> dict[str, Any]:
    """``row`` as a Milvus entity of the store's layout, or an error naming what is too long.

    The metadata of ``row`` must have passed :func:`metadata_json` (the store checks every
    document's metadata before a batch is written).
    """
    # a character is at most 4 UTF-8 bytes: strings this short need no byte count
    if len(row.id) > ID_MAX_LENGTH // 4 and len(row.id.encode()) > ID_MAX_LENGTH:
        msg = (
            f"Document id {row.id[:40]!r}... is {len(row.id.encode())} bytes; Milvus "
            f"ids hold at most {ID_MAX_LENGTH}. Use shorter ids (or let the store "
            "derive them from content)."
        )
        raise ValueError(msg)
    if len(row.text) > text_max_length // 4:
        size = len(row.text.encode())
        if size > text_max_length:
            msg = (
                f"Document {row.id!r} has {size} bytes of text; this Milvus collection holds "
                f"at most text_max_length={text_max_length}. Split the text into "
                "smaller chunks (e.g. with langchain-text-splitters)."
            )
            raise ValueError(msg)
    out: dict[str, Any] = {
        "id": row.id,
        "text": row.text,
        "metadata": _METADATA_JSON.encode(row.metadata),
        "dense": row.dense,
    }
    if sparse_field:
        sparse = row.sparse if row.sparse is not None else SparseVector()
        out["sparse"] = sparse.as_dict() if len(sparse) else dict(EMPTY_SPARSE)
    return out


def repair_lite_indexes(data_dir: str | os.PathLike[str]) -> list[Path]:
    """Remove the FLAT index files a killed milvus-lite 3 process left half-written.

    milvus-lite 3.2 writes a segment's FLAT index (``indexes/*.flat.idx``, NPY format) in place
    rather than through a temporary file, so a process killed during that write leaves a
    truncated file that the engine then fails to load on every open ("No data left in file").
    The file is derived from the segment's stored vectors and rebuilt when it is absent, so
    removing a truncated one loses nothing. Runs only while no process holds the engine's
    ``LOCK`` (an engine that is running has its indexes in memory and may be writing one).

    Returns:
        The files removed.
    """
    root = Path(data_dir)
    lock = root / "LOCK"
    if not (root / "collections").is_dir() or not lock.is_file():
        return []
    try:
        import fcntl
    except ImportError:  # pragma: no cover - milvus-lite runs on Linux and macOS only
        return []
    removed: list[Path] = []
    with lock.open("rb") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return []
        try:
            for path in root.glob("collections/*/partitions/*/indexes/*.flat.idx"):
                if _truncated_npy(path):
                    path.unlink()
                    removed.append(path)
                    logger.warning(
                        "Removed %s: a process was stopped while milvus-lite wrote this index; "
                        "the engine rebuilds it from the stored vectors.",
                        path,
                    )
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    return removed


def _truncated_npy(path: Path) -> bool:
    """Whether ``path`` is shorter than its NPY header says (or has no whole header)."""
    import numpy as np
    from numpy.lib import format as npy

    size = path.stat().st_size
    try:
        with path.open("rb") as stream:
            version = npy.read_magic(stream)
            readers = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}
            if version not in readers:  # a format this check does not know: leave it
                return False
            shape, _, dtype = readers[version](stream)
            offset = stream.tell()
    except (ValueError, OSError, EOFError, SyntaxError):
        return True
    return size < offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
