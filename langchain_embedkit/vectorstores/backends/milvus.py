"""Milvus backend: Milvus Lite files and Milvus servers through one ``MilvusClient``.

Collection layout (the filter compiler targets it): ``id`` VARCHAR primary key, ``text``
VARCHAR, ``metadata`` JSON (the user's metadata, whole), ``dense`` FLOAT_VECTOR and, when
a sparse encoder is used, ``sparse`` SPARSE_FLOAT_VECTOR with an inverted index (IP).

The engine is detected on connect (:func:`.milvus_engine.detect_engine`): its version picks
the filter dialect and the features (sparse vectors, native hybrid search, flushing).
Collections this backend creates use Strong consistency unless ``consistency_level`` says
otherwise, so a search sees every write that returned before it, from any client; collections
created by others keep their own level, and a given ``consistency_level`` applies to every
read. Whatever the level, the id look-up that keeps ingestion idempotent reads Strong at the
start of each write pass (see :meth:`MilvusBackend.existing`).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_embedkit._imports import require
from langchain_embedkit.types import SparseVector
from langchain_embedkit.vectorstores.backends.base import Filter, Hit, Record, Row
from langchain_embedkit.vectorstores.backends.milvus_engine import (
    ID_MAX_LENGTH,
    SPARSE_SINCE,
    MilvusEngine,
    check_consistency_level,
    connect,
    detect_engine,
    entity,
    metadata_json,
    redact_uri,
)
from langchain_embedkit.vectorstores.scoring import Metric

if TYPE_CHECKING:
    from pydantic import SecretStr
    from pymilvus import MilvusClient

__all__ = ["MilvusBackend", "is_local_uri"]

logger = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 32 * 1024 * 1024
"""Write requests are kept under half of Milvus' 64 MB gRPC message cap."""
_MAX_IDS_PER_REQUEST = 1000
_METRICS = {"cosine": "COSINE", "ip": "IP", "l2": "L2"}
_FIELDS = ("id", "text", "metadata", "dense")
LITE_SCAN_WARNING_ROWS = 50_000
"""Past this many rows a local Milvus Lite 3 collection warns once that searches slow down."""

_lite_users: dict[str, int] = {}
_lite_lock = threading.Lock()
# Milvus Lite lets one process open a file, so every write to a collection that this process
# created went through a backend here: the ids of such collections, per (file, collection),
# answer "is it stored?" for new ids without a query. Forgotten when the file is released.
_lite_ids: dict[tuple[str, str], set[str]] = {}


def is_local_uri(uri: str) -> bool:
    """True when ``uri`` names a Milvus Lite file rather than a server."""
    return "://" not in uri and not uri.startswith("unix:")


class MilvusBackend:
    """Adapter over ``pymilvus.MilvusClient`` (see :class:`..base.Backend`)."""

    name = "milvus"
    upsert_needs_stored_keys = False
    has_native_hybrid = True

    def __init__(
        self,
        *,
        uri: str,
        token: SecretStr | None,
        db_name: str | None,
        collection_name: str,
        metric: Metric,
        with_sparse: bool,
        index_type: str | None,
        index_params: Mapping[str, Any] | None,
        search_params: Mapping[str, Any] | None,
        text_max_length: int,
        client_kwargs: Mapping[str, Any] | None = None,
        consistency_level: str | None = None,
    ) -> None:
        consistency_level = check_consistency_level(consistency_level)
        pymilvus = require("pymilvus", "milvus")
        self.uri = uri
        self.local = is_local_uri(uri)
        if self.local and not uri.endswith(".db"):
            msg = (
                f"Milvus uri {uri!r} is neither a server address nor a Milvus Lite file; a "
                "local file name must end in '.db' (e.g. './embedkit.db'), a server looks "
                "like 'http://localhost:19530'."
            )
            raise ValueError(msg)
        self.collection_name = collection_name
        self.metric = metric
        self.with_sparse = with_sparse
        self.index_type = index_type or ("FLAT" if self.local else "AUTOINDEX")
        self.index_params = dict(index_params or {})
        self.search_params = dict(search_params or {})
        self.text_max_length = text_max_length
        self.consistency_level = consistency_level
        self._dim: int | None = None
        self._has_sparse_field = False
        self._exists = False
        self._written: set[str] | None = None  # see _lite_ids and _create
        self._loading = False  # a new server collection loads while the first pass writes
        self._warned_size = False
        # rows in the collection: exact after count() and this object's inserts, an upper
        # bound after deletes (None: unknown); saves a statistics call per write
        self._size: int | None = None
        self._size_exact = False
        self._metric_checked = True  # a collection this object creates has the store's metric
        self._closed = False
        self._path = os.path.abspath(uri) if self.local else None
        kwargs: dict[str, Any] = dict(client_kwargs or {})
        if token is not None:
            kwargs["token"] = token.get_secret_value()
        if db_name:
            kwargs["db_name"] = db_name
        if self._path is not None:
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        self.client: MilvusClient = connect(pymilvus, uri, kwargs, local=self.local)
        if self._path is not None:
            with _lite_lock:
                _lite_users[self._path] = _lite_users.get(self._path, 0) + 1
        self.engine: MilvusEngine = detect_engine(self.client, local=self.local)
        self.has_native_hybrid = self.engine.native_hybrid
        self._flush_after_writes = self.engine.flush_after_writes
        if with_sparse and not self.engine.sparse_vectors:
            self.client.close()
            since = ".".join(map(str, SPARSE_SINCE))
            msg = (
                f"{self.engine.label} at {redact_uri(uri)!r} has no sparse vectors (they "
                f"arrived in Milvus {since}), so it cannot hold the BM25 vectors of a store with "
                "sparse_embedding. Leave sparse_embedding out (dense search works on this "
                f"server), upgrade the server to Milvus {since} or later, or use "
                "backend='chroma' for hybrid search."
            )
            raise ValueError(msg)
        self._open_existing()

    # -- schema ---------------------------------------------------------------------------

    def _open_existing(self) -> None:
        if not self.client.has_collection(self.collection_name):
            return
        info = self.client.describe_collection(self.collection_name)
        fields = {f["name"]: f for f in info["fields"]}
        missing = [f for f in _FIELDS if f not in fields]
        if missing:
            msg = (
                f"Milvus collection {self.collection_name!r} exists but was not created by "
                f"EmbedKitVectorStore: it has fields {sorted(fields)} and lacks {missing}. "
                "Use another collection_name, or drop that collection."
            )
            raise ValueError(msg)
        self._dim = int(fields["dense"]["params"]["dim"])
        self._has_sparse_field = "sparse" in fields
        if self.with_sparse and not self._has_sparse_field:
            msg = (
                f"Milvus collection {self.collection_name!r} was created without a sparse "
                "field, so it cannot take a sparse_embedding. Use a new collection_name for "
                "hybrid search, or open this one without sparse_embedding."
            )
            raise ValueError(msg)
        self._metric_checked = False  # on the first search: only searches use the metric
        self._exists = True
        if self._path is not None:
            with _lite_lock:
                self._written = _lite_ids.get((self._path, self.collection_name))
        self.client.load_collection(self.collection_name)

    def _stored_metric(self) -> str | None:
        try:
            desc = self._dense_index()
        except Exception:  # older engines describe indexes differently; metric stays unchecked
            logger.debug("could not read the index metric", exc_info=True)
            return None
        metric = desc.get("metric_type") if desc else None
        return str(metric).upper() if metric else None

    def _dense_index(self) -> dict[str, Any] | None:
        # The store names the index after its field. Each call counts the collection's rows
        # on Milvus Lite 3 (~0.1 s at 100k), so listing the indexes is only the fallback.
        try:
            desc = self.client.describe_index(self.collection_name, "dense")
        except Exception:  # no index of that name: a collection created elsewhere
            desc = None
        if desc and desc.get("field_name") == "dense":
            return dict(desc)
        for name in self.client.list_indexes(self.collection_name):
            desc = self.client.describe_index(self.collection_name, name)
            if desc and desc.get("field_name") == "dense":
                return dict(desc)
        return None

    def _create(self, dim: int) -> None:
        from pymilvus import DataType

        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=ID_MAX_LENGTH)
        schema.add_field("text", DataType.VARCHAR, max_length=self.text_max_length)
        schema.add_field("metadata", DataType.JSON)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
        if self.with_sparse:
            schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        index = self.client.prepare_index_params()
        index.add_index(
            "dense",
            index_type=self.index_type,
            metric_type=_METRICS[self.metric],
            params=self.index_params,
        )
        if self.with_sparse:
            index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
        self.client.create_collection(
            self.collection_name,
            schema=schema,
            consistency_level=self.consistency_level or "Strong",
        )
        # create_collection(index_params=...) polls the index state after a fixed 0.5 s sleep
        # per index; on an empty collection the index is ready at once, so do not wait
        self.client.create_index(self.collection_name, index, sync=False)
        # a server takes ~2.5 s to load even an empty collection: writes need no load, so it
        # loads while the first pass writes and reads wait for it (see _ready)
        self.client.load_collection(self.collection_name, _async=not self.local)
        self._loading = not self.local
        self._dim = dim
        self._has_sparse_field = self.with_sparse
        self._exists = True
        self._size, self._size_exact = 0, True
        self._metric_checked = True
        if self._path is not None:
            with _lite_lock:
                self._written = _lite_ids[(self._path, self.collection_name)] = set()
        else:
            # Until this write pass ends every stored row is one it wrote, so its ids answer
            # "is it stored?" without a Strong read (each waits ~0.3 s for the server's next
            # time tick on Milvus 2.3.5). Forgotten at the end of the pass, or on a failed
            # write: then other clients may have written too.
            self._written = set()

    def _ready(self, *, read: bool = True) -> bool:
        """Whether the collection exists (it may have been created since this backend
        opened); for a read, also wait until a collection created here has loaded."""
        if not self._exists:
            self._open_existing()
        if read and self._loading:
            self.client.load_collection(self.collection_name)
            self._loading = False
        return self._exists

    # -- Backend --------------------------------------------------------------------------

    def max_rows_per_write(self) -> int:
        return 10_000

    def max_bytes_per_write(self) -> int | None:
        return MAX_REQUEST_BYTES

    def dimension(self) -> int | None:
        return self._dim

    def check_metadata(self, metadata: Mapping[str, Any]) -> None:
        metadata_json(metadata)  # raises naming the key JSON cannot hold

    def _read_kwargs(self) -> dict[str, Any]:
        """The user's consistency level for searches and counts (None: the collection's)."""
        return {"consistency_level": self.consistency_level} if self.consistency_level else {}

    def _exact_kwargs(self) -> dict[str, Any]:
        """Reads whose answer decides a write (old texts, ids to delete) never lag writes."""
        if self.local or self.consistency_level in (None, "Strong", "Session"):
            return self._read_kwargs()
        return {"consistency_level": "Strong"}

    @property
    def blind_upserts(self) -> bool:
        # a server's Strong look-up waits for its next time tick (about 0.2 s on 2.3.5);
        # a collection this pass created needs none (its ids are known here)
        return not self.local and self._written is None

    def existing(self, ids: Sequence[str]) -> dict[str, set[str]]:
        # The look-up that decides insert or upsert (and which old texts leave the BM25
        # statistics) must see every write that returned before it, from any client: Strong,
        # whatever the collection's own level.
        if not self._ready(read=self._written is None) or not ids:
            return {}
        if self._written is not None:
            # only ids written through this process can be stored; those are still checked
            ids = [i for i in ids if i in self._written]
            if not ids:
                return {}
            self._ready()
        kwargs = {} if self.local else {"consistency_level": "Strong"}
        found: dict[str, set[str]] = {}
        for start in range(0, len(ids), _MAX_IDS_PER_REQUEST):
            part = list(ids[start : start + _MAX_IDS_PER_REQUEST])
            rows = self.client.get(self.collection_name, ids=part, output_fields=["id"], **kwargs)
            for row in rows:
                found[str(row["id"])] = set()
        return found

    def _row(self, row: Row) -> dict[str, Any]:
        return entity(row, self.text_max_length, sparse_field=self._has_sparse_field)

    def write(self, rows: Sequence[Row], existing: Mapping[str, set[str]]) -> None:
        if not rows:
            return
        if not self._ready(read=False):
            self._create(len(rows[0].dense))
        # insert is ~12% cheaper than upsert on Milvus Lite 3; ids already stored are upserted
        new: list[dict[str, Any]] = []
        old: list[dict[str, Any]] = []
        for row in rows:
            (old if row.id in existing else new).append(self._row(row))
        try:
            if new:
                self.client.insert(self.collection_name, new)
            if old:
                self.client.upsert(self.collection_name, old)
        except BaseException:
            if not self.local:
                self._written = None
            self._size = None
            raise
        if self._size is not None:
            self._size += len(new)
        if self._written is not None:
            self._written.update(r.id for r in rows)

    def end_of_writes(self) -> None:
        if not self.local:
            self._written = None  # from now on other clients may write: look ids up
        self._ready()  # the pass returns with its collection loaded, ready to search
        # Milvus Lite 3 searches unflushed rows about 10x slower; 2.x and servers need nothing
        # (a Strong collection's reads already see every write; a flush would seal segments).
        if self._exists and self._flush_after_writes:
            self.client.flush(self.collection_name)
            self._warn_if_large()

    def _warn_if_large(self) -> None:
        if self._warned_size or (self._size is not None and self._size < LITE_SCAN_WARNING_ROWS):
            return
        if self._size is None or not self._size_exact:
            stats = self.client.get_collection_stats(self.collection_name)
            self._size, self._size_exact = int(stats.get("row_count", 0)), True
        rows = self._size
        if rows < LITE_SCAN_WARNING_ROWS:
            return
        self._warned_size = True
        logger.warning(
            "Milvus Lite collection %r in %s holds %s documents. Milvus Lite 3 checks every "
            "stored row in Python on each search (about 0.2 s per query at 100,000 rows on "
            "one core), so queries slow down as it grows. For collections this size use "
            "backend='chroma' (an HNSW index) or a Milvus server (uri='http://host:19530'); "
            "the rest of the code stays the same.",
            self.collection_name,
            self.uri,
            f"{rows:,}",
        )

    def _record(self, row: Mapping[str, Any], with_vectors: bool) -> Record:
        entity = row.get("entity", row)
        vector = entity.get("dense") if with_vectors else None
        return Record(
            id=str(row["id"]),
            text=str(entity.get("text", "")),
            metadata=dict(entity.get("metadata") or {}),
            vector=[float(x) for x in vector] if vector is not None else None,
        )

    def _output(self, with_vectors: bool) -> list[str]:
        return ["text", "metadata", "dense"] if with_vectors else ["text", "metadata"]

    def get(self, ids: Sequence[str], *, with_vectors: bool = False) -> list[Record]:
        if not self._ready() or not ids:
            return []
        out: list[Record] = []
        for start in range(0, len(ids), _MAX_IDS_PER_REQUEST):
            part = list(ids[start : start + _MAX_IDS_PER_REQUEST])
            rows = self.client.get(
                self.collection_name,
                ids=part,
                output_fields=self._output(with_vectors),
                **self._exact_kwargs(),
            )
            out.extend(self._record(r, with_vectors) for r in rows)
        return out

    def delete(self, ids: Sequence[str]) -> None:
        if not self._ready() or not ids:
            return
        for start in range(0, len(ids), _MAX_IDS_PER_REQUEST):
            self.client.delete(
                self.collection_name, ids=list(ids[start : start + _MAX_IDS_PER_REQUEST])
            )
        if self._written is not None:
            self._written.difference_update(ids)
        self._size_exact = False  # still an upper bound

    def _expr(self, filter: Filter | None) -> str:
        if not filter:
            return ""
        from langchain_embedkit.vectorstores import filters

        return filters.to_milvus(
            filter, text_field="text", metadata_field="metadata", dialect=self.engine.dialect
        )

    def delete_where(self, filter: Filter) -> int:
        if not self._ready():
            return 0
        expr = self._expr(filter)
        total = 0
        previous: list[str] = []
        while True:
            rows = self.client.query(
                self.collection_name,
                filter=expr,
                output_fields=["id"],
                limit=5000,
                **self._exact_kwargs(),
            )
            ids = [str(r["id"]) for r in rows]
            if not ids or ids == previous:
                return total
            self.delete(ids)
            total += len(ids)
            previous = ids

    def count(self) -> int:
        if not self._ready():
            return 0
        rows = self.client.query(
            self.collection_name, filter="", output_fields=["count(*)"], **self._read_kwargs()
        )
        self._size, self._size_exact = int(rows[0]["count(*)"]), True
        return self._size

    def peek(self, limit: int) -> list[Record]:
        if not self._ready() or limit <= 0:
            return []
        rows = self.client.query(
            self.collection_name,
            filter="",
            output_fields=["id", *self._output(False)],
            limit=limit,
            **self._read_kwargs(),
        )
        return [self._record(r, False) for r in rows]

    def iter_texts(self, batch_size: int) -> Iterator[list[str]]:
        if not self._ready():
            return
        iterator = self.client.query_iterator(
            self.collection_name, batch_size=batch_size, filter="", output_fields=["text"]
        )
        try:
            while rows := iterator.next():
                yield [str(r["text"]) for r in rows]
        finally:
            iterator.close()

    def iter_records(self, filter: Filter | None, batch_size: int) -> Iterator[list[Record]]:
        if not self._ready():
            return
        iterator = self.client.query_iterator(
            self.collection_name,
            batch_size=batch_size,
            filter=self._expr(filter),
            output_fields=["text"],
        )
        try:
            while rows := iterator.next():
                yield [Record(id=str(r["id"]), text=str(r["text"])) for r in rows]
        finally:
            iterator.close()

    def write_sparse(self, ids: Sequence[str], vectors: Sequence[SparseVector]) -> None:
        by_id = dict(zip(ids, vectors, strict=True))
        records = self.get(list(ids), with_vectors=True)
        rows = [
            Row(r.id, r.text, r.metadata, r.vector or [], by_id[r.id])
            for r in records
            if r.id in by_id
        ]
        for start in range(0, len(rows), _MAX_IDS_PER_REQUEST):
            self.write(rows[start : start + _MAX_IDS_PER_REQUEST], {key: set() for key in ids})

    def drop(self) -> None:
        if self._ready(read=False):
            self.client.drop_collection(self.collection_name)
        self._exists = False
        self._dim = None
        self._loading = False
        self._written = None  # whoever creates the collection next, its ids are looked up
        if self._path is not None:
            with _lite_lock:
                _lite_ids.pop((self._path, self.collection_name), None)

    def _dense_params(self) -> dict[str, Any]:
        if not self._metric_checked:
            stored = self._stored_metric()
            if stored is not None and stored != _METRICS[self.metric]:
                msg = (
                    f"Milvus collection {self.collection_name!r} was built with metric "
                    f"{stored!r} but metric={self.metric!r} was given. Pass "
                    f"metric={stored.lower()!r}, or use another collection_name."
                )
                raise ValueError(msg)
            self._metric_checked = True
        return {"metric_type": _METRICS[self.metric], "params": dict(self.search_params)}

    def _hits(self, result: Any, with_vectors: bool = False) -> list[Hit]:
        if not result:
            return []
        return [Hit(self._record(h, with_vectors), float(h["distance"])) for h in result[0]]

    def dense_search(
        self,
        vector: Sequence[float],
        k: int,
        filter: Filter | None,
        *,
        with_vectors: bool = False,
        ids_only: bool = False,
    ) -> list[Hit]:
        if not self._ready() or k <= 0:
            return []
        result = self.client.search(
            self.collection_name,
            data=[list(vector)],
            anns_field="dense",
            limit=k,
            filter=self._expr(filter),
            output_fields=[] if ids_only else self._output(with_vectors),
            search_params=self._dense_params(),
            **self._read_kwargs(),
        )
        return self._hits(result, with_vectors)

    def sparse_search(
        self, vector: SparseVector, k: int, filter: Filter | None, *, ids_only: bool = False
    ) -> list[Hit]:
        # An empty query vector makes Milvus fail ("vector type must be the same"): no hits.
        if not self._ready() or k <= 0 or len(vector) == 0:
            return []
        result = self.client.search(
            self.collection_name,
            data=[vector.as_dict()],
            anns_field="sparse",
            limit=k,
            filter=self._expr(filter),
            output_fields=[] if ids_only else self._output(False),
            search_params={"metric_type": "IP", "params": {}},
            **self._read_kwargs(),
        )
        return [h for h in self._hits(result) if h.score > 0.0]

    def hybrid_search(
        self,
        dense: Sequence[float],
        sparse: SparseVector,
        k: int,
        fetch_k: int,
        filter: Filter | None,
        rrf_k: int,
    ) -> list[Hit]:
        from pymilvus import AnnSearchRequest, RRFRanker

        if not self._ready() or k <= 0:
            return []
        expr = self._expr(filter)
        requests = [
            AnnSearchRequest([list(dense)], "dense", self._dense_params(), fetch_k, expr=expr),
            AnnSearchRequest(
                [sparse.as_dict()],
                "sparse",
                {"metric_type": "IP", "params": {}},
                fetch_k,
                expr=expr,
            ),
        ]
        result = self.client.hybrid_search(
            self.collection_name,
            requests,
            RRFRanker(rrf_k),
            limit=k,
            output_fields=self._output(False),
            **self._read_kwargs(),
        )
        return self._hits(result)

    def state_path(self) -> Path | None:
        if self._path is None:
            return None
        return Path(f"{self._path}.{self.collection_name}.sparse.json")

    def close(self) -> None:
        if self._closed:  # a second close must not release another store's server
            return
        self._closed = True
        self.client.close()
        if self._path is None:
            return
        with _lite_lock:
            users = _lite_users.get(self._path, 0) - 1
            if users > 0:
                _lite_users[self._path] = users
                return
            _lite_users.pop(self._path, None)
            # once released, another process may change the file
            for key in [key for key in _lite_ids if key[0] == self._path]:
                del _lite_ids[key]
        try:
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(self._path)
        except Exception:  # the file stays locked until exit; nothing is lost
            logger.debug("could not release the Milvus Lite server", exc_info=True)

    def __repr__(self) -> str:
        return (
            f"MilvusBackend(uri={redact_uri(self.uri)!r}, "
            f"collection_name={self.collection_name!r}, "
            f"engine={self.engine.label!r}, consistency_level={self.consistency_level!r})"
        )
