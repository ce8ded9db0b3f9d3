"""Dense search on each Milvus engine: the store vs the raw ``MilvusClient`` vs exact numpy.

Rows for the engines ``benchmarks/store.py`` does not start itself: a Milvus server (any
``--uri http://host:port``) and whichever milvus-lite the interpreter has installed (run it
from ``.venv-lite25`` for milvus-lite 2.5). Same data, contenders and interleaved timing as
``benchmarks/store.py``; only dense retrieval, since Milvus 2.3 servers have no sparse vectors.

Usage::

    python benchmarks/milvus_engines.py --uri lite --n 5000,100000
    milvus-server --data /tmp/m &   # prints nothing useful; the proxy listens on 19530
    python benchmarks/milvus_engines.py --uri http://127.0.0.1:19530 --n 5000,100000
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import store as bench

from langchain_embedkit.vectorstores import EmbedKitVectorStore
from langchain_embedkit.vectorstores.backends.milvus_engine import detect_engine

OUT = bench.ROOT / "benchmarks" / "out" / "milvus_engines.json"


def raw_collection(uri: str, dim: int, local: bool) -> tuple[Any, str]:
    """A raw collection laid out and indexed as the store's (Strong, FLAT / AUTOINDEX)."""
    from pymilvus import DataType, MilvusClient

    client = MilvusClient(uri)
    name = f"raw_{uuid.uuid4().hex[:8]}"
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("text", DataType.VARCHAR, max_length=65535)
    schema.add_field("metadata", DataType.JSON)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
    index = client.prepare_index_params()
    index.add_index("dense", index_type="FLAT" if local else "AUTOINDEX", metric_type="COSINE")
    client.create_collection(name, schema=schema, index_params=index, consistency_level="Strong")
    return client, name


def run(uri: str, n: int, args: Any) -> dict[str, Any]:
    local = uri == "lite"
    tmp = Path(tempfile.mkdtemp(prefix="bench-milvus-"))
    where = str(tmp / "store.db") if local else uri
    data = bench.synthetic(n, args.dim, args.queries)
    x, q, qtexts = data["x"], data["q"], data["qtexts"]
    emb = bench.Precomputed(x, {t: q[j] for j, t in enumerate(qtexts)})
    store = EmbedKitVectorStore(
        emb, backend="milvus", uri=where, collection_name=f"ours_{uuid.uuid4().hex[:8]}"
    )
    engine = store._backend.engine  # type: ignore[attr-defined]
    ours_ingest, _ = bench.timed(
        lambda: store.add_texts(data["texts"], data["metas"], ids=[str(i) for i in range(n)])
    )
    raw_uri = str(tmp / "raw.db") if local else uri
    raw: dict[str, Any] = {}

    def raw_ingest() -> None:
        # both sides start from no collection: the store creates (and loads) its own inside
        # add_texts, so the raw side's create_collection is timed too
        client, name = raw_collection(raw_uri, args.dim, local)
        raw.update(client=client, name=name)
        texts, metas = data["texts"], data["metas"]
        for s in range(0, n, 1000):
            vectors = x[s : s + 1000].tolist()
            rows = [
                {"id": str(s + i), "text": texts[s + i], "metadata": metas[s + i], "dense": v}
                for i, v in enumerate(vectors)
            ]
            client.insert(name, rows)
        if detect_engine(client, local=local).flush_after_writes:
            client.flush(name)

    raw_ingest_s, _ = bench.timed(raw_ingest)
    client, name = raw["client"], raw["name"]
    contenders = {
        "ours": lambda j: store.similarity_search_by_vector(q[j].tolist(), k=bench.K),
        "raw": lambda j: client.search(
            name,
            data=[q[j].tolist()],
            anns_field="dense",
            limit=bench.K,
            output_fields=["text", "metadata"],
        ),
        "numpy": lambda j: bench.numpy_dense(x, q[j], bench.K),
    }
    times = bench.latency(contenders, args.queries)
    p50 = {name: statistics.median(values) for name, values in times.items()}
    store.close()
    client.close()
    return {
        "engine": engine.label,
        "n": n,
        "ingest_s": {"ours": round(ours_ingest, 2), "raw": round(raw_ingest_s, 2)},
        "dense_p50_ms": {key: round(value, 2) for key, value in p50.items()},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uri", default="lite", help="'lite' (a temp file) or a server uri")
    parser.add_argument("--n", default="5000,100000", help="collection sizes, comma-separated")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument(
        "--smoke", action="store_true", help="2,000 rows and 20 queries on the given engine"
    )
    args = parser.parse_args()
    if args.smoke:
        args.n, args.queries = "2000", 20
    rows = [run(args.uri, int(n), args) for n in args.n.split(",")]
    for row in rows:
        print(json.dumps(row), flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(OUT.read_text()) if OUT.exists() else []
    OUT.write_text(json.dumps([*old, *rows], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
