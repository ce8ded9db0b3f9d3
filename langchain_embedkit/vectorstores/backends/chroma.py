"""Chroma backend: in-memory, persistent (``persist_directory``) or a server (``HttpClient``).

User metadata keys are stored as they are and the text is the Chroma document. Chroma has
no sparse index in local mode ("Sparse vector indexing is not enabled in local"), so each
document's sparse vector is kept in the reserved metadata key ``embedkit:sparse`` (written
in the same request as its dense vector) and searched with
:class:`~langchain_embedkit.sparse.search.SparseIndex` (equal scores in insertion order, as
Milvus returns them, so both engines fuse alike).
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_embedkit._imports import require
from langchain_embedkit.sparse.search import SparseIndex, decode_sparse, encode_sparse
from langchain_embedkit.types import SparseVector
from langchain_embedkit.vectorstores.backends.base import Filter, Hit, Record, Row
from langchain_embedkit.vectorstores.scoring import Metric

if TYPE_CHECKING:
    from pydantic import SecretStr

    from langchain_embedkit.vectorstores.options import ChromaOptions

__all__ = ["SPARSE_KEY", "ChromaBackend"]

logger = logging.getLogger(__name__)

SPARSE_KEY = "embedkit:sparse"
"""Reserved metadata key that carries a document's sparse vector; never shown to users."""
_RESERVED = (SPARSE_KEY, "chroma:document")
_INT64 = 2**63
_PAGE = 5000
# ids per look-up: SQLite caps bound variables (32,766, or 999 on older builds), and a
# filter adds its own next to the ids
_ID_PAGE = 900
_RECHECK_S = 1.0


def _scalar_problem(value: Any) -> str | None:
    if isinstance(value, bool | str):
        return None
    if isinstance(value, int):
        return None if -_INT64 <= value < _INT64 else "an integer outside the 64-bit range"
    if isinstance(value, float):
        return None if math.isfinite(value) else "a NaN or infinite float"
    if value is None:
        return "None (Chroma drops keys set to None)"
    return f"a {type(value).__name__}"


def check_chroma_metadata(metadata: Mapping[str, Any]) -> None:
    """Raise ValueError naming the first key Chroma cannot store exactly."""
    for key, value in metadata.items():
        if not isinstance(key, str) or key in _RESERVED:
            msg = (
                f"Metadata key {key!r} cannot be used with Chroma: keys must be strings other "
                f"than the reserved {list(_RESERVED)}. Rename the key."
            )
            raise ValueError(msg)
        problem: str | None
        if isinstance(value, list):
            kinds = {type(v) for v in value}
            if not value:
                problem = "an empty list"
            elif len(kinds) > 1:
                problem = f"a list mixing {sorted(k.__name__ for k in kinds)}"
            else:
                problem = next((p for v in value if (p := _scalar_problem(v))), None)
                if problem is None and isinstance(value[0], bool | str | int | float):
                    problem = None
                elif problem is not None:
                    problem = f"a list holding {problem}"
        else:
            problem = _scalar_problem(value)
        if problem is not None:
            msg = (
                f"Metadata key {key!r} holds {problem} ({value!r}), which Chroma cannot store: "
                "values must be str, int, finite float, bool, or a non-empty list of one of "
                "those. Convert it (e.g. json.dumps(value) for a dict, drop None keys), or use "
                "backend='milvus', whose JSON metadata holds nested values and None."
            )
            raise ValueError(msg)


class ChromaBackend:
    """Adapter over a ``chromadb`` collection (see :class:`..base.Backend`)."""

    name = "chroma"
    upsert_needs_stored_keys = True
    blind_upserts = False

    def __init__(
        self,
        *,
        collection_name: str,
        metric: Metric,
        with_sparse: bool,
        persist_directory: str | None = None,
        host: str | None = None,
        port: int = 8000,
        ssl: bool = False,
        token: SecretStr | None = None,
        headers: Mapping[str, str] | None = None,
        client: Any = None,
        hnsw: Mapping[str, Any] | None = None,
    ) -> None:
        chromadb = require("chromadb", "chroma")
        from chromadb.config import Settings

        settings = Settings(anonymized_telemetry=False)
        self.persist_directory = persist_directory
        if client is not None:
            self.client = client
        elif host is not None:
            all_headers = dict(headers or {})
            if token is not None:
                all_headers["Authorization"] = f"Bearer {token.get_secret_value()}"
            self.client = chromadb.HttpClient(
                host=host, port=port, ssl=ssl, headers=all_headers, settings=settings
            )
        elif persist_directory is not None:
            Path(persist_directory).mkdir(parents=True, exist_ok=True)
            self.client = chromadb.PersistentClient(path=persist_directory, settings=settings)
        else:
            self.client = chromadb.EphemeralClient(settings=settings)
        self.collection_name = collection_name
        self.metric = metric
        self.with_sparse = with_sparse
        self._hnsw = dict(hnsw or {})
        configuration = {"hnsw": {"space": metric, **self._hnsw}}
        self.collection = self.client.get_or_create_collection(
            collection_name, embedding_function=None, configuration=configuration
        )
        with warnings.catch_warnings():
            # reading the configuration of a collection made with embedding_function=None
            warnings.simplefilter("ignore", DeprecationWarning)
            stored = (self.collection.configuration or {}).get("hnsw") or {}
        space = stored.get("space")
        if space is not None and space != metric:
            msg = (
                f"Chroma collection {collection_name!r} was built with space {space!r} but "
                f"metric={metric!r} was given. Pass metric={space!r}, or use another "
                "collection_name."
            )
            raise ValueError(msg)
        self._dim: int | None = None
        self._index: SparseIndex | None = None
        self._checked_at = 0.0

    @classmethod
    def from_options(
        cls, options: ChromaOptions, *, collection_name: str, metric: Metric, with_sparse: bool
    ) -> ChromaBackend:
        """Open ``collection_name`` where ``options`` say; ``space`` must agree with ``metric``."""
        if options.space is not None and options.space != metric:
            msg = (
                f"space={options.space!r} and metric={metric!r} disagree; pass one of them "
                "(space is Chroma's name for metric)."
            )
            raise ValueError(msg)
        return cls(
            collection_name=collection_name,
            metric=metric,
            with_sparse=with_sparse,
            persist_directory=options.persist_directory,
            host=options.host,
            port=options.port,
            ssl=options.ssl,
            token=options.token if options.host else None,
            headers=options.headers,
            client=options.client,
            hnsw=options.hnsw(),
        )

    def max_rows_per_write(self) -> int:
        return int(self.client.get_max_batch_size())

    def max_bytes_per_write(self) -> int | None:
        return None

    def dimension(self) -> int | None:
        if self._dim is None:
            got = self.collection.get(limit=1, include=["embeddings"])
            embeddings = got.get("embeddings")
            if embeddings is not None and len(embeddings) > 0:
                self._dim = len(embeddings[0])
        return self._dim

    def check_metadata(self, metadata: Mapping[str, Any]) -> None:
        check_chroma_metadata(metadata)

    def existing(self, ids: Sequence[str]) -> dict[str, set[str]]:
        if not ids:
            return {}
        found: dict[str, set[str]] = {}
        for start in range(0, len(ids), _ID_PAGE):
            part = list(ids[start : start + _ID_PAGE])
            got = self.collection.get(ids=part, include=["metadatas"])
            for doc_id, meta in zip(got["ids"], got["metadatas"] or [], strict=True):
                found[doc_id] = set(meta or {})
        return found

    def write(self, rows: Sequence[Row], existing: Mapping[str, set[str]]) -> None:
        if not rows:
            return
        metadatas: list[dict[str, Any] | None] = []
        for row in rows:
            stored = existing.get(row.id)
            if not self.with_sparse and not stored:
                metadatas.append(row.metadata or None)  # the common case: nothing to add
                continue
            meta: dict[str, Any] = dict(row.metadata)
            if self.with_sparse:
                meta[SPARSE_KEY] = encode_sparse(row.sparse or SparseVector())
            # Chroma merges metadata on upsert: keys the new version lacks are unset
            for stale in (stored or set()) - set(meta):
                meta[stale] = None
            metadatas.append(meta or None)
        self.collection.upsert(
            ids=[r.id for r in rows],
            embeddings=[r.dense for r in rows],
            documents=[r.text for r in rows],
            metadatas=metadatas,
        )
        if self._dim is None:
            self._dim = len(rows[0].dense)
        if self._index is not None:
            self._index.upsert([r.id for r in rows], [r.sparse or SparseVector() for r in rows])

    def end_of_writes(self) -> None:
        return None

    @staticmethod
    def _clean(meta: Mapping[str, Any] | None) -> dict[str, Any]:
        return {k: v for k, v in (meta or {}).items() if k != SPARSE_KEY}

    def _records(self, got: Mapping[str, Any], with_vectors: bool) -> list[Record]:
        docs = got.get("documents") or [None] * len(got["ids"])
        metas = got.get("metadatas") or [None] * len(got["ids"])
        vectors = got.get("embeddings") if with_vectors else None
        return [
            Record(
                id=doc_id,
                text=doc or "",
                metadata=self._clean(meta),
                vector=[float(x) for x in vectors[i]] if vectors is not None else None,
            )
            for i, (doc_id, doc, meta) in enumerate(zip(got["ids"], docs, metas, strict=True))
        ]

    def _include(self, with_vectors: bool) -> list[str]:
        return (
            ["documents", "metadatas", "embeddings"]
            if with_vectors
            else [
                "documents",
                "metadatas",
            ]
        )

    def get(self, ids: Sequence[str], *, with_vectors: bool = False) -> list[Record]:
        out: list[Record] = []
        for start in range(0, len(ids), _ID_PAGE):
            got = self.collection.get(
                ids=list(ids[start : start + _ID_PAGE]), include=self._include(with_vectors)
            )
            out.extend(self._records(got, with_vectors))
        return out

    def delete(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        step = self.max_rows_per_write()
        for start in range(0, len(ids), step):
            self.collection.delete(ids=list(ids[start : start + step]))
        if self._index is not None:
            self._index.delete(ids)

    def _where(self, filter: Filter | None) -> dict[str, Any]:
        if not filter:
            return {}
        from langchain_embedkit.vectorstores import filters

        where, where_document = filters.to_chroma(filter)
        out: dict[str, Any] = {}
        if where:
            out["where"] = where
        if where_document:
            out["where_document"] = where_document
        return out

    def _matching_ids(self, filter: Filter | None) -> list[str]:
        ids: list[str] = []
        offset = 0
        while True:
            got = self.collection.get(include=[], limit=_PAGE, offset=offset, **self._where(filter))
            ids.extend(got["ids"])
            if len(got["ids"]) < _PAGE:
                return ids
            offset += _PAGE

    def delete_where(self, filter: Filter) -> int:
        ids = self._matching_ids(filter)
        self.delete(ids)
        return len(ids)

    def count(self) -> int:
        return int(self.collection.count())

    def peek(self, limit: int) -> list[Record]:
        if limit <= 0:
            return []
        return self._records(self.collection.get(limit=limit, include=self._include(False)), False)

    def iter_texts(self, batch_size: int) -> Iterator[list[str]]:
        offset = 0
        while True:
            got = self.collection.get(include=["documents"], limit=batch_size, offset=offset)
            if not got["ids"]:
                return
            yield [d or "" for d in got["documents"] or []]
            offset += len(got["ids"])

    def iter_records(self, filter: Filter | None, batch_size: int) -> Iterator[list[Record]]:
        # ids first (one page of a changing result set could skip rows), texts by id
        ids = self._matching_ids(filter)
        for start in range(0, len(ids), batch_size):
            page = ids[start : start + batch_size]
            records: list[Record] = []
            for at in range(0, len(page), _ID_PAGE):
                got = self.collection.get(ids=page[at : at + _ID_PAGE], include=["documents"])
                records.extend(
                    Record(id=doc_id, text=doc or "")
                    for doc_id, doc in zip(got["ids"], got["documents"] or [], strict=True)
                )
            yield records

    def write_sparse(self, ids: Sequence[str], vectors: Sequence[SparseVector]) -> None:
        if not ids or not self.with_sparse:
            return
        step = self.max_rows_per_write()
        for start in range(0, len(ids), step):
            part = list(ids[start : start + step])
            # update merges metadata: only the sparse key changes
            self.collection.update(
                ids=part,
                metadatas=[{SPARSE_KEY: encode_sparse(v)} for v in vectors[start : start + step]],
            )
        if self._index is not None:
            self._index.upsert(list(ids), list(vectors))

    def drop(self) -> None:
        self.client.delete_collection(self.collection_name)
        self._index = None
        self._dim = None
        configuration = {"hnsw": {"space": self.metric, **self._hnsw}}
        self.collection = self.client.get_or_create_collection(
            self.collection_name, embedding_function=None, configuration=configuration
        )

    def _to_raw(self, distance: float) -> float:
        # Chroma returns distances: cosine 1 - cos, ip 1 - dot, l2 squared Euclidean
        return float(distance) if self.metric == "l2" else 1.0 - float(distance)

    def dense_search(
        self,
        vector: Sequence[float],
        k: int,
        filter: Filter | None,
        *,
        with_vectors: bool = False,
        ids_only: bool = False,
    ) -> list[Hit]:
        if k <= 0:
            return []
        if ids_only:
            include = ["distances"]
        else:
            include = ["documents", "metadatas", "distances"]
            include += ["embeddings"] if with_vectors else []
        got = self.collection.query(
            query_embeddings=[list(vector)], n_results=k, include=include, **self._where(filter)
        )
        first = {
            "ids": got["ids"][0],
            "documents": (got.get("documents") or [[]])[0],
            "metadatas": (got.get("metadatas") or [[]])[0],
        }
        if with_vectors:
            first["embeddings"] = (got.get("embeddings") or [[]])[0]
        records = self._records(first, with_vectors)
        distances = (got.get("distances") or [[]])[0]
        return [Hit(r, self._to_raw(d)) for r, d in zip(records, distances, strict=True)]

    def _sparse_index(self) -> SparseIndex:
        # this process keeps the index current; another writer is noticed by the count,
        # checked at most once a second to keep queries to one round trip
        now = time.monotonic()
        if self._index is not None and now - self._checked_at < _RECHECK_S:
            return self._index
        total = self.collection.count()
        self._checked_at = now
        if self._index is not None and len(self._index) == total:
            return self._index
        # first use, or another process changed the collection: rebuild from the stored vectors
        index = SparseIndex(ties="insertion")
        offset = 0
        while offset < total:
            got = self.collection.get(include=["metadatas"], limit=_PAGE, offset=offset)
            ids = got["ids"]
            if not ids:
                break
            vectors = [
                decode_sparse(m[SPARSE_KEY]) if m and SPARSE_KEY in m else SparseVector()
                for m in got["metadatas"] or []
            ]
            index.upsert(ids, vectors)
            offset += len(ids)
        self._index = index
        return index

    def sparse_search(
        self, vector: SparseVector, k: int, filter: Filter | None, *, ids_only: bool = False
    ) -> list[Hit]:
        if k <= 0 or len(vector) == 0:
            return []
        index = self._sparse_index()
        ranked = index.search(vector, k if not filter else max(10 * k, 100))
        if filter:
            # cheap path first: keep the best candidates that match; only a narrow filter
            # needs the full list of matching ids
            where = self._where(filter)
            candidates = [doc_id for doc_id, _ in ranked]
            matching: set[str] = set()
            for start in range(0, len(candidates), _ID_PAGE):
                part = candidates[start : start + _ID_PAGE]
                matching.update(self.collection.get(ids=part, include=[], **where)["ids"])
            kept = [(d, s) for d, s in ranked if d in matching]
            if len(kept) >= k or len(ranked) < max(10 * k, 100):
                ranked = kept[:k]
            else:
                ranked = index.search(vector, k, set(self._matching_ids(filter)))
        if ids_only:
            return [Hit(Record(id=d, text=""), s) for d, s in ranked]
        by_id = {r.id: r for r in self.get([doc_id for doc_id, _ in ranked])}
        return [Hit(by_id[d], s) for d, s in ranked if d in by_id]

    def state_path(self) -> Path | None:
        if self.persist_directory is None:
            return None
        return Path(self.persist_directory) / "embedkit" / f"{self.collection_name}.sparse.json"

    def close(self) -> None:
        self._index = None

    def __repr__(self) -> str:
        where = self.persist_directory or "memory"
        return f"ChromaBackend(collection_name={self.collection_name!r}, location={where!r})"
