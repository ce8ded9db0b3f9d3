"""Each Milvus engine: the store vs the raw ``MilvusClient`` vs exact numpy.

Rows for the engines ``benchmarks/store.py`` does not cover: a Milvus server and either
milvus-lite line. ``--uri`` picks the engine:

- ``server``: starts the PyPI ``milvus`` standalone server (2.3.5) on free loopback ports
  with a fresh data directory, and stops it afterwards; ``http://host:port``: a running one;
- ``lite``: the milvus-lite installed here (3.x), on a temp file;
- ``lite25``: the same script under ``.venv-lite25/bin/python`` (milvus-lite 2.5; build it
  with ``make .venv-lite25/.embedkit-installed``).

Sizes (``--n``): ``scifact`` (its 5,183 texts, random unit vectors) or a number (synthetic
texts and random unit vectors). Per size: ingest (from no collection to searchable, both
sides), dense p50 and, where the engine has sparse vectors, hybrid p50 (BM25 + dense, RRF;
exact numpy fuses the same two legs). On a server dense p50 is also measured with
``consistency_level="Bounded"``, since a Strong read waits for the server's next time tick.
``--ingest-rounds N`` measures ingest only, N rounds with the store and the raw client
taking turns to go first (whoever runs second shares the engine with the first one's
background indexing), and prints the medians.

Usage::

    python benchmarks/milvus_engines.py --uri server --n scifact,100000
    python benchmarks/milvus_engines.py --uri lite25 --n scifact,100000
    python benchmarks/milvus_engines.py --uri server --n scifact,100000 --ingest-rounds 4
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import store as bench

from benchmarks.data import scifact_dir
from langchain_embedkit.vectorstores import EmbedKitVectorStore
from langchain_embedkit.vectorstores.backends.milvus_engine import detect_engine

OUT = bench.ROOT / "benchmarks" / "out" / "milvus_engines.json"


def raw_collection(uri: str, dim: int, local: bool, sparse: bool = False) -> tuple[Any, str]:
    """A raw collection laid out and indexed as the store's (Strong, FLAT / AUTOINDEX)."""
    from pymilvus import DataType, MilvusClient

    client = MilvusClient(uri)
    name = f"raw_{uuid.uuid4().hex[:8]}"
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("text", DataType.VARCHAR, max_length=65535)
    schema.add_field("metadata", DataType.JSON)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
    if sparse:
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    index = client.prepare_index_params()
    index.add_index("dense", index_type="FLAT" if local else "AUTOINDEX", metric_type="COSINE")
    if sparse:
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    client.create_collection(name, schema=schema, index_params=index, consistency_level="Strong")
    return client, name


def dataset(size: str, args: Any) -> dict[str, Any]:
    if size == "scifact":
        return bench.beir(scifact_dir(), args.dim, args.queries)
    return bench.synthetic(int(size), args.dim, args.queries)


def raw_dense_ingest(uri: str, data: dict[str, Any], dim: int, local: bool) -> dict[str, Any]:
    """Ingest ``data`` into a new raw collection: its client, name, seconds and insert seconds."""
    x, texts, metas = data["x"], data["texts"], data["metas"]
    n = len(x)
    raw: dict[str, Any] = {}

    def ingest() -> None:
        # both sides start from no collection: the store creates (and loads) its own inside
        # add_texts, so the raw side's create_collection is timed too
        client, name = raw_collection(uri, dim, local)
        raw.update(client=client, name=name, start=time.perf_counter())
        for s in range(0, n, 1000):
            vectors = x[s : s + 1000].tolist()
            rows = [
                {"id": str(s + i), "text": texts[s + i], "metadata": metas[s + i], "dense": v}
                for i, v in enumerate(vectors)
            ]
            client.insert(name, rows)
        if detect_engine(client, local=local).flush_after_writes:
            client.flush(name)
        raw["inserts"] = time.perf_counter() - raw["start"]

    raw["seconds"], _ = bench.timed(ingest)
    return raw


def raw_dense_search(client: Any, name: str, vector: list[float], **kwargs: Any) -> Any:
    """The store's dense request, sent raw."""
    return client.search(
        name,
        data=[vector],
        anns_field="dense",
        limit=bench.K,
        output_fields=["text", "metadata"],
        **kwargs,
    )


def bounded_p50(
    store: EmbedKitVectorStore, client: Any, name: str, q: Any, ours: Any
) -> dict[str, float]:
    """Dense p50 of the store and the raw client at Bounded consistency (a server)."""
    # the level is a constructor option of the backend; set it on this store's backend
    store._backend.consistency_level = "Bounded"  # type: ignore[attr-defined]
    bounded = {
        "ours": ours,
        "raw": lambda j: raw_dense_search(client, name, q[j].tolist(), consistency_level="Bounded"),
    }
    times = bench.latency(bounded, len(q))
    return {key: round(statistics.median(values), 2) for key, values in times.items()}


def run(uri: str, size: str, args: Any) -> dict[str, Any]:
    local = uri == "lite"
    tmp = Path(tempfile.mkdtemp(prefix="bench-milvus-"))
    where = str(tmp / "store.db") if local else uri
    data = dataset(size, args)
    x, q, qtexts = data["x"], data["q"], data["qtexts"]
    n = len(x)
    emb = bench.Precomputed(x, {t: q[j] for j, t in enumerate(qtexts)})
    store = EmbedKitVectorStore(
        emb, backend="milvus", uri=where, collection_name=f"ours_{uuid.uuid4().hex[:8]}"
    )
    engine = store._backend.engine  # type: ignore[attr-defined]
    ours_ingest, _ = bench.timed(
        lambda: store.add_texts(data["texts"], data["metas"], ids=[str(i) for i in range(n)])
    )
    raw = raw_dense_ingest(str(tmp / "raw.db") if local else uri, data, args.dim, local)
    client, name = raw["client"], raw["name"]
    contenders = {
        "ours": lambda j: store.similarity_search_by_vector(q[j].tolist(), k=bench.K),
        "raw": lambda j: raw_dense_search(client, name, q[j].tolist()),
        "numpy": lambda j: bench.numpy_dense(x, q[j], bench.K),
    }
    times = bench.latency(contenders, len(q))
    p50 = {name: statistics.median(values) for name, values in times.items()}
    row: dict[str, Any] = {
        "engine": engine.label,
        "data": size,
        "n": n,
        "ingest_s": {
            "ours": round(ours_ingest, 2),
            "raw": round(raw["seconds"], 2),
            "raw_inserts_only": round(raw["inserts"], 2),
        },
        "dense_p50_ms": {key: round(value, 2) for key, value in p50.items()},
    }
    if not local:
        row["dense_bounded_p50_ms"] = bounded_p50(store, client, name, q, contenders["ours"])
    store.close()
    client.close()
    if engine.native_hybrid:
        row["hybrid_p50_ms"] = hybrid(where if not local else str(tmp / "h.db"), data, args)
    return row


def ingest_rounds(uri: str, size: str, args: Any) -> dict[str, Any]:
    """Ingest only: ``args.ingest_rounds`` rounds, store and raw client going first in turn."""
    local = uri == "lite"
    tmp = Path(tempfile.mkdtemp(prefix="bench-milvus-"))
    data = dataset(size, args)
    n = len(data["x"])
    emb = bench.Precomputed(data["x"], {})
    ids = [str(i) for i in range(n)]
    times: dict[str, list[float]] = {"ours": [], "raw": [], "raw_inserts_only": []}
    label: list[str] = []

    def ours(i: int) -> None:
        store = EmbedKitVectorStore(
            emb,
            backend="milvus",
            uri=str(tmp / f"ours{i}.db") if local else uri,
            collection_name=f"ours_{uuid.uuid4().hex[:8]}",
        )
        label.append(store._backend.engine.label)  # type: ignore[attr-defined]
        seconds, _ = bench.timed(lambda: store.add_texts(data["texts"], data["metas"], ids=ids))
        times["ours"].append(seconds)
        store.delete_collection()
        store.close()

    def raw(i: int) -> None:
        done = raw_dense_ingest(str(tmp / f"raw{i}.db") if local else uri, data, args.dim, local)
        times["raw"].append(done["seconds"])
        times["raw_inserts_only"].append(done["inserts"])
        done["client"].drop_collection(done["name"])
        done["client"].close()

    for i in range(args.ingest_rounds):
        for step in (ours, raw) if i % 2 == 0 else (raw, ours):
            step(i)
    median = {key: statistics.median(values) for key, values in times.items()}
    return {
        "engine": label[0],
        "data": size,
        "n": n,
        "rounds": args.ingest_rounds,
        "ingest_s_median": {key: round(value, 2) for key, value in median.items()},
        "ours_vs_raw_inserts_only": round(median["ours"] / median["raw_inserts_only"], 3),
        "ingest_s_each": {key: [round(v, 2) for v in values] for key, values in times.items()},
    }


def raw_hybrid_collection(
    uri: str, data: dict[str, Any], docs: list[Any], dim: int, local: bool
) -> tuple[Any, str]:
    """A raw dense + sparse collection holding ``data`` with the store's BM25 vectors."""
    client, name = raw_collection(uri, dim, local, sparse=True)
    x, texts, metas = data["x"], data["texts"], data["metas"]
    n = len(x)
    for s in range(0, n, 1000):
        client.insert(
            name,
            [
                {
                    "id": str(i),
                    "text": texts[i],
                    "metadata": metas[i],
                    "dense": x[i].tolist(),
                    "sparse": docs[i].as_dict() or {2**32 - 2: 1e-30},
                }
                for i in range(s, min(s + 1000, n))
            ],
        )
    if detect_engine(client, local=local).flush_after_writes:
        client.flush(name)
    return client, name


def hybrid(where: str, data: dict[str, Any], args: Any) -> dict[str, float]:
    """Hybrid p50: the store (BM25 + dense, RRF on the engine) vs the same request raw."""
    from pymilvus import AnnSearchRequest, RRFRanker

    from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings

    local = "://" not in where
    x, q, qtexts = data["x"], data["q"], data["qtexts"]
    n = len(x)
    emb = bench.Precomputed(x, {t: q[j] for j, t in enumerate(qtexts)})
    store = EmbedKitVectorStore(
        emb, BM25SparseEmbeddings(), uri=where, collection_name=f"hy_{uuid.uuid4().hex[:8]}"
    )
    store.add_texts(data["texts"], data["metas"], ids=[str(i) for i in range(n)])
    sparse = store.sparse_embedding
    assert sparse is not None
    docs = sparse.embed_documents(data["texts"])
    raw_uri = where.replace(".db", "-raw.db") if local else where
    client, name = raw_hybrid_collection(raw_uri, data, docs, args.dim, local)
    csr = bench.sparse_csr(docs, sparse.dim)
    fetch = 4 * bench.K

    def raw(j: int) -> Any:
        requests = [
            AnnSearchRequest([q[j].tolist()], "dense", {"metric_type": "COSINE"}, fetch),
            # the query's BM25 vector is encoded inside the timing, as the store does
            AnnSearchRequest(
                [sparse.embed_query(qtexts[j]).as_dict()], "sparse", {"metric_type": "IP"}, fetch
            ),
        ]
        return client.hybrid_search(
            name, requests, RRFRanker(60), limit=bench.K, output_fields=["text", "metadata"]
        )

    contenders = {
        "ours": lambda j: store.similarity_search(
            qtexts[j], k=bench.K, retrieval_mode="hybrid", fetch_k=fetch
        ),
        "raw": raw,
        "numpy": lambda j: bench.numpy_hybrid(
            x, csr, q[j], sparse.embed_query(qtexts[j]), bench.K, fetch
        ),
    }
    times = bench.latency(contenders, len(q))
    store.close()
    client.close()
    return {key: round(statistics.median(values), 2) for key, values in times.items()}


def in_lite25(args: Any) -> list[dict[str, Any]]:
    """The same run under ``.venv-lite25``'s interpreter (milvus-lite 2.5)."""
    python = bench.ROOT / ".venv-lite25" / "bin" / "python"
    if not python.exists():
        msg = f"{python} is missing; build it with: make .venv-lite25/.embedkit-installed"
        raise SystemExit(msg)
    command = [str(python), __file__, "--uri", "lite", "--n", args.n, "--dim", str(args.dim)]
    command += ["--queries", str(args.queries), "--ingest-rounds", str(args.ingest_rounds)]
    command += ["--no-save"]
    env = {**os.environ, "PYTHONPATH": str(bench.ROOT)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def started_server() -> Iterator[str]:
    """A Milvus standalone server on free loopback ports; stopped when the run ends."""
    sys.path.insert(0, str(bench.ROOT / "tests" / "integration_tests" / "vectorstores"))
    from milvus_server import start_server

    yield from start_server(Path(tempfile.mkdtemp(prefix="bench-milvus-server-")) / "data")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uri", default="lite", help="lite, lite25, server or http://host:port")
    parser.add_argument(
        "--n", default="scifact,100000", help="sizes, comma-separated: scifact or a number"
    )
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument(
        "--smoke", action="store_true", help="2,000 rows and 20 queries on the given engine"
    )
    parser.add_argument(
        "--ingest-rounds",
        type=int,
        default=0,
        help="ingest only: this many rounds, store and raw client going first in turn",
    )
    parser.add_argument("--no-save", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.smoke:
        args.n, args.queries = "2000", 20
    measure = ingest_rounds if args.ingest_rounds > 0 else run
    if args.uri == "lite25":
        rows = in_lite25(args)
    elif args.uri == "server":
        server = started_server()
        uri = next(server)
        try:
            rows = [measure(uri, size, args) for size in args.n.split(",")]
        finally:
            server.close()  # stops the server
    else:
        rows = [measure(args.uri, size, args) for size in args.n.split(",")]
    for row in rows:
        print(json.dumps(row), flush=True)
    if not args.no_save:
        OUT.parent.mkdir(parents=True, exist_ok=True)
        old = json.loads(OUT.read_text()) if OUT.exists() else []
        OUT.write_text(json.dumps([*old, *rows], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
