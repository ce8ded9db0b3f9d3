"""EmbedKitVectorStore against the raw clients and the LangChain partner stores.

One run, side by side, on precomputed vectors (random unit vectors with text and
metadata, so the embedding model costs nothing and only the store is measured):

* ingest time of N x 384 vectors: ours vs ``MilvusClient.insert`` / ``collection.add`` vs
  langchain-milvus / langchain-chroma, and peak RSS growth during ingest vs the raw
  vector bytes;
* single-query latency (p50/p95, interleaved repetitions), dense and hybrid (BM25 + RRF),
  vs the raw client and vs exact numpy search over the same vectors;
* changing data (``benchmarks/store_changes.py``): upsert 1,000 changed documents into the
  N-document collection, delete 1,000, and reopen it (including the store's reconcile),
  vs the raw client holding the same rows.

With ``--data`` pointing at a BEIR folder (SciFact by default) the latency part is also run
on its real texts and queries (dense vectors stay random: latency does not depend on them).

Usage::

    python benchmarks/store.py            # 100k vectors
    python benchmarks/store.py --smoke    # 2k vectors, under a minute
    python benchmarks/store.py --parts changes   # only the changing-data part
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# one BLAS thread: exact search is then a fair single-query reference on a shared machine
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
from langchain_core.embeddings import Embeddings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.data import scifact_dir  # noqa: E402
from langchain_embedkit.sparse.bm25 import BM25SparseEmbeddings  # noqa: E402
from langchain_embedkit.vectorstores import EmbedKitVectorStore  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from _store_data import (  # noqa: E402
    Precomputed,
    beir,
    numpy_dense,
    numpy_hybrid,
    synthetic,
)
from store_changes import run_changes  # noqa: E402

OUT = ROOT / "benchmarks" / "out" / "store.json"
K = 10


# -- measuring --------------------------------------------------------------------------------


def rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@contextmanager
def peak_rss_growth(result: dict[str, float]) -> Iterator[None]:
    """Sample RSS every 5 ms; ``result["growth"]`` is the peak minus the start."""
    gc.collect()
    start = rss()
    peak = [start]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss())
            stop.wait(0.005)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        result["growth"] = float(max(peak[0], rss()) - start)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


# -- contenders ---------------------------------------------------------------------------------


def milvus_raw_collection(uri: str, dim: int) -> Any:
    from pymilvus import DataType, MilvusClient

    client = MilvusClient(uri)
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("text", DataType.VARCHAR, max_length=65535)
    schema.add_field("metadata", DataType.JSON)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
    index = client.prepare_index_params()
    index.add_index("dense", index_type="FLAT", metric_type="COSINE")
    client.create_collection("raw", schema=schema, index_params=index)
    return client


def milvus_raw_ingest(client: Any, data: dict[str, Any], batch: int, part: slice) -> None:
    texts, metas, x = data["texts"], data["metas"], data["x"]
    for s in range(part.start, part.stop, batch):
        vectors = x[s : min(s + batch, part.stop)].tolist()
        rows = [
            {"id": str(s + i), "text": texts[s + i], "metadata": metas[s + i], "dense": v}
            for i, v in enumerate(vectors)
        ]
        client.insert("raw", rows)
    client.flush("raw")  # Milvus Lite 3 searches unflushed rows ~10x slower


def chroma_raw_ingest(collection: Any, client: Any, data: dict[str, Any], part: slice) -> None:
    step = client.get_max_batch_size()
    texts, metas, x = data["texts"], data["metas"], data["x"]
    for s in range(part.start, part.stop, step):
        e = min(s + step, part.stop)
        collection.add(
            ids=[str(i) for i in range(s, e)],
            embeddings=x[s:e].tolist(),
            documents=texts[s:e],
            metadatas=metas[s:e],
        )


def write_part(engine: str, who: str, store: Any, raw: Any, data: dict, part: slice) -> None:
    """One part of the ingest, by our store or by the raw client."""
    if who == "ours":
        store.add_texts(data["texts"][part], data["metas"][part])
    elif engine == "milvus":
        milvus_raw_ingest(raw, data, 1000, part)
    else:
        chroma_raw_ingest(raw, chroma_client(), data, part)


def peer_ingest(engine: str, where: str, emb: Embeddings, data: dict[str, Any]) -> Any:
    if engine == "milvus":
        from langchain_milvus import Milvus

        store = Milvus(
            embedding_function=emb,
            collection_name="peer",
            connection_args={"uri": where},
            index_params={"index_type": "FLAT", "metric_type": "COSINE"},
            consistency_level="Strong",
            auto_id=True,
        )
        store.add_texts(data["texts"], data["metas"], batch_size=1000)
        store.client.flush("peer")
        return store
    from langchain_chroma import Chroma

    store = Chroma(
        "peer",
        embedding_function=emb,
        client=chroma_client(),
        collection_metadata={"hnsw:space": "cosine"},
    )
    # langchain-chroma sends one request per add_texts call; past Chroma's max batch size
    # (5,461 here) it fails, so the caller has to chunk
    for s in range(0, len(data["texts"]), 5000):
        store.add_texts(data["texts"][s : s + 5000], data["metas"][s : s + 5000])
    return store


def ours(engine: str, where: str, emb: Embeddings, sparse: Any, name: str) -> EmbedKitVectorStore:
    if engine == "milvus":
        return EmbedKitVectorStore(emb, sparse, backend="milvus", uri=where, collection_name=name)
    client = chroma_client()
    return EmbedKitVectorStore(emb, sparse, backend="chroma", client=client, collection_name=name)


_CHROMA: list[Any] = []


def chroma_client() -> Any:
    if not _CHROMA:
        import chromadb
        from chromadb.config import Settings

        _CHROMA.append(
            chromadb.EphemeralClient(Settings(anonymized_telemetry=False, allow_reset=True))
        )
    return _CHROMA[0]


# -- the run ------------------------------------------------------------------------------------


def latency(contenders: dict[str, Callable[[int], Any]], nq: int) -> dict[str, list[float]]:
    """Run each contender on every query, rotating the order each query."""
    names = list(contenders)
    times: dict[str, list[float]] = {n: [] for n in names}
    for j in range(nq):
        for name in names[j % len(names) :] + names[: j % len(names)]:
            t, _ = timed(lambda: contenders[name](j))  # noqa: B023
            times[name].append(t * 1000)
    return times


def raw_store(engine: str, tmp: Path, dim: int) -> Any:
    """The raw client's empty collection, opened before any clock starts."""
    if engine == "milvus":
        return milvus_raw_collection(str(tmp / "raw.db"), dim)
    return chroma_client().create_collection(
        "raw", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
    )


def interleaved_ingest(
    engine: str, store: Any, raw: Any, data: dict[str, Any], parts: int
) -> tuple[float, float]:
    """Seconds the raw client and ours spend writing ``data``, part by part, interleaved."""
    n = len(data["x"])
    spent = {"raw": 0.0, "ours": 0.0}
    step = -(-n // parts)
    for number, start in enumerate(range(0, n, step)):
        part = slice(start, min(n, start + step))
        # who goes first alternates: the engine's background work after one writer's flush
        # (compaction, allocator growth) lands on the other writer's clock
        for who in ("raw", "ours") if number % 2 == 0 else ("ours", "raw"):
            t, _ = timed(lambda: write_part(engine, who, store, raw, data, part))  # noqa: B023
            spent[who] += t
    return spent["raw"], spent["ours"]


def memory_rows(engine: str, label: str, args: Any, vector_bytes: float, rows: list[dict]) -> None:
    """Peak RSS growth of each writer alone in a fresh process, per byte of vectors."""
    # Growth in one shared process depends on who ran first. Milvus Lite 3 and Chroma run
    # inside the process, so the engine's own copy of the data is part of both figures; the
    # store's share is what it adds on top.
    grown = {who: memory_probe(engine, who, label, args) for who in ("raw", "ours")}
    print(f"  peak RSS growth MB: raw {grown['raw'] / 1e6:.0f} ours {grown['ours'] / 1e6:.0f}")
    rows.append(
        row(
            f"{label} {engine} ingest peak RSS growth / vector bytes",
            grown["ours"] / vector_bytes,
            grown["raw"] / vector_bytes,
            "raw client",
            "",
            "x",
        )
    )
    rows.append(
        row(
            f"{label} {engine} ingest peak RSS growth beyond the raw client / vector bytes",
            max(0.0, grown["ours"] - grown["raw"]) / vector_bytes,
            0.0,
            "raw client",
            "<= 2.0",
            "x",
        )
    )


def sparse_csr(docs: list[Any], width: int) -> Any:
    """The documents' sparse vectors as one CSR matrix (rows: documents)."""
    from scipy.sparse import csr_matrix

    indptr = np.cumsum([0] + [len(v) for v in docs])
    return csr_matrix(
        (
            np.concatenate([np.asarray(v.values, np.float32) for v in docs]),
            np.concatenate([np.asarray(v.indices, np.int64) for v in docs]),
            indptr,
        ),
        shape=(len(docs), max(width, 1)),
    )


def query32(emb: Embeddings, text: str) -> np.ndarray:
    """The query vector in float32, like the stored vectors."""
    # a float64 query would make numpy upcast the whole matrix on every search and look
    # several times slower than exact search is
    return np.asarray(emb.embed_query(text), dtype=np.float32)


def warmed_latency(contenders: dict[str, Callable[[int], Any]], nq: int) -> dict[str, list[float]]:
    """:func:`latency` after each contender ran the first five queries once."""
    for j in range(min(5, nq)):  # warm-up
        for fn in contenders.values():
            fn(j)
    return latency(contenders, nq)


def dense_latency(
    engine: str, store: Any, raw: Any, peer: Any, emb: Embeddings, x: np.ndarray, qtexts: list[str]
) -> dict[str, list[float]]:
    """Dense top-K latency of ours, the raw client, exact numpy and the LangChain store."""

    def raw_dense(j: int) -> Any:
        if engine == "milvus":
            return raw.search(
                "raw",
                [emb.embed_query(qtexts[j])],
                anns_field="dense",
                limit=K,
                output_fields=["text", "metadata"],
                search_params={"metric_type": "COSINE"},
            )
        return raw.query(
            query_embeddings=[emb.embed_query(qtexts[j])],
            n_results=K,
            include=["documents", "metadatas", "distances"],
        )

    contenders: dict[str, Callable[[int], Any]] = {
        "ours": lambda j: store.similarity_search_with_score(qtexts[j], k=K),
        "raw": raw_dense,
        "numpy": lambda j: numpy_dense(x, query32(emb, qtexts[j]), K),
    }
    if peer is not None:
        contenders["peer"] = lambda j: peer.similarity_search_with_score(qtexts[j], k=K)
    return warmed_latency(contenders, len(qtexts))


def hybrid_latency(
    engine: str, hybrid: Any, emb: Embeddings, x: np.ndarray, csr: Any, qtexts: list[str]
) -> dict[str, list[float]]:
    """Hybrid top-K latency of ours, exact numpy and (Milvus) the same request raw."""
    sparse = hybrid.sparse_embedding
    fetch = max(4 * K, 20)

    def raw_hybrid(j: int) -> Any:
        from pymilvus import AnnSearchRequest, RRFRanker

        sq = sparse.embed_query(qtexts[j])
        requests = [
            AnnSearchRequest(
                [emb.embed_query(qtexts[j])], "dense", {"metric_type": "COSINE"}, fetch
            ),
            AnnSearchRequest([sq.as_dict()], "sparse", {"metric_type": "IP"}, fetch),
        ]
        return hybrid._backend.client.hybrid_search(
            "hybrid", requests, RRFRanker(60), limit=K, output_fields=["text", "metadata"]
        )

    hyb: dict[str, Callable[[int], Any]] = {
        "ours": lambda j: hybrid.similarity_search_with_score(qtexts[j], k=K),
        "numpy": lambda j: numpy_hybrid(
            x, csr, query32(emb, qtexts[j]), sparse.embed_query(qtexts[j]), K, fetch
        ),
    }
    if engine == "milvus":
        hyb["raw"] = raw_hybrid
    return warmed_latency(hyb, len(qtexts))


def latency_rows(metric_prefix: str, engine: str, modes: dict[str, Any], rows: list[dict]) -> None:
    """Print p50/p95 per mode and append the rows against raw, numpy and the peer."""
    for mode, times in modes.items():
        p50 = {name: statistics.median(v) for name, v in times.items()}
        p95 = {name: percentile(v, 95) for name, v in times.items()}
        print(
            f"  {mode} p50 ms: "
            + ", ".join(f"{name} {p50[name]:.2f} (p95 {p95[name]:.2f})" for name in times),
            flush=True,
        )
        metric = f"{metric_prefix} {mode} query"
        if "raw" in p50:
            goal = f"<= {max(1.2, (p50['raw'] + 1.0) / p50['raw']):.2f}"
            rows.append(row(f"{metric} p50", p50["ours"], p50["raw"], "raw client", goal, "ms"))
            rows.append(row(f"{metric} p95", p95["ours"], p95["raw"], "raw client", "", "ms"))
        rows.append(row(f"{metric} p50", p50["ours"], p50["numpy"], "exact numpy", "<= 3.0", "ms"))
        if "peer" in p50:
            rows.append(
                row(f"{metric} p50", p50["ours"], p50["peer"], f"langchain-{engine}", "", "ms")
            )


def run_engine(engine: str, data: dict[str, Any], label: str, args: Any, rows: list[dict]) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-{engine}-"))
    x, q, qtexts = data["x"], data["q"], data["qtexts"]
    n, dim = x.shape
    emb = Precomputed(x, {t: q[j] for j, t in enumerate(qtexts)})
    print(f"\n[{label}] {engine}: {n} x {dim}", flush=True)

    # ingest: raw client and ours interleaved part by part (so both see the same machine
    # load), then the LangChain partner store; connections and collections are opened before
    # the clock starts, so only the writes are timed.
    raw = raw_store(engine, tmp, dim)
    store = ours(engine, str(tmp / "ours.db"), emb, None, "ours")
    t_raw, t_ours = interleaved_ingest(engine, store, raw, data, args.parts_ingest)
    peer = None
    if not args.no_peers:
        t_peer, peer = timed(lambda: peer_ingest(engine, str(tmp / "peer.db"), emb, data))
    print(f"  ingest: raw {t_raw:.2f}s ours {t_ours:.2f}s", flush=True)
    rows.append(row(f"{label} {engine} ingest", t_ours, t_raw, "raw client", "<= 1.10", "s"))
    if peer is not None:
        peer_name = f"langchain-{engine}"
        rows.append(row(f"{label} {engine} ingest", t_ours, t_peer, peer_name, "", "s"))
    memory_rows(engine, label, args, float(x.nbytes), rows)

    # hybrid store (BM25 fitted while ingesting)
    hybrid = ours(engine, str(tmp / "hybrid.db"), emb, BM25SparseEmbeddings(), "hybrid")
    t_h, _ = timed(lambda: hybrid.add_texts(data["texts"], data["metas"]))
    print(f"  hybrid ingest (BM25 fit + encode + write): {t_h:.2f}s", flush=True)
    sparse = hybrid.sparse_embedding
    csr = sparse_csr(sparse.embed_documents(data["texts"]), sparse.dim)

    dense_t = dense_latency(engine, store, raw, peer, emb, x, qtexts)
    hybrid_t = hybrid_latency(engine, hybrid, emb, x, csr, qtexts)
    latency_rows(f"{label} {engine}", engine, {"dense": dense_t, "hybrid": hybrid_t}, rows)
    for closable in (store, hybrid):
        closable.close()
    if engine == "milvus":
        raw.close()
    else:
        chroma_client().reset()
    shutil.rmtree(tmp, ignore_errors=True)


def dataset(label: str, args: Any) -> dict[str, Any]:
    if label == "scifact":
        return beir(args.data, args.dim, args.queries)
    return synthetic(args.n, args.dim, args.queries)


def memory_probe(engine: str, who: str, label: str, args: Any) -> float:
    """Peak RSS growth of one writer ingesting ``label`` alone, in a fresh process."""
    command = [sys.executable, __file__, "--probe", f"{engine}:{who}:{label}"]
    command += ["--n", str(args.n), "--dim", str(args.dim), "--queries", str(args.queries)]
    command += ["--data", str(args.data), "--parts-ingest", str(args.parts_ingest)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return float(json.loads(done.stdout.strip().splitlines()[-1])["growth"])


def probe(spec: str, args: Any) -> int:
    engine, who, label = spec.split(":")
    data = dataset(label, args)
    tmp = Path(tempfile.mkdtemp(prefix="bench-probe-"))
    emb = Precomputed(data["x"], {})
    n = len(data["texts"])
    store = raw = None
    if who == "ours":
        store = ours(engine, str(tmp / "ours.db"), emb, None, "ours")
    elif engine == "milvus":
        raw = milvus_raw_collection(str(tmp / "raw.db"), data["x"].shape[1])
    else:
        raw = chroma_client().create_collection(
            "raw", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )
    step = -(-n // args.parts_ingest)
    result: dict[str, float] = {}
    with peak_rss_growth(result):
        for start in range(0, n, step):
            write_part(engine, who, store, raw, data, slice(start, min(n, start + step)))
    print(json.dumps(result), flush=True)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


def row(metric: str, ours_v: float, peer_v: float, peer: str, goal: str, unit: str) -> dict:
    return {
        "metric": metric,
        "ours": round(ours_v, 4),
        "peer": round(peer_v, 4),
        "peer_name": peer,
        "ratio": round(ours_v / peer_v, 3) if peer_v else None,
        "goal": goal,
        "unit": unit,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="2k vectors, 20 queries")
    parser.add_argument("--n", type=int, default=100_000, help="vectors to ingest")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--engines", default="milvus,chroma")
    parser.add_argument("--data", type=Path, default=scifact_dir())
    parser.add_argument(
        "--parts", default="synthetic,scifact,changes", help="which data sets and parts to run"
    )
    parser.add_argument("--changes", type=int, default=1000, help="documents per change")
    parser.add_argument("--parts-ingest", type=int, default=10, help="interleaved ingest parts")
    parser.add_argument("--no-peers", action="store_true", help="skip the LangChain stores")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--probe", help=argparse.SUPPRESS)  # engine:who:label, one writer
    args = parser.parse_args()
    if args.smoke:
        args.n, args.queries, args.parts_ingest, args.changes = 2000, 20, 2, 100
    if args.probe:
        return probe(args.probe, args)
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    import importlib.metadata as md

    versions = {}
    for package in ("pymilvus", "milvus-lite", "chromadb"):
        try:
            versions[package] = md.version(package)
        except md.PackageNotFoundError:
            versions[package] = "not installed"
    print(f"versions: {versions}; {os.cpu_count()} CPUs", flush=True)
    rows: list[dict] = []
    engines = [e for e in args.engines.split(",") if e]
    parts = args.parts.split(",")
    runs = [(e, "synthetic") for e in engines if "synthetic" in parts]
    if not args.smoke and "scifact" in parts:
        runs += [(e, "scifact") for e in engines]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for engine, source in runs:
        label = f"{args.n // 1000}k" if source == "synthetic" else "scifact"
        data = dataset(label, args)
        run_engine(engine, data, label, args, rows)
        args.out.write_text(json.dumps(rows, indent=2))  # kept after each part of a long run
    if "changes" in parts:
        data = dataset(f"{args.n // 1000}k", args)
        for engine in engines:
            emb = Precomputed(data["x"], {})
            run_changes(engine, data, f"{args.n // 1000}k", args.changes, emb, rows, row)
            args.out.write_text(json.dumps(rows, indent=2))
    print("\n| metric | ours | peer | peer name | ratio | goal | unit |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['metric']} | {r['ours']} | {r['peer']} | {r['peer_name']} | {r['ratio']} "
            f"| {r['goal']} | {r['unit']} |"
        )
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
