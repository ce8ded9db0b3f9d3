"""Changing data: upserts, deletes and reopening a large collection, store vs raw client.

Run from ``benchmarks/store.py`` (``--parts changes``). Both sides hold the same rows:
id, text, metadata, dense vector and BM25 sparse vector (a Milvus sparse field; on Chroma
the reserved metadata key the store uses). The raw client's clock includes embedding the
texts (the same call as the store's) and encoding the sparse vectors, as a user of the raw
client would have to; the store's adds its bookkeeping: the old versions' counts read from
the document index, updating the BM25 statistics, the crash journal, the index update and
one line appended to the statistics' change log. Opening is timed up
to the first ``count()`` on both sides (engines load lazily, so the first call pays for
it): the store's includes its reconcile (state load and that count).
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings
from langchain_embedkit.sparse.search import encode_sparse
from langchain_embedkit.vectorstores import EmbedKitVectorStore

__all__ = ["run_changes"]

ROUNDS = 3
SPARSE_KEY = "embedkit:sparse"


def _open(engine: str, where: Path, emb: Any) -> EmbedKitVectorStore:
    sparse = BM25SparseEmbeddings()
    if engine == "milvus":
        return EmbedKitVectorStore(emb, sparse, backend="milvus", uri=str(where / "ours.db"))
    return EmbedKitVectorStore(emb, sparse, backend="chroma", persist_directory=where / "ours")


class Raw:
    """The raw client holding the same rows as the store."""

    def __init__(self, engine: str, where: Path, dim: int) -> None:
        self.engine = engine
        self.where = where
        self.dim = dim
        self.open(create=True)

    def open(self, create: bool = False) -> None:
        if self.engine == "milvus":
            from pymilvus import DataType, MilvusClient

            self.client = MilvusClient(str(self.where / "raw.db"))
            if create:
                schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
                schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
                schema.add_field("text", DataType.VARCHAR, max_length=65535)
                schema.add_field("metadata", DataType.JSON)
                schema.add_field("dense", DataType.FLOAT_VECTOR, dim=self.dim)
                schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
                index = self.client.prepare_index_params()
                index.add_index("dense", index_type="FLAT", metric_type="COSINE")
                index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
                self.client.create_collection(
                    "raw", schema=schema, index_params=index, consistency_level="Strong"
                )
            self.client.load_collection("raw")
            self.count()
            return
        import chromadb
        from chromadb.api.client import SharedSystemClient
        from chromadb.config import Settings

        SharedSystemClient.clear_system_cache()  # a real open, not the process cache
        self.client = chromadb.PersistentClient(
            str(self.where / "raw"), settings=Settings(anonymized_telemetry=False)
        )
        self.collection = self.client.get_or_create_collection(
            "raw", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )
        self.count()

    def count(self) -> int:
        """The first call after opening also loads what the engine loads lazily."""
        if self.engine == "milvus":
            rows = self.client.query("raw", filter="", output_fields=["count(*)"])
            return int(rows[0]["count(*)"])
        return int(self.collection.count())

    def close(self) -> None:
        if self.engine == "milvus":
            self.client.close()
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(str((self.where / "raw.db").resolve()))

    def upsert(
        self, ids: list[str], texts: list[str], metas: list[dict], dense: Any, sparse: Any
    ) -> None:
        vectors = sparse.embed_documents(texts)
        if self.engine == "milvus":
            rows = [
                {"id": i, "text": t, "metadata": m, "dense": d, "sparse": v.as_dict() or {0: 1e-30}}
                for i, t, m, d, v in zip(ids, texts, metas, dense, vectors, strict=True)
            ]
            for s in range(0, len(rows), 1000):
                self.client.upsert("raw", rows[s : s + 1000])
            self.client.flush("raw")
            return
        step = self.client.get_max_batch_size()
        metadatas = [
            {**m, SPARSE_KEY: encode_sparse(v)} for m, v in zip(metas, vectors, strict=True)
        ]
        for s in range(0, len(ids), step):
            self.collection.upsert(
                ids=ids[s : s + step],
                embeddings=dense[s : s + step],
                documents=texts[s : s + step],
                metadatas=metadatas[s : s + step],
            )

    def delete(self, ids: list[str]) -> None:
        if self.engine == "milvus":
            # no flush: the store does not flush after a delete either (unflushed deletes
            # do not slow Milvus Lite 3's searches, unlike unflushed inserts)
            for s in range(0, len(ids), 1000):
                self.client.delete("raw", ids=ids[s : s + 1000])
            return
        self.collection.delete(ids=ids)


def _clock(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def run_changes(
    engine: str,
    data: dict[str, Any],
    label: str,
    changes: int,
    emb: Any,
    rows: list[dict],
    row: Any,
) -> None:
    """Measure upsert, delete and open on ``data`` (already embedded by ``emb``)."""
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-changes-{engine}-"))
    texts, metas, x = data["texts"], data["metas"], data["x"]
    n, dim = x.shape
    ids = [str(i) for i in range(n)]
    print(f"\n[{label}] {engine} changes: {n} documents, {changes} per operation", flush=True)
    store = _open(engine, tmp, emb)
    t_build = _clock(lambda: store.add_texts(texts, metas, ids))
    raw = Raw(engine, tmp, dim)
    encoder = store.sparse_embedding
    t_raw_build = _clock(lambda: raw.upsert(ids, texts, metas, x.tolist(), encoder))
    print(f"  build: ours {t_build:.1f}s raw {t_raw_build:.1f}s", flush=True)
    rng = np.random.default_rng(7)
    spent: dict[str, dict[str, list[float]]] = {
        op: {"ours": [], "raw": []} for op in ("upsert", "delete", "open")
    }
    alive = np.ones(n, dtype=bool)
    for number in range(ROUNDS):
        picks = rng.choice(np.flatnonzero(alive), size=2 * changes, replace=False)
        upserted, deleted = picks[:changes], picks[changes:]
        up_ids = [str(i) for i in upserted]
        # the text keeps its row number first, so the precomputed vector is found
        up_texts = [f"{texts[i]} changed{number} w{number}" for i in upserted]
        up_metas = [{**metas[i], "round": number} for i in upserted]
        del_ids = [str(i) for i in deleted]
        order = ("raw", "ours") if number % 2 == 0 else ("ours", "raw")

        def raw_upsert(
            ids: list[str] = up_ids, texts: list[str] = up_texts, metas: list[dict] = up_metas
        ) -> None:
            # the same embedding call inside both clocks (a look-up of the rows' vectors)
            raw.upsert(ids, texts, metas, emb.embed_documents(texts), encoder)

        for who in order:
            if who == "ours":
                spent["upsert"]["ours"].append(
                    _clock(lambda: store.add_texts(up_texts, up_metas, up_ids))  # noqa: B023
                )
                spent["delete"]["ours"].append(_clock(lambda: store.delete(del_ids)))  # noqa: B023
            else:
                spent["upsert"]["raw"].append(_clock(raw_upsert))
                spent["delete"]["raw"].append(_clock(lambda: raw.delete(del_ids)))  # noqa: B023
        alive[deleted] = False
        store.close()
        raw.close()
        for who in order:
            if who == "ours":
                if engine == "chroma":
                    from chromadb.api.client import SharedSystemClient

                    SharedSystemClient.clear_system_cache()
                t0 = time.perf_counter()
                store = _open(engine, tmp, emb)
                store.count()
                spent["open"]["ours"].append(time.perf_counter() - t0)
            else:
                t0 = time.perf_counter()
                raw.open()
                spent["open"]["raw"].append(time.perf_counter() - t0)
    stats = store.sparse_embedding.statistics()  # type: ignore[union-attr]
    assert stats.n_docs == store.count() == n - ROUNDS * changes, (stats.n_docs, store.count())
    for op, times in spent.items():
        ours_s = statistics.median(times["ours"])
        raw_s = statistics.median(times["raw"])
        print(f"  {op}: ours {ours_s:.3f}s raw {raw_s:.3f}s ({ours_s / raw_s:.2f}x)", flush=True)
        what = {"upsert": f"upsert {changes:,} changed", "delete": f"delete {changes:,}"}
        metric = f"{label} {engine} {what.get(op, 'open incl. reconcile')} (median of {ROUNDS})"
        rows.append(row(metric, ours_s, raw_s, "raw client", "<= 1.20", "s"))
    store.close()
    raw.close()
    shutil.rmtree(tmp, ignore_errors=True)
